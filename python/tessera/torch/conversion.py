"""convert_to_analog / convert_to_quantized on any torch model, by the C++ core's conversion plan.

The model's modules are described (dotted name from named_modules(), torch class, whether it
holds parameters of its own), tessera.plan_analog / plan_quantized decide what each becomes by
the rules that also convert ONNX models (exclusion > instance > type; a name excludes its
subtree), and this module builds that. The plan is kept on the model as `tessera_plan`, so a
second conversion composes with the first, and `tessera_conversion_report` lists every module:
what it became, or why it stayed as it was.

Types are torch class names. A subclass of a torch layer that does not override forward (torch's
NonDynamicallyQuantizableLinear) counts as that layer; one that does is its own type, which no
rule converts, and a module of it holding weights is reported (and refused with strict=True).
"""
import copy
from typing import Dict, Iterable, Mapping, Optional, Union

from torch import nn

from .. import _core
from .._onnx_conversion import with_key
from .analog import ANALOG_TYPES, AnalogLayer, AnalogLinear
from .analog_model import with_analog_methods
from .attention import MultiheadAttention
from .batch_norm import fold_batch_norms
from .fusion import activation_pairs
from .layers import float_layer
from .quantized import (QUANT_TYPES, QuantizedInputModule, QuantizedModule, QuantizedOutputModule,
                        quantized_attention, reset_calls)

_VOCABULARY = frozenset(_core.torch_module_types())


def _is_torch_class(cls):
    return cls.__module__.startswith("torch.nn")


def module_type(module: nn.Module) -> str:
    """The type name a module has in plans and maps (module_types.hpp's vocabulary)."""
    cls = type(module)
    if isinstance(module, MultiheadAttention):
        return "MultiheadAttention"
    if cls.__name__ in _VOCABULARY and _is_torch_class(cls):
        return cls.__name__
    for base in cls.__mro__[1:]:
        if base.__name__ in _VOCABULARY and _is_torch_class(base) and cls.forward is base.forward:
            return base.__name__
    if cls.__name__ in _VOCABULARY:  # a user's class named like a torch layer: not that layer
        return f"{cls.__module__}.{cls.__qualname__}"
    return cls.__name__


def _described(model):
    """(name, type, holds_weights) of every module below the root (the root itself when it is
    a single layer)."""
    modules = [(name, m) for name, m in model.named_modules() if name]
    if not modules:
        modules = [("", model)]
    return [(name, module_type(m), any(p is not None for p in m._parameters.values())) for name, m in modules]


def _plan_of(model):
    plan = getattr(model, "tessera_plan", None)
    if plan is not None:
        return plan
    return _core.ConversionPlan(_described(model), type(model).__name__)


def _child(module, part):
    """A child by name, seeing through tessera's wrappers (QuantizedOutputModule.module)."""
    while True:
        if part in module._modules:
            return module._modules[part]
        if isinstance(module, QuantizedOutputModule):
            module = module.module
            continue
        raise AttributeError(f"{type(module).__name__} has no submodule '{part}'")


def _parent_of(model, name):
    parent = model
    parts = name.split(".")
    for part in parts[:-1]:
        parent = _child(parent, part)
    while parts[-1] not in parent._modules and isinstance(parent, QuantizedOutputModule):
        parent = parent.module
    return parent, parts[-1]


def _get(model, name):
    if not name:
        return model
    parent, last = _parent_of(model, name)
    return _child(parent, last)


def logical_modules(module, name=""):
    """(name, module) of a converted model under the names the float model had: a wrapper
    (QuantizedOutputModule) stands at its module's name and its module's children are its own;
    the projections tessera's MultiheadAttention adds are part of the attention."""
    yield name, module
    inner = module
    while isinstance(inner, QuantizedOutputModule):
        inner = inner.module
    hidden = set(inner.projection_names()) if isinstance(inner, MultiheadAttention) else set()
    for child_name, child in inner._modules.items():
        if child is not None and child_name not in hidden:
            yield from logical_modules(child, f"{name}.{child_name}" if name else child_name)


