#!/usr/bin/env python3
"""calibration_photos.py - an INT8 calibration set for the zoo models from Debian's darknet
sample photos: seeded random crops (10% to 100% of the area, aspect 3/4 to 4/3) with random
horizontal flips, resized to SIZE x SIZE, scaled to [0, 1] and normalized with ImageNet's mean
and standard deviation (as lucid's images: loader normalizes the evaluation photos). The
evaluation uses each photo's center crop; the calibration views are other crops of the same
seven scenes (the only photos on the machine), which the results say.

Usage: bench/calibration_photos.py SIZE COUNT OUT.npy [PHOTO_DIR]
"""
import os
import sys

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    size, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    src = sys.argv[4] if len(sys.argv) == 5 else "/usr/share/darknet/data"
    photos = sorted(os.path.join(src, f) for f in os.listdir(src)
                    if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if not photos or size < 8 or count < 1:
        sys.exit(f"calibration_photos.py: no photos in {src}, or a bad size/count")
    rng = np.random.default_rng(20261126)
    images = [Image.open(p).convert("RGB") for p in photos]
    views = np.empty((count, 3, size, size), dtype=np.float32)
    for i in range(count):
        im = images[i % len(images)]
        w, h = im.size
        for _ in range(20):
            area = w * h * rng.uniform(0.1, 1.0)
            aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            cw, ch = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if 0 < cw <= w and 0 < ch <= h:
                break
        else:
            cw, ch = w, h
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        view = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size), Image.BILINEAR)
        if rng.random() < 0.5:
            view = view.transpose(Image.FLIP_LEFT_RIGHT)
        a = np.asarray(view, dtype=np.float32) / 255.0
        views[i] = ((a - MEAN) / STD).transpose(2, 0, 1)
    np.save(out, views)
    print(f"{out}: {count} views of {len(photos)} photos at {size}x{size}")


if __name__ == "__main__":
    main()
