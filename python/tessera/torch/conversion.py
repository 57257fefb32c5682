"""convert_to_analog / convert_to_quantized on any torch model.

Types match exactly (a subclass of nn.Linear is not an nn.Linear here, as in aihwkit), names are
the dotted names of named_modules(), and a name in an exclusion list excludes its whole subtree.
The QuantizationMap rules (exclusion > instance > type) are the C++ conversion's own function,
so a torch model and its ONNX export are converted alike.
"""
import copy

from torch import nn

from .. import _core
from .analog import ANALOG_TYPES, AnalogLayer
from .quantized import QUANT_TYPES, QuantizedInputModule, QuantizedOutputModule


def _module_names(model):
    return [name for name, _ in model.named_modules() if name]


def _replace(model, name, new_module):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new_module)


def _in_subtree(name, roots):
    return any(_core.in_subtree(name, root) for root in roots)


def convert_to_analog(module, rpu_config=None, exclude_modules=(), inplace=False, seed=0, backend="cpu"):
    """Replaces every nn.Linear, nn.Conv1d and nn.Conv2d by its analog twin.

    rpu_config: an InferenceRPUConfig (default: aihwkit's defaults, the pcm_inference preset).
    exclude_modules: dotted names whose subtrees stay digital. Each layer's noise comes from
    (seed, its name), so the same seed gives the same model whatever else is converted.
    backend: "cpu" or "cuda" (RuntimeError naming the reason when no CUDA device is usable).
    Returns the converted model (a deep copy unless inplace).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"convert_to_analog: expected a torch.nn.Module, found {type(module).__name__}")
    exclude_modules = [exclude_modules] if isinstance(exclude_modules, str) else list(exclude_modules)
    _core.check_module_names("exclude_modules", exclude_modules, _module_names(module), True,
                             type(module).__name__)
    rpu_config = _core.InferenceRPUConfig() if rpu_config is None else rpu_config
    model = module if inplace else copy.deepcopy(module)
    if type(model) in ANALOG_TYPES:
        return ANALOG_TYPES[type(model)].from_digital(model, rpu_config, seed, type(model).__name__, backend)
    for name, child in list(model.named_modules()):
        if name and type(child) in ANALOG_TYPES and not _in_subtree(name, exclude_modules):
            _replace(model, name, ANALOG_TYPES[type(child)].from_digital(child, rpu_config, seed, name, backend))
    return model


def _analog_layers(model):
    layers = [m for m in model.modules() if isinstance(m, AnalogLayer)]
    if not layers:
        raise ValueError("the model has no analog layers (convert it with convert_to_analog first)")
    return layers


def program_analog_weights(model):
    """Programs every analog layer: conductances with programming noise, t = 0."""
    for layer in _analog_layers(model):
        layer.program_analog_weights()


def drift_analog_weights(model, t_inference=0.0):
    """Drift and read noise of every analog layer t_inference seconds after programming."""
    for layer in _analog_layers(model):
        layer.drift_analog_weights(t_inference)


def convert_to_quantized(module, quantization_map, inplace=False):
    """Fake-quantizes a torch model by a QuantizationMap (exclusion > instance > type).

    Linear/Conv1d/Conv2d become QuantLinear/QuantConv1d/QuantConv2d (weight and output
    quantizers); other modules a QuantizedOutputModule; a module named in
    input_activation_qconfig_map also quantizes its input. The map is kept on the model as
    `tessera_quantization_map` and what happened to each module as `tessera_conversion_report`.
    Then calibrate: ``with compute_encodings(model): model(batch)``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"convert_to_quantized: expected a torch.nn.Module, found {type(module).__name__}")
    if not isinstance(quantization_map, _core.QuantizationMap):
        raise TypeError("convert_to_quantized: expected a tessera.QuantizationMap, found "
                        f"{type(quantization_map).__name__}")
    names = _module_names(module)
    source = type(module).__name__
    _core.check_module_names("excluded_modules", quantization_map.get("excluded_modules"), names, True, source)
    for key in ("instance_qconfig_map", "input_activation_qconfig_map"):
        _core.check_module_names(key, list(quantization_map.get(key)), names, False, source)
    model = module if inplace else copy.deepcopy(module)
    report = []
    for name, child in list(model.named_modules()):
        if not name:
            continue
        rule = _core.resolve_quantization(quantization_map, name, type(child).__name__)
        qconfig, input_qconfig = rule["qconfig"], rule["input_quantizer"]
        became = type(child).__name__
        if rule["excluded"] or (qconfig is None and input_qconfig is None) or _inside_converted(name, report):
            report.append({"module": name, "type": became, "became": "unchanged", "rule": rule["rule"]})
            continue
        if qconfig is not None and type(child) in QUANT_TYPES:
            replacement = QUANT_TYPES[type(child)].from_float(child, qconfig, input_qconfig)
            became = rule["quantized_module"] or f"Quant{became}"
        elif qconfig is not None:
            replacement = QuantizedOutputModule(child, qconfig, input_qconfig)
            became = rule["quantized_module"] or f"Quant{became}"
        else:
            replacement = QuantizedInputModule(child, input_qconfig)
        if input_qconfig is not None:
            became = f"QuantizedInputModule({became})"
        _replace(model, name, replacement)
        report.append({"module": name, "type": type(child).__name__, "became": became, "rule": rule["rule"]})
    model.tessera_quantization_map = quantization_map.copy()
    model.tessera_conversion_report = report
    return model


def _inside_converted(name, report):
    """A child of a module already wrapped whole (a container given a qconfig) is left alone."""
    return any(row["became"] != "unchanged" and _core.in_subtree(name, row["module"]) for row in report)
