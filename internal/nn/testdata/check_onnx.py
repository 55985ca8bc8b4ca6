#!/usr/bin/env python3
"""Offline check of internal/nn's ONNX export (not run by CI).

    mkdir -p /tmp/nnexport
    PNI_NN_EXPORT_DIR=/tmp/nnexport go test -run TestExportONNX ./internal/nn
    /usr/bin/python3 internal/nn/testdata/check_onnx.py /tmp/nnexport

For every <name>.onnx it runs onnx.checker.check_model(full_check=True)
(which includes strict shape inference), then evaluates the graph node by
node with torch.nn.functional, an implementation independent of pni's
executor, on the input TestExportONNX wrote, and compares with the Go
forward pass (<name>.refined.f32). onnx.reference.ReferenceEvaluator is
used as well when the installed onnx has it (onnx >= 1.13).
"""
import glob
import sys

import numpy as np
import onnx
import onnx.numpy_helper as nh
import torch
import torch.nn.functional as F


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run_torch(model, feeds):
    env = {k: torch.from_numpy(v) for k, v in feeds.items()}
    for t in model.graph.initializer:
        env[t.name] = torch.from_numpy(nh.to_array(t).copy())
    for n in model.graph.node:
        a, x = attrs(n), [env[i] if i else None for i in n.input]
        if n.op_type == "Conv":
            p = list(a.get("pads", [0, 0, 0, 0]))
            assert p[:2] == p[2:], p
            y = F.conv2d(x[0], x[1], x[2], stride=tuple(a.get("strides", [1, 1])), padding=tuple(p[:2]))
        elif n.op_type == "Relu":
            y = F.relu(x[0])
        elif n.op_type == "MaxPool":
            y = F.max_pool2d(x[0], tuple(a["kernel_shape"]), tuple(a["strides"]))
        elif n.op_type == "Resize":
            assert a["mode"] == b"linear" and a["coordinate_transformation_mode"] == b"half_pixel", a
            s = x[2].tolist()
            assert s[:2] == [1, 1], s
            y = F.interpolate(x[0], scale_factor=tuple(s[2:]), mode="bilinear", align_corners=False)
        elif n.op_type == "Concat":
            y = torch.cat(x, a["axis"])
        elif n.op_type == "Add":
            y = x[0] + x[1]
        else:
            raise ValueError("unexpected op " + n.op_type)
        env[n.output[0]] = y
    return env[model.graph.output[0].name].numpy()


def main(d):
    ok = True
    for path in sorted(glob.glob(d + "/*.onnx")):
        base = path[:-5]
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        out = inferred.graph.output[0].type.tensor_type.shape
        dims = [dd.dim_param or dd.dim_value for dd in out.dim]
        n, h, w = map(int, open(base + ".shape").read().split())
        feeds = {
            "image": np.fromfile(base + ".image.f32", "<f4").reshape(n, 3, h, w),
            "map": np.fromfile(base + ".map.f32", "<f4").reshape(n, 1, h, w),
        }
        want = np.fromfile(base + ".refined.f32", "<f4").reshape(n, 1, h, w)
        got = run_torch(model, feeds)
        err = float(np.abs(got - want).max() / np.abs(want).max())
        meta = {p.key: p.value for p in model.metadata_props}
        line = "%s: checker OK (ir %d, opset %d, output %s), torch.nn.functional vs Go rel err %.2g, metadata %s" % (
            path, model.ir_version, model.opset_import[0].version, dims, err, meta)
        try:
            from onnx.reference import ReferenceEvaluator
            ref = ReferenceEvaluator(model).run(None, feeds)[0]
            line += ", ReferenceEvaluator rel err %.2g" % float(np.abs(ref - want).max() / np.abs(want).max())
        except ImportError:
            line += ", onnx.reference unavailable (onnx %s)" % onnx.__version__
        print(line)
        ok = ok and err < 1e-5
    if not ok:
        sys.exit("mismatch")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
