#!/usr/bin/env python3
"""Export torchvision's WideResNet-50-2 (PatchCore's backbone) as a pni backbone.

Needs PyTorch, torchvision and the onnx package; downloads the ImageNet
weights (IMAGENET1K_V1) through torchvision unless --random-weights is given.
Not run in CI.

    python3 scripts/export_wrn50.py --out wrn50_2-l23.onnx
    python3 scripts/export_wrn50.py --random-weights --out /tmp/wrn50-random.onnx  # offline smoke test

The file has one input, `image` (N x 3 x H x W float32, dynamic N, H, W: RGB in
[0,1] normalised with ImageNet's mean/std), and two outputs, `layer2`
(N x 512 x ceil(H/8) x ceil(W/8)) and `layer3` (N x 1024 x ceil(H/16) x
ceil(W/16)): the network is cut after layer3, so layer4 and the classifier are
not exported. metadata_props carry mean, std and layers, which
backbone.Load reads. Opset 17 by default.
"""
import argparse
import sys

import torch
import torch.nn as nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Layers23(nn.Module):
    """A torchvision ResNet cut after layer3, returning (layer2, layer3)."""

    def __init__(self, net):
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3

    def forward(self, x):
        x = self.layer1(self.stem(x))
        l2 = self.layer2(x)
        return l2, self.layer3(l2)


def build(random_weights):
    import torchvision

    ctor = torchvision.models.wide_resnet50_2
    if random_weights:
        torch.manual_seed(0)
        try:
            return ctor(weights=None), "random weights (seed 0): for testing only"
        except TypeError:  # torchvision < 0.13
            return ctor(pretrained=False), "random weights (seed 0): for testing only"
    try:
        w = torchvision.models.Wide_ResNet50_2_Weights.IMAGENET1K_V1
        return ctor(weights=w), "torchvision wide_resnet50_2 IMAGENET1K_V1"
    except AttributeError:  # torchvision < 0.13
        return ctor(pretrained=True), "torchvision wide_resnet50_2 pretrained=True"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="wrn50_2-l23.onnx", help="output .onnx file")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (13 or later)")
    ap.add_argument("--random-weights", action="store_true",
                    help="do not download the ImageNet weights (offline smoke test; useless for detection)")
    ap.add_argument("--size", type=int, default=224, help="H = W of the dummy input used for tracing")
    ap.add_argument("--reference", metavar="PREFIX",
                    help="also write PREFIX.input.f32 (a seeded 1x3x224x224 input) and torch's PREFIX.layer2.f32 / "
                         "PREFIX.layer3.f32 (raw little-endian float32), for backbone's TestExportedBackbone")
    args = ap.parse_args()
    if args.opset < 13:
        sys.exit("opset must be 13 or later (pni's executor and onnx-go's reader need it)")

    net, source = build(args.random_weights)
    model = Layers23(net).eval()
    dummy = torch.zeros(1, 3, args.size, args.size)
    with torch.no_grad():
        l2, l3 = model(dummy)
        torch.onnx.export(
            model, dummy, args.out, opset_version=args.opset, do_constant_folding=True,
            input_names=["image"], output_names=["layer2", "layer3"],
            dynamic_axes={"image": {0: "N", 2: "H", 3: "W"},
                          "layer2": {0: "N", 2: "H8", 3: "W8"},
                          "layer3": {0: "N", 2: "H16", 3: "W16"}})

    import onnx

    m = onnx.load(args.out)
    meta = {
        "mean": ",".join(str(v) for v in MEAN),
        "std": ",".join(str(v) for v in STD),
        "layers": "layer2,layer3",
        "input": "image: float32 NCHW RGB, (x/255 - mean)/std",
        "outputs": "layer2 (stride 8, %d ch), layer3 (stride 16, %d ch)" % (l2.shape[1], l3.shape[1]),
        "source": source,
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, args.out)

    if args.reference:
        g = torch.Generator().manual_seed(1)
        x = torch.randn(1, 3, 224, 224, generator=g)
        with torch.no_grad():
            r2, r3 = model(x)
        for name, t in (("input", x), ("layer2", r2), ("layer3", r3)):
            t.numpy().astype("<f4").tofile("%s.%s.f32" % (args.reference, name))
        print("wrote reference tensors %s.{input,layer2,layer3}.f32" % args.reference)

    print("wrote %s (%s, opset %d)" % (args.out, source, args.opset))
    print("  input image [N,3,H,W]; at %dx%d: layer2 %s, layer3 %s -> %d x %d grid, D = %d"
          % (args.size, args.size, list(l2.shape), list(l3.shape), l2.shape[2], l2.shape[3],
             l2.shape[1] + l3.shape[1] // 2))
    print("Use it from Go:")
    print('  bb, err := backbone.Load("%s", nil) // github.com/x/pni/backbone' % args.out)
    print("  feats, err := bb.Features(ctx, imgs, backbone.Preprocess{ResizeW: 224, ResizeH: 224})")
    print("or give its path as the backbone model to pni (the option or flag that takes the .onnx file).")


if __name__ == "__main__":
    main()
