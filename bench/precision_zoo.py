#!/usr/bin/env python3
"""precision_zoo.py - each reduced precision of lucid against float32 on the zoo models
(seeded weights): argmax agreement and output error on Debian's darknet photos, and latency
of the FP32, FP16, BF16 and INT8 plans against ONNX Runtime FP32, interleaved in one run.

Per model (cache/zoo/<name>/model.onnx, input 1x3xHxW):
  - the photos: each resized so that its shorter side is H / 0.875, center-cropped to HxW,
    scaled to [0, 1] and normalized with ImageNet's mean and std;
  - INT8 calibration: COUNT other crops of the same photos (bench/calibration_photos.py);
  - plans: fp32, fp16, bf16, int8 (`lucid build --threads T`, percentile calibrator);
  - accuracy: every plan's first output on every photo against the float32 reference
    executor's (lucid run --reference): argmax agreement, max |diff|, relative L2 error
    ||y - y_ref|| / ||y_ref||;
  - speed: --rounds rounds of ONNX Runtime (bench/peers/ort_driver.py, all optimizations) and
    `lucid bench` of each plan, in that order each round, on the first photo; the summary is
    the median of per-round medians and the median of per-round ratios to ONNX Runtime.

Usage: /usr/bin/python3 bench/precision_zoo.py [--lucid build/lucid] [--models a,b]
          [--configs fp32,fp16,bf16,int8] [--rounds 3] [--duration 1] [--threads 2]
          [--calibration-count 64] [--ort-python python3] [--work DIR] [--out OUT.json] [--md OUT.md]
       /usr/bin/python3 bench/precision_zoo.py --merge A.json B.json --out OUT.json --md OUT.md
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PHOTOS = "/usr/share/darknet/data"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
FLAGS = {"fp32": [], "fp16": ["--precision", "fp16"], "bf16": ["--precision", "bf16"],
         "int8": ["--precision", "int8"]}


def run(cmd, timeout=1800):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def photo_set(size, work):
    out = os.path.join(work, f"photos_{size}")
    if os.path.isdir(out):
        return sorted(os.path.join(out, f) for f in os.listdir(out))
    os.makedirs(out)
    files = []
    for name in sorted(f for f in os.listdir(PHOTOS) if f.endswith(".jpg")):
        im = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        short = size / 0.875
        w, h = im.size
        s = short / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        w, h = im.size
        x0, y0 = (w - size) // 2, (h - size) // 2
        a = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32) / 255.0
        a = ((a - MEAN) / STD).transpose(2, 0, 1)[None]
        f = os.path.join(out, name.replace(".jpg", ".npy"))
        np.save(f, np.ascontiguousarray(a))
        files.append(f)
    return files


def median_ms(doc):
    try:
        return doc["latency_ms"]["median"]
    except (KeyError, TypeError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lucid", default=os.path.join(REPO, "build", "lucid"))
    ap.add_argument("--zoo", default=os.path.join(REPO, "cache", "zoo"))
    ap.add_argument("--models", default="")
    ap.add_argument("--configs", default="fp32,fp16,bf16,int8")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calibration-count", type=int, default=64)
    ap.add_argument("--ort-python", default="python3")
    ap.add_argument("--work")
    ap.add_argument("--out")
    ap.add_argument("--md")
    ap.add_argument("--merge", nargs="+", metavar="RESULT.json",
                    help="no measuring: combine earlier result files (a later file's models "
                         "replace an earlier one's) into --out and --md")
    a = ap.parse_args()
    if a.merge:
        results, cmds = {}, []
        for f in a.merge:
            d = json.load(open(f))
            results.update(d["results"])
            cmds.append({"file": os.path.basename(f), "command": d["command"], "date": d["date"],
                         "lucid": d["lucid"], "models": sorted(d["results"])})
        models = sorted(results)
        configs = [c for c in a.configs.split(",") if all(c in results[m]["configs"] for m in models)]
        finish(a, models, configs, results, merged_from=cmds)
        return
    models = a.models.split(",") if a.models else sorted(
        d for d in os.listdir(a.zoo) if os.path.exists(os.path.join(a.zoo, d, "model.onnx")))
    configs = a.configs.split(",")
    work = a.work or tempfile.mkdtemp(prefix="lucid_precision_zoo_")
    os.makedirs(work, exist_ok=True)
    timing = ["--warmup", "200", "--iterations", "10", "--duration", str(a.duration),
              "--threads", str(a.threads)]
    results = {}
    for m in models:
        onnx_path = os.path.join(a.zoo, m, "model.onnx")
        shape = np.load(os.path.join(a.zoo, m, "input.npy"), mmap_mode="r").shape
        size = shape[2]
        photos = photo_set(size, work)
        calib = os.path.join(work, f"calib_{size}_{a.calibration_count}.npy")
        if not os.path.exists(calib):
            subprocess.run([sys.executable, os.path.join(HERE, "calibration_photos.py"), str(size),
                            str(a.calibration_count), calib], check=True, capture_output=True)
        entry = {"input": list(shape), "configs": {}}
        results[m] = entry
        mdir = os.path.join(work, m)
        os.makedirs(mdir, exist_ok=True)
        # the float32 ground truth: the reference executor on every photo
        refs = []
        for i, p in enumerate(photos):
            d = os.path.join(mdir, f"ref_{i}")
            rc, _, err = run([a.lucid, "run", onnx_path, "--reference", "--input", f"input={p}",
                              "--output-dir", d])
            if rc:
                sys.exit(f"{m}: reference run failed: {err}")
            refs.append(np.load(os.path.join(d, sorted(os.listdir(d))[0])).astype(np.float64))
        plans = {}
        for c in configs:
            plan = os.path.join(mdir, f"{c}.plan")
            cmd = [a.lucid, "build", onnx_path, "-o", plan, "--threads", str(a.threads),
                   "--json"] + FLAGS[c]
            if c == "int8":
                cmd += ["--calibration-data", f"npy:{calib}",
                        "--calibration-count", str(a.calibration_count)]
            rc, out, err = run(cmd)
            ce = {"build_flags": FLAGS[c]}
            entry["configs"][c] = ce
            if rc:
                ce["error"] = err.strip()
                print(f"{m} {c}: build failed: {err.strip()}", file=sys.stderr)
                continue
            info = json.loads(out)["plan"]
            ce["plan"] = {k: info.get(k) for k in ("reduced_layers", "reformat_layers",
                                                    "nhwc_layers", "calibration", "weight_bytes",
                                                    "build_s")}
            plans[c] = plan
            agree, maxabs, rel = 0, 0.0, []
            for i, p in enumerate(photos):
                d = os.path.join(mdir, f"{c}_{i}")
                rc, _, err = run([a.lucid, "run", plan, "--input", f"input={p}", "--output-dir", d])
                if rc:
                    ce["error"] = err.strip()
                    break
                y = np.load(os.path.join(d, sorted(os.listdir(d))[0])).astype(np.float64)
                r = refs[i]
                agree += int(np.argmax(y) == np.argmax(r))
                maxabs = max(maxabs, float(np.abs(y - r).max()))
                rel.append(float(np.linalg.norm(y - r) / max(np.linalg.norm(r), 1e-30)))
            else:
                ce["accuracy"] = {"photos": len(photos), "argmax_agree": agree,
                                  "max_abs_diff": maxabs, "rel_l2_max": max(rel),
                                  "rel_l2_mean": sum(rel) / len(rel)}
            print(f"{m:20s} {c:5s} {ce.get('accuracy', ce.get('error'))}", file=sys.stderr)
        # speed, interleaved
        rounds = {e: [] for e in ["onnxruntime"] + list(plans)}
        for r in range(a.rounds):
            rc, out, err = run([a.ort_python, os.path.join(HERE, "peers", "ort_driver.py"),
                                onnx_path, "--input", f"input={photos[0]}"] + timing)
            rounds["onnxruntime"].append(json.loads(out) if rc == 0 and out.strip() else None)
            for c, plan in plans.items():
                rc, out, err = run([a.lucid, "bench", plan, "--input", f"input={photos[0]}",
                                    "--json"] + timing)
                rounds[c].append(json.loads(out) if rc == 0 else None)
        speed = {}
        for e, docs in rounds.items():
            meds = [median_ms(d) for d in docs]
            ok = [x for x in meds if x is not None]
            speed[e] = {"round_medians_ms": meds, "median_ms": statistics.median(ok) if ok else None,
                        "cv_max": max((d["latency_ms"].get("cv", 0) for d in docs if d), default=None)}
        ort = [median_ms(d) for d in rounds["onnxruntime"]]
        for c in plans:
            ratios = [median_ms(d) / o for d, o in zip(rounds[c], ort)
                      if d and o and median_ms(d) is not None]
            speed[c]["ratio_to_ort_fp32"] = statistics.median(ratios) if ratios else None
        entry["speed"] = speed
        print(f"{m:20s} speed " + ", ".join(
            f"{e} {s['median_ms']:.3f} ms" + (f" ({s['ratio_to_ort_fp32']:.2f}x ORT)" if s.get('ratio_to_ort_fp32') else "")
            for e, s in speed.items() if s["median_ms"] is not None), file=sys.stderr)

    finish(a, models, configs, results)


def table(models, configs, results):
    head = "| model | " + " | ".join(f"{c} agree / rel. err" for c in configs if c != "fp32") + \
        " | ORT fp32 ms | " + " | ".join(f"lucid {c} ms (x ORT)" for c in configs) + " |"
    lines = [head, "|---|" + "---|" * (len(configs) - 1 + 1 + len(configs))]
    for m in models:
        e = results[m]
        cells = []
        for c in configs:
            if c == "fp32":
                continue
            acc = e["configs"].get(c, {}).get("accuracy")
            cells.append(f"{acc['argmax_agree']}/{acc['photos']}, {acc['rel_l2_max']:.2g}" if acc else "failed")
        sp = e["speed"]
        cells.append(f"{sp['onnxruntime']['median_ms']:.2f}" if sp["onnxruntime"]["median_ms"] else "-")
        for c in configs:
            s = sp.get(c)
            cells.append(f"{s['median_ms']:.2f} ({s['ratio_to_ort_fp32']:.2f})"
                         if s and s.get("median_ms") and s.get("ratio_to_ort_fp32") else "failed")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def finish(a, models, configs, results, merged_from=None):
    text = table(models, configs, results)
    print(text)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown")
    doc = {"schema": "lucid-precision-zoo/1", "command": "bench/precision_zoo.py " + " ".join(sys.argv[1:]),
           "lucid": run([a.lucid, "--version"])[1].strip(), "cpu": cpu, "cores": os.cpu_count(),
           "os": platform.platform(), "threads": a.threads,
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "photos": f"{PHOTOS}/*.jpg, center crops",
           "calibration": f"{a.calibration_count} random crops of the same photos (bench/calibration_photos.py)",
           "results": results}
    if merged_from:
        # the merged files' own facts (each file's date, command and lucid are listed)
        first = json.load(open(a.merge[0]))
        for k in ("lucid", "cpu", "cores", "os", "threads", "photos", "calibration"):
            doc[k] = first.get(k)
        doc["merged_from"] = merged_from
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
