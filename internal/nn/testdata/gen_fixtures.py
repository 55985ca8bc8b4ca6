#!/usr/bin/env python3
"""Generates the PyTorch reference fixtures for internal/nn's tests.

Not needed by CI or users: the outputs are committed. Run from this folder
with Debian's python3-torch (1.13 was used):

    /usr/bin/python3 gen_fixtures.py

For each case it builds the same UNet as nn.NewUNet (same layers, same
parameter order: for every convolution in nn.UNet.Convs() order, its weight
then its bias), initialises it with PyTorch's default initialisation from a
fixed seed, and writes, as raw little-endian float32:

    <name>.params.f32   the initial flat parameter vector
    <name>.x.f32        the input batch, N x 4 x H x W (RGB + map)
    <name>.target.f32   the target maps, N x 1 x H x W
    <name>.pred.f32     the forward output at the initial parameters
    <name>.grad.f32     d loss / d params at the initial parameters
    <name>.after.f32    the parameters after `steps` Adam steps on the loss

and the list of cases to manifest.json.
"""
import json

import torch
import torch.nn as tnn
import torch.nn.functional as F


class UNet(tnn.Module):
    def __init__(self, in_ch, base, depth, strided):
        super().__init__()
        self.depth, self.strided = depth, strided
        w = lambda l: base << l
        self.enc = tnn.ModuleList()
        for l in range(depth + 1):
            cin = in_ch if l == 0 else w(l - 1)
            stride = 2 if (l > 0 and strided) else 1
            self.enc.append(tnn.ModuleList([
                tnn.Conv2d(cin, w(l), 3, stride=stride, padding=1),
                tnn.Conv2d(w(l), w(l), 3, padding=1)]))
        self.dec = tnn.ModuleList()  # decoder levels depth-1 .. 0, in that order
        for l in range(depth - 1, -1, -1):
            self.dec.append(tnn.ModuleList([
                tnn.Conv2d(w(l + 1) + w(l), w(l), 3, padding=1),
                tnn.Conv2d(w(l), w(l), 3, padding=1)]))
        self.head = tnn.Conv2d(base, 1, 1)

    def convs(self):
        out = [c for lvl in self.enc for c in lvl]
        out += [c for lvl in self.dec for c in lvl]
        return out + [self.head]

    def forward(self, x):
        skips, h = [], x
        for l, (c1, c2) in enumerate(self.enc):
            if l > 0 and not self.strided:
                h = F.max_pool2d(h, 2)
            h = F.relu(c2(F.relu(c1(h))))
            skips.append(h)
        for i, (c1, c2) in enumerate(self.dec):
            l = self.depth - 1 - i
            up = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = torch.cat([up, skips[l]], 1)
            h = F.relu(c2(F.relu(c1(h))))
        return x[:, -1:] + self.head(h)


def pni_loss(p, t):
    reg = ((p - t) ** 2).mean()
    dh = lambda u: u[:, :, 1:, :] - u[:, :, :-1, :]
    dw = lambda u: u[:, :, :, 1:] - u[:, :, :, :-1]
    grad = (((dh(p) - dh(t)) ** 2).mean() + ((dw(p) - dw(t)) ** 2).mean()) / 2
    return (reg + grad) / 2


def flat(model, what="data"):
    parts = []
    for c in model.convs():
        for p in (c.weight, c.bias):
            parts.append((p.grad if what == "grad" else p.data).reshape(-1))
    return torch.cat(parts)


def write(path, t):
    t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tofile(path)


CASES = [
    dict(name="unet_b4_d2_maxpool", base=4, depth=2, strided=False, n=2, h=16, w=12, seed=1),
    dict(name="unet_b4_d3_stride2", base=4, depth=3, strided=True, n=2, h=16, w=24, seed=2),
]
LR, STEPS = 1e-3, 3


def main():
    torch.set_num_threads(1)
    manifest = []
    for c in CASES:
        torch.manual_seed(c["seed"])
        m = UNet(4, c["base"], c["depth"], c["strided"])
        x = torch.rand(c["n"], 4, c["h"], c["w"])
        target = torch.rand(c["n"], 1, c["h"], c["w"])
        write(c["name"] + ".params.f32", flat(m))
        write(c["name"] + ".x.f32", x)
        write(c["name"] + ".target.f32", target)
        pred = m(x)
        write(c["name"] + ".pred.f32", pred)
        opt = torch.optim.Adam(m.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
        losses = []
        for s in range(STEPS):
            opt.zero_grad()
            loss = pni_loss(m(x), target)
            loss.backward()
            if s == 0:
                write(c["name"] + ".grad.f32", flat(m, "grad"))
            losses.append(loss.item())
            opt.step()
        write(c["name"] + ".after.f32", flat(m))
        manifest.append(dict(c, lr=LR, steps=STEPS, losses=losses, params=int(flat(m).numel()),
                             torch=torch.__version__))
        print(c["name"], "params", flat(m).numel(), "losses", losses)
    with open("manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