def _replace(model, name, new_module):
    """Puts new_module at `name`; returns the (possibly new) root."""
    if not name:
        return new_module
    parent, last = _parent_of(model, name)
    setattr(parent, last, new_module)
    return model


def _same_layers(a, b):
    return a.analog == b.analog and a.quantization == b.quantization and a.input_quantization == b.input_quantization


def _build(module, entry, seed, backend, conversion_map):
    """The module an entry of the plan asks for, from the float module."""
    qconfig = entry.qconfig
    input_qconfig = entry.input_quantization
    if entry.analog is not None:
        if entry.type == "MultiheadAttention":
            layer = module if isinstance(module, MultiheadAttention) else MultiheadAttention(module)
            names = layer.projection_names()
            for name in names:
                tile_name = entry.module if len(names) == 1 else f"{entry.module}.{name}"
                setattr(layer, name, AnalogLinear.from_digital(getattr(layer, name), entry.analog, seed, tile_name,
                                                               backend))
        else:
            layer = conversion_map[entry.type].from_digital(module, entry.analog, seed, entry.module, backend)
        if qconfig is not None or input_qconfig is not None:
            layer = QuantizedOutputModule(layer, qconfig, input_qconfig)
        return layer
    if qconfig is not None:
        if entry.type == "MultiheadAttention":
            layer = module if isinstance(module, MultiheadAttention) else MultiheadAttention(module)
            return quantized_attention(layer, qconfig, input_qconfig)
        if entry.type in QUANT_TYPES:
            return QUANT_TYPES[entry.type].from_float(module, qconfig, input_qconfig)
        return QuantizedOutputModule(module, qconfig, input_qconfig)
    if input_qconfig is not None:
        return QuantizedInputModule(module, input_qconfig)
    return module


def _execute(model, plan, previous, backend="cpu", conversion_map=None):
    """Builds what the plan changed against `previous`; returns the (possibly new) root."""
    conversion_map = conversion_map or ANALOG_TYPES
    for entry in plan.modules:
        old = previous.find(entry.module)
        if old is not None and _same_layers(entry, old):
            continue
        current = _get(model, entry.module)
        new = _build(float_layer(current), entry, plan.analog_seed, backend, conversion_map)
        _keep_calibration(current, new, old, entry)
        model = _replace(model, entry.module, new)
    model = _call_converted_projections(model)
    _disable_fast_paths(model, plan)
    if not getattr(model, "tessera_counts_calls", False):
        model.register_forward_pre_hook(reset_calls)
        model.tessera_counts_calls = True
    model.tessera_plan = plan
    return model


def _keep_calibration(current, new, old, entry):
    """A module rebuilt by a later conversion keeps its calibrated activation quantizers where
    the plan keeps their configs."""
    if old is None or not isinstance(current, QuantizedModule) or not isinstance(new, QuantizedModule):
        return
    if old.quantization == entry.quantization:
        new.output_quantizers = current.output_quantizers
    if old.input_quantization == entry.input_quantization:
        new.input_quantizers = current.input_quantizers


def _call_converted_projections(model):
    """torch's nn.MultiheadAttention multiplies by out_proj.weight itself: one whose out_proj is
    converted runs as tessera's MultiheadAttention, which calls out_proj as a module."""
    for name, module in list(logical_modules(model)):
        if isinstance(module, nn.MultiheadAttention) and isinstance(module.out_proj, (AnalogLayer, QuantizedModule)):
            model = _replace(model, name, MultiheadAttention(module))
    return model


def _disable_fast_paths(model, plan):
    """torch's fused TransformerEncoderLayer kernel (eval mode, no grad) reads linear1, linear2
    and the attention weights directly and would skip converted layers: a layer with converted
    modules inside takes torch's ordinary path, which calls them."""
    converted = [m.module for m in plan.modules if m.is_converted]
    for name, module in model.named_modules():
        if not isinstance(module, nn.TransformerEncoderLayer):
            continue
        inside = any(_core.in_subtree(c, name) for c in converted) if name else bool(converted)
        if inside and module.activation_relu_or_gelu:
            module.tessera_fused_activation = module.activation_relu_or_gelu  # restored by export's float twin
            module.activation_relu_or_gelu = 0


