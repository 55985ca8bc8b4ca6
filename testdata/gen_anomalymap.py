#!/usr/bin/env python3
"""Fixtures for pni's anomaly-map post-processing (run with /usr/bin/python3;
needs python3-torch, python3-scipy, python3-numpy). Not run in CI.

Writes anomalymap.bin: a sequence of float32 little-endian arrays, each
prefixed by an int32 element count:
  src (7x9 random grid), torch bilinear upsample to 20x24 (align_corners=False),
  scipy gaussian_filter(sigma=2.5) of that, and a 28x28 -> 224x224 upsample
  followed by gaussian_filter(sigma=4) of a second random grid.
"""
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

rng = np.random.default_rng(7)
out = []
a = rng.random((7, 9), dtype=np.float32)
up = F.interpolate(torch.from_numpy(a)[None, None], size=(20, 24), mode="bilinear", align_corners=False)[0, 0].numpy()
bl = gaussian_filter(up.astype(np.float64), sigma=2.5).astype(np.float32)
b = rng.random((28, 28), dtype=np.float32)
up2 = F.interpolate(torch.from_numpy(b)[None, None], size=(224, 224), mode="bilinear", align_corners=False)[0, 0].numpy()
bl2 = gaussian_filter(up2.astype(np.float64), sigma=4).astype(np.float32)
with open("anomalymap.bin", "wb") as f:
    for arr in (a, up, bl, b, bl2):
        arr = np.ascontiguousarray(arr, dtype="<f4").ravel()
        f.write(np.int32(arr.size).tobytes())
        f.write(arr.tobytes())
