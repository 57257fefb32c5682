"""Converting ONNX models (tessera.Model): the same contract as tessera.torch's conversions.

convert_onnx_to_analog / convert_onnx_to_quantized return the converted model (what each module
became: ``model.plan.rows()``) and take ``exclude_modules``, like tessera.torch.convert_to_analog.
The older names tessera.convert_to_analog / convert_to_quantized stay, with their older contract:
they return ``(model, report rows)`` and take ``exclude``.
"""
from typing import Dict, Iterable, List, Optional, Tuple

from . import _core
from ._core import InferenceRPUConfig, Model, ModelError, QuantizationMap

ReportRows = List[Dict[str, str]]


def with_key(error: ModelError, planner_key: str, user_key: str) -> ModelError:
    """The planner names its arguments as sweep files do; a caller who wrote `user_key` reads that."""
    message = str(error)
    if message.startswith(planner_key + ":"):
        return type(error)(user_key + message[len(planner_key):])
    return error


def _analog(model, rpu_config, exclude_modules, instance_rpu_configs, module_types, seed, strict):
    return _core.convert_onnx_to_analog(model, InferenceRPUConfig() if rpu_config is None else rpu_config,
                                        list(exclude_modules), dict(instance_rpu_configs or {}),
                                        None if module_types is None else set(module_types), seed, strict)


def convert_onnx_to_analog(model: Model, rpu_config: Optional[InferenceRPUConfig] = None,
                           exclude_modules: Iterable[str] = (),
                           instance_rpu_configs: Optional[Dict[str, InferenceRPUConfig]] = None,
                           module_types: Optional[Iterable[str]] = None, seed: int = 0,
                           strict: bool = False) -> Model:
    """A copy of an ONNX model with its Linear/Conv/recurrent/attention products on analog tiles
    (on top of any earlier conversion). Arguments as tessera.torch.convert_to_analog's;
    ``converted.plan.rows()`` says what each module became and why."""
    try:
        return _analog(model, rpu_config, exclude_modules, instance_rpu_configs, module_types, seed, strict)
    except ModelError as error:
        raise with_key(error, "exclude", "exclude_modules") from None


def convert_onnx_to_quantized(model: Model, quantization_map: QuantizationMap, strict: bool = False) -> Model:
    """A copy of an ONNX model fake-quantized by the map (exclusion > instance > type), on top of
    any earlier conversion; ``converted.plan.rows()`` says what each module became and why.
    Calibrate with ``converted.compute_encodings(lambda m: m(batch))``."""
    return _core.convert_onnx_to_quantized(model, quantization_map, strict)


def convert_to_analog(model: Model, rpu_config: Optional[InferenceRPUConfig] = None, exclude: Iterable[str] = (),
                      instance_rpu_configs: Optional[Dict[str, InferenceRPUConfig]] = None,
                      module_types: Optional[Iterable[str]] = None, seed: int = 0,
                      strict: bool = False) -> Tuple[Model, ReportRows]:
    """The older name of convert_onnx_to_analog: returns (model, report rows) and takes `exclude`."""
    converted = _analog(model, rpu_config, exclude, instance_rpu_configs, module_types, seed, strict)
    return converted, converted.plan.rows()


def convert_to_quantized(model: Model, quantization_map: QuantizationMap,
                         strict: bool = False) -> Tuple[Model, ReportRows]:
    """The older name of convert_onnx_to_quantized: returns (model, report rows)."""
    converted = convert_onnx_to_quantized(model, quantization_map, strict)
    return converted, converted.plan.rows()
