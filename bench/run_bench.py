#!/usr/bin/env python3
"""run_bench.py - benchmarks lucid against the peer engines installed here, interleaved on the same inputs, and writes bench/results/<date>-<machine>.json and .md.

Usage (any python3 with numpy; the peers run under the Python that has them):

    python3 bench/run_bench.py --lucid build-peers/lucid [--models a,b] [--engines lucid,onnxruntime,pytorch]
        [--rounds 3] [--duration 1] [--iterations 10] [--warmup 200] [--threads 1] [--seed 0]
        [--zoo DIR] [--fashion DIR] [--out bench/results] [--machine NAME] [--work DIR]
        [--ort-python PY] [--torch-python PY]

Models: every <zoo>/<name>/model.onnx (default ./cache/zoo, models/export_zoo.py's cache) as
"zoo/<name>" and every <fashion>/<name>/model.onnx (default models/fashion) as
"fashion/<name>"; --models keeps those whose full name or last part is listed.

Per model: one input .npy per graph input is written once (lucid's seeded generator,
bench/peers/common.py, seed --seed; symbolic dimensions 1) and every engine reads it.
Then --rounds rounds, each running every engine once in the same order (A B C A B C ...),
each run a separate short process (`lucid bench --json`, bench/peers/ort_driver.py,
bench/peers/torch_driver.py in eager fp32 on the CPU) with the same --warmup,
--iterations, --duration and --threads. Outputs are compared once: lucid's from
`lucid run --input ... --output-dir`, the peers' from --save-outputs in round 1: equal
digests, or the largest absolute difference.

The summary per model and engine is the median of the per-round medians; the lucid/peer
ratio is the median over rounds of (lucid round median / peer round median), so a slow
round hurts both sides of its own ratio only. The JSON has the machine (CPU, cores, OS,
versions), the exact command, and every round's document; the markdown table states each
engine's config, lucid's included (today: the single-threaded reference executor).
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
import common  # noqa: E402
import onnx_lite  # noqa: E402

import numpy as np  # noqa: E402

ENGINES = ("lucid", "onnxruntime", "pytorch")


def slim_build(doc):
    """The build report without its bulk: every layer's chosen tactic, median and reason (not
    every candidate), no rewrite log or pass timings (`lucid build --report` gives those)."""
    out = {k: v for k, v in doc.items() if k not in ("rewrites", "passes", "layers")}
    out["layers"] = [{k: l.get(k) for k in ("index", "name", "op", "runs", "tactic", "median_ms",
                                             "reason")} for l in doc.get("layers", [])]
    return out


def python_with(module, candidates):
    """The first interpreter in candidates that can import module, else None."""
    for py in candidates:
        if not py:
            continue
        exe = shutil.which(py) or (py if os.path.exists(py) else None)
        if not exe:
            continue
        r = subprocess.run([exe, "-c", "import %s, numpy" % module], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return exe
    return None


def module_version(py, module):
    if not py:
        return None
    r = subprocess.run([py, "-c", "import %s; print(%s.__version__)" % (module, module)],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() or None if r.returncode == 0 else None


def find_models(zoo, fashion, wanted):
    found = []
    for family, root in (("zoo", zoo), ("fashion", fashion)):
        if not root or not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name, "model.onnx")
            if os.path.isfile(path):
                found.append(("%s/%s" % (family, name), path))
    if wanted:
        found = [(n, p) for n, p in found if n in wanted or n.split("/", 1)[1] in wanted]
    return found


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def os_name():
    try:
        with open("/etc/os-release", "r", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def run_json(cmd, timeout):
    """Runs cmd; returns (document or None, exit code, stderr tail)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, "timed out after %d s" % timeout
    tail = " | ".join(p.stderr.strip().splitlines()[-3:])
    try:
        return json.loads(p.stdout), p.returncode, tail
    except ValueError:
        return None, p.returncode, tail or p.stdout[-300:]


def failed_doc(engine, model, reason):
    return {"schema": common.SCHEMA, "engine": engine, "model": model, "status": "failed",
            "reason": reason, "date": common.utc_now()}


def median_latency(doc):
    if doc and doc.get("status", "ok") == "ok" and isinstance(doc.get("latency_ms"), dict):
        return doc["latency_ms"].get("median")
    return None


def config_of(engine, docs):
    for d in docs:
        c = d.get("config")
        if isinstance(c, str):
            return c
    # lucid's bench JSON before lucid-bench/1 had "config" as its settings object; the only
    # executor it has is the reference one
    return "reference" if engine == "lucid" else "?"


