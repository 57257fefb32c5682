"""One conversion plan for both front ends: names, types, composition, strictness, folding and
integer inputs, each as a user meets them."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import tessera
from tessera.torch import (QuantizedOutputModule, compute_encodings, convert_to_analog, convert_to_quantized,
                           export_onnx, fold_batch_norms)
from tessera.torch.analog import AnalogLinear

sys.path.insert(0, str(Path(__file__).parent))
import model_zoo  # noqa: E402  pylint: disable=wrong-import-position


def export(model, x, path):
    with torch.enable_grad():
        torch.onnx.export(model, x, str(path), input_names=["input"], output_names=["output"], opset_version=13,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return tessera.Model.load_onnx(str(path))


def test_digit_named_sequential_modules_can_be_mapped():
    qmap = tessera.QuantizationMap.from_yaml("""
excluded_modules: ['1']
instance_qconfig_map:
  '3': {module_qconfig: {weight_quant: {n_bits: 4}, activation_quant: {n_bits: 8}}}
""")
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    quantized = convert_to_quantized(model, qmap)
    report = {row["module"]: row for row in quantized.tessera_conversion_report}
    assert report["1"]["rule"] == "excluded_modules: 1"
    assert report["3"]["became"] == "QuantLinear" and report["3"]["rule"] == "instance_qconfig_map"


def test_module_types_are_torch_class_names_on_both_paths(tmp_path):
    expected = {
        "resnet": {"maxpool": "MaxPool2d", "avgpool": "AdaptiveAvgPool2d", "layer1.0.relu": "ReLU", "fc": "Linear"},
        "mobilenet": {"features.0.2": "ReLU6", "features.3.2": "Hardswish", "features.1.conv.1.0": "Conv2d"},
        "lstm": {"embedding": "Embedding", "lstm": "LSTM"},
        "transformer": {"encoder.layers.0.self_attn": "MultiheadAttention", "encoder.layers.0.norm1": "LayerNorm",
                        "encoder.layers.1.self_attn.out_proj": "Linear", "encoder.layers.1.linear1": "Linear"},
        "cnn1d": {"features.3": "MaxPool1d", "features.7": "AdaptiveAvgPool1d", "features.0": "Conv1d"},
    }
    for name, types in expected.items():
        model, x = model_zoo.build(name)
        core = export(model, x, tmp_path / f"{name}.onnx")
        found = {m["name"]: m["type"] for m in core.modules}
        for module, type_name in types.items():
            assert found.get(module) == type_name, (name, module, found.get(module))
            assert tessera.torch.module_type(model.get_submodule(module)) == type_name
    # torch reused resnet's layer1.0.relu for two outputs: one module with two calls, not "relu_1"
    assert "layer1.0.relu_1" not in found if name == "resnet" else True


def test_unknown_or_onnx_type_names_in_a_map_are_refused():
    qmap = tessera.QuantizationMap()
    qmap.module_qconfig_map["GlobalAveragePool"] = {"module_qconfig": {"activation_quant": {"n_bits": 8}}}
    with pytest.raises(tessera.ModelError, match="'GlobalAveragePool' is an ONNX operator; module types are torch "
                                                 "class names: AdaptiveAvgPool1d, AdaptiveAvgPool2d or"):
        convert_to_quantized(nn.Sequential(nn.AdaptiveAvgPool2d(1)), qmap)
    with pytest.raises(tessera.ModelError, match="module_types: unknown module type 'Lienar'; did you mean 'Linear'"):
        convert_to_analog(nn.Sequential(nn.Linear(2, 2)), module_types=["Lienar"])


def test_onnx_conversions_compose_and_conflicts_are_refused(tmp_path):
    model, x = model_zoo.build("mlp")
    core = export(model, x, tmp_path / "mlp.onnx")
    int8 = tessera.load_preset("digital_int8")
    quantized, _ = tessera.convert_to_quantized(core, int8)
    with pytest.raises(tessera.ModelError, match="module '1' \\(Linear\\) already has 8-bit weights"):
        tessera.convert_to_analog(quantized, tessera.load_preset("ideal"))
    outputs_only = tessera.QuantizationMap.from_yaml(
        "module_qconfig_map: {ReLU: {module_qconfig: {activation_quant: {n_bits: 8}}}}")
    quantized, _ = tessera.convert_to_quantized(core, outputs_only)
    quantized.compute_encodings(lambda m: m.forward(x.numpy()))
    both, rows = tessera.convert_to_analog(quantized, tessera.load_preset("ideal"))
    became = {row["module"]: row["became"] for row in rows}
    assert became["1"] == "AnalogLinear" and became["2"] == "QuantReLU"
    np.testing.assert_allclose(both.forward(x.numpy()), quantized.forward(x.numpy()), rtol=1e-5, atol=1e-6)
    assert both.plan.find("2").quantization is not None


def test_torch_conversions_compose():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    outputs_only = tessera.QuantizationMap.from_yaml(
        "module_qconfig_map: {Linear: {module_qconfig: {activation_quant: {n_bits: 8}}}, "
        "ReLU: {module_qconfig: {activation_quant: {n_bits: 8}}}}")
    quantized = convert_to_quantized(model, outputs_only)
    x = torch.randn(16, 6)
    with compute_encodings(quantized):
        quantized(x)
    both = convert_to_analog(quantized, tessera.load_preset("ideal"))
    assert isinstance(both[0], QuantizedOutputModule) and isinstance(both[0].module, AnalogLinear)
    assert both[0].output_quantizer.is_initialized  # the calibration carried over
    rows = {row["module"]: row for row in both.tessera_conversion_report}
    assert rows["0"]["became"] == "QuantizedOutputModule(AnalogLinear)"
    assert rows["0"]["rule"] == "module_qconfig_map[Linear]; module type"
    with torch.no_grad():
        torch.testing.assert_close(both(x), quantized(x), rtol=1e-5, atol=1e-5)
    int8 = convert_to_quantized(model, tessera.load_preset("digital_int8"))
    with pytest.raises(tessera.ModelError, match="already has 8-bit weights"):
        convert_to_analog(int8)


def test_strict_conversion_names_what_would_stay_digital():
    class Gate(nn.Module):  # a user's module that multiplies by its own parameter
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(4, 4))

        def forward(self, x):
            return x @ self.weight

    model = nn.Sequential(nn.Embedding(10, 4), Gate(), nn.Linear(4, 2))
    with pytest.raises(tessera.ModelError, match=r"2 module\(s\) with weights would stay digital without being "
                                                 r"excluded.*\n  0 \(Embedding\): stays digital: Embedding has no "
                                                 r"analog implementation\n  1 \(Gate\)"):
        convert_to_analog(model, strict=True)
    converted = convert_to_analog(model, strict=True, exclude_modules=["0", "1"])
    assert isinstance(converted[2], AnalogLinear)
    rows = {row["module"]: row for row in convert_to_analog(model).tessera_conversion_report}
    assert rows["1"]["rule"] == "stays digital: type Gate is not one tessera converts (its parameters stay digital)"


def test_batch_norm_folding_keeps_the_function_and_the_export_consistent(tmp_path):
    model, x = model_zoo.build("resnet")
    folded, pairs = fold_batch_norms(model)
    assert ("bn1", "conv1") in pairs and len(pairs) == 10
    assert isinstance(folded.bn1, nn.Identity)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)
    int8 = tessera.load_preset("digital_int8")
    calibration = model_zoo.build("resnet", batch=32, seed=1)[1]
    for fold, works in [(True, True), (False, False)]:
        quantized = convert_to_quantized(model, int8, fold_batch_norms=fold)
        with compute_encodings(quantized):
            quantized(calibration)
        if works:
            files = export_onnx(quantized, x, str(tmp_path / "folded.onnx"))
            assert Path(files["encodings"]).exists()
        else:  # torch.onnx folds the BatchNorms into weights the encodings were not computed on
            with pytest.raises(tessera.ModelError, match="weight encodings do not cover the weights"):
                export_onnx(quantized, x, str(tmp_path / "unfolded.onnx"))
            assert not (tmp_path / "unfolded.encodings.json").exists()
    with pytest.raises(ValueError, match="in training mode: folding uses the running statistics"):
        fold_batch_norms(model.train())


def test_weights_an_mse_estimator_clips_on_purpose_export(tmp_path):
    # W4A8 with MSE-calibrated weights clips outliers by design; export refused it as stale
    # encodings (found by the docs' runnable example). Unfolded BatchNorms are still refused.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 26 * 26, 10)).eval()
    with torch.no_grad():
        model[3].weight[:, 0] = 0.2  # one outlier per row of 5,408 weights within +-0.014: MSE clips it
    x = torch.randn(16, 1, 28, 28)
    w4 = tessera.load_preset("digital_int4_w_int8_a")
    quantized = convert_to_quantized(model, w4)
    with compute_encodings(quantized):
        quantized(x)
    q = quantized[3].weight_quantizers()[0]
    weight = quantized[3].weight.detach().numpy()
    low, high, step = (np.asarray(v, np.float32).reshape(10, 1) for v in (q.min, q.max, q.scale))
    assert (np.maximum(low - weight, weight - high) > 0.5 * step).any()  # the estimator did clip
    files = export_onnx(quantized, x, str(tmp_path / "w4.onnx"))
    assert Path(files["encodings"]).exists()
    resnet, resnet_x = model_zoo.build("resnet")
    unfolded = convert_to_quantized(resnet, w4, fold_batch_norms=False)
    with compute_encodings(unfolded):
        unfolded(resnet_x)
    with pytest.raises(tessera.ModelError, match="weight encodings do not cover the weights"):
        export_onnx(unfolded, resnet_x, str(tmp_path / "unfolded.onnx"))


def test_onnx_batch_norms_fold_into_the_layer_before(tmp_path):
    model, x = model_zoo.build("cnn1d")
    path = tmp_path / "bn.onnx"
    torch.onnx.export(model, x, str(path), training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      opset_version=13)
    core = tessera.Model.load_onnx(str(path))
    assert [m["type"] for m in core.modules].count("BatchNorm1d") == 2
    folded, pairs = tessera.fold_batch_norms(core)
    assert pairs == [("features.1", "features.0"), ("features.5", "features.4")]
    assert "BatchNorm1d" not in [m["type"] for m in folded.modules]
    np.testing.assert_allclose(folded.forward(x.numpy()), core.forward(x.numpy()), rtol=1e-5, atol=1e-6)


def test_integer_inputs_go_to_models_that_take_indices(tmp_path):
    model, tokens = model_zoo.build("lstm")
    core = export(model, tokens, tmp_path / "lstm.onnx")
    with torch.no_grad():
        np.testing.assert_allclose(core.forward(tokens.numpy()), model(tokens).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(core.forward(tokens.numpy().astype(np.int32)), model(tokens).numpy(), rtol=1e-5,
                                   atol=1e-6)
    with pytest.raises(tessera.ModelError, match="input 'input' holds int64 values, found float values"):
        core.forward(tokens.numpy().astype(np.float32))
    mlp, x = model_zoo.build("mlp")
    core = export(mlp, x, tmp_path / "mlp.onnx")
    with pytest.raises(tessera.ModelError, match="input 'input' holds float values, found int64 values"):
        core.forward(np.ones((2, 20), dtype=np.int64))
    with pytest.raises(ValueError, match="beyond 2\\^24"):
        core.forward(np.full((2, 20), 2**30, dtype=np.int64))


def test_torch_takes_per_layer_configs_and_a_conversion_map():
    class MyAnalogLinear(AnalogLinear):
        pass

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    perfect = tessera.load_preset("ideal")
    analog = convert_to_analog(model, tessera.InferenceRPUConfig(), instance_rpu_configs={"2": perfect},
                               conversion_map={nn.Linear: MyAnalogLinear})
    assert type(analog[0]) is MyAnalogLinear and type(analog[2]) is MyAnalogLinear
    assert analog[2].rpu_config == perfect and analog[0].rpu_config == tessera.InferenceRPUConfig()
    rows = {row["module"]: row["rule"] for row in analog.tessera_conversion_report}
    assert rows["0"] == "module type" and rows["2"] == "instance_rpu_configs"
    with pytest.raises(ValueError, match="conversion_map: 'Embedding' is not a type with an analog implementation"):
        convert_to_analog(model, conversion_map={nn.Embedding: MyAnalogLinear})
    with pytest.raises(tessera.ModelError, match="instance_rpu_configs: '1' is a ReLU, which has no analog"):
        convert_to_analog(model, instance_rpu_configs={"1": perfect})


def test_activation_fusion_finds_the_same_pairs_on_both_paths_and_moves_the_quantizer(tmp_path):
    # ResNet: conv1 of each block and the stem feed their ReLU; conv2 and the downsample feed an
    # add. MobileNet: every conv of a _conv_bn ends in ReLU6 or Hardswish; the projection does not.
    expected = {
        "resnet": {("conv1", "relu"), ("layer1.0.conv1", "layer1.0.relu"), ("layer1.1.conv1", "layer1.1.relu"),
                   ("layer2.0.conv1", "layer2.0.relu"), ("layer2.1.conv1", "layer2.1.relu")},
        "mobilenet": {("features.0.0", "features.0.2"), ("features.1.conv.0.0", "features.1.conv.0.2"),
                      ("features.1.conv.1.0", "features.1.conv.1.2"), ("features.2.conv.0.0", "features.2.conv.0.2"),
                      ("features.2.conv.1.0", "features.2.conv.1.2"), ("features.3.0", "features.3.2")},
    }
    int8 = tessera.load_preset("digital_int8")
    for name, pairs in expected.items():
        model, x = model_zoo.build(name)
        folded, _ = fold_batch_norms(model)
        assert set(tessera.torch.activation_pairs(folded)) == pairs, name
        core, _ = tessera.fold_batch_norms(export(model, x, tmp_path / f"{name}.onnx"))
        assert set(tessera.activation_pairs(core)) == pairs, name
        fused = convert_to_quantized(model, int8, fuse_activations=True)
        rows = {row["module"]: row for row in fused.tessera_conversion_report}
        for layer, activation in pairs:
            assert f"fused: output quantized after {activation}" in rows[layer]["rule"], rows[layer]
            assert not fused.tessera_plan.find(layer).quantizes_outputs
            assert fused.tessera_plan.find(activation).quantizes_outputs
        # The same plan decisions on the ONNX path.
        onnx_fused, onnx_pairs = tessera.fuse_activations(tessera.convert_onnx_to_quantized(core, int8), int8)
        assert set(onnx_pairs) == pairs
        for layer, _ in pairs:
            assert onnx_fused.plan.find(layer).rule == fused.tessera_plan.find(layer).rule


def test_fused_torch_and_onnx_models_compute_the_same(tmp_path):
    model, x = model_zoo.build("mobilenet", batch=16)
    int8 = tessera.load_preset("digital_int8")
    fused = convert_to_quantized(model, int8, fuse_activations=True)
    with compute_encodings(fused):
        fused(x)
    core, _ = tessera.fold_batch_norms(export(model, x, tmp_path / "mobilenet.onnx"))
    onnx_fused, _ = tessera.fuse_activations(tessera.convert_onnx_to_quantized(core, int8), int8)
    onnx_fused.compute_encodings(lambda m: m.forward(x.numpy()))
    with torch.no_grad():
        expected = fused(x).numpy()
    np.testing.assert_allclose(onnx_fused.forward(x.numpy()), expected, rtol=1e-4, atol=1e-4)


def test_cross_layer_equalization_of_an_onnx_model(tmp_path):
    # The model zoo's MobileNet: expand -> ReLU6 -> depthwise -> ReLU6 -> project in each block.
    model, x = model_zoo.build("mobilenet", batch=8)
    core, _ = tessera.fold_batch_norms(export(model, x, tmp_path / "mobilenet.onnx"))
    equalized, report = tessera.cross_layer_equalization(core)
    pairs = [(p["first"], p["second"]) for p in report["pairs"]]
    assert ("features.1.conv.0.0", "features.1.conv.1.0") in pairs  # pointwise -> depthwise
    assert ("features.1.conv.1.0", "features.1.conv.2") in pairs    # depthwise -> pointwise
    assert ("features.2.conv.2", "features.3.0") in pairs         # projection -> conv, nothing between
    assert len(pairs) == 5 and len(report["relu6_replaced"]) == 4
    assert all(p["spread_before"] >= 1.0 for p in report["pairs"])
    # AIMET's ReLU6 -> ReLU changes the function only where activations pass 6, which none of
    # this model's do: the outputs agree to float rounding (measured 9e-8 of 0.39).
    expected = core.forward(x.numpy())
    assert np.abs(equalized.forward(x.numpy()) - expected).max() < 1e-5 * np.abs(expected).max()
    with pytest.raises(tessera.ModelError, match="equalize before converting"):
        tessera.cross_layer_equalization(tessera.convert_onnx_to_quantized(core, tessera.load_preset("digital_int8")))


def test_bias_correction_of_an_onnx_model(tmp_path):
    model, x = model_zoo.build("resnet", batch=32)
    core, _ = tessera.fold_batch_norms(export(model, x, tmp_path / "resnet.onnx"))
    w4 = tessera.QuantizationMap.from_yaml("module_qconfig_map: {Conv2d: {module_qconfig: {weight_quant: {n_bits: 4}}},"
                                           " Linear: {module_qconfig: {weight_quant: {n_bits: 4}}}}")
    quantized = tessera.convert_onnx_to_quantized(core, w4)
    corrected, report = tessera.correct_biases(quantized, x.numpy(), batch_size=16)
    assert [row["module"] for row in report][:2] == ["conv1", "layer1.0.conv1"]
    assert all(row["largest_shift"] >= row["mean_abs_shift"] > 0 for row in report)
    # Corrected on these samples, the mean logit per class moves to the float model's.
    float_mean = core.forward(x.numpy()).mean(0)
    assert np.abs(corrected.forward(x.numpy()).mean(0) - float_mean).max() < 1e-4
    assert np.abs(quantized.forward(x.numpy()).mean(0) - float_mean).max() > 1e-3
    with pytest.raises(tessera.ModelError, match="quantizes no Conv or Gemm weights"):
        tessera.correct_biases(core, x.numpy())
    # Analytical where a folded BatchNorm (through a ReLU) feeds the layer: a block's second conv.
    # torch.onnx.export in eval mode folds BatchNorms itself, statistics lost: every layer measured.
    _, analytical = tessera.correct_biases(quantized, x.numpy(), batch_size=16, method="analytical")
    assert {row["method"] for row in analytical} == {"empirical"}
    with torch.enable_grad():
        torch.onnx.export(model, x, str(tmp_path / "kept.onnx"), opset_version=13, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
    kept, _ = tessera.fold_batch_norms(tessera.Model.load_onnx(str(tmp_path / "kept.onnx")))
    _, analytical = tessera.correct_biases(tessera.convert_onnx_to_quantized(kept, w4), x.numpy(), batch_size=16,
                                           method="analytical")
    methods = {row["module"]: row["method"] for row in analytical}
    assert methods["conv1"] == "empirical" and methods["layer1.0.conv2"] == "analytical", methods
    with pytest.raises(ValueError, match="method is 'empirical' or 'analytical', found 'exact'"):
        tessera.correct_biases(quantized, x.numpy(), method="exact")


def test_adaround_of_an_onnx_model(tmp_path):
    model, x = model_zoo.build("cnn1d", batch=32)
    core = export(model, x, tmp_path / "cnn1d.onnx")
    core, _ = tessera.fold_batch_norms(core)
    w4 = tessera.QuantizationMap.from_yaml("module_qconfig_map: {Conv1d: {module_qconfig: {weight_quant: {n_bits: 4}}},"
                                           " Linear: {module_qconfig: {weight_quant: {n_bits: 4}}}}")
    quantized = tessera.convert_onnx_to_quantized(core, w4)
    rounded, report = tessera.adaround(quantized, x.numpy(), batch_size=16)
    assert [row["module"] for row in report] == [m["name"] for m in core.modules if m["type"] in ("Conv1d", "Linear")]
    for row in report:  # measured: 0.041 -> 0.040, 0.078 -> 0.034, 0.0025 -> 0.0021
        assert row["adaround_error"] < row["nearest_error"], row
    # Mean |output - float| on these samples: measured 0.031 -> 0.013.
    assert np.abs(rounded.forward(x.numpy()) - core.forward(x.numpy())).mean() < \
        0.7 * np.abs(quantized.forward(x.numpy()) - core.forward(x.numpy())).mean()
    with pytest.raises(tessera.ModelError, match="parameters out of range"):
        tessera.adaround(quantized, x.numpy(), warm_start=1.5)
