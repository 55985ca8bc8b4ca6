#!/usr/bin/python3
"""Generate the ONNX parity fixtures for internal/onnx.

Run with Debian's python (python3-torch, python3-onnx):

    cd internal/onnx/testdata && /usr/bin/python3 gen_fixtures.py

Each case writes NAME.onnx plus raw little-endian float32 files
NAME.<tensor>.f32 for its inputs and PyTorch's outputs, and manifest.json
lists every case (model, inputs, outputs with shapes). Models are exported
with torch.onnx.export at opset 13: PyTorch's opset-11 Resize export crashes
onnx-go's reader (an empty constant tensor), so opset 11 is not used. A few
cases are hand-built with onnx.helper (asymmetric pads, auto_pad, Conv->BN
that eval-mode export would fold away); their references still come from
PyTorch. The fixtures are committed; CI never regenerates them.
"""
import json
import os
import re

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper, TensorProto

OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))
manifest = []
torch.manual_seed(1234)
rng = np.random.default_rng(1234)


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def save_case(name, model_path, inputs, outputs, note=""):
    """inputs/outputs: list of (onnx value name, np.ndarray)."""
    entry = {"name": name, "model": os.path.basename(model_path), "note": note,
             "inputs": [], "outputs": []}
    for kind, items in (("inputs", inputs), ("outputs", outputs)):
        for vname, arr in items:
            arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
            fname = "%s.%s.%s.f32" % (name, kind[:-1], safe(vname))
            arr.tofile(os.path.join(HERE, fname))
            entry[kind].append({"name": vname, "shape": list(arr.shape), "file": fname})
    manifest.append(entry)


def export(name, module, args, in_names, out_names, dynamic_axes=None, note=""):
    module.eval()
    path = os.path.join(HERE, name + ".onnx")
    with torch.no_grad():
        ref = module(*args)
    if not isinstance(ref, (tuple, list)):
        ref = (ref,)
    torch.onnx.export(module, tuple(args), path, opset_version=OPSET,
                      input_names=in_names, output_names=out_names,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    save_case(name, path, list(zip(in_names, [a.numpy() for a in args])),
              list(zip(out_names, [r.numpy() for r in ref])), note)


def save_helper(name, graph, inputs, outputs, note=""):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="gen_fixtures")
    model.ir_version = 7
    onnx.checker.check_model(model)
    path = os.path.join(HERE, name + ".onnx")
    onnx.save(model, path)
    save_case(name, path, inputs, outputs, note)


def rnd(*shape):
    return torch.randn(*shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---- convolutions ---------------------------------------------------------

class ConvGroupDil(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=4)
        self.b = nn.Conv2d(8, 6, (3, 2), stride=(1, 2), padding=(1, 0), bias=False)

    def forward(self, x):
        return self.b(self.a(x))


export("conv_group_dilated", ConvGroupDil(), [rnd(1, 8, 11, 13)], ["x"], ["y"])


class PadConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.c(F.pad(x, (1, 2, 0, 1)))


export("pad_then_conv", PadConv(), [rnd(2, 3, 7, 6)], ["x"], ["y"], note="F.pad asymmetric then conv")

# Explicit asymmetric pads in the Conv node itself.
w = rnd(5, 3, 3, 3)
b = rnd(5)
x = rnd(1, 3, 8, 7)
ref = F.conv2d(F.pad(x, (1, 2, 0, 2)), w, b, stride=(2, 1))
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[0, 1, 2, 2], strides=[2, 1])],
    "conv_asym", [vi("x", [1, 3, 8, 7])], [vi("y", list(ref.shape))], [init("w", w), init("b", b)])
save_helper("conv_asym_pads", g, [("x", x.numpy())], [("y", ref.numpy())], "pads=[t=0,l=1,b=2,r=2]")

