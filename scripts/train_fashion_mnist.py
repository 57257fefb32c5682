#!/usr/bin/python3
"""Trains the small Fashion-MNIST CNN that tessera's examples and tests use, and exports it.

Run with Debian's interpreter (python3-torch, python3-onnx):
    /usr/bin/python3 scripts/train_fashion_mnist.py [--epochs 3] [--out examples/fashion_mnist]

Writes:
  fmnist_cnn.onnx           the model (opset 13; input "input" [N, 1, 28, 28], output "logits")
  torch_predictions.txt     torch's argmax for every test image and its accuracy, so the C++
                            tests can check tessera's float mode against torch.
Inputs are scaled to [0, 1] and normalised with mean 0.2860, std 0.3530 (the training set's).
Deterministic: fixed seeds, one thread.
"""
import argparse
import gzip
import os
import struct

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        magic, = struct.unpack(">I", f.read(4))
        rank = magic & 0xFF
        dims = struct.unpack(">" + "I" * rank, f.read(4 * rank))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    labels = read_idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    images = (images - MEAN) / STD
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="examples/fashion_mnist")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_x, train_y = load("train")
    test_x, test_y = load("test")
    model = FashionCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            optimizer.zero_grad()
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predictions = torch.cat([model(test_x[i:i + 1000]).argmax(1) for i in range(0, len(test_x), 1000)])
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, test accuracy {(predictions == test_y).float().mean():.4f}")
    os.makedirs(args.out, exist_ok=True)
    torch.onnx.export(model, test_x[:1], os.path.join(args.out, "fmnist_cnn.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    accuracy = (predictions == test_y).float().mean().item()
    with open(os.path.join(args.out, "torch_predictions.txt"), "w") as f:
        f.write(f"# torch {torch.__version__} argmax per test image; accuracy {accuracy:.4f}\n")
        f.write(f"accuracy {accuracy:.6f}\n")
        f.write(" ".join(str(int(p)) for p in predictions) + "\n")


if __name__ == "__main__":
    main()
