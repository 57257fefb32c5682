#!/usr/bin/env python3
"""Writes the noise budgets the docs show, as docs/<name>_noise_budget.png and .csv, one day
after programming on PCM (aihwkit's defaults with global drift compensation, 8-bit ADC):
  fmnist          the bundled CNN (README), 1,000 test images
  fmnist_resnet   the bundled ResNet with BatchNorm (docs/deep_model.md), 500 test images
Needs the tessera package importable (PYTHONPATH=build/python). `--only NAME` draws one.
"""
import argparse
import os
import shutil
import tempfile

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST = "/usr/share/datasets/fashion-mnist/"
BUDGETS = {  # name: (model, test images)
    "fmnist": (os.path.join("examples", "fashion_mnist", "fmnist_cnn.onnx"), 1000),
    "fmnist_resnet": (os.path.join("examples", "fashion_mnist_resnet", "fmnist_resnet.onnx"), 500),
}


def draw(name, model_file, count):
    model = tessera.Model.load_onnx(os.path.join(ROOT, model_file))
    images, _ = tessera.load_idx_dataset(FMNIST + "t10k-images-idx3-ubyte.gz", FMNIST + "t10k-labels-idx1-ubyte.gz",
                                         0.2860, 0.3530, count)
    rpu = tessera.load_preset("pcm_inference")
    rpu.forward.out_res = 254
    rows = tessera.noise_budget(model, rpu, images, t_inference=86400.0, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        files = tessera.write_noise_budget(rows, scratch)
        for kind, path in files.items():
            shutil.copy(path, os.path.join(ROOT, "docs", f"{name}_noise_budget.{kind}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(BUDGETS))
    args = parser.parse_args()
    for name, (model_file, count) in BUDGETS.items():
        if args.only in (None, name):
            draw(name, model_file, count)


if __name__ == "__main__":
    main()
