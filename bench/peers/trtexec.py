#!/usr/bin/env python3
"""trtexec.py - benchmarks an ONNX model with TensorRT's trtexec and turns its exported times, profile and layer info into one lucid-bench/1 JSON document.

Usage:

    python3 bench/peers/trtexec.py MODEL [--precision fp32|fp16|int8|best]
        [--warmup MS] [--iterations N] [--duration S] [--keep DIR] [--save-outputs DIR]
        [--trtexec PATH] [--json]
    python3 bench/peers/trtexec.py MODEL --parse TIMES.json [--profile PROFILE.json]
        [--layer-info LAYERS.json] [--log TRTEXEC.log]     # parse files only, run nothing

The run is

    trtexec --onnx=MODEL [--fp16|--int8|--best] --warmUp=MS --iterations=N --duration=S
            --exportTimes=times.json --exportProfile=profile.json
            --exportLayerInfo=layers.json --exportOutput=output.json
            --profilingVerbosity=detailed --separateProfileRun

(--separateProfileRun keeps the per-layer profiler out of the timed inferences; trtexec's
--duration takes whole seconds, so a fractional --duration is rounded up and the document
says so.) Without trtexec on PATH (or --trtexec) the document has status "not_installed".

Formats parsed (as trtexec's sampleReporting.cpp writes them):

- --exportTimes: a JSON array, one object per timed inference (warm-up excluded), with
  startEnqMs, endEnqMs, startH2dMs, endH2dMs, startComputeMs, endComputeMs, startD2hMs,
  endD2hMs, h2dMs, computeMs, d2hMs, latencyMs (= h2dMs + computeMs + d2hMs, the host
  latency) and in newer versions enqueueMs (else endEnqMs - startEnqMs).
  latency_ms in the document is over latencyMs; compute_ms, h2d_ms, d2h_ms and enqueue_ms
  get the same statistics. total_s spans the first inference's start to the last one's
  end; throughput = inferences / total_s.
- --exportProfile: a JSON array whose first element is {"count": N} (profiled iterations)
  and the others {"name", "timeMs" (total), "averageMs", "medianMs" (newer versions),
  "percentage"}.
- --exportLayerInfo: {"Layers": [...], "Bindings": [...]}; a layer is a name string
  (profilingVerbosity layer_names_only) or an object with "Name" and, with detailed
  verbosity, "LayerType", "Inputs", "Outputs", "TacticName"/"TacticValue", "Metadata"...
  Each profile entry is joined with the layer of the same name into the document's
  "layers" list.
- --exportOutput: [{"name", "dimensions": "AxBxC", "values": [...]}]; values are decimal
  text, so the output digests are of float32 arrays parsed from text ("digest_exact":
  false).

A malformed file makes the document "failed" with a reason naming the file and what is
wrong (exit code 4).
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import onnx_lite  # noqa: E402

import numpy as np  # noqa: E402

TIME_KEYS = ("h2dMs", "computeMs", "d2hMs", "latencyMs")


class TrtexecFormatError(ValueError):
    pass


def _load_json(path, what):
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise TrtexecFormatError("%s: cannot read the %s file: %s" % (path, what, exc.strerror))
    except ValueError as exc:
        raise TrtexecFormatError("%s: the %s file is not valid JSON: %s" % (path, what, exc))


def _number(v, path, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise TrtexecFormatError("%s: %s is %r, not a finite number" % (path, where, v))
    return float(v)


def parse_times(path):
    """--exportTimes -> {"latency": [...], "compute": [...], "h2d": [...], "d2h": [...],
    "enqueue": [...], "span_s": float}."""
    data = _load_json(path, "times")
    if not isinstance(data, list):
        raise TrtexecFormatError("%s: times file must be a JSON array of per-inference objects, "
                                 "found %s" % (path, type(data).__name__))
    if not data:
        raise TrtexecFormatError("%s: times file has no inferences" % path)
    out = {"latency": [], "compute": [], "h2d": [], "d2h": [], "enqueue": []}
    starts, ends = [], []
    for i, t in enumerate(data):
        if not isinstance(t, dict):
            raise TrtexecFormatError("%s: inference %d is %s, not an object" % (path, i, type(t).__name__))
        for k in TIME_KEYS:
            if k not in t:
                raise TrtexecFormatError("%s: inference %d lacks \"%s\"" % (path, i, k))
        vals = {k: _number(t[k], path, "inference %d \"%s\"" % (i, k)) for k in TIME_KEYS}
        if any(v < 0 for v in vals.values()):
            raise TrtexecFormatError("%s: inference %d has a negative time" % (path, i))
        out["latency"].append(vals["latencyMs"])
        out["compute"].append(vals["computeMs"])
        out["h2d"].append(vals["h2dMs"])
        out["d2h"].append(vals["d2hMs"])
        if "enqueueMs" in t:
            out["enqueue"].append(_number(t["enqueueMs"], path, "inference %d \"enqueueMs\"" % i))
        elif "startEnqMs" in t and "endEnqMs" in t:
            out["enqueue"].append(_number(t["endEnqMs"], path, "endEnqMs")
                                  - _number(t["startEnqMs"], path, "startEnqMs"))
        s = [t[k] for k in ("startEnqMs", "startH2dMs", "startComputeMs") if k in t]
        e = [t[k] for k in ("endD2hMs", "endComputeMs", "endEnqMs") if k in t]
        if s and e:
            starts.append(min(_number(v, path, "a start time") for v in s))
            ends.append(max(_number(v, path, "an end time") for v in e))
    if len(out["enqueue"]) != len(data):
        out["enqueue"] = []
    out["span_s"] = (max(ends) - min(starts)) / 1e3 if starts else None
    return out


def parse_profile(path):
    """--exportProfile -> (count, [{"name", "total_ms", "average_ms", "median_ms", "percentage"}])."""
    data = _load_json(path, "profile")
    if not isinstance(data, list) or not data:
        raise TrtexecFormatError("%s: profile file must be a non-empty JSON array" % path)
    head = data[0]
    if not isinstance(head, dict) or "count" not in head:
        raise TrtexecFormatError("%s: profile file must start with {\"count\": N}" % path)
    count = head["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise TrtexecFormatError("%s: \"count\" is %r, not a non-negative integer" % (path, count))
    layers = []
    for i, e in enumerate(data[1:], 1):
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise TrtexecFormatError("%s: profile entry %d has no \"name\" string" % (path, i))
        for k in ("timeMs", "averageMs"):
            if k not in e:
                raise TrtexecFormatError("%s: profile entry %d (%s) lacks \"%s\"" % (path, i, e["name"], k))
        layers.append({
            "name": e["name"],
            "total_ms": _number(e["timeMs"], path, "entry %d timeMs" % i),
            "average_ms": _number(e["averageMs"], path, "entry %d averageMs" % i),
            "median_ms": _number(e["medianMs"], path, "entry %d medianMs" % i) if "medianMs" in e else None,
            "percentage": _number(e["percentage"], path, "entry %d percentage" % i) if "percentage" in e else None,
        })
    return count, layers


def parse_layer_info(path):
    """--exportLayerInfo -> ([layer dicts with at least "Name"], bindings)."""
    data = _load_json(path, "layer info")
    if not isinstance(data, dict) or not isinstance(data.get("Layers"), list):
        raise TrtexecFormatError("%s: layer info must be an object with a \"Layers\" array" % path)
    layers = []
    for i, l in enumerate(data["Layers"]):
        if isinstance(l, str):
            layers.append({"Name": l})
        elif isinstance(l, dict) and isinstance(l.get("Name"), str):
            layers.append(l)
        else:
            raise TrtexecFormatError("%s: layer %d is neither a name nor an object with \"Name\"" % (path, i))
    bindings = data.get("Bindings", [])
    if not isinstance(bindings, list):
        raise TrtexecFormatError("%s: \"Bindings\" must be an array" % path)
    return layers, bindings


def parse_outputs(path):
    """--exportOutput -> [(name, float32 array)]."""
    data = _load_json(path, "output")
    if not isinstance(data, list):
        raise TrtexecFormatError("%s: output file must be a JSON array" % path)
    outs = []
    for i, o in enumerate(data):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str) or \
                not isinstance(o.get("values"), list):
            raise TrtexecFormatError("%s: output %d needs \"name\" and \"values\"" % (path, i))
        dims_text = str(o.get("dimensions", "")).strip()
        try:
            dims = [int(d) for d in dims_text.split("x")] if dims_text else [len(o["values"])]
        except ValueError:
            raise TrtexecFormatError("%s: output %s has dimensions %r" % (path, o["name"], dims_text))
        a = np.array(o["values"], dtype=np.float32)
        if a.size != int(np.prod(dims)):
            raise TrtexecFormatError("%s: output %s has %d values for dimensions %s"
                                     % (path, o["name"], a.size, dims_text))
        outs.append((o["name"], a.reshape(dims)))
    return outs


def join_layers(profile_layers, info_layers):
    """One entry per profiled layer (in profile order), with its layer-info fields; layers
    only in the layer info follow with null times."""
    info = {l["Name"]: l for l in info_layers}
    out, seen = [], set()
    for p in profile_layers:
        e = dict(p)
        l = info.get(p["name"])
        if l is not None:
            seen.add(p["name"])
            e["info"] = {k: v for k, v in l.items() if k != "Name"}
        out.append(e)
    for l in info_layers:
        if l["Name"] not in seen:
            out.append({"name": l["Name"], "total_ms": None, "average_ms": None, "median_ms": None,
                        "percentage": None, "info": {k: v for k, v in l.items() if k != "Name"}})
    return out


def parse_log(text):
    """Facts from trtexec's stdout: TensorRT version, device, warm-up."""
    facts = {}
    m = re.search(r"TensorRT version:\s*([0-9.]+)", text)
    if m:
        facts["version"] = m.group(1)
    else:
        m = re.search(r"TensorRT v(\d+)", text)
        if m:
            v = int(m.group(1))
            facts["version"] = ("%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100) if v >= 10000
                                else "%d.%d.%d" % (v // 1000, v // 100 % 10, v % 100))
    m = re.search(r"Selected Device:\s*(.+)", text)
    if m:
        facts["device_name"] = m.group(1).strip()
    m = re.search(r"Warmup completed (\d+) queries over (\d+(?:\.\d+)?) ms", text)
    if m:
        facts["warmup"] = {"iterations": int(m.group(1)), "seconds": float(m.group(2)) / 1e3}
    return facts


def fill_from_files(doc, times_path, profile_path=None, layer_path=None, output_path=None,
                    log_text="", batch=1, save_dir=None):
    t = parse_times(times_path)
    n = len(t["latency"])
    facts = parse_log(log_text)
    if "version" in facts:
        doc["engine_version"] = facts["version"]
    if "device_name" in facts:
        doc["device_name"] = facts["device_name"]
    total = t["span_s"] if t["span_s"] else sum(t["latency"]) / 1e3
    st = common.stats(t["latency"])
    doc.update(batch=batch, warmup=facts.get("warmup"), iterations=n, total_s=total,
               throughput=n / total if total > 0 else 0.0, latency_ms=st,
               cv_warning=st["cv"] > 0.01, capped=False)
    doc["samples_per_s"] = doc["throughput"] * batch
    for k in ("compute", "h2d", "d2h", "enqueue"):
        if t[k]:
            doc[k + "_ms"] = common.stats(t[k])
    layers_info, bindings = ([], [])
    if layer_path:
        layers_info, bindings = parse_layer_info(layer_path)
        doc["bindings"] = bindings
    if profile_path:
        count, prof = parse_profile(profile_path)
        doc["profile_iterations"] = count
        doc["layers"] = join_layers(prof, layers_info)
    elif layers_info:
        doc["layers"] = join_layers([], layers_info)
    if output_path and os.path.exists(output_path):
        outs = parse_outputs(output_path)
        common.fill_outputs(doc, outs, save_dir)
        for o in doc["outputs"]:
            o["digest_exact"] = False
    return doc


def main(argv=None):
    ap = common.new_parser(__doc__)
    common.add_bench_flags(ap)
    ap.add_argument("--precision", choices=("fp32", "fp16", "int8", "best"), default="fp16")
    ap.add_argument("--trtexec", default=None, help="trtexec binary (default: from PATH)")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="write trtexec's export files and log into DIR (default: a temporary folder)")
    ap.add_argument("--parse", default=None, metavar="TIMES.json",
                    help="parse existing export files instead of running trtexec")
    ap.add_argument("--profile", default=None, metavar="PROFILE.json")
    ap.add_argument("--layer-info", default=None, metavar="LAYERS.json")
    ap.add_argument("--output", default=None, metavar="OUTPUT.json")
    ap.add_argument("--log", default=None, metavar="TRTEXEC.log")
    args = ap.parse_args(argv)
    common.check_bench_flags(ap, args)
    doc = common.base_document("tensorrt", "trtexec-" + args.precision, args, device="cuda",
                               device_name="")
    doc["threads_used"] = None
    batch, inputs = model_io(args.model)
    doc["inputs"] = inputs

    if args.parse:
        try:
            log = open(args.log, "r", encoding="utf-8", errors="replace").read() if args.log else ""
            fill_from_files(doc, args.parse, args.profile, args.layer_info, args.output, log,
                            batch, args.save_outputs)
        except (TrtexecFormatError, OSError) as exc:
            common.unavailable(doc, "failed", str(exc))
        return common.emit(doc)

    exe = args.trtexec or shutil.which("trtexec")
    if not exe or not os.path.exists(exe):
        return common.emit(common.unavailable(doc, "not_installed", "trtexec not found on PATH"
                                              if not args.trtexec else "trtexec not found at %s" % args.trtexec))
    folder = args.keep or tempfile.mkdtemp(prefix="lucid-trtexec-")
    os.makedirs(folder, exist_ok=True)
    files = {k: os.path.join(folder, k + ".json") for k in ("times", "profile", "layers", "output")}
    duration = int(math.ceil(args.duration))
    if duration != args.duration:
        doc["duration_note"] = "trtexec takes whole seconds: --duration=%d" % duration
    cmd = [exe, "--onnx=" + args.model]
    if args.precision != "fp32":
        cmd.append("--" + args.precision)
    cmd += ["--warmUp=%g" % args.warmup, "--iterations=%d" % args.iterations,
            "--duration=%d" % duration, "--exportTimes=" + files["times"],
            "--exportProfile=" + files["profile"], "--exportLayerInfo=" + files["layers"],
            "--exportOutput=" + files["output"], "--profilingVerbosity=detailed",
            "--separateProfileRun"]
    doc["command"] = cmd
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace")
        with open(os.path.join(folder, "trtexec.log"), "w", encoding="utf-8") as f:
            f.write(p.stdout)
        if p.returncode != 0:
            tail = " | ".join(p.stdout.strip().splitlines()[-3:])
            common.unavailable(doc, "failed", "trtexec exited %d: %s" % (p.returncode, tail))
        else:
            fill_from_files(doc, files["times"], files["profile"], files["layers"], files["output"],
                            p.stdout, batch, args.save_outputs)
    except (TrtexecFormatError, OSError) as exc:
        common.unavailable(doc, "failed", str(exc))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return common.emit(doc)


def model_io(path):
    """(batch, inputs) from the ONNX file, or (1, []) when it cannot be read."""
    try:
        meta = onnx_lite.read_model(path, with_initializers=False)
    except (OSError, onnx_lite.OnnxFormatError):
        return 1, []
    ins = [{"name": i["name"], "dtype": i["dtype"], "shape": i["shape"]} for i in meta["inputs"]]
    first = ins[0]["shape"] if ins and ins[0]["shape"] else None
    batch = first[0] if first and isinstance(first[0], int) and first[0] > 0 else 1
    return batch, ins


if __name__ == "__main__":
    sys.exit(main())
