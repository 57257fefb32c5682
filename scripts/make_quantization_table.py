#!/usr/bin/python3
"""Runs the post-training quantization sweep of the bundled ResNet
(examples/fashion_mnist_resnet/quantization.yaml) and torch.ao's int8 flow on the same weights,
and prints the table in docs/models.md: top-1 % on the 10,000 Fashion-MNIST test images.
Needs the tessera package importable (PYTHONPATH=build/python); about 25 minutes on 2 cores.
Results stay in results/fashion_mnist_resnet_quantization (rerun to resume).
"""
import csv
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "fashion_mnist_resnet")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from train_fashion_mnist import load  # noqa: E402  (same data and normalisation)
from train_fashion_mnist_resnet import FashionResNet  # noqa: E402

CALIBRATION_IMAGES = 512  # the sweep's calibration: the first 512 training images

# (label, hardware, cross-layer equalization, fusion, bias correction, AdaRound[, bias correction
# method]) per row.
ROWS = [
    ("W8A8, per-tensor weights (naive)", "w8a8_per_tensor", "false", "false", "", ""),
    ("W8A8, per-tensor, + fusion", "w8a8_per_tensor", "false", "true", "", ""),
    ("W8A8, per-channel (`digital_int8`)", "w8a8", "false", "false", "", ""),
    ("W8A8, per-channel, + fusion", "w8a8", "false", "true", "", ""),
    ("W4A8, per-tensor weights (naive)", "w4a8_per_tensor", "false", "false", "", ""),
    ("W4A8, per-tensor, + CLE", "w4a8_per_tensor", "true", "false", "", ""),
    ("W4A8, per-tensor, + fusion + bias correction", "w4a8_per_tensor", "false", "true", "true", ""),
    ("W4A8, per-tensor, + fusion + analytical bias correction", "w4a8_per_tensor", "false", "true", "true", "",
     "analytical"),
    ("W4A8, per-tensor, + CLE + fusion + bias correction", "w4a8_per_tensor", "true", "true", "true", ""),
    ("W4A8, per-tensor, + fusion + AdaRound", "w4a8_per_tensor", "", "true", "", "true"),
    ("W4A8, per-channel MSE (`digital_int4_w_int8_a`)", "w4a8", "false", "false", "", ""),
    ("W4A8, per-channel MSE, + CLE", "w4a8", "true", "false", "", ""),
    ("W4A8, per-channel MSE, + fusion + bias correction", "w4a8", "false", "true", "true", ""),
    ("W4A8, per-channel MSE, + fusion + analytical bias correction", "w4a8", "false", "true", "true", "", "analytical"),
    ("W4A8, per-channel MSE, + CLE + fusion + bias correction", "w4a8", "true", "true", "true", ""),
    ("W4A8, per-channel MSE, + fusion + AdaRound", "w4a8", "", "true", "", "true"),
]


def sweep_rows():
    output = os.path.join(ROOT, "results", "fashion_mnist_resnet_quantization")
    tessera.run_sweep(os.path.join(EXAMPLE, "quantization.yaml"), output_directory=output, progress=True)
    with open(os.path.join(output, "results.csv")) as f:
        return list(csv.DictReader(f))


def torch_ao_int8():
    """torch.ao's FX graph mode int8 (default qconfig mapping: per-channel weights, fused
    Conv+ReLU), calibrated on the same images, on the bundled ResNet's weights."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"  # Debian's torch has no fbgemm
    initializers = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
                    for i in onnx.load(os.path.join(EXAMPLE, "fmnist_resnet.onnx")).graph.initializer}
    model = FashionResNet()
    state = model.state_dict()
    for name in state:
        if name in initializers:
            state[name] = initializers[name]
        elif name == "layer2.shortcut.1.bias":  # the exporter stored one copy of two equal tensors
            state[name] = initializers["layer2.bn2.bias"]
        elif not name.endswith("num_batches_tracked"):
            raise SystemExit(f"fmnist_resnet.onnx has no {name}")
    model.load_state_dict(state)
    model.eval()
    images, labels = load("test")
    calibration, _ = load("train")
    prepared = prepare_fx(model, get_default_qconfig_mapping("onednn"), (images[:1],))
    with torch.no_grad():
        prepared(calibration[:CALIBRATION_IMAGES])
        quantized = convert_fx(prepared)
        logits = torch.cat([quantized(images[i:i + 500]) for i in range(0, len(images), 500)])
    return float((logits.argmax(1) == labels).float().mean())


def main():
    rows = sweep_rows()

    def top1(hardware, cle="", fuse="", bias="", ada="", method=""):
        for row in rows:
            if (row["hardware"] == hardware and row.get("quantization.cross_layer_equalization", "") == cle and
                    row.get("quantization.fuse_activations", "") == fuse and
                    row.get("quantization.bias_correction", "") == bias and
                    row.get("quantization.adaround", "") == ada and
                    row.get("quantization.bias_correction_method", "") == method):
                return 100.0 * float(row["top1"])
        raise SystemExit(f"no sweep row for {hardware} cle={cle} fuse={fuse} bias={bias} adaround={ada} "
                         f"method={method}")

    lines = ["| ResNet, 10,000 test images | top-1 % |", "|---|---|",
             f"| float | {top1('float'):.2f} |"]
    lines += [f"| {label} | {top1(*key):.2f} |" for label, *key in ROWS]
    lines.append(f"| torch.ao int8 `convert_fx` (onednn) on the same weights | {100.0 * torch_ao_int8():.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
