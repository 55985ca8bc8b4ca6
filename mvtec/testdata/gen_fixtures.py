#!/usr/bin/python3
"""Generates the mask fixtures of package mvtec (run with /usr/bin/python3).

mask.png: a 36x30 8-bit grayscale mask (values 0, 255 and a few other
nonzero values, all "defect"). masks.json: PIL's Image.resize(size,
Image.NEAREST) and torchvision's transforms.functional.center_crop of it
(as 0/1 strings, row-major, after the nonzero test). Deterministic; not run in CI.
"""
import json
import os

import numpy as np
import PIL
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
W, H = 36, 30
a = np.zeros((H, W), dtype=np.uint8)
for _ in range(7):
    y, x = rng.integers(0, H), rng.integers(0, W)
    a[y:y + rng.integers(1, 8), x:x + rng.integers(1, 9)] = 255
a[rng.integers(0, H, 12), rng.integers(0, W, 12)] = 255  # isolated pixels
a[0, 0], a[H - 1, W - 1], a[5, 7], a[11, 3] = 1, 128, 17, 254
img = Image.fromarray(a, mode="L")
img.save(os.path.join(here, "mask.png"))


def bits(im):
    return "".join("1" if v else "0" for v in (np.asarray(im) != 0).ravel())


out = {"pil": PIL.__version__, "torchvision": torchvision.__version__, "w": W, "h": H, "src": bits(img),
       "resize": [], "crop": []}
for w, h in [(27, 9), (24, 20), (7, 11), (72, 60), (50, 45), (16, 16), (36, 30), (1, 1), (100, 13), (35, 31)]:
    out["resize"].append({"w": w, "h": h, "pix": bits(img.resize((w, h), Image.NEAREST))})
for w, h in [(20, 20), (35, 29), (33, 27), (31, 25), (40, 34), (41, 20), (36, 30), (1, 1)]:
    out["crop"].append({"w": w, "h": h, "pix": bits(TF.center_crop(img, [h, w]))})
with open(os.path.join(here, "masks.json"), "w") as f:
    json.dump(out, f, indent=0)
    f.write("\n")
print("ok")
