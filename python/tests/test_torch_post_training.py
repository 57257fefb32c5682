"""AIMET's post-training techniques from tessera.torch: each must leave the torch model holding
what the C++ pass computes on its ONNX export (the model sweeps run), and keep the technique's
defining property on the torch side."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import tessera
from tessera.torch import (adaround, compute_encodings, convert_to_quantized, correct_biases,
                           cross_layer_equalization, export_onnx)

sys.path.insert(0, str(Path(__file__).parent))
import model_zoo  # noqa: E402  pylint: disable=wrong-import-position

W4A8 = tessera.QuantizationMap.from_yaml("""
module_qconfig_map:
  Conv2d: {module_qconfig: {weight_quant: {n_bits: 4}, activation_quant: {n_bits: 8}}}
  Linear: {module_qconfig: {weight_quant: {n_bits: 4}, activation_quant: {n_bits: 8}}}
""")


def run(model, x):
    with torch.no_grad():
        return model(x).numpy()


def calibrated(model, x, fuse_activations=False):
    quantized = convert_to_quantized(model, W4A8, fuse_activations=fuse_activations)
    with compute_encodings(quantized):
        quantized(x)
    return quantized


def core_twin(model, x, folder, name):
    """The C++ model of a converted torch model, through its exported files as a sweep loads them."""
    written = export_onnx(model, x, str(folder / f"{name}.onnx"))
    core = tessera.convert_onnx_to_quantized(tessera.Model.load_onnx(written["onnx"]), W4A8)
    if getattr(model, "tessera_fuse_activations", False):
        core, _ = tessera.fuse_activations(core, W4A8)
    core.load_encodings(written["encodings"])
    return core


def input_channel_ranges(layer):
    w = layer.weight.detach().abs()
    if isinstance(layer, nn.Conv2d) and layer.groups > 1:  # depthwise: input channel i is filter i
        return w.flatten(1).amax(1)
    return w.transpose(0, 1).flatten(1).amax(1)


def test_cross_layer_equalization_of_a_torch_model_is_the_onnx_one(tmp_path):
    model, x = model_zoo.build("mobilenet", batch=8)
    model.eval()
    equalized, report = cross_layer_equalization(model, x)
    assert report["folded"] and len(report["pairs"]) == 5 and len(report["relu6_replaced"]) == 4
    assert all(isinstance(equalized.get_submodule(name), nn.ReLU) for name in report["relu6_replaced"])
    assert any(isinstance(m, nn.ReLU6) for m in model.modules())  # the caller's model is left as it was
    # The float function is unchanged (no activation of this model passes 6): measured 1.2e-7 of 0.39.
    expected = run(model, x)
    assert np.abs(run(equalized, x) - expected).max() < 1e-5 * np.abs(expected).max()
    # Each pair's shared channels now have equal ranges: out-channel i of the first layer, in-channel i of the second.
    for pair in report["pairs"]:
        first, second = equalized.get_submodule(pair["first"]), equalized.get_submodule(pair["second"])
        out_ranges = first.weight.detach().abs().flatten(1).amax(1)
        np.testing.assert_allclose(out_ranges.numpy(), input_channel_ranges(second).numpy(), rtol=1e-5)
    # The same weights as the C++ pass on the folded export.
    folded, _ = tessera.fold_batch_norms(tessera.Model.load_onnx(export_onnx(model, x, str(tmp_path / "m.onnx"))["onnx"]))
    onnx_equalized, onnx_report = tessera.cross_layer_equalization(folded)
    assert onnx_report["pairs"] == report["pairs"]
    for name in {p["first"] for p in report["pairs"]} | {p["second"] for p in report["pairs"]}:
        onnx_weight = next(iter(onnx_equalized.module_weights(name).values()))
        np.testing.assert_allclose(equalized.get_submodule(name).weight.detach().numpy(), onnx_weight, rtol=1e-6,
                                   atol=1e-7, err_msg=name)
    with pytest.raises(ValueError, match="equalize the float model, then convert it"):
        cross_layer_equalization(calibrated(model, x), x)


def test_bias_correction_of_a_torch_model_moves_its_mean_outputs_to_the_float_ones(tmp_path):
    model, x = model_zoo.build("resnet", batch=32)
    model.eval()
    quantized = calibrated(model, x)
    corrected, report = correct_biases(quantized, x[:1], x, batch_size=16)
    assert [row["module"] for row in report][:2] == ["conv1", "layer1.0.conv1"]
    # The biases the C++ pass computes on the exported twin.
    onnx_corrected, _ = tessera.correct_biases(core_twin(quantized, x[:1], tmp_path, "q"), x.numpy(), batch_size=16)
    for row in report:
        bias = list(onnx_corrected.module_weights(row["module"]).values())[1]
        np.testing.assert_allclose(corrected.get_submodule(row["module"]).bias.detach().numpy(), bias, rtol=1e-6,
                                   atol=1e-7, err_msg=row["module"])
    # The mean logit per class moves to the float model's, up to the 8-bit output grid (largest
    # distance measured 0.057 before, 0.0048 after, with the encodings calibrated before).
    float_mean = run(model, x).mean(0)
    before = np.abs(run(quantized, x).mean(0) - float_mean).max()
    assert np.abs(run(corrected, x).mean(0) - float_mean).max() < 0.15 * before
    with pytest.raises(ValueError, match="convert the model first"):
        correct_biases(model, x[:1], x)


def test_adaround_of_a_torch_model_keeps_its_grid_through_state_dict(tmp_path):
    model, x = model_zoo.build("mobilenet", batch=16)
    model.eval()
    quantized = calibrated(model, x)
    rounded, report = adaround(quantized, x[:1], x, batch_size=8, num_iterations=300)
    assert {row["module"] for row in report} == {n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d,
                                                                                                        nn.Linear))}
    assert any(row["adaround_error"] < row["nearest_error"] for row in report)
    for row in report:
        layer = rounded.get_submodule(row["module"])
        assert layer.weight_encodings_frozen
        scale = layer.weight_quantizer.scale.reshape(-1, *[1] * (layer.weight.dim() - 1))
        steps = layer.weight.detach().numpy() / scale
        assert np.abs(steps - np.round(steps)).max() < 1e-3, row["module"]  # on the frozen grid
    # The torch model computes what the C++ rounded model computes.
    rounded_core, _ = tessera.adaround(core_twin(quantized, x[:1], tmp_path, "q"), x.numpy(), batch_size=8,
                                       num_iterations=300)
    np.testing.assert_allclose(run(rounded, x), rounded_core.forward(x.numpy()), rtol=1e-4, atol=1e-4)
    # state_dict carries the frozen encodings into a freshly converted twin, which then needs no AdaRound.
    twin = convert_to_quantized(model, W4A8)
    twin.load_state_dict(rounded.state_dict())
    np.testing.assert_array_equal(run(twin, x), run(rounded, x))
    assert all(twin.get_submodule(row["module"]).weight_encodings_frozen for row in report)


def test_a_fused_torch_model_exports_what_it_computes(tmp_path):
    # Before, export_onnx converted the twin without fusing and refused: "no encodings yet".
    model, x = model_zoo.build("mobilenet", batch=8)
    model.eval()
    fused = calibrated(model, x, fuse_activations=True)
    np.testing.assert_allclose(core_twin(fused, x[:1], tmp_path, "fused").forward(x.numpy()), run(fused, x),
                               rtol=1e-4, atol=1e-4)
    # Its encodings do not fit the unfused conversion, and the refusal says what may differ.
    unfused = tessera.convert_onnx_to_quantized(tessera.Model.load_onnx(str(tmp_path / "fused.onnx")), W4A8)
    with pytest.raises(tessera.ModelError, match="fused activations: quantization.fuse_activations"):
        unfused.load_encodings(str(tmp_path / "fused.encodings.json"))
