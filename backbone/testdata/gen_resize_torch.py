#!/usr/bin/python3
"""Writes torch reference results for backbone's resize test.

Run from the repository root with Debian's python (torch + PIL + numpy):

    /usr/bin/python3 backbone/testdata/gen_resize_torch.py [SHARED_DIR]

For each case it loads a source image from SHARED_DIR/data (gray kept as one
channel, else converted to RGB), optionally crops a source box, turns it into
a float tensor in [0, 1], resizes it with
torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
antialias=True) -- the real-valued form of PIL's BILINEAR resize -- and
center-crops it with torchvision's offsets int(round((n - c) / 2.0)). The
result (C x H x W, float32 little-endian, C = 1 for gray) goes to
backbone/testdata/resize_torch/NAME.f32; resize_torch.json lists the cases.
Not run in CI: the outputs are committed.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "PNI_SHARED", os.path.join(here, "..", "..", "..", "shared"))
outdir = os.path.join(here, "resize_torch")
os.makedirs(outdir, exist_ok=True)

BOTTLE = "data/mvtec_ad/bottle/test/broken_large/000.png"  # RGB 512x512
GRID = "data/mvtec_ad/grid/train/good/000.png"  # L 512x512
TIRE = "data/mvtec3d_tire/train/good/000.png"  # RGB 384x512 (W x H)

# name, source, source box (l, t, r, b) or None, resize (w, h), crop (w, h) or None
CASES = [
    ("bottle_r64", BOTTLE, None, (64, 64), None),
    ("grid_r56x72", GRID, None, (56, 72), None),
    ("tire_r61x63_c48", TIRE, None, (61, 63), (48, 48)),
    ("tire_r480_c64", TIRE, None, (480, 480), (64, 64)),
    ("grid_r256_c40", GRID, None, (256, 256), (40, 40)),
    ("bottle_box_up70x90", BOTTLE, (200, 180, 232, 220), (70, 90), None),
]

manifest = []
for name, src, box, (rw, rh), crop in CASES:
    img = Image.open(os.path.join(shared, src))
    if img.mode != "L":
        img = img.convert("RGB")
    if box is not None:
        img = img.crop(box)
    a = np.asarray(img, dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = a[:, :, None]
    x = torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()
    y = F.interpolate(x, size=(rh, rw), mode="bilinear", align_corners=False, antialias=True)[0]
    if crop is not None:
        cw, ch = crop
        left = int(round((rw - cw) / 2.0))
        top = int(round((rh - ch) / 2.0))
        y = y[:, top:top + ch, left:left + cw]
    y = y.contiguous().numpy().astype("<f4")
    y.tofile(os.path.join(outdir, name + ".f32"))
    manifest.append({
        "name": name, "source": src, "box": list(box) if box else None,
        "resize": [rw, rh], "crop": list(crop) if crop else None,
        "expected": "resize_torch/" + name + ".f32", "shape": list(y.shape),
    })
with open(os.path.join(here, "resize_torch.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print("wrote", len(manifest), "cases to", outdir)
