#!/usr/bin/python3
"""Writes torch's reference results for backbone.Aggregate.

Run from the repository root with Debian's python (python3-torch):

    /usr/bin/python3 backbone/testdata/gen_aggregate.py

Each case is a random (seeded) layer2 (N x C2 x h2 x w2) and layer3
(N x C3 x h3 x w3) and the PatchCore/PNI aggregation computed with torch ops:
avg_pool2d(3, 1, 1, count_include_pad=True) on each, F.interpolate(layer3,
size=(h2, w2), mode="bilinear", align_corners=False), adjacent-pair channel
mean of layer3, concat -> N x h2 x w2 x (C2 + C3/2). Stored in aggregate.json
(float32 values written as decimal strings that round-trip). Not run in CI.
"""
import json
import os

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20231001)

CASES = [  # name, N, C2, h2, w2, C3, h3, w3
    ("resnet_like", 2, 6, 6, 8, 8, 3, 4),
    ("odd_sizes", 1, 5, 7, 5, 6, 4, 3),
    ("coarse_1x1", 2, 3, 3, 4, 4, 1, 1),
    ("same_grid", 1, 2, 4, 4, 2, 4, 4),
    ("downsample", 1, 3, 3, 2, 4, 5, 7),
]


def aggregate(l2, l3):
    p2 = F.avg_pool2d(l2, 3, 1, 1, count_include_pad=True)
    p3 = F.avg_pool2d(l3, 3, 1, 1, count_include_pad=True)
    p3 = F.interpolate(p3, size=l2.shape[2:], mode="bilinear", align_corners=False)
    n, c3, h, w = p3.shape
    p3 = p3.reshape(n, c3 // 2, 2, h, w).mean(dim=2)
    out = torch.cat([p2, p3], dim=1)  # N x D x H x W
    return out.permute(0, 2, 3, 1).contiguous()


def flat(t):
    return [repr(float(x)) for x in t.detach().reshape(-1).tolist()]


cases = []
for name, n, c2, h2, w2, c3, h3, w3 in CASES:
    l2 = torch.randn(n, c2, h2, w2, dtype=torch.float32)
    l3 = torch.randn(n, c3, h3, w3, dtype=torch.float32) * 3 + 1
    out = aggregate(l2, l3)
    cases.append({
        "name": name,
        "layer2_shape": list(l2.shape), "layer2": flat(l2),
        "layer3_shape": list(l3.shape), "layer3": flat(l3),
        "out_shape": list(out.shape), "out": flat(out),
    })
with open(os.path.join(here, "aggregate.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print("wrote", len(cases), "cases")
