"""The thread contract from Python: tiles, tile arrays, torch analog layers, models and
quantizers shared by 4 threads x 50 calls (compute releases the GIL) give what a sequential
run gives with noise off; programming and drift during forwards corrupt nothing."""
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

import tessera
from tessera.torch import compute_encodings, convert_to_analog, convert_to_quantized

MODEL = Path(__file__).resolve().parents[2] / "examples" / "fashion_mnist" / "fmnist_cnn.onnx"
THREADS, CALLS = 4, 50


def noiseless():
    rpu = tessera.InferenceRPUConfig()  # DAC, ADC, noise and bound management on; no noise
    rpu.forward.out_noise = 0.0
    rpu.forward.w_noise = 0.0
    rpu.noise_model = "NullNoiseModel"
    rpu.drift_compensation = "None"
    return rpu


def on_threads(call):
    """call(thread, k) CALLS times on each of THREADS threads at once; returns what they raised."""
    errors, barrier = [], threading.Barrier(THREADS)

    def work(t):
        barrier.wait()
        for k in range(CALLS):
            try:
                call(t, k)
            except Exception as error:  # pylint: disable=broad-except
                errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def count_mismatches(run, inputs, expected):
    wrong = []
    errors = on_threads(lambda t, k: wrong.append(t) if not np.array_equal(run(inputs[t]), expected[t]) else None)
    assert not errors, errors[:3]
    return len(wrong)


def test_shared_tiles_and_arrays_give_the_sequential_results():
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.2, (40, 70)).astype(np.float32)
    inputs = [rng.normal(size=(7 + t, 70)).astype(np.float32) for t in range(THREADS)]
    rpu = noiseless()
    rpu.mapping.max_input_size = 32
    for make in (lambda: tessera.AnalogTile(40, 70, noiseless(), 3, "shared"),
                 lambda: tessera.AnalogTileArray(40, 70, rpu, 3, "shared")):
        shared, sequential = make(), make()
        shared.set_weights(weights)
        sequential.set_weights(weights)
        expected = [sequential.forward(x) for x in inputs]
        assert count_mismatches(shared.forward, inputs, expected) == 0


def test_a_shared_torch_analog_layer_gives_the_sequential_results():
    torch.manual_seed(0)
    layer = convert_to_analog(nn.Sequential(nn.Linear(30, 20)), noiseless())
    inputs = [torch.randn(5 + t, 30) for t in range(THREADS)]
    with torch.no_grad():
        expected = [layer(x).numpy() for x in inputs]
        assert count_mismatches(lambda x: layer(x).detach().numpy(), inputs, expected) == 0


def test_a_shared_analog_model_gives_the_sequential_results():
    model, _ = tessera.convert_to_analog(tessera.Model.load_onnx(str(MODEL)), noiseless())
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(3, 1, 28, 28)).astype(np.float32) for _ in range(THREADS)]
    expected = [model.forward(x) for x in inputs]
    wrong = []

    def call(t, k):
        if k % 10 == 0 and not np.array_equal(model.forward(inputs[t]), expected[t]):
            wrong.append(t)

    assert not on_threads(call)
    assert not wrong


def test_programming_and_drift_during_forwards_fail_nothing():
    layer = convert_to_analog(nn.Sequential(nn.Linear(30, 20)), tessera.InferenceRPUConfig())[0]
    x = torch.randn(4, 30)

    def call(t, k):
        if t == 0:
            layer.drift_analog_weights(3600.0 * k) if k % 2 else layer.program_analog_weights()
        else:
            with torch.no_grad():
                assert torch.isfinite(layer(x)).all()

    assert not on_threads(call)


def test_calibrating_a_shared_quantized_model_from_threads_equals_calibrating_it_alone():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU())
    qmap = tessera.QuantizationMap.from_yaml("""
module_qconfig_map:
  ReLU: {module_qconfig: {activation_quant: {n_bits: 8, range_estimator: percentile}}}
""")
    batch = torch.randn(32, 16)
    shared, alone = convert_to_quantized(model, qmap), convert_to_quantized(model, qmap)
    with compute_encodings(shared):
        assert not on_threads(lambda t, k: shared(batch))
    with compute_encodings(alone):
        for _ in range(THREADS * CALLS):
            alone(batch)
    assert shared[1].output_quantizer.scale.tolist() == alone[1].output_quantizer.scale.tolist()
