#!/usr/bin/python3
"""tessera.torch against tessera.Model in one run: the analog forward (PCM defaults, programmed)
of the model zoo's ResNet-style CNN at batch 32, once as a converted torch model and once as the
C++ model of its ONNX export, 2 threads. The two are timed in interleaved repetitions; printed:
the median (and best) time of each and their ratio (goal: torch front end <= 1.5x the C++ model).

Usage: PYTHONPATH=build/python benchmarks/torch_front_end.py [repetitions]
"""
import os
import statistics
import sys
import tempfile
import time

import torch

import tessera
import tessera.torch as tt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python", "tests"))
import model_zoo  # noqa: E402  pylint: disable=wrong-import-position


def main(repetitions=15, threads=2):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = model_zoo.ResNetSmall(width=32).eval()
    x = torch.randn(32, 1, 32, 32)
    rpu = tessera.InferenceRPUConfig()
    converted = tt.convert_to_analog(model, rpu, seed=1)
    tt.program_analog_weights(converted)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "resnet.onnx")
        with torch.enable_grad():
            torch.onnx.export(model, x, path, input_names=["input"], opset_version=13,
                              dynamic_axes={"input": {0: "batch"}})
        core = tessera.convert_onnx_to_analog(tessera.Model.load_onnx(path), rpu, seed=1)
    core.program()
    images = x.numpy()
    cases = {"tessera.torch": lambda: converted(x), "tessera.Model": lambda: core.forward(images)}
    times = {name: [] for name in cases}
    with torch.no_grad():
        for run in cases.values():
            run()  # warm up: tiles pack their weights on the first call
        for _ in range(repetitions):
            for name, run in cases.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name:14s} median {statistics.median(values) * 1e3:8.2f} ms   best {min(values) * 1e3:8.2f} ms")
    ratio = statistics.median(times["tessera.torch"]) / statistics.median(times["tessera.Model"])
    best = min(times["tessera.torch"]) / min(times["tessera.Model"])
    print(f"tessera.torch / tessera.Model: {ratio:.2f}x median ({best:.2f}x best); goal <= 1.5x")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
