#!/usr/bin/python3
"""torch 1.13's side of benchmarks/model_vs_torch.sh: the Fashion-MNIST CNN with the weights of
examples/fashion_mnist/fmnist_cnn.onnx, forward of a batch of 256, best of 50 runs, in ms."""
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from train_fashion_mnist import FashionCNN  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
model = FashionCNN().eval()
weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
           for i in onnx.load(os.path.join(os.path.dirname(__file__), "..", "examples", "fashion_mnist",
                                           "fmnist_cnn.onnx")).graph.initializer}
model.load_state_dict({name: weights[name] for name in model.state_dict()})
x = torch.from_numpy(np.random.default_rng(3).standard_normal((256, 1, 28, 28)).astype(np.float32))
best = float("inf")
with torch.no_grad():
    for _ in range(5):
        model(x)
    for _ in range(50):
        start = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - start)
print(f"{best * 1e3:.3f}")
