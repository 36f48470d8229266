#!/usr/bin/env python3
"""gpu_bench.py - lucid on the GPU against PyTorch on the same GPU, in the same run.

Per model: a lucid GPU plan is built once (lucid build --device cuda --precision P), then in
each round lucid bench (the plan, CUDA graph replay), PyTorch eager and torch.compile (each
mode given) run one after the other (bench/peers/torch_driver.py, host latency with the input
and output copies, as lucid bench measures). Medians of each round are kept; the table shows
the median over rounds and lucid's ratio to each peer. Throughput runs use --shape at the
given batch sizes.

Usage (on the GPU machine, through scripts/gpu.sh run bench):
    python3 bench/gpu_bench.py --lucid BIN --zoo DIR --models a,b --out DIR
        [--precision fp16|bf16|fp32|int8] [--calibration-dir DIR] (int8: DIR/<model>.calib)
        [--peers eager,compile-reduce-overhead] [--rounds 2]
        [--duration 2] [--throughput resnet50,mobilenet_v2] [--batches 64,256]
        [--nchw all|a,b]  (also a --gpu-layout nchw plan of these models, same rounds)
        [--prewarm N]  (first compile every torch.compile peer, N processes at a time, untimed:
                        the timed runs then find TorchInductor's on-disk caches warm, which
                        shortens their compilation, never what is timed)
Writes DIR/gpu_bench.json and DIR/gpu_bench.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "cmd": " ".join(cmd)}, time.time() - t0
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {"status": "failed", "stderr": p.stderr[-800:], "stdout": p.stdout[-400:]}
    if p.returncode != 0 and doc.get("status") in (None, "ok"):
        doc["status"] = "failed rc=%d" % p.returncode
        doc["stderr"] = p.stderr[-800:]
    return doc, time.time() - t0


def median_of(doc):
    try:
        return float(doc["latency_ms"]["median"])
    except (KeyError, TypeError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lucid", required=True)
    ap.add_argument("--zoo", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--precision", default="fp16")
    ap.add_argument("--calibration-dir", default="",
                    help="int8: DIR/<model>.calib, the calibration cache each lucid build reads")
    ap.add_argument("--peers", default="eager,compile-reduce-overhead")
    ap.add_argument("--max-autotune", default="", help="models that also run compile-max-autotune")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--throughput", default="", help="models for the batch runs")
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--nchw", default="", help="models (or 'all') whose lucid plan is also built "
                    "with --gpu-layout nchw and run in the same rounds (the channels-last gain)")
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--peer-host-input", choices=("model", "float32"), default="model",
                    help="the peers' host input: in the model's precision (default) or float32 "
                         "cast on the GPU, as lucid takes it (torch_driver.py --host-input)")
    ap.add_argument("--prewarm", type=int, default=0,
                    help="compile every torch.compile peer first, N processes at a time")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    plans = os.path.join("/tmp", "lucid-gpu-plans")
    os.makedirs(plans, exist_ok=True)
    driver = os.path.join(HERE, "peers", "torch_driver.py")
    results = []
    jobs = [(m, 1) for m in a.models.split(",") if m]
    for m in a.throughput.split(","):
        if m:
            jobs += [(m, int(b)) for b in a.batches.split(",")]
    if a.prewarm > 0 and not a.no_peers:
        prewarm(a, jobs, driver)
    for model, batch in jobs:
        onnx = os.path.join(a.zoo, model, "model.onnx")
        if not os.path.exists(onnx):
            print("skip %s: no %s" % (model, onnx), flush=True)
            continue
        plan = os.path.join(plans, "%s_b%d_%s.plan" % (model, batch, a.precision))
        shape = "input=%d,3,%s" % (batch, "416,416" if model == "tiny_yolov3" else
                                   "299,299" if model == "inception_v3" else "224,224")
        t0 = time.time()
        calib = []
        if a.precision == "int8":
            calib = ["--calibration-cache", os.path.join(a.calibration_dir, model + ".calib")]
        b = subprocess.run([a.lucid, "build", onnx, "--device", "cuda", "--precision", a.precision,
                            "--shape", shape, "--tune-ms", "5", "-o", plan] + calib,
                           capture_output=True, text=True)
        build_s = time.time() - t0
        row = {"model": model, "batch": batch, "precision": a.precision, "build_s": build_s,
               "lucid": [], "peers": {}}
        info, _ = run_json([a.lucid, "info", plan, "--json"], 60)
        pinfo = info.get("plan") or {}
        row["gpu_layout"] = pinfo.get("gpu_layout")
        row["gpu_layout_reason"] = pinfo.get("gpu_layout_reason")
        nchw_plan = None
        if b.returncode == 0 and (a.nchw == "all" or model in a.nchw.split(",")):
            nchw_plan = plan.replace(".plan", "_nchw.plan")
            nb = subprocess.run([a.lucid, "build", onnx, "--device", "cuda", "--precision",
                                 a.precision, "--shape", shape, "--tune-ms", "5", "--gpu-layout",
                                 "nchw", "-o", nchw_plan], capture_output=True, text=True)
            if nb.returncode != 0:
                row["lucid_nchw_error"] = (nb.stderr or nb.stdout)[-600:]
                nchw_plan = None
            else:
                row["lucid_nchw"] = []
        if b.returncode != 0:
            row["lucid_error"] = (b.stderr or b.stdout)[-600:]
            print("%s b%d: lucid build failed: %s" % (model, batch, row["lucid_error"]), flush=True)
            results.append(row)
            write(a, results)
            continue
        peers = [] if a.no_peers else [p for p in a.peers.split(",") if p]
        if model in a.max_autotune.split(","):
            peers.append("compile-max-autotune")
        for p in peers:
            row["peers"][p] = []
        for r in range(a.rounds):
            doc, _ = run_json([a.lucid, "bench", plan, "--json", "--duration", str(a.duration),
                               "--warmup", "500"], a.timeout)
            row["lucid"].append(median_of(doc))
            if r == 0:
                row["lucid_gpu_median_ms"] = doc.get("gpu_median_ms")
                row["lucid_status"] = doc.get("status")
                if doc.get("status") != "ok":
                    row["lucid_error"] = doc.get("stderr", "")[-600:]
            if nchw_plan:
                doc, _ = run_json([a.lucid, "bench", nchw_plan, "--json", "--duration",
                                   str(a.duration), "--warmup", "500"], a.timeout)
                row["lucid_nchw"].append(median_of(doc))
            for p in peers:
                cmd = [sys.executable, driver, onnx, "--device", "cuda", "--precision", peer_precision(a),
                       "--mode", p, "--batch", str(batch), "--json", "--duration", str(a.duration),
                       "--warmup", "500", "--allow-mismatch", "--host-input", a.peer_host_input]
                doc, wall = run_json(cmd, a.timeout)
                row["peers"][p].append(median_of(doc))
                if r == 0:
                    row.setdefault("peer_info", {})[p] = {
                        "status": doc.get("status"), "first_run_s": doc.get("first_run_s"),
                        "wall_s": wall, "error": doc.get("stderr", doc.get("error", ""))[-400:]
                        if doc.get("status") != "ok" else ""}
        def med(v):
            v = [x for x in v if x is not None]
            return statistics.median(v) if v else None
        row["lucid_ms"] = med(row["lucid"])
        if "lucid_nchw" in row:
            row["lucid_nchw_ms"] = med(row["lucid_nchw"])
        row["peer_ms"] = {p: med(v) for p, v in row["peers"].items()}
        print("%-20s b%-4d lucid %s (%s)%s  %s  (build %.1f s)" % (
            model, batch, "%.4f" % row["lucid_ms"] if row["lucid_ms"] else "-",
            row.get("gpu_layout"), "  lucid NCHW %.4f" % row["lucid_nchw_ms"]
            if row.get("lucid_nchw_ms") else "",
            "  ".join("%s %s" % (p, "%.4f" % v if v else "-") for p, v in row["peer_ms"].items()),
            build_s), flush=True)
        results.append(row)
        write(a, results)
    write(a, results, final=True)
    return 0


def peer_precision(a):
    """PyTorch runs the model in lucid's precision; against lucid INT8 it runs FP16 (its
    eager and compiled CUDA paths have no int8 convolution)."""
    return "fp16" if a.precision == "int8" else a.precision


def prewarm(a, jobs, driver):
    """Runs each compiled peer once, briefly, a.prewarm at a time, before anything is timed;
    results are discarded. Compilation is never timed (the driver compiles before its warm-up);
    this only moves it out of the timed rounds' wall time."""
    t0 = time.time()
    modes = [p for p in a.peers.split(",") if p.startswith("compile")]
    commands = []
    for model, batch in jobs:
        onnx = os.path.join(a.zoo, model, "model.onnx")
        if not os.path.exists(onnx):
            continue
        for p in modes + (["compile-max-autotune"] if model in a.max_autotune.split(",") else []):
            commands.append([sys.executable, driver, onnx, "--device", "cuda", "--precision",
                         peer_precision(a), "--mode", p, "--batch", str(batch), "--json", "--duration",
                         "0.01", "--iterations", "1", "--warmup", "0", "--allow-mismatch",
                         "--host-input", a.peer_host_input])
    waiting, running = list(commands), []
    while waiting or running:
        while waiting and len(running) < a.prewarm:
            running.append(subprocess.Popen(waiting.pop(0), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        time.sleep(0.2)
        running = [p for p in running if p.poll() is None]
    print("prewarm: %d compiled peer runs in %.0f s" % (len(commands), time.time() - t0),
          flush=True)


def write(a, results, final=False):
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    try:
        import torch
        tver = torch.__version__
    except ImportError:
        tver = "not installed"
    doc = {"schema": "lucid-gpu-bench/1", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "peer_host_input": a.peer_host_input,
           "gpu": gpu, "host": platform.node(), "torch": tver, "precision": a.precision,
           "rounds": a.rounds, "duration_s": a.duration, "command": " ".join(sys.argv),
           "latency": "host latency per inference: input copy in, run, output copy out, synchronized",
           "results": results}
    with open(os.path.join(a.out, "gpu_bench.json"), "w") as f:
        json.dump(doc, f, indent=1)
    peers = sorted({p for r in results for p in r.get("peer_ms", {})})
    lines = ["# lucid vs PyTorch on %s (%s, %s)" % (gpu, a.precision, doc["date"]), "",
             "Median host latency in ms (median of %d rounds of >= %g s each); ratio = lucid / peer "
             "(below 1: lucid faster). lucid's input is float32 on the host (its engine boundary); "
             "%s%s" % (a.rounds, a.duration,
                       ("the peers' host input is " + ("float32 too, cast on the GPU."
                                                       if a.peer_host_input == "float32"
                                                       else "in the model's precision.")) if peers
                       else "no peer ran in this call.",
                       (" lucid runs INT8 (calibration cache per model)" +
                        (", the peers FP16." if peers else ".")) if a.precision == "int8" else ""),
             "",
             "| " + " | ".join(["model", "batch", "lucid layout", "lucid", "lucid NCHW"] + peers +
                               ["lucid/" + p for p in peers] + ["lucid GPU compute"]) + " |",
             "|" + "---|" * (6 + 2 * len(peers))]
    for r in results:
        lm = r.get("lucid_ms")
        ln = r.get("lucid_nchw_ms")
        cells = [str(r.get("gpu_layout") or "-"), "%.4f" % lm if lm else "failed",
                 "%.4f" % ln if ln else "-"]
        for p in peers:
            v = r.get("peer_ms", {}).get(p)
            cells.append("%.4f" % v if v else "-")
        for p in peers:
            v = r.get("peer_ms", {}).get(p)
            cells.append("%.2f" % (lm / v) if lm and v else "-")
        g = r.get("lucid_gpu_median_ms") or {}
        cells.append("%.4f" % g["compute"] if g.get("compute") is not None else "-")
        lines.append("| %s | %d | %s |" % (r["model"], r["batch"], " | ".join(cells)))
    with open(os.path.join(a.out, "gpu_bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if final:
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
