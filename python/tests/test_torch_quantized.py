import numpy as np
import pytest
import torch
from torch import nn

import tessera
from tessera.torch import (QuantConv2d, QuantizedInputModule, QuantizedOutputModule, QuantLinear,
                           compute_encodings, convert_to_quantized, export_onnx)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).flatten(1))


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Block()
        self.tail = nn.Sequential(nn.ReLU(), nn.Linear(10, 5))

    def forward(self, x):
        return self.tail(self.stem(x))


def _map(yaml_text):
    return tessera.QuantizationMap.from_yaml(yaml_text)


PRIORITY_MAP = """
module_qconfig_map:
  Linear: {module_qconfig: {weight_quant: {n_bits: 8}, activation_quant: {n_bits: 8, symmetric: false}}}
  Conv2d: {module_qconfig: {weight_quant: {n_bits: 8}, activation_quant: {n_bits: 8, symmetric: false}}}
instance_qconfig_map:
  tail.1: {module_qconfig: {weight_quant: {n_bits: 4}, activation_quant: {n_bits: 6, symmetric: false}}}
  stem.fc: {module_qconfig: {weight_quant: {n_bits: 3}}}
input_activation_qconfig_map:
  stem.conv: {n_bits: 8, symmetric: false}
excluded_modules: [stem.fc]
"""


def test_priority_exclusion_over_instance_over_type_on_a_nested_model():
    model = convert_to_quantized(Nested(), _map(PRIORITY_MAP))
    rules = {row["module"]: (row["became"], row["rule"]) for row in model.tessera_conversion_report}
    assert type(model.stem.fc) is nn.Linear  # excluded although instance_qconfig_map names it
    assert rules["stem.fc"] == ("unchanged", "excluded_modules: stem.fc")
    assert isinstance(model.tail[1], QuantLinear) and model.tail[1].weight_quantizer.bitwidth == 4  # instance
    assert model.tail[1].output_quantizer.bitwidth == 6
    assert isinstance(model.stem.conv, QuantConv2d) and model.stem.conv.weight_quantizer.bitwidth == 8  # type
    assert model.stem.conv.input_quantizer is not None
    assert rules["stem.conv"] == ("QuantizedInputModule(QuantConv2d)",
                                  "module_qconfig_map[Conv2d], input_activation_qconfig_map")
    assert type(model.stem.act) is nn.ReLU and rules["stem.act"][0] == "unchanged"


def test_priority_matches_the_cpp_conversion_of_the_exported_model(tmp_path):
    model = Nested().eval()
    x = torch.randn(4, 3, 6, 6)
    path = str(tmp_path / "nested.onnx")
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"])
    _, cpp_report = tessera.convert_to_quantized(tessera.Model.load_onnx(path), _map(PRIORITY_MAP))
    torch_report = convert_to_quantized(model, _map(PRIORITY_MAP)).tessera_conversion_report
    leaves = {row["module"] for row in cpp_report}
    assert {r["module"]: r["became"] for r in cpp_report} == \
        {r["module"]: r["became"] for r in torch_report if r["module"] in leaves}


def test_unknown_names_in_the_map_are_refused_with_the_module_list():
    with pytest.raises(tessera.ModelError, match=r"instance_qconfig_map: 'tail.7' is not a module of Nested "
                                                 r"\(modules: stem, stem.conv"):
        convert_to_quantized(Nested(), _map("instance_qconfig_map: {tail.7: {}}"))
    with pytest.raises(tessera.ModelError, match="excluded_modules: 'stem.fc2' is not a module of Nested"):
        convert_to_quantized(Nested(), _map("excluded_modules: [stem.fc2]"))
    with pytest.raises(TypeError, match="expected a tessera.QuantizationMap, found dict"):
        convert_to_quantized(Nested(), {})


def test_quant_linear_equals_torch_fake_quantize_bit_for_bit():
    fc = nn.Linear(20, 6)
    qmap = _map("module_qconfig_map: {Linear: {module_qconfig: {weight_quant: {n_bits: 8, per_channel: true}, "
                "activation_quant: {n_bits: 8, symmetric: false}}}}")
    model = convert_to_quantized(nn.Sequential(fc), qmap)
    x = torch.randn(32, 20)
    with compute_encodings(model):
        model(x)
    layer = model[0]
    wq = layer.weight_quantizer
    weight = torch.fake_quantize_per_channel_affine(fc.weight.detach(), torch.from_numpy(wq.scale),
                                                    torch.tensor(wq.zero_point, dtype=torch.int32), 0,
                                                    int(wq.qmin), int(wq.qmax))
    oq = layer.output_quantizer
    expected = torch.fake_quantize_per_tensor_affine(nn.functional.linear(x, weight, fc.bias.detach()),
                                                     float(oq.scale[0]), int(oq.zero_point[0]), int(oq.qmin),
                                                     int(oq.qmax))
    torch.testing.assert_close(model(x).detach(), expected, rtol=0, atol=0)


