#!/usr/bin/python3
"""Writes the PIL reference results for backbone's preprocessing test.

Run from the repository root with Debian's python (PIL + numpy):

    /usr/bin/python3 backbone/testdata/gen_preprocess.py [SHARED_DIR]

SHARED_DIR defaults to $PNI_SHARED or ../shared. For each case it loads a
source image from SHARED_DIR/data, converts it to RGB as torchvision pipelines
do (Image.convert("RGB"); gray images are kept as "L", which replicates),
optionally crops a source box, resizes with PIL's BILINEAR (antialiased),
center-crops with torchvision's offsets int(round((n - c) / 2.0)), and stores
the uint8 result as a PNG in backbone/testdata/preprocess/. preprocess.json
lists the cases. Not run in CI: the outputs are committed.
"""
import json
import os
import sys

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "PNI_SHARED", os.path.join(here, "..", "..", "..", "shared"))
outdir = os.path.join(here, "preprocess")
os.makedirs(outdir, exist_ok=True)

BOTTLE = "data/mvtec_ad/bottle/test/broken_large/000.png"  # RGB 512x512
GRID = "data/mvtec_ad/grid/train/good/000.png"  # L 512x512
TIRE = "data/mvtec3d_tire/train/good/000.png"  # RGB 384x512 (W x H)

# name, source, source box (l, t, r, b) or None, resize (w, h) or None, crop (w, h) or None
CASES = [
    ("bottle_r256_c224", BOTTLE, None, (256, 256), (224, 224)),
    ("bottle_r64", BOTTLE, None, (64, 64), None),
    ("bottle_r48x40", BOTTLE, None, (48, 40), None),
    ("grid_r64", GRID, None, (64, 64), None),
    ("grid_r56x72", GRID, None, (56, 72), None),
    ("tire_r64", TIRE, None, (64, 64), None),
    ("tire_r61x63_c48", TIRE, None, (61, 63), (48, 48)),
    ("tire_r40x60", TIRE, None, (40, 60), None),
    # upscaling a source box (also exercises a sub-image with a non-zero origin)
    ("bottle_box_up70x90", BOTTLE, (200, 180, 232, 220), (70, 90), None),
    ("grid_box_up50", GRID, (10, 20, 40, 45), (50, 50), None),
    # no resize, crop only
    ("tire_box_c30x20", TIRE, (100, 300, 161, 343), None, (30, 20)),
    # the default preset's 480 x 480 resize (centre kept small) and the paper's 512/480
    ("tire_r480_c96", TIRE, None, (480, 480), (96, 96)),
    ("grid_r480_c64x48", GRID, None, (480, 480), (64, 48)),
    ("bottle_r512_c480", BOTTLE, (0, 0, 500, 509), (512, 512), (480, 480)),
]


def center_crop(img, cw, ch):
    w, h = img.size
    left = int(round((w - cw) / 2.0))
    top = int(round((h - ch) / 2.0))
    return img.crop((left, top, left + cw, top + ch))


manifest = []
for name, src, box, resize, crop in CASES:
    img = Image.open(os.path.join(shared, src))
    if img.mode != "L":
        img = img.convert("RGB")
    if box is not None:
        img = img.crop(box)
    if resize is not None:
        img = img.resize(resize, Image.BILINEAR)
    if crop is not None:
        img = center_crop(img, *crop)
    fn = name + ".png"
    img.save(os.path.join(outdir, fn), optimize=True)
    manifest.append({
        "name": name, "source": src, "box": list(box) if box else None,
        "resize": list(resize) if resize else None,
        "crop": list(crop) if crop else None,
        "expected": "preprocess/" + fn, "mode": img.mode,
        "size": list(img.size),
    })
with open(os.path.join(here, "preprocess.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print("wrote", len(manifest), "cases to", outdir)
