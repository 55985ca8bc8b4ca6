#!/usr/bin/env python3
"""Writes tiny_backbone.onnx: a small random CNN in the form pni's backbones
take (input `image` N x 3 x H x W, outputs `layer2` at stride 8 with 8 channels
and `layer3` at stride 16 with 8 channels), used by the root package's fast
tests and examples. Run with /usr/bin/python3 (python3-torch, python3-onnx).
"""
import onnx
import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.MaxPool2d(3, stride=2, padding=1))
        self.l2 = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.l3 = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())

    def forward(self, x):
        l2 = self.l2(self.stem(x))
        return l2, self.l3(l2)


torch.manual_seed(3)
m = Tiny().eval()
x = torch.randn(1, 3, 64, 64)
torch.onnx.export(m, x, "tiny_backbone.onnx", input_names=["image"], output_names=["layer2", "layer3"],
                  dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}}, opset_version=13)
model = onnx.load("tiny_backbone.onnx")
for k, v in (("mean", "0.485,0.456,0.406"), ("std", "0.229,0.224,0.225")):
    p = model.metadata_props.add()
    p.key, p.value = k, v
onnx.save(model, "tiny_backbone.onnx")
