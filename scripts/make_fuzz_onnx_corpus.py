#!/usr/bin/python3
"""Writes the seed corpus of fuzz_onnx_run (tests/fuzz/corpus/onnx_run/): one small model per
operator whose attributes index or size things (perm, axes, pads, strides, kernel shapes,
splits, groups), with valid values; the fuzzer mutates them into hostile ones.

Run with Debian's interpreter (python3-onnx): /usr/bin/python3 scripts/make_fuzz_onnx_corpus.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fuzz", "corpus", "onnx_run")


def model(name, nodes, inputs, output_rank=None, initializers=(), opset=13):
    graph_inputs = [helper.make_tensor_value_info(n, TensorProto.INT64 if n.startswith("i") else TensorProto.FLOAT, s)
                    for n, s in inputs]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, name, graph_inputs, [output],
                              [numpy_helper.from_array(np.asarray(v), n) for n, v in initializers])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8
    onnx.save(proto, os.path.join(OUT, name + ".onnx"))


def const(name, values, dtype=np.int64):
    return (name, np.asarray(values, dtype=dtype))


def main():
    os.makedirs(OUT, exist_ok=True)
    x4 = [("x", [2, 3, 4, 5])]
    node = helper.make_node
    model("transpose", [node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], x4)
    model("concat", [node("Concat", ["x", "x"], ["y"], axis=-1)], x4)
    model("split", [node("Split", ["x", "s"], ["y", "z"], axis=1)], x4, initializers=[const("s", [1, 2])])
    model("squeeze", [node("Unsqueeze", ["x", "a"], ["u"]), node("Squeeze", ["u", "a"], ["y"])], x4,
          initializers=[const("a", [0, -1])])
    model("gather", [node("Gather", ["x", "i"], ["y"], axis=2)], x4, initializers=[const("i", [[0, 3], [1, -1]])])
    model("gather_tokens", [node("Gather", ["w", "itokens"], ["y"], axis=0)], [("itokens", [2, 3])],
          initializers=[("w", np.ones((10, 4), np.float32))])
    model("slice", [node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], x4,
          initializers=[const("st", [1, -1]), const("en", [3, -4]), const("ax", [2, 3]), const("sp", [1, -1])])
    model("reduce", [node("ReduceMean", ["x"], ["y"], axes=[1, -1], keepdims=0)], x4)
    model("reduce_sum", [node("ReduceSum", ["x", "a"], ["y"], keepdims=1)], x4, initializers=[const("a", [0, 2])])
    model("softmax", [node("Softmax", ["x"], ["y"], axis=-2)], x4)
    model("flatten", [node("Flatten", ["x"], ["y"], axis=2)], x4)
    model("reshape", [node("Reshape", ["x", "s"], ["y"])], x4, initializers=[const("s", [0, -1, 5])])
    model("pad", [node("Pad", ["x", "p"], ["y"], mode="reflect")], x4,
          initializers=[const("p", [0, 0, 1, 2, 0, 0, 1, 2])])
    model("expand", [node("Expand", ["x", "s"], ["y"])], [("x", [3, 1])], initializers=[const("s", [2, 3, 4])])
    model("tile_ops", [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["y"])], x4)
    model("conv", [node("Conv", ["x", "w", "b"], ["y"], strides=[2, 1], pads=[1, 0, 1, 2], dilations=[1, 2],
                        group=3)], [("x", [1, 6, 7, 8])],
          initializers=[("w", np.ones((6, 2, 3, 2), np.float32)), ("b", np.zeros(6, np.float32))])
    model("conv_transpose", [node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_padding=[1, 0],
                                  pads=[0, 1, 0, 1], group=2)], [("x", [1, 4, 3, 3])],
          initializers=[("w", np.ones((4, 1, 2, 3), np.float32))])
    model("maxpool", [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 1, 1],
                           ceil_mode=1)], x4)
    model("avgpool", [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], auto_pad="SAME_UPPER",
                           count_include_pad=1)], x4)
    model("gemm", [node("Gemm", ["x2", "w", "b"], ["y"], transB=1, alpha=0.5)], [("x2", [3, 4])],
          initializers=[("w", np.ones((5, 4), np.float32)), ("b", np.ones(5, np.float32))])
    model("batch_norm", [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)], x4,
          initializers=[(n, np.ones(3, np.float32)) for n in ("s", "b", "m", "v")])
    model("layer_norm", [node("LayerNormalization", ["x", "s"], ["y"], axis=-2)], x4,
          initializers=[("s", np.ones((4, 5), np.float32))], opset=17)
    model("lstm", [node("LSTM", ["xs", "W", "R"], ["y"], hidden_size=3, direction="bidirectional")],
          [("xs", [4, 2, 5])], initializers=[("W", np.ones((2, 12, 5), np.float32) * 0.1),
                                               ("R", np.ones((2, 12, 3), np.float32) * 0.1)])
    model("clip", [node("Clip", ["x", "lo", "hi"], ["y"])], x4,
          initializers=[("lo", np.float32(0)), ("hi", np.float32(6))])


if __name__ == "__main__":
    main()
