#!/usr/bin/python3
"""train_fashion.py - trains six small Fashion-MNIST classifiers and exports them to ONNX with reference I/O.

The six models each stand for a structure an inference optimizer must handle:

    lenet5      LeNet-5: conv-pool-conv-pool-fc-fc-fc (ReLU, max-pool), no BatchNorm
    vgg         VGG-style: 3x3 conv + BN + ReLU stacks, max-pools, small FC classifier
    resnet      ResNet-style: basic blocks with residual Add, BN, strided blocks with
                1x1 conv + BN projection shortcuts, global average pool
    mobilenet   MobileNetV2-style: inverted residual blocks (1x1 expand + BN + ReLU6,
                3x3 depthwise + BN + ReLU6, 1x1 project + BN, Add when shapes allow)
    squeezenet  SqueezeNet-style: fire modules (1x1 squeeze, 1x1 and 3x3 expand
                concatenated on channels), BN + ReLU, conv classifier + global average pool
    inception   Inception-style: modules with parallel 1x1 / 1x1->3x3 / 1x1->5x5 /
                maxpool->1x1 branches concatenated on channels, BN + ReLU everywhere

Data: Fashion-MNIST as installed by Debian's dataset-fashion-mnist, read directly from
/usr/share/datasets/fashion-mnist/*-ubyte.gz with gzip + numpy (nothing is downloaded).

Input normalization (the model input is this normalized tensor, float32 1x1x28x28,
named 'input'; the output is 'logits', 1x10, no softmax):

    x = pixel / 255.0
    x = (x - 0.2860) / 0.3530          (Fashion-MNIST training-set mean / std)

Outputs, per model, under <out>/<name>/:

    model.onnx        opset 13, batch 1 static, constant folding on, eval mode, with the
                      BatchNormalization nodes kept (not folded into the convolutions)
    ref_input.npy     the first 100 test images, normalized, float32 100x1x28x28
    ref_labels.npy    their labels, int64 (100,)
    ref_logits.npy    PyTorch's logits for them, float32 100x10, computed one image at a
                      time at batch 1 in eval mode

and <out>/results.json (merged with an existing one, so a subset can be retrained) and
<out>/README.md (generated from results.json).

Every exported model is also run by a small NumPy interpreter of the ONNX graph in this
script on the 100 reference images and compared with ref_logits.npy, so the file on disk
is checked, not only the PyTorch module.

Usage (Debian's Python, which has torch, numpy and onnx):

    /usr/bin/python3 models/train_fashion.py [--models a,b,...] [--out DIR]
                                             [--epochs N] [--seed S]

--epochs overrides every selected model's epoch count (default: each model's own).
Training uses 2 threads, a fixed seed per model, and torch.use_deterministic_algorithms.
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
N_REF = 100


# ----------------------------------------------------------------------------- data

def read_idx(path):
    """Reads a gzip-compressed IDX file (the MNIST format) into a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: element type 0x{raw[2]:02x}, expected unsigned byte")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(raw) - off != n:
        raise ValueError(f"{path}: {len(raw) - off} data bytes, expected {n}")
    return np.frombuffer(raw, dtype=np.uint8, offset=off).reshape(dims)


def load_split(split):
    """Returns (images float32 Nx1x28x28 normalized, labels int64 N) for 'train' or 't10k'."""
    img = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    lab = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    if img.shape[0] != lab.shape[0] or img.shape[1:] != (28, 28):
        raise ValueError(f"{split}: unexpected shapes {img.shape} {lab.shape}")
    x = img.astype(np.float32)[:, None, :, :] / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x.astype(np.float32), lab.astype(np.int64)