def _report(model, plan):
    """The plan's rows, with what tessera.torch adds: attention products stay digital, fast
    paths disabled, BatchNorms folded."""
    folded = getattr(model, "tessera_folded_batch_norms", {})
    rows = plan.rows()
    for row in rows:
        if row["module"] in folded:
            row["rule"] = f"folded into {folded[row['module']]}"
        if row["type"] == "MultiheadAttention" and row["became"] != "unchanged":
            row["rule"] += "; the attention products (QK^T, softmax, AV) stay digital"
        elif row["type"] == "MultiheadAttention" and isinstance(_get_or_none(model, row["module"]), MultiheadAttention):
            row["rule"] += "; runs as tessera's MultiheadAttention so that its converted out_proj is called"
        module = _get_or_none(model, row["module"])
        if isinstance(module, nn.TransformerEncoderLayer) and hasattr(module, "tessera_fused_activation"):
            row["rule"] += "; torch's fused fast path disabled (it would skip the converted layers)"
    return rows


def _get_or_none(model, name):
    try:
        return _get(model, name)
    except AttributeError:
        return None


def _check_module(module, function):
    if not isinstance(module, nn.Module):
        raise TypeError(f"{function}: expected a torch.nn.Module, found {type(module).__name__}")


def _names(value, what):
    if isinstance(value, str):
        return [value]
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what}: expected module names (str), found {type(name).__name__} {name!r}")
    return names


def _analog_types(conversion_map):
    """{type name: analog class} from aihwkit-style {torch class (or name): analog class}."""
    if conversion_map is None:
        return dict(ANALOG_TYPES)
    types = dict(ANALOG_TYPES)
    for key, analog in conversion_map.items():
        name = key.__name__ if isinstance(key, type) else key
        if name not in ANALOG_TYPES:
            raise ValueError(f"conversion_map: {name!r} is not a type with an analog implementation "
                             f"({', '.join(sorted(ANALOG_TYPES))})")
        if not (isinstance(analog, type) and hasattr(analog, "from_digital")):
            raise TypeError(f"conversion_map[{name}]: expected an analog layer class with from_digital, found "
                            f"{analog!r}")
        types[name] = analog
    return types


def convert_to_analog(module: nn.Module, rpu_config: Optional[_core.InferenceRPUConfig] = None,
                      exclude_modules: Iterable[str] = (), inplace: bool = False, seed: int = 0, backend: str = "cpu",
                      instance_rpu_configs: Optional[Dict[str, _core.InferenceRPUConfig]] = None,
                      module_types: Optional[Iterable[str]] = None,
                      conversion_map: Optional[Mapping[Union[type, str], type]] = None,
                      strict: bool = False) -> nn.Module:
    """Puts the weight products of a torch model on analog tiles, by the conversion plan.

    rpu_config: an InferenceRPUConfig (default: aihwkit's defaults, the pcm_inference preset).
    exclude_modules: dotted names whose subtrees stay digital.
    instance_rpu_configs: {module name: InferenceRPUConfig} for single layers.
    module_types: the torch types converted (default: Linear, Conv1d/2d/3d, LSTM, GRU, RNN,
    MultiheadAttention: all that have an analog implementation).
    conversion_map: {torch class or type name: analog class} overriding tessera's own (aihwkit's
    argument of that name), e.g. {nn.Linear: MyAnalogLinear}.
    strict: refuse (ModelError) when a module with a weight matrix would stay digital without
    being excluded (an Embedding, a type not in module_types, a class of the user's own).
    Each layer's noise comes from (seed, its name), so the same seed gives the same model
    whatever else is converted. backend: "cpu" or "cuda".
    Returns the converted model (a deep copy unless inplace) with `tessera_plan` and
    `tessera_conversion_report` and aihwkit's methods: model.program_analog_weights(),
    model.drift_analog_weights(t), model.analog_layers(), model.get_weights(). An earlier
    conversion of the model is kept where it does not conflict.
    """
    _check_module(module, "convert_to_analog")
    exclude = _names(exclude_modules, "exclude_modules")
    rpu_config = _core.InferenceRPUConfig() if rpu_config is None else rpu_config
    if not isinstance(rpu_config, _core.InferenceRPUConfig):
        raise TypeError(f"rpu_config: expected a tessera.InferenceRPUConfig, found {type(rpu_config).__name__}")
    instances = dict(instance_rpu_configs or {})
    types = None if module_types is None else set(_names(module_types, "module_types"))
    conversion = _analog_types(conversion_map)
    model = module if inplace else copy.deepcopy(module)
    previous = _plan_of(model)
    try:
        plan = _core.plan_analog(previous, rpu_config, exclude, instances, types, int(seed), bool(strict))
    except _core.ModelError as error:
        raise with_key(error, "exclude", "exclude_modules") from None
    model = _execute(model, plan, previous, backend, conversion)
    model.tessera_conversion_report = _report(model, plan)
    return with_analog_methods(model)


