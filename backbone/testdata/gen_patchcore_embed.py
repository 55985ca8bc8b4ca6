#!/usr/bin/python3
"""Writes PyTorch reference results for backbone's PatchCore aggregation.

Run from the repository root with Debian's python (python3-torch):

    /usr/bin/python3 backbone/testdata/gen_patchcore_embed.py

Each case is a random (seeded) layer2 (1 x C2 x h x w) and layer3
(1 x C3 x h3 x w3) and, for one or more (pretrain width P, target width D),
the patch features of PatchCore (Roth et al., CVPR 2022) as
patchcore-inspection computes them (PatchCore._embed):

  * PatchMaker.patchify: torch.nn.Unfold(3, stride 1, padding 1) of each
    layer, reshaped to (positions, C, 3, 3);
  * layer3's patches brought to layer2's patch grid: every (c, ky, kx)
    component as an h3 x w3 plane, F.interpolate(size=(h, w),
    mode="bilinear", align_corners=False);
  * Preprocessing(MeanMapper): each layer's C*9 vector
    F.adaptive_avg_pool1d to P, stacked (positions, 2, P);
  * Aggregator: flattened to 2P, F.adaptive_avg_pool1d to D.

Output h x w x D (positions row-major). Everything in float32, as
PatchCore runs. The layers and outputs are raw little-endian float32 files in
patchcore_embed/; patchcore_embed.json indexes them. Not run in CI.

embed() is also used by gen_tiny.py for tiny_features.f32.
"""
import json
import os

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
outdir = os.path.join(here, "patchcore_embed")

# name, C2, h, w, C3, h3, w3, [(P, D), ...]
CASES = [
    ("resnet50_8x8", 512, 8, 8, 1024, 4, 4, [(1024, 1024), (1024, 384)]),
    ("resnet50_5x3", 512, 5, 3, 1024, 3, 2, [(1024, 512)]),
    ("densenet201_7x5", 512, 7, 5, 1792, 4, 3, [(1024, 1024), (1024, 512), (512, 384)]),
    ("densenet201_4x4", 512, 4, 4, 1792, 2, 2, [(1024, 1024)]),
    # widths above the patch length: both poolings repeat values
    ("small_upsampling", 2, 3, 4, 3, 2, 2, [(32, 40), (4, 2), (7, 45)]),
    # layer3 on a finer grid than layer2 (the resize shrinks)
    ("small_downsample", 5, 3, 2, 7, 5, 7, [(16, 12)]),
]


def patchify(x):
    """1 x C x h x w -> (h*w) x C x 3 x 3, PatchMaker's layout."""
    _, c, h, w = x.shape
    u = torch.nn.Unfold(kernel_size=3, stride=1, padding=1, dilation=1)(x)  # 1 x C*9 x h*w
    return u.reshape(c, 3, 3, h * w).permute(3, 0, 1, 2)


def embed(l2, l3, p, d):
    """PatchCore's features of one image's two layers: h x w x d."""
    _, c2, h, w = l2.shape
    _, c3, h3, w3 = l3.shape
    f2 = patchify(l2)
    f3 = patchify(l3)  # (h3*w3) x C3 x 3 x 3
    planes = f3.permute(1, 2, 3, 0).reshape(c3 * 9, 1, h3, w3)
    planes = F.interpolate(planes, size=(h, w), mode="bilinear", align_corners=False)
    f3 = planes.reshape(c3, 3, 3, h * w).permute(3, 0, 1, 2)
    pooled = [F.adaptive_avg_pool1d(f.reshape(h * w, 1, -1), p).squeeze(1) for f in (f2, f3)]
    both = torch.stack(pooled, dim=1)  # (h*w) x 2 x p
    out = F.adaptive_avg_pool1d(both.reshape(h * w, 1, -1), d).reshape(h * w, d)
    return out.reshape(h, w, d)


def write(name, t):
    t.detach().contiguous().numpy().astype("<f4").tofile(os.path.join(outdir, name))
    return "patchcore_embed/" + name


def main():
    torch.manual_seed(20231002)
    os.makedirs(outdir, exist_ok=True)
    cases = []
    for name, c2, h, w, c3, h3, w3, widths in CASES:
        l2 = torch.randn(1, c2, h, w)
        l3 = torch.randn(1, c3, h3, w3) * 2 + 0.5
        case = {
            "name": name,
            "layer2_shape": [1, c2, h, w], "layer2": write(name + ".layer2.f32", l2),
            "layer3_shape": [1, c3, h3, w3], "layer3": write(name + ".layer3.f32", l3),
            "outputs": [],
        }
        for p, d in widths:
            out = embed(l2, l3, p, d)
            ref64 = embed(l2.double(), l3.double(), p, d)
            err = float((out.double() - ref64).abs().max() / ref64.abs().max())
            print(f"{name} P={p} D={d}: float32 vs float64 {err:.2g}")
            case["outputs"].append({
                "layer_dim": p, "dim": d, "shape": [h, w, d],
                "file": write(f"{name}.p{p}.d{d}.f32", out),
            })
        cases.append(case)
    with open(os.path.join(here, "patchcore_embed.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
