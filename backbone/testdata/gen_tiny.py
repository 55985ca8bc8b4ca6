#!/usr/bin/python3
"""Writes tiny.onnx, a 60 KB stand-in backbone with ResNet's stride arithmetic,
and torch's outputs for one input, for tests that must run without the shared
ResNet-50.

Run from the repository root with Debian's python (python3-torch, python3-onnx):

    /usr/bin/python3 backbone/testdata/gen_tiny.py

The network: four 3x3 stride-2 pad-1 convs (3->8->8->8->8, ReLU), as a
ResNet's stem/pool/layer2/layer3 downsamplings (each maps n to ceil(n/2));
layer2 = 1x1 conv 8->512 after the third (stride 8), layer3 = 1x1 conv
8->1024 after the fourth (stride 16). Input "image" N x 3 x H x W (dynamic),
opset 13, metadata mean/std in the bracketed JSON-ish form. tiny_input.f32 is a
seeded 2 x 3 x 21 x 26 input; tiny_features.f32 is PatchCore's aggregation of the
layers (gen_patchcore_embed.py, P = D = 1024), 2 x 3 x 4 x 1024, raw
little-endian float32.
Not run in CI.
"""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_patchcore_embed import embed

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(7)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.s1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.s2 = nn.Conv2d(8, 8, 3, 2, 1)
        self.s3 = nn.Conv2d(8, 8, 3, 2, 1)
        self.s4 = nn.Conv2d(8, 8, 3, 2, 1)
        self.p2 = nn.Conv2d(8, 512, 1)
        self.p3 = nn.Conv2d(8, 1024, 1)

    def forward(self, x):
        x = F.relu(self.s1(x))
        x = F.relu(self.s2(x))
        x = F.relu(self.s3(x))
        l2 = self.p2(x)
        l3 = self.p3(F.relu(self.s4(x)))
        return l2, l3


def aggregate(l2, l3):
    """PatchCore's features (gen_patchcore_embed.embed, P = D = 1024) of each image."""
    return torch.stack([embed(l2[i:i + 1], l3[i:i + 1], 1024, 1024) for i in range(len(l2))])


net = Tiny().eval()
path = os.path.join(here, "tiny.onnx")
torch.onnx.export(
    net, torch.zeros(1, 3, 32, 32), path, opset_version=13,
    input_names=["image"], output_names=["layer2", "layer3"],
    dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "layer2": {0: "N", 2: "H8", 3: "W8"},
                  "layer3": {0: "N", 2: "H16", 3: "W16"}})
m = onnx.load(path)
for k, v in {"mean": "[0.5, 0.4, 0.3]", "std": "[0.25, 0.2, 0.125]", "layers": "layer2,layer3"}.items():
    p = m.metadata_props.add()
    p.key, p.value = k, v
onnx.save(m, path)

x = torch.randn(2, 3, 21, 26)
with torch.no_grad():
    l2, l3 = net(x)
    feats = aggregate(l2, l3)
print("layer2", tuple(l2.shape), "layer3", tuple(l3.shape), "features", tuple(feats.shape))
x.numpy().astype("<f4").tofile(os.path.join(here, "tiny_input.f32"))
feats.numpy().astype("<f4").tofile(os.path.join(here, "tiny_features.f32"))