def compare_outputs(a_files, b_files):
    """Digest equality or max |a - b| over outputs matched by file name."""
    res = {"equal_digests": True, "max_abs_diff": 0.0, "outputs": {}}
    if not a_files or not b_files:
        return None
    for name in sorted(set(a_files) | set(b_files)):
        if name not in a_files or name not in b_files:
            res["outputs"][name] = "missing in one engine"
            res["equal_digests"] = False
            res["max_abs_diff"] = None
            continue
        a, b = np.load(a_files[name]), np.load(b_files[name])
        if a.shape != b.shape:
            res["outputs"][name] = "shapes differ: %s vs %s" % (list(a.shape), list(b.shape))
            res["equal_digests"] = False
            res["max_abs_diff"] = None
            continue
        same = common.digest(a) == common.digest(b)
        d = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        res["outputs"][name] = {"equal_digest": same, "max_abs_diff": d}
        res["equal_digests"] = res["equal_digests"] and same
        if res["max_abs_diff"] is not None:
            res["max_abs_diff"] = max(res["max_abs_diff"], d)
    return res


def npy_files(directory):
    if not directory or not os.path.isdir(directory):
        return {}
    return {f[:-4]: os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".npy")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lucid", default=None, help="lucid binary (default: build-peers/lucid, build/lucid)")
    ap.add_argument("--models", default="", help="comma-separated model names (zoo/x, fashion/y or x)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ", ".join(ENGINES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per run (default 1)")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--warmup", type=float, default=200.0, help="ms (default 200)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for every engine (default 1)")
    ap.add_argument("--batch", type=int, default=1,
                    help="batch size for models whose batch dimension is symbolic (default 1)")
    ap.add_argument("--lucid-config", default="plan", choices=("plan", "reference"),
                    help="plan: build an engine once per model (tactics timed, memory planned) "
                         "and benchmark it (default); reference: the reference executor")
    ap.add_argument("--tag", default="", help="added to the result file names (e.g. b8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoo", default=os.path.join(".", "cache", "zoo"))
    ap.add_argument("--fashion", default=os.path.join(REPO, "models", "fashion"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--machine", default="", help="machine name in the file names (default: CPU model and cores)")
    ap.add_argument("--work", default="", help="folder for inputs and outputs (default: a temporary one)")
    ap.add_argument("--ort-python", default="", help="python with onnxruntime (default: searched)")
    ap.add_argument("--torch-python", default="", help="python with torch (default: searched)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per engine run (default 900)")
    ap.add_argument("--rewrite-md", metavar="RESULT.json", default=None,
                    help="only write the markdown table of an existing result file next to it")
    args = ap.parse_args(argv)
    if args.rewrite_md:
        with open(args.rewrite_md, "r", encoding="utf-8") as f:
            res = json.load(f)
        md = os.path.splitext(args.rewrite_md)[0] + ".md"
        with open(md, "w", encoding="utf-8") as f:
            f.write(markdown(res))
        print("wrote " + md)
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if bad or not engines:
        ap.error("--engines: unknown %s (known: %s)" % (", ".join(bad), ", ".join(ENGINES)))
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    lucid = args.lucid or next((p for p in (os.path.join(REPO, "build-peers", "lucid"),
                                            os.path.join(REPO, "build", "lucid")) if os.path.exists(p)), None)
    if "lucid" in engines and (not lucid or not os.path.exists(lucid)):
        ap.error("no lucid binary: build it and pass --lucid PATH")
    ort_py = python_with("onnxruntime", [args.ort_python, sys.executable, "python3"]) \
        if "onnxruntime" in engines else None
    torch_py = python_with("torch", [args.torch_python, sys.executable, "python3", "/usr/bin/python3"]) \
        if "pytorch" in engines else None
    models = find_models(args.zoo, args.fashion,
                         {m.strip() for m in args.models.split(",") if m.strip()})
    if not models:
        ap.error("no models found (zoo %s, fashion %s, filter %r)" % (args.zoo, args.fashion, args.models))

    work = args.work or tempfile.mkdtemp(prefix="lucid-bench-")
    cores = os.cpu_count() or 1
    cpu = common.cpu_name()
    machine = args.machine or "%s-%dc" % (slug(cpu), cores)
    lucid_version = None
    if lucid:
        r = subprocess.run([lucid, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lucid_version = r.stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc)
    result = {
        "schema": "lucid-bench-run/1",
        "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "cwd": os.getcwd(),
        "machine": {"name": machine, "cpu": cpu, "cores": cores, "os": os_name(),
                    "kernel": platform.release(), "python": sys.version.split()[0]},
        "versions": {"lucid": lucid_version, "onnxruntime": module_version(ort_py, "onnxruntime"),
                     "torch": module_version(torch_py, "torch"),
                     "numpy": np.__version__,
                     "numpy_ort_python": module_version(ort_py, "numpy"),
                     "numpy_torch_python": module_version(torch_py, "numpy")},
        "interpreters": {"onnxruntime": ort_py, "pytorch": torch_py},
        "settings": {"rounds": args.rounds, "warmup_ms": args.warmup, "min_iterations": args.iterations,
                     "min_duration_s": args.duration, "threads": args.threads, "seed": args.seed,
                     "batch": args.batch, "lucid_config": args.lucid_config,
                     "engines": engines},
        "models": {},
    }
    for name, path in models:
        print("== %s (%s)" % (name, path), flush=True)
        result["models"][name] = bench_model(name, path, engines, args, lucid, ort_py, torch_py, work)

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "%s-%s%s" % (now.strftime("%Y-%m-%d"), machine,
                                                "-" + args.tag if args.tag else ""))
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    with open(base + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(result))
    print("wrote %s.json and %s.md" % (base, base))
    return 0


def bench_model(name, path, engines, args, lucid, ort_py, torch_py, work):
    mdir = os.path.join(work, name.replace("/", "_"))
    os.makedirs(mdir, exist_ok=True)
    meta = onnx_lite.read_model(path, with_initializers=False)
    input_flags, inputs = [], []
    shape_flags = []
    for i in meta["inputs"]:
        declared = i["shape"] or []
        # a symbolic first dimension is the batch; other symbolic dimensions are 1
        shape = [d if isinstance(d, int) and d >= 0 else (args.batch if k == 0 else 1)
                 for k, d in enumerate(declared)]
        if any(not (isinstance(d, int) and d >= 0) for d in declared):
            shape_flags += ["--shape", "%s=%s" % (i["name"], "x".join(str(d) for d in shape))]
        a = common.random_input(i["name"], i["dtype"], shape, args.seed)
        f = os.path.join(mdir, "input_%s.npy" % common.sanitize_name(i["name"], len(inputs), set()))
        np.save(f, a)
        input_flags.append("%s=%s" % (i["name"], f))
        inputs.append({"name": i["name"], "dtype": str(a.dtype), "shape": list(a.shape),
                       "digest": common.digest(a), "file": os.path.basename(f)})
    timing = ["--warmup", "%g" % args.warmup, "--iterations", str(args.iterations),
              "--duration", "%g" % args.duration, "--threads", str(args.threads)]
    entry = {"file": path, "inputs": inputs, "rounds": {e: [] for e in engines}, "notes": []}

    lucid_has_input = True
    out_dirs = {}
    lucid_target = path
    if "lucid" in engines and args.lucid_config == "plan":
        # the engine is built once, with its tactics timed on this machine, as trtexec builds
        # once and then measures; the build's report goes into the results
        plan = os.path.join(mdir, "model.plan")
        cmd = [lucid, "build", path, "-o", plan, "--threads", str(args.threads), "--json",
               "--timing-cache", os.path.join(work, "timing.cache")] + shape_flags
        doc, rc, err = run_json(cmd, args.timeout)
        if doc is not None and rc == 0 and os.path.exists(plan):
            entry["lucid_build"] = slim_build(doc)
            lucid_target = plan
        else:
            entry["notes"].append("lucid build failed (exit %s): %s" % (rc, err.strip()))
    for r in range(args.rounds):
        for e in engines:
            save = [] if r else ["--save-outputs", os.path.join(mdir, "out_" + e)]
            if e == "lucid":
                base = [lucid, "bench", lucid_target] + timing + ["--json"] + (
                    shape_flags + ["--reference"] if args.lucid_config == "reference" else [])
                flags = sum((["--input", f] for f in input_flags), []) if lucid_has_input else \
                    ["--seed", str(args.seed)]
                doc, rc, err = run_json(base + flags, args.timeout)
                if doc is None and lucid_has_input and rc == 1 and "--input" in err:
                    lucid_has_input = False
                    entry["notes"].append(
                        "this lucid bench has no --input; it ran on its own seeded random input "
                        "(--seed %d), which is the same generator and seed that wrote the input "
                        "files, so the data are identical" % args.seed)
                    doc, rc, err = run_json(base + ["--seed", str(args.seed)], args.timeout)
            elif e == "onnxruntime":
                if not ort_py:
                    doc, rc, err = ({"schema": common.SCHEMA, "engine": e, "status": "not_installed",
                                     "reason": "no python3 here imports onnxruntime (bench/setup_peers.sh)"}, 0, "")
                else:
                    cmd = [ort_py, os.path.join(HERE, "peers", "ort_driver.py"), path] + timing + \
                        sum((["--input", f] for f in input_flags), []) + save
                    doc, rc, err = run_json(cmd, args.timeout)
            else:
                if not torch_py:
                    doc, rc, err = ({"schema": common.SCHEMA, "engine": e, "status": "not_installed",
                                     "reason": "no python3 here imports torch"}, 0, "")
                else:
                    cmd = [torch_py, os.path.join(HERE, "peers", "torch_driver.py"), path] + timing + \
                        sum((["--input", f] for f in input_flags), []) + save
                    doc, rc, err = run_json(cmd, args.timeout)
            if doc is None:
                doc = failed_doc(e, path, "exit %s: %s" % (rc, err))
            entry["rounds"][e].append(doc)
            if save and doc.get("status", "ok") == "ok":
                out_dirs[e] = save[1]
            print("   round %d %-12s %s" % (r + 1, e, "median %.4f ms" % median_latency(doc)
                                            if median_latency(doc) is not None else
                                            "%s: %s" % (doc.get("status"), doc.get("reason"))), flush=True)

    if "lucid" in engines:
        ldir = os.path.join(mdir, "out_lucid")
        cmd = [lucid, "run", lucid_target, "--output-dir", ldir, "--json"] + (
            shape_flags + ["--reference"] if lucid_target == path else []) + (
            sum((["--input", f] for f in input_flags), []))
        doc, rc, err = run_json(cmd, args.timeout)
        if doc is not None and rc == 0:
            out_dirs["lucid"] = ldir
        else:
            entry["notes"].append("lucid run for outputs failed: exit %s: %s" % (rc, err))

    summary = {"engines": {}, "ratios": {}, "outputs_vs_lucid": {}}
    for e in engines:
        meds = [median_latency(d) for d in entry["rounds"][e]]
        ok = [m for m in meds if m is not None]
        docs = entry["rounds"][e]
        summary["engines"][e] = {
            "config": config_of(e, docs),
            "version": next((d.get("engine_version") for d in docs if d.get("engine_version")), None),
            "median_ms": statistics.median(ok) if ok else None,
            "round_medians_ms": meds,
            "status": "ok" if ok else next((d.get("status") for d in docs), "failed"),
            "reason": None if ok else next((d.get("reason") for d in docs if d.get("reason")), None),
        }
        if e != "lucid" and "lucid" in engines:
            lm = [median_latency(d) for d in entry["rounds"]["lucid"]]
            per_round = [a / b for a, b in zip(lm, meds) if a is not None and b]
            summary["ratios"]["lucid/" + e] = {
                "median": statistics.median(per_round) if per_round else None,
                "per_round": per_round}
            summary["outputs_vs_lucid"][e] = compare_outputs(
                npy_files(out_dirs.get("lucid")), npy_files(out_dirs.get(e)))
    entry["summary"] = summary
    return entry


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.4g" % v if v < 1000 else "%.0f" % v


def markdown(res):
    m = res["machine"]
    v = res["versions"]
    s = res["settings"]
    engines = s["engines"]
    lines = [
        "# lucid vs peer engines on %s" % m["cpu"],
        "",
        "Written by `bench/run_bench.py` on %s. Machine: %s, %d cores, %s (kernel %s). "
        "Versions: %s; ONNX Runtime %s; PyTorch %s; numpy %s." % (
            res["date"], m["cpu"], m["cores"], m["os"], m["kernel"], v["lucid"] or "lucid ?",
            v["onnxruntime"] or "not installed", v["torch"] or "not installed", v["numpy"]),
        "",
        "Command: `%s`" % res["command"],
        "",
        "Each engine ran %d rounds, interleaved (%s, then again), each round a separate process: "
        "warm-up %g ms, then at least %d runs and %g s; %d thread(s) requested from every engine; "
        "the same seeded input file for all. Latencies are medians of the per-round medians, in ms; "
        "ratios are medians of per-round ratios (above 1: lucid slower). Outputs: equal FNV-1a "
        "digests, or the largest absolute difference from lucid's output." % (
            s["rounds"], " ".join(engines), s["warmup_ms"], s["min_iterations"], s["min_duration_s"],
            s["threads"]),
        "",
    ]
    configs = {}
    for entry in res["models"].values():
        for e, x in entry["summary"]["engines"].items():
            configs.setdefault(e, x["config"])
    lines.append("Engine configs: " + "; ".join(
        "%s = `%s`" % (e, configs.get(e, "?")) for e in engines) + ".")
    if "lucid" in engines and s.get("lucid_config", "reference") == "reference":
        lines += ["", "lucid's config `reference` is its reference executor: plain, single-threaded "
                  "reference kernels, the correctness baseline, not lucid's optimized engine."]
    elif "lucid" in engines:
        lines += ["", "lucid's config `plan`: the engine `lucid build` makes (graph passes at level "
                  "3, every supported tactic timed per layer on this machine, memory planned), "
                  "built once per model before the rounds, then benchmarked from the plan file. "
                  "Batch %d." % s.get("batch", 1)]
    lines.append("")
    head = ["model"] + ["%s ms" % e for e in engines]
    peers = [e for e in engines if e != "lucid"] if "lucid" in engines else []
    head += ["lucid/%s" % p for p in peers] + ["outputs vs lucid: %s" % p for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1 - len(peers)) + ["---"] * len(peers)) + "|")
    notes = []
    for name, entry in res["models"].items():
        sm = entry["summary"]
        row = [name]
        for e in engines:
            x = sm["engines"][e]
            row.append(fmt_ms(x["median_ms"]) if x["median_ms"] is not None else x["status"])
            if x["median_ms"] is None:
                notes.append("%s, %s: %s" % (name, e, x["reason"]))
        for p in peers:
            r = sm["ratios"].get("lucid/" + p, {}).get("median")
            row.append("%.2f" % r if r is not None else "-")
        for p in peers:
            c = sm["outputs_vs_lucid"].get(p)
            if not c:
                row.append("-")
            elif c["equal_digests"]:
                row.append("identical")
            elif c["max_abs_diff"] is None:
                row.append("mismatch")
            else:
                row.append("max abs diff %.3g" % c["max_abs_diff"])
        lines.append("| " + " | ".join(row) + " |")
        notes += ["%s: %s" % (name, n) for n in entry.get("notes", [])]
    for p in peers:
        rs = [e["summary"]["ratios"].get("lucid/" + p, {}).get("median")
              for e in res["models"].values()]
        rs = [r for r in rs if r]
        if rs:
            geo = math.exp(sum(math.log(r) for r in rs) / len(rs))
            lines += ["", "lucid/%s: geometric mean %.3f over %d models; largest %.3f (%s)." % (
                p, geo, len(rs), max(rs), next(n for n, e in res["models"].items()
                                             if e["summary"]["ratios"].get("lucid/" + p, {}).get("median") == max(rs)))]
    mem = [(n, e["lucid_build"]) for n, e in res["models"].items() if e.get("lucid_build")]
    if mem:
        lines += ["", "lucid's activation memory (peak arena from the memory plan, against the naive "
                  "sum of all activation tensors; then both without the graph inputs and outputs, "
                  "which the arena holds apart):", "",
                  "| model | peak MiB | naive MiB | peak/naive | I/O MiB | peak/naive without I/O "
                  "| build s |", "|---|---:|---:|---:|---:|---:|---:|"]
        for n, doc in mem:
            b = doc.get("plan") or {}
            pk, nv, io = b.get("arena_bytes"), b.get("naive_bytes"), b.get("io_bytes")
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                n, "%.2f" % (pk / 2**20) if pk is not None else "-",
                "%.2f" % (nv / 2**20) if nv is not None else "-",
                "%.2f" % (pk / nv) if pk is not None and nv else "-",
                "%.2f" % (io / 2**20) if io is not None else "-",
                "%.2f" % ((pk - io) / (nv - io)) if None not in (pk, nv, io) and nv > io else "-",
                "%.1f" % b["build_s"] if b.get("build_s") is not None else "-"))
    cv = {}
    for entry in res["models"].values():
        for e, docs in entry["rounds"].items():
            for d in docs:
                if d.get("status", "ok") == "ok" and isinstance(d.get("latency_ms"), dict):
                    c = cv.setdefault(e, [0, 0, 0.0])
                    c[0] += 1
                    c[1] += bool(d.get("cv_warning"))
                    c[2] = max(c[2], d["latency_ms"].get("cv", 0.0))
    if cv:
        lines += ["", "Runs with CV above 1%%: %s. Medians and per-round ratios are used because "
                  "they resist such spread; the JSON has every run's full statistics." % "; ".join(
                      "%s %d of %d (largest %.1f%%)" % (e, c[1], c[0], 100 * c[2]) for e, c in cv.items())]
    if notes:
        lines += ["", "Notes:", ""] + ["- " + n for n in notes]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
