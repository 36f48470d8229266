"""common.py - what every peer driver shares: flags, inputs, the trtexec-style timing loop, statistics and the lucid-bench/1 JSON document.

The drivers normally run under one Python, the peers' environment bench/setup_peers.sh makes
(.venv-peers: Debian's python3 and its numpy, onnx and torch, plus ONNX Runtime and OpenVINO
from PyPI), but may be given others (--python, --torch-python, LUCID_PEERS_PYTHON; the GPU
machine's python3), so this module needs nothing but the standard library and numpy.

Conventions copied from lucid (src/characterize/bench.c, src/characterize/stats.c,
tools/cli_common.c) so that the numbers mean the same thing for every engine:

- warm-up: run untimed until warmup_ms have elapsed (0 ms: no warm-up run);
- timed phase: time each run until at least min_iterations runs AND min_duration_s seconds;
  both phases stop at 1,000,000 runs and then set "capped";
- statistics: median = mean of the two middle samples for an even count; p90/p95/p99 by
  nearest rank (the smallest sample with at least p% of samples <= it); stddev with n-1;
  cv = stddev / mean; cv_warning when cv > 0.01;
- random inputs: lucid's generator (docs/cli.md, "Random inputs"): per input a splitmix64
  stream seeded with seed xor FNV-1a-64(input name); float32 values (x >> 40) * 2^-23 - 1,
  float64 (x >> 11) * 2^-52 - 1, float16 k/1024 - 1 with k = x >> 53, integers x >> 62,
  bool x >> 63, so a driver given the same seed feeds the same values as `lucid bench`.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time

import numpy as np

SCHEMA = "lucid-bench/1"
MAX_ITERATIONS = 1000000  # LUCID_BENCH_MAX_ITERATIONS

FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1


# ---- hashing and the random input generator ------------------------------------------------

def fnv1a64(data, h=FNV_OFFSET):
    """64-bit FNV-1a of a bytes-like object."""
    for b in bytes(data):
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def digest(array):
    """'fnv1a64:<16 hex>' of an array's bytes in C order, little-endian."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return "fnv1a64:%016x" % fnv1a64(a.tobytes())


def _splitmix64_stream(state, n):
    """The first n outputs of splitmix64 started at state, as uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(state) + k * np.uint64(0x9e3779b97f4a7c15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        return z ^ (z >> np.uint64(31))


def random_input(name, dtype, shape, seed=0):
    """lucid's seeded random input for one graph input (see the module docstring)."""
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    x = _splitmix64_stream((seed ^ fnv1a64(name.encode("utf-8"))) & MASK64, n)
    dt = np.dtype(dtype)
    if dt == np.float32:
        v = (x >> np.uint64(40)).astype(np.float32) * np.float32(2.0 / 16777216.0) - np.float32(1.0)
    elif dt == np.float64:
        v = (x >> np.uint64(11)).astype(np.float64) * (2.0 / 9007199254740992.0) - 1.0
    elif dt == np.float16:
        v = ((x >> np.uint64(53)).astype(np.int64) - 1024).astype(np.float32) / np.float32(1024.0)
    elif dt == np.bool_:
        v = (x >> np.uint64(63)).astype(np.bool_)
    elif dt.kind in "iu":
        v = x >> np.uint64(62)
    else:
        raise ValueError("input '%s': no random generator for dtype %s" % (name, dt))
    return v.astype(dt).reshape(shape)


# ---- flags -------------------------------------------------------------------------------------

def add_bench_flags(ap, default_threads=0):
    """Flags every driver shares, spelled and defaulted as `lucid bench`'s."""
    ap.add_argument("model", help="ONNX model file")
    ap.add_argument("--warmup", type=float, default=200.0, metavar="MS",
                    help="warm-up time in milliseconds (default 200)")
    ap.add_argument("--iterations", type=int, default=10, metavar="N",
                    help="at least N timed runs (default 10)")
    ap.add_argument("--duration", type=float, default=3.0, metavar="S",
                    help="at least S seconds of timed runs (default 3)")
    ap.add_argument("--threads", type=int, default=default_threads, metavar="N",
                    help="threads (0 = all cores; default 0)")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                    help="feed input NAME from a .npy file (repeatable)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the random inputs not given by --input (default 0)")
    ap.add_argument("--save-outputs", metavar="DIR", default=None,
                    help="write each output after the last timed run to DIR/<name>.npy")
    ap.add_argument("--json", action="store_true",
                    help="accepted for symmetry with lucid bench; the output is always JSON")


def check_bench_flags(ap, args):
    if not (args.warmup >= 0 and math.isfinite(args.warmup)):
        ap.error("--warmup must be a finite number >= 0")
    if not 1 <= args.iterations <= MAX_ITERATIONS:
        ap.error("--iterations must be 1 to %d" % MAX_ITERATIONS)
    if not (args.duration >= 0 and math.isfinite(args.duration)):
        ap.error("--duration must be a finite number >= 0")
    if args.threads < 0:
        ap.error("--threads must be >= 0")
    if not 0 <= args.seed <= MASK64:
        ap.error("--seed must be 0 to 2^64-1")


def input_source(flags, name):
    """The --input file (NAME=FILE flags) that fed input name, or "random" (as lucid's
    "source")."""
    for f in flags:
        if f.startswith(name + "="):
            return f[len(name) + 1:]
    return "random"


