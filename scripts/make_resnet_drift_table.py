#!/usr/bin/python3
"""Runs the deep-model sweep (examples/fashion_mnist_resnet/sweep.yaml) on the float model and on
its hardware-aware copy, and prints the table in docs/models.md: top-1 % over drift time, mean
± 95 % CI over the seeds, per model and hardware. Needs the tessera package importable
(PYTHONPATH=build/python); about 25 minutes on 2 cores. Results stay in results/ (rerun to
resume; finished runs are skipped).
"""
import csv
import os
import tempfile

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "fashion_mnist_resnet")
MODELS = {"float-trained": "fmnist_resnet.onnx", "hardware-aware": "fmnist_resnet_hwa.onnx"}
TIMES = {"0": "t = 0", "3600": "1 h", "86400": "1 day", "2592000": "30 days", "31536000": "1 year"}


def run(model_file):
    """Runs the sweep on `model_file`; returns aggregate.csv's rows."""
    with open(os.path.join(EXAMPLE, "sweep.yaml")) as f:
        text = f.read()
    if "\nmodel: fmnist_resnet.onnx\n" not in text:  # else every model would run the float one
        raise SystemExit("examples/fashion_mnist_resnet/sweep.yaml no longer says 'model: fmnist_resnet.onnx'")
    text = text.replace("\nmodel: fmnist_resnet.onnx\n", f"\nmodel: {os.path.join(EXAMPLE, model_file)}\n")
    output = os.path.join(ROOT, "results", "fashion_mnist_resnet", os.path.splitext(model_file)[0])
    with tempfile.TemporaryDirectory() as scratch:
        sweep = os.path.join(scratch, "sweep.yaml")
        with open(sweep, "w") as f:
            f.write(text)
        tessera.run_sweep(sweep, output_directory=output)
    with open(os.path.join(output, "aggregate.csv")) as f:
        return list(csv.DictReader(f))


def main():
    lines = ["| model | hardware | " + " | ".join(TIMES.values()) + " |", "|---|---|" + "---|" * len(TIMES)]
    for label, model_file in MODELS.items():
        rows = run(model_file)
        for hardware in dict.fromkeys(r["hardware"] for r in rows):
            cells = {str(int(float(r["t_inference"]))): r for r in rows if r["hardware"] == hardware}
            values = [f"{100 * float(cells[t]['top1_mean']):.1f} ± {100 * float(cells[t]['top1_ci95']):.1f}"
                      for t in TIMES]
            lines.append(f"| {label} | {hardware} | " + " | ".join(values) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