# auto_pad SAME_UPPER / SAME_LOWER, stride 2 on an even size: uneven padding.
x = rnd(1, 2, 8, 8)
w = rnd(3, 2, 3, 3)
up = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, stride=2)
lo = F.conv2d(F.pad(x, (1, 0, 1, 0)), w, stride=2)
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["up"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
     helper.make_node("Conv", ["x", "w"], ["lo"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")],
    "conv_autopad", [vi("x", [1, 2, 8, 8])], [vi("up", list(up.shape)), vi("lo", list(lo.shape))], [init("w", w)])
save_helper("conv_autopad", g, [("x", x.numpy())], [("up", up.numpy()), ("lo", lo.numpy())])


class Deconv(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.e = nn.ConvTranspose2d(6, 2, (2, 3), stride=(2, 1), dilation=(1, 2))

    def forward(self, x):
        return self.e(self.d(x))


export("conv_transpose", Deconv(), [rnd(1, 4, 5, 6)], ["x"], ["y"])

# Conv -> BN -> Relu as separate nodes (eval export would fold BN away).
x = rnd(1, 3, 6, 6)
w, b = rnd(4, 3, 3, 3), rnd(4)
gamma, beta, mean, var = rnd(4), rnd(4), rnd(4), torch.rand(4) + 0.5
c = F.conv2d(x, w, b, padding=1)
bn = F.batch_norm(c, mean, var, gamma, beta, False, 0.0, 1e-5)
r = F.relu(bn)
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
     helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"], epsilon=1e-5),
     helper.make_node("Relu", ["bn"], ["r"])],
    "conv_bn_relu", [vi("x", [1, 3, 6, 6])], [vi("r", list(r.shape))],
    [init("w", w), init("b", b), init("gamma", gamma), init("beta", beta), init("mean", mean), init("var", var)])
save_helper("conv_bn_relu", g, [("x", x.numpy())], [("r", r.numpy()), ("c", c.numpy()), ("bn", bn.numpy())],
            "request r alone (fused) and c/bn (unfused)")


class BNAlone(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.randn(3))
            self.bn.running_var.copy_(torch.rand(3) + 0.5)
            self.bn.weight.copy_(torch.randn(3))
            self.bn.bias.copy_(torch.randn(3))

    def forward(self, x):
        return self.bn(x * 2.0 + 1.0)


export("bn_standalone", BNAlone(), [rnd(2, 3, 4, 5)], ["x"], ["y"])

# ---- element-wise ----------------------------------------------------------


class Acts(nn.Module):
    def forward(self, x):
        return F.relu(x), F.leaky_relu(x, 0.2), torch.sigmoid(x), torch.tanh(x)


export("activations", Acts(), [rnd(2, 3, 4, 5) * 3], ["x"], ["relu", "leaky", "sigmoid", "tanh"])


class Arith(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("c", torch.rand(3, 1, 5) + 0.5)

    def forward(self, a, b):
        return a + b, a - self.c, b * a, a / self.c, 2.0 - a


export("broadcast_arith", Arith(), [rnd(2, 3, 4, 5), rnd(4, 1)], ["a", "b"], ["add", "sub", "mul", "div", "rsub"])


class Dup(nn.Module):
    def forward(self, x):
        return x + x, torch.cat([x, x], 1), x * x


export("duplicate_inputs", Dup(), [rnd(1, 2, 3, 3)], ["x"], ["sum", "cat", "sq"])

# ---- pooling -----------------------------------------------------------------


class Pools(nn.Module):
    def forward(self, x):
        return (F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                F.max_pool2d(x, 2, 2, ceil_mode=True),
                F.max_pool2d(x, 3, 1, padding=1, dilation=2),
                F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=True),
                F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
                F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=True),
                F.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False),
                F.adaptive_avg_pool2d(x, 1))


export("pools", Pools(), [rnd(1, 2, 10, 11)], ["x"],
       ["max_ceil", "max_ceil2", "max_dil", "avg_cip", "avg_nocip", "avg_ceil_cip", "avg_ceil_nocip", "gap"])

# ---- pad ----------------------------------------------------------------------


class Pads(nn.Module):
    def forward(self, x):
        return (F.pad(x, (1, 2, 3, 0), mode="constant", value=0.5),
                F.pad(x, (2, 1, 1, 2), mode="reflect"),
                F.pad(x, (0, 3, 2, 1), mode="replicate"))


export("pads", Pads(), [rnd(1, 2, 5, 6)], ["x"], ["constant", "reflect", "edge"])

# ---- resize -------------------------------------------------------------------


class Resizes(nn.Module):
    def forward(self, x):
        return (F.interpolate(x, scale_factor=2, mode="nearest"),
                F.interpolate(x, size=(7, 11), mode="nearest"),
                F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
                F.interpolate(x, size=(9, 4), mode="bilinear", align_corners=True),
                F.interpolate(x, size=(1, 8), mode="bilinear", align_corners=False),
                F.interpolate(x, size=(6, 10), mode="bilinear", align_corners=False))