def convert_to_quantized(module: nn.Module, quantization_map: _core.QuantizationMap, inplace: bool = False,
                         strict: bool = False, fold_batch_norms: bool = True,
                         fuse_activations: bool = False) -> nn.Module:
    """Fake-quantizes a torch model by a QuantizationMap (exclusion > instance > type).

    Linear, Conv1d/2d/3d (grouped too), Embedding, LSTM, GRU and RNN become their Quant twins
    (weight and output quantizers), MultiheadAttention quantizes its projections' weights and its
    result, other modules are wrapped in a QuantizedOutputModule; a module named in
    input_activation_qconfig_map also quantizes its input. fold_batch_norms (default) first folds
    every BatchNorm that follows a Conv or Linear into it (AIMET's fold_all_batch_norms), so the
    weight encodings are those of the weights an ONNX export holds. strict: refuse when a module
    with a weight matrix keeps float weights without being excluded. fuse_activations: a Linear/Conv
    whose output only a ReLU, ReLU6, Hardtanh or Hardswish module reads quantizes once, after the
    activation (torch.ao's ConvReLU2d, AIMET's supergroups); the report's rules say which pairs.
    The map is kept on the model as `tessera_quantization_map`, the plan as `tessera_plan`.
    Then calibrate: ``with compute_encodings(model): model(batch)``.
    """
    _check_module(module, "convert_to_quantized")
    if not isinstance(quantization_map, _core.QuantizationMap):
        raise TypeError("convert_to_quantized: expected a tessera.QuantizationMap, found "
                        f"{type(quantization_map).__name__}")
    model = module if inplace else copy.deepcopy(module)
    if fold_batch_norms and getattr(model, "tessera_plan", None) is None:
        _fold(model)
    previous = _plan_of(model)
    plan = _core.plan_quantized(previous, quantization_map, bool(strict))
    if fuse_activations:
        plan = _core.plan_fused(plan, activation_pairs(model), quantization_map)
    model = _execute(model, plan, previous)
    # export_onnx fuses the C++ twin the same way (the map decides which pairs, as here).
    model.tessera_fuse_activations = bool(fuse_activations) or getattr(model, "tessera_fuse_activations", False)
    model.tessera_quantization_map = quantization_map.copy()
    model.tessera_conversion_report = _report(model, plan)
    return model


def _fold(model):
    folded = fold_batch_norms(model, inplace=True)
    model.tessera_folded_batch_norms = dict(folded)


def _analog_layers(model):
    layers = [m for m in model.modules() if isinstance(m, AnalogLayer)]
    if not layers:
        raise ValueError("the model has no analog layers (convert it with convert_to_analog first)")
    return layers


def program_analog_weights(model: nn.Module) -> None:
    """Programs every analog layer: conductances with programming noise, t = 0."""
    for layer in _analog_layers(model):
        layer.program_analog_weights()


def drift_analog_weights(model: nn.Module, t_inference: float = 0.0) -> None:
    """Drift and read noise of every analog layer t_inference seconds after programming."""
    for layer in _analog_layers(model):
        layer.drift_analog_weights(t_inference)

