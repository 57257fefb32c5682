#!/usr/bin/env python3
"""Writes docs/fmnist_noise_budget.png and .csv: the noise budget of the bundled Fashion-MNIST
CNN on PCM (aihwkit's defaults, the main job's hardware with the 8-bit ADC) one day after
programming, on 1,000 test images. Needs the tessera package importable (PYTHONPATH=build/python).
"""
import os
import shutil
import tempfile

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST = "/usr/share/datasets/fashion-mnist/"


def main():
    model = tessera.Model.load_onnx(os.path.join(ROOT, "examples", "fashion_mnist", "fmnist_cnn.onnx"))
    images, _ = tessera.load_idx_dataset(FMNIST + "t10k-images-idx3-ubyte.gz", FMNIST + "t10k-labels-idx1-ubyte.gz",
                                         0.2860, 0.3530, 1000)
    rpu = tessera.load_preset("pcm_inference")
    rpu.forward.out_res = 254
    rows = tessera.noise_budget(model, rpu, images, t_inference=86400.0, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        files = tessera.write_noise_budget(rows, scratch)
        for kind, path in files.items():
            shutil.copy(path, os.path.join(ROOT, "docs", f"fmnist_noise_budget.{kind}"))


if __name__ == "__main__":
    main()