export("resize", Resizes(), [rnd(1, 2, 4, 5)], ["x"], ["nearest2x", "nearest_size", "bilinear2x", "bilinear_ac", "bilinear_1row", "bilinear_size"])

# Resize variants PyTorch's exporter emits in other versions, as explicit nodes:
# nearest with half_pixel + round_prefer_ceil (= torch "nearest-exact") and
# linear with pytorch_half_pixel (coordinate 0 on an axis resized to 1).
x = rnd(1, 2, 4, 5)
exact = F.interpolate(x, size=(7, 3), mode="nearest-exact")
phpx = F.interpolate(x[:, :, :1, :], size=(1, 8), mode="bilinear", align_corners=False)
phpx2 = F.interpolate(x, size=(6, 10), mode="bilinear", align_corners=False)
sizes = lambda n, s: numpy_helper.from_array(np.array(s, dtype=np.int64), n)
g = helper.make_graph(
    [helper.make_node("Resize", ["x", "", "", "s1"], ["exact"], mode="nearest",
                      coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"),
     helper.make_node("Resize", ["x", "", "", "s2"], ["php1"], mode="linear",
                      coordinate_transformation_mode="pytorch_half_pixel"),
     helper.make_node("Resize", ["x", "", "", "s3"], ["php2"], mode="linear",
                      coordinate_transformation_mode="pytorch_half_pixel")],
    "resize_modes", [vi("x", [1, 2, 4, 5])],
    [vi("exact", [1, 2, 7, 3]), vi("php1", [1, 2, 1, 8]), vi("php2", [1, 2, 6, 10])],
    [sizes("s1", [1, 2, 7, 3]), sizes("s2", [1, 2, 1, 8]), sizes("s3", [1, 2, 6, 10])])
save_helper("resize_modes", g, [("x", x.numpy())],
            [("exact", exact.numpy()), ("php1", phpx.numpy()), ("php2", phpx2.numpy())])

# ---- gemm / matmul ---------------------------------------------------------------


class Lin(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(16, 8)

    def forward(self, x):
        return self.l(x)


export("gemm", Lin(), [rnd(1, 16)], ["x"], ["y"], note="run twice: Gemm must not accumulate")

a, bm, cm = rnd(3, 4), rnd(5, 4), rnd(1, 5)
ref = 0.5 * a @ bm.T + 2.0 * cm
at = rnd(4, 3)
ref2 = at.T @ bm.T
g = helper.make_graph(
    [helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transB=1),
     helper.make_node("Gemm", ["at", "b"], ["y2"], transA=1, transB=1)],
    "gemm_attrs", [vi("a", [3, 4]), vi("at", [4, 3])], [vi("y", [3, 5]), vi("y2", [3, 5])],
    [init("b", bm), init("c", cm)])
save_helper("gemm_attrs", g, [("a", a.numpy()), ("at", at.numpy())], [("y", ref.numpy()), ("y2", ref2.numpy())])


class MM(nn.Module):
    def forward(self, a, b, v):
        return torch.matmul(a, b), torch.matmul(a, v)


export("matmul", MM(), [rnd(2, 1, 3, 4), rnd(5, 4, 6), rnd(4)], ["a", "b", "v"], ["ab", "av"])

# ---- dynamic shapes --------------------------------------------------------------


class Dyn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 1)
        self.l = nn.Linear(3 * 4 * 5, 4)

    def forward(self, x):
        y = self.c(x)
        flat = y.view(y.size(0), -1)
        z = self.l(flat)
        r = y.reshape(y.shape[0], y.shape[1], -1).transpose(1, 2)
        s = torch.flatten(y, 1).unsqueeze(1).squeeze(1)
        part = y[:, 1:3, ::2, -3:]
        ones = torch.ones(y.shape[2], y.shape[3]) * (y.shape[3] * 0.5)
        return z, r, s, part, y + ones


export("dynamic_shapes", Dyn(), [rnd(2, 2, 4, 5)], ["x"], ["z", "r", "s", "part", "plus"],
       dynamic_axes={"x": {0: "batch"}}, note="Shape/Gather/Unsqueeze/Concat/Reshape chains")

