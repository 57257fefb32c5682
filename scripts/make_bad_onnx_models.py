#!/usr/bin/python3
"""Writes the small ONNX files under tests/data/onnx that tessera must refuse with a message.

Run with Debian's interpreter (python3-onnx): /usr/bin/python3 scripts/make_bad_onnx_models.py
"""
import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx")


def relu_graph(input_type=None):
    x = input_type or helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    return helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])


def save(model, name):
    model.ir_version = 8
    onnx.save(model, os.path.join(OUT, name))


def main():
    os.makedirs(OUT, exist_ok=True)
    save(helper.make_model(relu_graph(), opset_imports=[helper.make_opsetid("", 18)]), "opset18.onnx")
    custom = helper.make_graph([helper.make_node("Fancy", ["x"], ["y"], name="fancy", domain="com.example")], "g",
                               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    save(helper.make_model(custom, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]),
         "custom_domain.onnx")
    sequence = helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [1, 4])
    save(helper.make_model(relu_graph(sequence), opset_imports=[helper.make_opsetid("", 13)]), "sequence_input.onnx")
    weight = helper.make_tensor("w", TensorProto.DOUBLE, [1], [1.0])
    doubles = relu_graph()
    doubles.initializer.append(weight)
    save(helper.make_model(doubles, opset_imports=[helper.make_opsetid("", 13)]), "double_initializer.onnx")
    # A graph that computes nothing (crashed forward, validate and sweep).
    silent = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                               [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], [])
    save(helper.make_model(silent, opset_imports=[helper.make_opsetid("", 13)]), "no_outputs.onnx")
    # A header claiming 10^15 floats with no data behind it (found by fuzz_onnx as a crash).
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100000, 100000, 100000])
    claims = relu_graph()
    claims.initializer.append(huge)
    save(helper.make_model(claims, opset_imports=[helper.make_opsetid("", 13)]), "huge_initializer.onnx")


if __name__ == "__main__":
    main()
