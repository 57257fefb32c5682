"""Export a converted torch model so that the C++ side (tessera sweep, tessera.Model) evaluates
the same thing: the float network as ONNX, plus the hardware description next to it.

Written files, for a model exported to `net.onnx`:
- `net.onnx`: the float twin (analog and quantized layers exported as the layers they replace).
- quantized models: `net.encodings.json` (every quantizer's scale/offset, AIMET-style, keyed by
  ONNX tensor name; load with tessera.Model.load_encodings) and `net.quantization.yaml` (the
  QuantizationMap, usable as a sweep's hardware file).
- analog models: `net.rpu_config.yaml` (the layers' InferenceRPUConfig).
"""
import copy
import os

import torch
from torch import nn

from .. import _core
from .analog import AnalogLayer
from .quantized import QuantizedModule, QuantizedOutputModule, _QuantWeightLayer

_FLOAT_BASES = (nn.Linear, nn.Conv1d, nn.Conv2d)


def float_twin(model):
    """A copy of the model with every tessera layer replaced by the torch layer it came from."""
    twin = copy.deepcopy(model)
    if isinstance(twin, (AnalogLayer, _QuantWeightLayer)):
        raise ValueError("export_onnx: export a model that contains the converted layer, not the layer alone")
    for name, module in list(twin.named_modules()):
        if isinstance(module, (AnalogLayer, _QuantWeightLayer)):
            module.__class__ = next(base for base in type(module).__mro__ if base in _FLOAT_BASES)
        elif isinstance(module, QuantizedOutputModule):
            parent_name, _, child = name.rpartition(".")
            setattr(twin.get_submodule(parent_name) if parent_name else twin, child, module.module)
    return twin


def _copy_encodings(model, core_model):
    for name, module in model.named_modules():
        if not isinstance(module, QuantizedModule):
            continue
        for role in ("input", "weight", "output"):
            quantizer = getattr(module, f"{role}_quantizer", None)
            if quantizer is None:
                continue
            if role == "weight":
                module.quantized_weight()  # encodings of the current weights
            if not quantizer.is_initialized:
                raise ValueError(f"export_onnx: the {role} quantizer of '{name}' has no encodings yet; calibrate "
                                 "first: with compute_encodings(model): model(batch)")
            core_model.set_module_encodings(name, role, quantizer.scale.tolist(), quantizer.zero_point)


def export_onnx(model, example_input, path, opset_version=13):
    """Writes `path` (ONNX) and the hardware files beside it; returns {kind: file name}."""
    base, _ = os.path.splitext(path)
    twin = float_twin(model).eval()
    with torch.no_grad():
        torch.onnx.export(twin, example_input, path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset_version)
    written = {"onnx": path}
    quantization_map = getattr(model, "tessera_quantization_map", None)
    if quantization_map is not None:
        core_model, _ = _core.convert_to_quantized(_core.Model.load_onnx(path), quantization_map)
        _copy_encodings(model, core_model)
        written["encodings"] = base + ".encodings.json"
        core_model.save_encodings(written["encodings"])
        written["quantization_map"] = base + ".quantization.yaml"
        quantization_map.save(written["quantization_map"])
    analog = [m for m in model.modules() if isinstance(m, AnalogLayer)]
    if analog:
        configs = {m.rpu_config.to_yaml() for m in analog}
        if len(configs) > 1:
            raise ValueError("export_onnx: the analog layers use different rpu_configs; one file describes one")
        written["rpu_config"] = base + ".rpu_config.yaml"
        analog[0].rpu_config.save(written["rpu_config"])
    return written
