#!/usr/bin/env python3
"""Writes benchmarks/models/mobilenet_small.onnx: the model zoo's MobileNetV2-style network
(python/tests/model_zoo.py: 3x3 stem, two inverted-residual blocks with depthwise 3x3
convolutions, BatchNorms with non-trivial statistics, seed 0) for 1 x 28 x 28 inputs with a
dynamic batch, which benchmarks/analog_model_benchmark.cpp times float against analog.

Usage: /usr/bin/python3 scripts/make_benchmark_models.py
"""
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
from model_zoo import build  # noqa: E402


def main():
    model, _ = build("mobilenet", seed=0)
    path = os.path.join(ROOT, "benchmarks", "models", "mobilenet_small.onnx")
    torch.onnx.export(model, torch.randn(1, 1, 28, 28), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