# ---- mini ResNet block with intermediate outputs ------------------------------------


class Block(nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = nn.Conv2d(c, 2 * c, 1, stride=2)
        for bn in (self.bn1, self.bn2):
            with torch.no_grad():
                bn.running_mean.copy_(torch.randn(c) * 0.1)
                bn.running_var.copy_(torch.rand(c) + 0.5)
                bn.weight.copy_(torch.rand(c) + 0.5)
                bn.bias.copy_(torch.randn(c) * 0.1)
        self.stem = nn.Conv2d(3, c, 3, padding=1)

    def forward(self, x):
        s = F.relu(self.stem(x))
        s = F.max_pool2d(s, 3, 2, padding=1)
        h = F.relu(self.bn1(self.conv1(s)))
        o = F.relu(self.bn2(self.conv2(h)) + s)
        return self.down(o), s, h, o


blk = Block().eval()
x = rnd(1, 3, 12, 12)
path = os.path.join(HERE, "mini_resnet.onnx")
with torch.no_grad():
    out, s, h, o = blk(x)
torch.onnx.export(blk, (x,), path, opset_version=OPSET, input_names=["x"], output_names=["out"])
# Name the intermediate values: outputs of the MaxPool, the 2nd Relu and the 3rd Relu.
m = onnx.load(path)
relus = [n.output[0] for n in m.graph.node if n.op_type == "Relu"]
pool = [n.output[0] for n in m.graph.node if n.op_type == "MaxPool"][0]
names = {"pool": pool, "h": relus[1], "o": relus[2]}
# Keep only the first graph output (the others are intermediates we request by name).
while len(m.graph.output) > 1:
    m.graph.output.pop()
onnx.save(m, path)
save_case("mini_resnet", path, [("x", x.numpy())],
          [("out", out.numpy()), (names["pool"], s.numpy()), (names["h"], h.numpy()), (names["o"], o.numpy())],
          "intermediate values requested by name")

# ---- opset 9: Pad, Slice, Squeeze and Unsqueeze take attributes -------------------
x = rnd(1, 2, 5, 6)
padded = F.pad(x, (2, 1, 1, 2), mode="reflect")
sliced = padded[:, :, 1:6, 2:]
out = sliced.unsqueeze(0).squeeze(0)
g = helper.make_graph(
    [helper.make_node("Pad", ["x"], ["p"], mode="reflect", pads=[0, 0, 1, 2, 0, 0, 2, 1]),
     helper.make_node("Slice", ["p"], ["s"], starts=[1, 2], ends=[6, 1000], axes=[2, 3]),
     helper.make_node("Unsqueeze", ["s"], ["u"], axes=[0]),
     helper.make_node("Squeeze", ["u"], ["y"], axes=[0])],
    "opset9_attrs", [vi("x", [1, 2, 5, 6])], [vi("y", list(out.shape))])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)])
model.ir_version = 4
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "opset9_attrs.onnx"))
save_case("opset9_attrs", os.path.join(HERE, "opset9_attrs.onnx"), [("x", x.numpy())],
          [("y", out.numpy()), ("p", padded.numpy())], "attribute forms of Pad/Slice/(Un)Squeeze")

with open(os.path.join(HERE, "manifest.json"), "w") as f:  # noqa: E501
    json.dump(manifest, f, indent=1)
print("wrote", len(manifest), "cases")

# ---- error cases (not in the manifest) -------------------------------------------
# An operator this package does not implement, in a named node.
g = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r"], name="first"),
     helper.make_node("Hardmax", ["r"], ["y"], name="my_hardmax")],
    "unsupported", [vi("x", [1, 4])], [vi("y", [1, 4])])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
model.ir_version = 7
model.metadata_props.add(key="purpose", value="unsupported-op test")
onnx.save(model, os.path.join(HERE, "unsupported_op.onnx"))

# An attribute value this package does not implement (cubic Resize).
g = helper.make_graph(
    [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="cubic_up", mode="cubic")],
    "unsupported_attr", [vi("x", [1, 1, 2, 2])], [vi("y", [1, 1, 4, 4])],
    [init("scales", [1, 1, 2, 2])])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
model.ir_version = 7
onnx.save(model, os.path.join(HERE, "unsupported_attr.onnx"))
