# Writes tiny_refiner.onnx: a small U-Net-like refinement net with random
# weights, in the form pni's refine package loads (inputs "image" N x 3 x H x W
# and "map" N x 1 x H x W, output "refined" N x 1 x H x W = map + net(image, map)),
# plus one input pair and PyTorch's output on it as raw little-endian float32
# (tiny_refiner.{image,map,refined}.f32, 1 x . x 64 x 48), and a second net
# with a wrong output shape (bad_refiner.onnx) for the loader's errors.
# Run with Debian's python3-torch / python3-onnx:
#   /usr/bin/python3 gen_tiny_refiner.py
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)


class Tiny(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.e1 = nn.Conv2d(4, c, 3, padding=1)
        self.e2 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.mid = nn.Conv2d(2 * c, 2 * c, 3, padding=1)
        self.d1 = nn.Conv2d(3 * c, c, 3, padding=1)
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, image, amap):
        x = torch.cat([image, amap], 1)
        a = F.relu(self.e1(x))
        b = F.relu(self.e2(F.max_pool2d(a, 2)))
        b = F.relu(self.mid(b))
        u = F.interpolate(b, scale_factor=2.0, mode="bilinear", align_corners=False)
        d = F.relu(self.d1(torch.cat([u, a], 1)))
        return amap + 0.1 * self.out(d)


class Bad(Tiny):
    def forward(self, image, amap):
        return super().forward(image, amap)[:, :, ::2, :]


def export(model, path, meta):
    model.eval()
    img = torch.randn(1, 3, 64, 48)
    amap = torch.rand(1, 1, 64, 48)
    torch.onnx.export(model, (img, amap), path, input_names=["image", "map"], output_names=["refined"],
                      dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "map": {0: "N", 2: "H", 3: "W"},
                                    "refined": {0: "N", 2: "H", 3: "W"}}, opset_version=17)
    m = onnx.load(path)
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return img, amap


net = Tiny()
img, amap = export(net, "tiny_refiner.onnx", {"pni.refine.size": "48x64", "pni.refine.image": "image",
                                               "pni.refine.map": "map", "pni.refine.output": "refined"})
with torch.no_grad():
    out = net(img, amap)
for name, t in [("image", img), ("map", amap), ("refined", out)]:
    t.numpy().astype("<f4").tofile(f"tiny_refiner.{name}.f32")
export(Bad(), "bad_refiner.onnx", {"pni.refine.size": "48x64"})
print("max |refined - map|", float((out - amap).abs().max()))