def parse_input_flags(flags, known_names):
    """--input NAME=FILE list -> {name: array}; the split is at the first '=' whose left
    side is a known input name (as lucid), else at the first '='."""
    out = {}
    for f in flags:
        name = None
        for i, ch in enumerate(f):
            if ch == "=" and f[:i] in known_names:
                name, path = f[:i], f[i + 1:]
                break
        if name is None:
            if "=" not in f:
                raise ValueError("--input %s: expected NAME=FILE.npy" % f)
            name, path = f.split("=", 1)
            if name not in known_names:
                raise ValueError("--input %s: the model has no input '%s' (inputs: %s)"
                                 % (f, name, ", ".join(known_names)))
        if name in out:
            raise ValueError("--input: input '%s' given twice" % name)
        out[name] = np.load(path, allow_pickle=False)
    return out


def sanitize_name(name, i, used):
    """The output file name rule of `lucid run --output-dir`."""
    s = "".join(c if (c.isascii() and (c.isalnum() or c in ".-_")) else "_" for c in name)[:200]
    if s in ("", ".", ".."):
        s = "output_%d" % i
    if s in used:
        s = "%s_%d" % (s, i)
    used.add(s)
    return s


def save_outputs(directory, named_arrays):
    """Writes [(name, array)] as DIR/<sanitized name>.npy; returns the paths."""
    os.makedirs(directory, exist_ok=True)
    used, paths = set(), []
    for i, (name, a) in enumerate(named_arrays):
        p = os.path.join(directory, sanitize_name(name, i, used) + ".npy")
        np.save(p, np.ascontiguousarray(a))
        paths.append(p)
    return paths


# ---- timing and statistics ---------------------------------------------------------------------

def bench_loop(run, warmup_ms, min_iterations, min_duration_s, now=time.perf_counter):
    """lucid_bench_run's loop around run() (which must return only when the inference is
    complete, device work included). Returns (warmup_iterations, warmup_s, samples_ms,
    total_s, capped)."""
    capped = False
    w0 = t = now()
    wn = 0
    while (t - w0) * 1e3 < warmup_ms:
        if wn == MAX_ITERATIONS:
            capped = True
            break
        run()
        wn += 1
        t = now()
    warmup_s = t - w0
    samples = []
    t0 = t = now()
    while len(samples) < min_iterations or t - t0 < min_duration_s:
        if len(samples) == MAX_ITERATIONS:
            capped = True
            break
        r0 = now()
        run()
        t = now()
        samples.append((t - r0) * 1e3)
    return wn, warmup_s, samples, t - t0, capped


def stats(samples):
    """lucid_stats_compute: min, mean, median, p90, p95, p99, max, stddev, cv."""
    s = sorted(float(x) for x in samples)
    n = len(s)
    if n == 0:
        raise ValueError("no samples")

    def rank(p):
        k = max(1, int(math.ceil(p / 100.0 * n)))
        return s[min(k, n) - 1]

    mean = sum(s) / n
    var = sum((x - mean) ** 2 for x in s)
    sd = math.sqrt(var / (n - 1)) if n > 1 else 0.0
    return {"min": s[0], "mean": mean,
            "median": s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]),
            "p90": rank(90), "p95": rank(95), "p99": rank(99), "max": s[-1],
            "stddev": sd, "cv": sd / mean if mean > 0 else 0.0}


# ---- the document ------------------------------------------------------------------------------

def cpu_name():
    try:
        with open("/proc/cpuinfo", "r", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def io_desc(name, array):
    return {"name": name, "dtype": str(np.asarray(array).dtype), "shape": list(np.shape(array))}


def base_document(engine, config, args, device="cpu", device_name=None, engine_version=""):
    """The fields known before anything runs; a not_installed or failed document is this plus
    status and reason."""
    return {
        "schema": SCHEMA, "engine": engine, "engine_version": engine_version, "config": config,
        "device": device, "device_name": device_name if device_name is not None else cpu_name(),
        "model": args.model, "batch": None,
        "threads_requested": args.threads, "threads_used": None,
        "inputs": [],
        "settings": {"warmup_ms": args.warmup, "min_iterations": args.iterations,
                     "min_duration_s": args.duration},
        "warmup": None, "iterations": 0, "total_s": None, "throughput": None,
        "samples_per_s": None, "latency_ms": None, "cv_warning": None, "capped": None,
        "outputs": [], "status": "ok", "date": utc_now(),
    }


def fill_timing(doc, loop_result, batch):
    wn, warmup_s, samples, total_s, capped = loop_result
    st = stats(samples)
    n = len(samples)
    doc["batch"] = batch
    doc["warmup"] = {"iterations": wn, "seconds": warmup_s}
    doc["iterations"] = n
    doc["total_s"] = total_s
    doc["throughput"] = n / total_s if total_s > 0 else 0.0
    doc["samples_per_s"] = doc["throughput"] * batch
    doc["latency_ms"] = st
    doc["cv_warning"] = st["cv"] > 0.01
    doc["capped"] = capped
    return doc


def fill_outputs(doc, named_arrays, save_dir=None):
    doc["outputs"] = [dict(io_desc(n, a), digest=digest(a)) for n, a in named_arrays]
    if save_dir:
        for o, p in zip(doc["outputs"], save_outputs(save_dir, named_arrays)):
            o["file"] = p


def unavailable(doc, status, reason):
    doc["status"] = status
    doc["reason"] = reason
    return doc


def emit(doc):
    """Prints the document; exit code 0 for ok and not_installed, 4 for failed (as lucid's
    runtime failure)."""
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    sys.stdout.flush()
    return 4 if doc.get("status") == "failed" else 0


def new_parser(description):
    return argparse.ArgumentParser(description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
