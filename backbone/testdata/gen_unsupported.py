# Writes unsupported.onnx: a one-input model whose graph uses an operator
# (Softplus) that pni's executor does not implement, so that loading it gives
# a backbone.UnsupportedError naming the operator, node and opset.
# Run with Debian's python3-onnx: /usr/bin/python3 gen_unsupported.py
import onnx
from onnx import TensorProto, helper

x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
l2 = helper.make_tensor_value_info("layer2", TensorProto.FLOAT, ["N", 3, "H", "W"])
l3 = helper.make_tensor_value_info("layer3", TensorProto.FLOAT, ["N", 3, "H", "W"])
nodes = [
    helper.make_node("Softplus", ["image"], ["layer2"], name="soft"),
    helper.make_node("Relu", ["layer2"], ["layer3"], name="relu"),
]
g = helper.make_graph(nodes, "unsupported", [x], [l2, l3])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="pni-testdata")
onnx.checker.check_model(m)
onnx.save(m, "unsupported.onnx")