def augment(x, gen, pad=2):
    """Random horizontal flip and, if pad > 0, random 28x28 crop of the image padded by
    pad pixels of black (the normalized value of pixel 0), of a batch, in torch ops."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if pad == 0:
        return x
    xp = F.pad(x, (pad, pad, pad, pad), value=-MEAN / STD)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar[None, :])[:, :, None]          # b x 28 x 1
    cols = (dx[:, None] + ar[None, :])[:, None, :]          # b x 1 x 28
    bi = torch.arange(b)[:, None, None]
    return xp[bi, 0, rows, cols].unsqueeze(1).contiguous()


# ----------------------------------------------------------------------------- models

def conv_bn(cin, cout, k=3, stride=1, groups=1, act="relu"):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class VGG(nn.Module):
    def __init__(self, cfg=(16, 16, "M", 32, 32, "M", 64, 64, "M"), hidden=128):
        super().__init__()
        layers, c = [], 1
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn(c, v))
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(c * 3 * 3, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + s)


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 1)):
        super().__init__()
        self.stem = conv_bn(1, widths[0])
        layers, c = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(c, w, stride))
                c = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, hid, 1, act="relu6"),
            conv_bn(hid, hid, 3, stride, groups=hid, act="relu6"),
            conv_bn(hid, cout, 1, act=None))

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class MobileNetV2(nn.Module):
    # (expansion t, output channels c, repeats n, first stride s), as in the paper's table
    # The stem is strided (28x28 -> 14x14) as in MobileNetV2: depthwise convolutions and
    # BN at full resolution are the slowest part of training on a CPU.
    CFG = ((4, 16, 1, 1), (4, 24, 2, 1), (4, 32, 2, 2), (4, 64, 1, 1))

    def __init__(self, stem=16, last=128):
        super().__init__()
        layers, c = [conv_bn(1, stem, 3, 2, act="relu6")], stem
        for t, cout, n, s in self.CFG:
            for j in range(n):
                layers.append(InvertedResidual(c, cout, s if j == 0 else 1, t))
                c = cout
        layers.append(conv_bn(c, last, 1, act="relu6"))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = conv_bn(cin, squeeze, 1)
        self.expand1 = conv_bn(squeeze, e1, 1)
        self.expand3 = conv_bn(squeeze, e3, 3)

    def forward(self, x):
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet with BN after every convolution but the classifier (the original has
    none; without BN this small net converged far too slowly for the time budget)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 32, 3),
            nn.MaxPool2d(2),                                  # 14x14
            Fire(32, 16, 32, 32), Fire(64, 16, 32, 32),
            nn.MaxPool2d(2),                                  # 7x7
            Fire(64, 24, 48, 48), Fire(96, 32, 64, 64))
        self.classifier = nn.Sequential(
            nn.Conv2d(128, 10, 1), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = conv_bn(cin, c1, 1)
        self.b3 = nn.Sequential(conv_bn(cin, c3r, 1), conv_bn(c3r, c3, 3))
        self.b5 = nn.Sequential(conv_bn(cin, c5r, 1), conv_bn(c5r, c5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, cp, 1))
        self.cout = c1 + c3 + c5 + cp

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class InceptionNet(nn.Module):
    def __init__(self):
        super().__init__()
        a = Inception(32, 16, 24, 32, 8, 16, 16)              # 14x14 -> 80
        b = Inception(a.cout, 48, 32, 64, 12, 24, 24)         # 7x7 -> 160
        self.features = nn.Sequential(
            conv_bn(1, 32), nn.MaxPool2d(2), a, nn.MaxPool2d(2), b)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(b.cout, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


# Per model: constructor, one-line structure, epochs, batch size, peak learning rate,
# weight decay (AdamW with a one-cycle schedule for all), random-crop padding (0: flip
# only; measured for LeNet-5 at 10 epochs: 89.70% top-1 with crops, 90.92% without).
MODELS = {
    "lenet5": dict(make=LeNet5, epochs=10, batch=128, lr=3e-3, wd=1e-4, crop=0,
                   structure="conv5-pool-conv5-pool-fc120-fc84-fc10, ReLU, no BN"),
    "vgg": dict(make=VGG, epochs=6, batch=128, lr=3e-3, wd=5e-4, crop=2,
                structure="6x (3x3 conv+BN+ReLU) in 3 stages 16/32/64, max-pools, fc128-fc10"),
    "resnet": dict(make=ResNet, epochs=6, batch=128, lr=3e-3, wd=5e-4, crop=2,
                   structure="stem + 3 basic blocks 16/32/64 (2 strided, 1x1 projection), GAP, fc"),
    "mobilenet": dict(make=MobileNetV2, epochs=6, batch=128, lr=3e-3, wd=1e-4, crop=2,
                      structure="strided stem + 6 inverted residuals (t=4, depthwise 3x3, ReLU6), 1x1 to 128, GAP, fc"),
    "squeezenet": dict(make=SqueezeNet, epochs=6, batch=128, lr=3e-3, wd=1e-4, crop=2,
                       structure="conv3 + 4 fire modules (squeeze 1x1, expand 1x1|3x3 concat), BN, conv1x1 classifier, GAP"),
    "inception": dict(make=InceptionNet, epochs=6, batch=128, lr=3e-3, wd=5e-4, crop=2,
                      structure="stem + 2 inception modules (1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1, concat), GAP, fc"),
}


def build(name):
    return MODELS[name]["make"]()


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def count_macs(model):
    """Multiply-accumulates of one 1x1x28x28 inference: Conv2d and Linear layers only
    (BN, activations, pooling and adds are not MACs), counted by forward hooks."""
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            total[0] += out.numel() * k
        elif isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in hs:
        h.remove()
    return total[0]


# ----------------------------------------------------------------------------- training

def evaluate(model, x, y, batch=1000):
    """Top-1 and top-5 accuracy (percent) over the whole set, eval mode."""
    model.eval()
    c1 = c5 = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            logits = model(x[i:i + batch])
            top5 = logits.topk(5, 1).indices
            t = y[i:i + batch]
            c1 += (top5[:, 0] == t).sum().item()
            c5 += (top5 == t[:, None]).any(1).sum().item()
    n = x.shape[0]
    return 100.0 * c1 / n, 100.0 * c5 / n


def train(name, cfg, xtr, ytr, xte, yte, seed, epochs):
    """Trains one model; returns it in eval mode (contiguous NCHW weights), the training
    wall-clock seconds and the process CPU seconds spent training (the per-epoch test
    evaluation, for the log only, is excluded from both).
    Training runs in channels_last memory format, 2-4x faster on CPU for these nets."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = build(name).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = (xtr.shape[0] + cfg["batch"] - 1) // cfg["batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25)
    secs = cpu = 0.0
    for ep in range(epochs):
        t0, c0 = time.time(), time.process_time()
        model.train()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        tot, n = 0.0, 0
        for i in range(0, xtr.shape[0], cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            xb = augment(xtr[idx], gen, cfg["crop"])
            xb = xb.contiguous(memory_format=torch.channels_last)
            yb = ytr[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * idx.numel()
            n += idx.numel()
        secs += time.time() - t0
        cpu += time.process_time() - c0
        top1, _ = evaluate(model, xte, yte)
        print(f"  {name} epoch {ep + 1}/{epochs}: loss {tot / n:.4f}  test top-1 {top1:.2f}%"
              f"  (train {secs:.0f} s)", flush=True)
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, secs, cpu


# ----------------------------------------------------------------------------- export

def export_onnx(model, path):
    """Exports at batch 1, opset 13, keeping BatchNormalization nodes: TrainingMode.EVAL
    would fuse Conv+BN in the exporter's eval peephole pass, so the export uses PRESERVE
    on a model already in eval mode (BN then exports as inference BatchNormalization)."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path,
                          input_names=["input"], output_names=["logits"],
                          opset_version=13, do_constant_folding=True,
                          training=torch.onnx.TrainingMode.PRESERVE)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def _attr(node, name, default=None):
    import onnx
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _pad_nchw(x, pads, value):
    # pads: [top, left, bottom, right]
    return np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                  constant_values=value)


def _windows(x, kh, kw, sh, sw):
    from numpy.lib.stride_tricks import sliding_window_view
    w = sliding_window_view(x, (kh, kw), axis=(2, 3))
    return w[:, :, ::sh, ::sw]                               # N C Ho Wo kh kw


def run_onnx_numpy(model, x):
    """A small float64 NumPy interpreter for the ops these six models export to.
    Used only to check that the written file computes what PyTorch computes."""
    import onnx.numpy_helper as nh
    env = {t.name: nh.to_array(t).astype(np.float64) if nh.to_array(t).dtype.kind == "f"
           else nh.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            out = nh.to_array(_attr(node, "value"))
            if out.dtype.kind == "f":
                out = out.astype(np.float64)
        elif op == "Conv":
            w, b = ins[1], ins[2] if len(ins) > 2 else None
            g = _attr(node, "group", 1)
            kh, kw = w.shape[2], w.shape[3]
            s = _attr(node, "strides", [1, 1])
            d = _attr(node, "dilations", [1, 1])
            assert list(d) == [1, 1], "dilation not supported"
            xi = _pad_nchw(ins[0], _attr(node, "pads", [0, 0, 0, 0]), 0.0)
            win = _windows(xi, kh, kw, s[0], s[1])
            n, c, ho, wo = win.shape[:4]
            win = win.reshape(n, g, c // g, ho, wo, kh, kw)
            wg = w.reshape(g, w.shape[0] // g, c // g, kh, kw)
            out = np.einsum("ngchwij,gocij->ngohw", win, wg).reshape(n, w.shape[0], ho, wo)
            if b is not None:
                out = out + b[None, :, None, None]
        elif op == "BatchNormalization":
            eps = _attr(node, "epsilon", 1e-5)
            sc, bi, mu, var = [v[None, :, None, None] for v in ins[1:5]]
            out = (ins[0] - mu) / np.sqrt(var + eps) * sc + bi
        elif op == "Identity":
            out = ins[0]
        elif op == "Relu":
            out = np.maximum(ins[0], 0.0)
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
            out = np.clip(ins[0], lo, hi)
        elif op == "MaxPool":
            k = _attr(node, "kernel_shape")
            s = _attr(node, "strides", [1, 1])
            assert _attr(node, "ceil_mode", 0) == 0
            xi = _pad_nchw(ins[0], _attr(node, "pads", [0, 0, 0, 0]), -np.inf)
            out = _windows(xi, k[0], k[1], s[0], s[1]).max(axis=(4, 5))
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "ReduceMean":
            out = ins[0].mean(axis=tuple(_attr(node, "axes")),
                              keepdims=bool(_attr(node, "keepdims", 1)))
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "Concat":
            out = np.concatenate(ins, axis=_attr(node, "axis"))
        elif op == "Flatten":
            ax = _attr(node, "axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Reshape":
            out = ins[0].reshape([int(v) for v in ins[1]])
        elif op == "Gemm":
            a, b = ins[0], ins[1]
            if _attr(node, "transA", 0):
                a = a.T
            if _attr(node, "transB", 0):
                b = b.T
            out = _attr(node, "alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                out = out + _attr(node, "beta", 1.0) * ins[2]
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        else:
            raise NotImplementedError(f"NumPy check: op {op} not supported")
        env[node.output[0]] = out
    return env[model.graph.output[0].name]


def op_histogram(model):
    h = {}
    for node in model.graph.node:
        h[node.op_type] = h.get(node.op_type, 0) + 1
    return dict(sorted(h.items()))


# ----------------------------------------------------------------------------- reporting

def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "os": platform.platform()}


def write_readme(out, results):
    names = [n for n in MODELS if n in results["models"]]
    lines = [
        "# Fashion-MNIST models",
        "",
        "Six small classifiers trained on Fashion-MNIST by `models/train_fashion.py`, each",
        "standing for a structure an inference optimizer must handle. Everything in this",
        "directory (the ONNX files, the reference tensors, `results.json` and this README) is",
        "produced by that script; the numbers below are copied from `results.json`.",
        "",
        "| model | structure | params | MACs | epochs | top-1 % | top-5 % | train s | CPU s | ONNX bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total = total_cpu = 0.0
    for n in names:
        r = results["models"][n]
        total += r["train_seconds"]
        total_cpu += r.get("train_cpu_seconds", 0.0)
        structure = MODELS[n]["structure"].replace("|", "\\|")
        lines.append(f"| {n} | {structure} | {r['params']:,} | {r['macs']:,} | "
                     f"{r['epochs']} | {r['top1']:.2f} | {r['top5']:.2f} | "
                     f"{r['train_seconds']:.0f} | {r.get('train_cpu_seconds', 0):.0f} | "
                     f"{r['onnx_bytes']:,} |")
    m = results["machine"]
    lines += [
        "",
        f"Total training time: {total:.0f} s wall clock ({total_cpu:.0f} s process CPU time) "
        f"on {m['cpu']} ({m['cores']} cores, {m['torch_threads']} PyTorch threads), "
        f"PyTorch {results['torch']}, seed {results['seed']}, {results['date']}.",
        "The cores were shared with other processes, so wall-clock times vary from run to",
        "run; `results.json` records the 1-minute load average before and after each model.",
        "Accuracies are PyTorch's over all 10,000 test images. MACs count Conv and Gemm",
        "multiply-accumulates of one 1x1x28x28 inference (BN, activations, pools, adds excluded).",
        "",
        "## Input and output",
        "",
        "Input `input`: float32 1x1x28x28, the 28x28 grayscale image normalized as",
        "",
        "    x = pixel / 255",
        f"    x = (x - {MEAN}) / {STD}      # Fashion-MNIST training-set mean / std",
        "",
        "Output `logits`: float32 1x10, raw scores (no softmax), classes in label order:",
        ", ".join(f"{i} {c}" for i, c in enumerate(CLASSES)) + ".",
        "",
        "## Files per model (`<name>/`)",
        "",
        "- `model.onnx`: opset 13, batch 1 static, constant folding on, exported in eval mode",
        "  with BatchNormalization nodes kept (not fused into the convolutions), checked with",
        "  `onnx.checker`.",
        "- `ref_input.npy`: the first 100 test images, normalized, float32 100x1x28x28.",
        "- `ref_labels.npy`: their labels, int64 (100,).",
        "- `ref_logits.npy`: PyTorch's logits, float32 100x10, computed one image at a time at",
        "  batch 1 in eval mode.",
        "",
        "The script also runs each written `model.onnx` through a float64 NumPy interpreter",
        "of its graph on the 100 reference images; the largest difference from `ref_logits.npy`",
        "is `onnx_check_max_abs_diff` in `results.json`.",
        "",
        "## Training",
        "",
        "AdamW with a one-cycle learning-rate schedule, cross-entropy loss, random horizontal",
        "flip and (all but LeNet-5) random 28x28 crop of the 2-pixel-padded image as",
        "augmentation; epochs, batch size, peak learning rate, weight decay and augmentation",
        "per model are in `MODELS` in the script and in `results.json`. Fixed seed (`torch.manual_seed`, `numpy.random.seed`, a seeded",
        "generator for shuffling and augmentation), `torch.use_deterministic_algorithms(True)`",
        "and 2 threads. On the machine above, two runs of the same configuration wrote",
        "byte-identical `model.onnx` and `ref_logits.npy` files (checked: vgg, resnet and",
        "mobilenet),",
        "even though their wall-clock times differed by 2-3x under different load; across",
        "machines or PyTorch builds the floating-point reduction order of the CPU kernels",
        "(oneDNN / MKL paths chosen per CPU) may differ, so bit-exact results are not",
        "guaranteed there. Training runs in channels_last memory format (2-4x faster here);",
        "weights are converted back to NCHW before export.",
        "",
        "The exporter deduplicates parameters that are exactly equal: in resnet the bias of",
        "each strided block's second BN and of its projection-shortcut BN receive identical",
        "updates (both feed the same Add) and stay equal, so the file holds one initializer",
        "and an `Identity` node for the other. mobilenet's ReLU6 is `Clip` with `Constant`",
        "min/max inputs.",
        "",
        "## Retrain",
        "",
        "    /usr/bin/python3 models/train_fashion.py --out models/fashion",
        "",
        "`--models a,b` retrains a subset (results.json is merged), `--epochs N` overrides",
        "every selected model's epoch count, `--seed S` changes the seed, `--readme-only`",
        "rewrites this README from `results.json`.",
        "",
    ]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ", ".join(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "fashion"))
    ap.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--readme-only", action="store_true",
                    help="only rewrite <out>/README.md from <out>/results.json")
    args = ap.parse_args()

    if args.readme_only:
        with open(os.path.join(args.out, "results.json")) as f:
            write_readme(args.out, json.load(f))
        return

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model '{n}' (known: {', '.join(MODELS)})")

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte_t, yte_t = torch.from_numpy(xte), torch.from_numpy(yte)
    print(f"data: train {tuple(xtr.shape)}, test {tuple(xte_t.shape)}", flush=True)

    res_path = os.path.join(args.out, "results.json")
    results = {"models": {}}
    if os.path.exists(res_path):
        with open(res_path) as f:
            results = json.load(f)
    results.update({
        "torch": torch.__version__, "seed": args.seed,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "normalization": f"x = pixel/255; x = (x - {MEAN}) / {STD}",
        "input": "input float32 [1,1,28,28]", "output": "logits float32 [1,10]",
    })

    t_all = time.time()
    for name in names:
        cfg = MODELS[name]
        epochs = args.epochs if args.epochs is not None else cfg["epochs"]
        print(f"{name}: training {epochs} epochs", flush=True)
        load_before = os.getloadavg()[0]
        model, secs, cpu = train(name, cfg, xtr, ytr, xte_t, yte_t, args.seed, epochs)
        load_after = os.getloadavg()[0]
        top1, top5 = evaluate(model, xte_t, yte_t)

        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        ref_x = xte[:N_REF].copy()
        with torch.no_grad():
            ref_logits = np.concatenate(
                [model(torch.from_numpy(ref_x[i:i + 1])).numpy() for i in range(N_REF)])
        np.save(os.path.join(d, "ref_input.npy"), ref_x.astype(np.float32))
        np.save(os.path.join(d, "ref_labels.npy"), yte[:N_REF].astype(np.int64))
        np.save(os.path.join(d, "ref_logits.npy"), ref_logits.astype(np.float32))

        onnx_path = os.path.join(d, "model.onnx")
        om = export_onnx(model, onnx_path)
        ops = op_histogram(om)
        n_bn = sum(1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
        if ops.get("BatchNormalization", 0) != n_bn:
            sys.exit(f"{name}: {ops.get('BatchNormalization', 0)} BatchNormalization nodes "
                     f"in the ONNX file, model has {n_bn}")
        onnx_out = np.concatenate([run_onnx_numpy(om, ref_x[i:i + 1]) for i in range(N_REF)])
        diff = float(np.abs(onnx_out - ref_logits).max())
        if diff > 1e-3:
            sys.exit(f"{name}: ONNX file differs from PyTorch by {diff}")

        results["models"][name] = {
            "structure": cfg["structure"],
            "params": count_params(model), "macs": count_macs(model),
            "epochs": epochs, "batch": cfg["batch"], "lr": cfg["lr"],
            "weight_decay": cfg["wd"], "optimizer": "AdamW + OneCycleLR",
            "augmentation": "horizontal flip" + (f", random crop (pad {cfg['crop']})"
                                                 if cfg["crop"] else ""),
            "train_seconds": round(secs, 1), "train_cpu_seconds": round(cpu, 1),
            "loadavg_1min_before_after": [round(load_before, 2), round(load_after, 2)],
            "top1": round(top1, 2), "top5": round(top5, 2),
            "ref_top1": round(100.0 * float((ref_logits.argmax(1) == yte[:N_REF]).mean()), 2),
            "onnx_bytes": os.path.getsize(onnx_path), "onnx_ops": ops,
            "onnx_check_max_abs_diff": diff,
            "torch": torch.__version__, "seed": args.seed,
            "date": results["date"], "machine": results["machine"],
        }
        r = results["models"][name]
        print(f"{name}: params {r['params']:,}  MACs {r['macs']:,}  top-1 {top1:.2f}%  "
              f"top-5 {top5:.2f}%  train {secs:.0f} s  onnx {r['onnx_bytes']:,} B  "
              f"onnx-vs-torch {diff:.2e}", flush=True)
        with open(res_path, "w") as f:
            json.dump(results, f, indent=2, sort_keys=False)
            f.write("\n")
        write_readme(args.out, results)

    total = sum(results["models"][n]["train_seconds"] for n in results["models"])
    print(f"done in {time.time() - t_all:.0f} s; total training time of all models in "
          f"results.json: {total:.0f} s", flush=True)


if __name__ == "__main__":
    main()
