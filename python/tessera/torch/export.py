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
from typing import Dict, Union
import os

import torch

from .. import _core
from .analog import AnalogLayer
from .attention import MultiheadAttention
from .conversion import _get, _replace, logical_modules
from .layers import float_layer
from .quantized import QuantizedModule


def _is_tessera_layer(module):
    return isinstance(module, (AnalogLayer, QuantizedModule, MultiheadAttention))


def float_twin(model):
    """A copy of the model with every tessera layer replaced by the torch layer it came from.
    torch's fused transformer path stays off: torch.onnx cannot export it."""
    if _is_tessera_layer(model):
        raise ValueError("export_onnx: export a model that contains the converted layer, not the layer alone")
    twin = copy.deepcopy(model)
    replaced = []
    for name, module in list(logical_modules(twin)):
        if name and _is_tessera_layer(module) and not any(_core.in_subtree(name, r) for r in replaced):
            replaced.append(name)
    for name in replaced:  # parents first: a float attention keeps its converted out_proj until then
        twin = _replace(twin, name, float_layer(_get(twin, name)))
    for attribute in ("tessera_plan", "tessera_conversion_report", "tessera_quantization_map",
                      "tessera_folded_batch_norms", "tessera_fuse_activations"):
        twin.__dict__.pop(attribute, None)
    return twin


def _copy_encodings(model, core_model):
    """Carries the torch model's encodings to the C++ model converted from its export, module by
    module. Weights of layers with several weight tensors (recurrent layers, attention) keep the
    encodings the C++ layer computed from the exported weights by the same rule."""
    onnx_modules = {m["name"] for m in core_model.modules}
    for name, module in logical_modules(model):
        if not isinstance(module, QuantizedModule):
            continue
        if name not in onnx_modules:
            raise ValueError(f"export_onnx: '{name}' is quantized, but the ONNX export has no module of that name "
                             "(torch removed or merged it while exporting)")
        quantizers = [("input", q, call) for call, q in enumerate(module.input_quantizers)]
        quantizers += [("output", q, call) for call, q in enumerate(module.output_quantizers)]
        weights = module.weight_quantizers() if hasattr(module, "weight_quantizers") else []
        if len(weights) == 1:
            quantizers.append(("weight", weights[0], 0))
        for role, quantizer, call in quantizers:
            if not quantizer.is_initialized:
                raise ValueError(f"export_onnx: the {role} quantizer of '{name}' has no encodings yet; "
                                 "calibrate first: with compute_encodings(model): model(batch)")
            core_model.set_module_encodings(name, role, quantizer.scale.tolist(), quantizer.zero_point, call)


def quantized_twin(model, onnx_path):
    """The C++ model of a converted and calibrated torch model, from its ONNX export at
    `onnx_path`: converted by the same QuantizationMap (and fused where the torch model is), with
    the torch model's encodings."""
    quantization_map = model.tessera_quantization_map
    core_model = _core.convert_onnx_to_quantized(_core.Model.load_onnx(str(onnx_path)), quantization_map)
    if getattr(model, "tessera_fuse_activations", False):
        core_model, _ = _core.fuse_activations(core_model, quantization_map)
    _copy_encodings(model, core_model)
    core_model.check_weight_encodings()
    return core_model


def export_onnx(model: torch.nn.Module, example_input: torch.Tensor, path: Union[str, os.PathLike],
                opset_version: int = 13) -> Dict[str, str]:
    """Writes `path` (ONNX) and the hardware files beside it; returns {kind: file name}.

    Refuses (ValueError) to write encodings that do not cover the exported weights."""
    base, _ = os.path.splitext(path)
    twin = float_twin(model).eval()
    # Traced with gradients on: under no_grad torch takes its fused attention kernels, which it
    # cannot export.
    with torch.enable_grad():
        torch.onnx.export(twin, example_input, path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset_version)
    written = {"onnx": path}
    quantization_map = getattr(model, "tessera_quantization_map", None)
    if quantization_map is not None:
        core_model = quantized_twin(model, path)
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
