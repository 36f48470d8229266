#!/usr/bin/python3
"""make_seeds.py - writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/).

    /usr/bin/python3 tests/fuzz/make_seeds.py --lucid BUILD/lucid [--out tests/fuzz/corpus]

Seeds are small valid files of every format, so that the fuzzers start from inputs that reach
deep into each reader, plus the malformed-model corpus (tests/malformed/make_corpus.py):

  onnx          the Fashion models (models/fashion/*/model.onnx, the smaller ones) and the
                malformed corpus's files
  plan          plans that lucid builds from the malformed corpus's valid Conv+Relu model and
                from LeNet-5 (fp32, and int8 with its calibration cache)
  npy           tiny arrays of several dtypes, ranks and format versions
  idx           one input holding both IDX files (layout in fuzz_idx.c), plain and gzip
  images        small JPEG and PNG photos (gray, RGB, RGBA, palette, progressive)
  calib_cache   the cache of the int8 LeNet-5 build
  timing_cache  the timing cache of the fp32 builds
  json          documents shaped like the peer drivers' output

Files named regress-* are inputs that once failed and are kept as they are: this script never
writes or removes them. Deterministic: the same seeds every time (lucid's plans are built with
--deterministic and one thread).
"""

import argparse
import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr)
    else:
        np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()


def seeds_npy(out):
    rng = np.random.default_rng(0)
    put(out, "npy", "f32-2x1x4x4.npy", npy_bytes(rng.standard_normal((2, 1, 4, 4)).astype(np.float32)))
    put(out, "npy", "f32-1x4x4-v2.npy", npy_bytes(rng.standard_normal((1, 4, 4)).astype(np.float32), (2, 0)))
    put(out, "npy", "f64-3.npy", npy_bytes(np.arange(3, dtype=np.float64)))
    put(out, "npy", "f16-2x2.npy", npy_bytes(np.ones((2, 2), dtype=np.float16)))
    put(out, "npy", "i64-scalar.npy", npy_bytes(np.array(7, dtype=np.int64)))
    put(out, "npy", "u8-5.npy", npy_bytes(np.arange(5, dtype=np.uint8)))
    put(out, "npy", "bool-4.npy", npy_bytes(np.array([True, False, True, True])))
    put(out, "npy", "i32-empty.npy", npy_bytes(np.zeros((0, 3), dtype=np.int32)))
    put(out, "npy", "f32-fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), np.float32))))
    put(out, "npy", "f32-bigendian.npy", npy_bytes(np.ones((2,), dtype=">f4")))


def idx_file(magic_dims, payload):
    hdr = bytes([0, 0, 8, len(magic_dims)]) + b"".join(struct.pack(">I", d) for d in magic_dims)
    return hdr + payload


def seeds_idx(out):
    rng = np.random.default_rng(1)
    images = idx_file([2, 28, 28], rng.integers(0, 256, 2 * 28 * 28, dtype=np.uint8).tobytes())
    labels = idx_file([2], bytes([3, 9]))
    for name, im, lb in (("plain-2", images, labels),
                         ("gzip-2", gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0))):
        put(out, "idx", name, struct.pack("<H", len(im)) + im + lb)


def seeds_images(out):
    from PIL import Image
    rng = np.random.default_rng(2)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8), "RGB")
    gray = Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8), "L")
    rgba = Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8), "RGBA")
    cases = [
        ("rgb-20x12.jpg", rgb, "JPEG", dict(quality=80)),
        ("rgb-20x12-progressive.jpg", rgb, "JPEG", dict(quality=60, progressive=True)),
        ("gray-7x9.jpg", gray, "JPEG", dict(quality=90)),
        ("rgb-20x12.png", rgb, "PNG", {}),
        ("gray-7x9.png", gray, "PNG", {}),
        ("rgba-8x8.png", rgba, "PNG", {}),
        ("palette-20x12.png", rgb.convert("P"), "PNG", {}),
        ("gray16-7x9.png", gray.convert("I;16"), "PNG", {}),
    ]
    for name, im, fmt, kw in cases:
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        put(out, "images", name, b.getvalue())


def seeds_json(out):
    docs = {
        "ok.json": b'{"status": "ok", "engine_version": "1.17.1", "latency_ms": {"min": 0.5, '
                   b'"max": 1.25e0, "mean": 0.75, "median": 0.7, "p90": 1, "p95": 1.1, "p99": 1.2},'
                   b' "outputs": [{"name": "out", "shape": [1, 10]}], "flag": true, "x": null}',
        "skipped.json": b'{"status": "skipped", "reason": "not installed: \\u00e9\\n\\"q\\""}',
        "nested.json": b'[[[[{"a": [1, -2.5e-3, "s", false]}]]]]',
        "empty-object.json": b"{}",
    }
    for name, data in docs.items():
        put(out, "json", name, data)


def seeds_models(out, malformed):
    for m in ("lenet5", "inception", "squeezenet"):
        with open(os.path.join(ROOT, "models", "fashion", m, "model.onnx"), "rb") as f:
            put(out, "onnx", "fashion-%s.onnx" % m, f.read())
    for name in sorted(os.listdir(malformed)):
        p = os.path.join(malformed, name)
        if name.endswith(".onnx") and os.path.isfile(p):
            with open(p, "rb") as f:
                put(out, "onnx", "malformed-" + name, f.read())


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.stderr.write("make_seeds.py: %s failed:\n%s" % (" ".join(cmd), r.stderr.decode()))
        sys.exit(1)


def seeds_lucid(out, lucid, malformed, tmp):
    timing = os.path.join(tmp, "timing.cache")
    calib = os.path.join(tmp, "calib.cache")
    lenet = os.path.join(ROOT, "models", "fashion", "lenet5", "model.onnx")
    common = ["--threads", "1", "--deterministic", "--timing-cache", timing, "--tune-ms", "3"]
    builds = [
        ("conv-relu-fp32.plan", os.path.join(malformed, "valid_conv_relu.onnx"), []),
        ("conv-relu-ref.plan", os.path.join(malformed, "valid_conv_relu.onnx"), ["--opt-level", "0"]),
        ("lenet5-fp32.plan", lenet, []),
        ("lenet5-int8.plan", lenet, ["--precision", "int8", "--calibration-data",
                                     "fashion-mnist:train", "--calibration-count", "16",
                                     "--calibration-cache", calib]),
    ]
    for name, model, extra in builds:
        plan = os.path.join(tmp, name)
        run([lucid, "build", model, "-o", plan] + common + extra)
        with open(plan, "rb") as f:
            put(out, "plan", name, f.read())
    with open(timing, "rb") as f:
        put(out, "timing_cache", "builds.timing", f.read())
    with open(calib, "rb") as f:
        put(out, "calib_cache", "lenet5-entropy.calib", f.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lucid", required=True, help="the lucid CLI that builds the plan seeds")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        malformed = os.path.join(tmp, "malformed")
        run([sys.executable, os.path.join(ROOT, "tests", "malformed", "make_corpus.py"), malformed])
        seeds_npy(a.out)
        seeds_idx(a.out)
        seeds_images(a.out)
        seeds_json(a.out)
        seeds_models(a.out, malformed)
        seeds_lucid(a.out, a.lucid, malformed, tmp)


if __name__ == "__main__":
    main()
