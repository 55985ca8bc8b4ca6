#!/usr/bin/python3
"""Counts the Conv multiply-adds of the shared ResNet-50 up to layer2/layer3
at an input size, with onnx shape inference (for the GFLOP/s figure of
BenchmarkResNet50Layer3_224). Usage, from the repository root:

    /usr/bin/python3 backbone/testdata/flops.py 224 224 [MODEL]

Printed at 224 x 224: layer3 3.124 GMAC = 6.248 GFLOP; at 480: 28.692 GFLOP.
"""
import sys

import onnx
from onnx import shape_inference, helper
m = onnx.load(sys.argv[3] if len(sys.argv) > 3 else '../shared/models/resnet50-imagenet-l23.onnx')
H=int(sys.argv[1]); W=int(sys.argv[2])
m.graph.input[0].type.tensor_type.shape.dim[0].dim_value=1
m.graph.input[0].type.tensor_type.shape.dim[2].dim_value=H
m.graph.input[0].type.tensor_type.shape.dim[3].dim_value=W
m=shape_inference.infer_shapes(m)
shp={v.name:[d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(m.graph.value_info)+list(m.graph.output)}
init={i.name:list(i.dims) for i in m.graph.initializer}
# nodes needed for layer3 and layer2
prod={o:n for n in m.graph.node for o in n.output}
def need(outs):
    s=set(); st=list(outs)
    while st:
        v=st.pop()
        if v in prod and id(prod[v]) not in s:
            s.add(id(prod[v])); st+=list(prod[v].input)
    return s
for target in (['layer3'],['layer2'],['layer2','layer3']):
    ns=need(target); macs=0
    for n in m.graph.node:
        if id(n) in ns and n.op_type=='Conv':
            w=init[n.input[1]]; o=shp[n.output[0]]
            macs+= o[1]*o[2]*o[3]*w[1]*w[2]*w[3]
    print(target, H, W, 'GMAC', macs/1e9, 'GFLOP', 2*macs/1e9)
print('layer2 shape', shp['layer2'], 'layer3', shp['layer3'])