def test_straight_through_gradient_passes_inside_the_range_only():
    layer = QuantizedOutputModule(nn.Identity(), _map("default_qconfig: {}").default_qconfig)
    layer.output_quantizer = tessera.QuantizeDequantize(bitwidth=8)
    layer.output_quantizer.set_range([-1.0], [1.0])
    x = torch.tensor([-3.0, -0.5, 0.25, 0.9, 2.0], requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_calibration_is_required_and_aimet_style_callback_works():
    model = convert_to_quantized(Block(), tessera.load_preset("digital_int8"))
    x = torch.randn(8, 3, 6, 6)
    with pytest.raises(Exception, match="compute_encodings"):
        model(x)
    compute_encodings(model, lambda m, batch: m(batch), x)
    assert model.fc.output_quantizer.is_initialized
    with pytest.raises(ValueError, match="no activation quantizers"):
        with compute_encodings(nn.Linear(2, 2)):
            pass


def test_input_only_rule_wraps_the_module():
    model = convert_to_quantized(Block(), _map("input_activation_qconfig_map: {act: {n_bits: 4}}"))
    assert isinstance(model.act, QuantizedInputModule) and model.act.input_quantizer.bitwidth == 4


def test_export_gives_the_cpp_model_the_same_outputs(tmp_path):
    model = convert_to_quantized(Nested().eval(), tessera.load_preset("digital_int8"))
    x = torch.randn(16, 3, 6, 6)
    with compute_encodings(model):
        model(x)
    files = export_onnx(model, x, str(tmp_path / "nested.onnx"))
    assert set(files) == {"onnx", "encodings", "quantization_map"}
    qmap = tessera.QuantizationMap.load(files["quantization_map"])
    cpp, _ = tessera.convert_to_quantized(tessera.Model.load_onnx(files["onnx"]), qmap)
    cpp.load_encodings(files["encodings"])
    with torch.no_grad():
        np.testing.assert_array_equal(cpp(x.numpy()), model(x).numpy())


def test_loading_encodings_that_do_not_fit_is_refused(tmp_path):
    model = convert_to_quantized(Block().eval(), tessera.load_preset("digital_int8"))
    x = torch.randn(4, 3, 6, 6)
    with compute_encodings(model):
        model(x)
    files = export_onnx(model, x, str(tmp_path / "block.onnx"))
    int4, _ = tessera.convert_to_quantized(tessera.Model.load_onnx(files["onnx"]),
                                           tessera.load_preset("digital_int4_w_int8_a"))
    with pytest.raises(tessera.ModelError, match=r"block.encodings.json: param_encodings\..*bitwidth 8 but the "
                                                 r"model quantizes it to 4 bits"):
        int4.load_encodings(files["encodings"])


def test_calibrated_quantized_models_survive_deepcopy_and_torch_save(tmp_path):
    import copy

    model = convert_to_quantized(Block(), tessera.load_preset("digital_int8"))
    x = torch.randn(4, 3, 6, 6)
    with compute_encodings(model):
        model(x)
    torch.save(model, tmp_path / "q.pt")
    with torch.no_grad():
        torch.testing.assert_close(copy.deepcopy(model)(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(torch.load(tmp_path / "q.pt")(x), model(x), rtol=0, atol=0)


def test_export_refusals_name_the_problem(tmp_path):
    from tessera.torch import AnalogLinear, convert_to_analog

    model = convert_to_quantized(Block(), tessera.load_preset("digital_int8"))
    x = torch.randn(2, 3, 6, 6)
    with pytest.raises(ValueError, match="the output quantizer of 'conv' has no encodings yet; calibrate first"):
        export_onnx(model, x, str(tmp_path / "q.onnx"))
    mixed = convert_to_analog(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)), tessera.InferenceRPUConfig())
    mixed[1] = AnalogLinear.from_digital(nn.Linear(4, 2), tessera.load_preset("ideal"))
    with pytest.raises(ValueError, match="the analog layers use different rpu_configs"):
        export_onnx(mixed, torch.randn(1, 4), str(tmp_path / "a.onnx"))
    with pytest.raises(ValueError, match="export a model that contains the converted layer, not the layer alone"):
        export_onnx(AnalogLinear(4, 2), torch.randn(1, 4), str(tmp_path / "l.onnx"))


def test_state_dict_carries_the_calibrated_encodings(tmp_path):
    model = Block()
    x = torch.randn(4, 3, 6, 6)
    quantized = convert_to_quantized(model, tessera.load_preset("digital_int8"))
    with compute_encodings(quantized):
        quantized(x)
    state = quantized.state_dict()
    assert any(key.endswith("output_encodings.0.scale") for key in state)
    fresh = convert_to_quantized(model, tessera.load_preset("digital_int8"))  # never calibrated
    fresh.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), quantized(x), rtol=0, atol=0)
    torch.save(state, tmp_path / "state.pt")
    assert fresh.load_state_dict(torch.load(tmp_path / "state.pt")).missing_keys == []
