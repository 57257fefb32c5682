"""tessera: accuracy of neural networks on simulated analog and low-precision digital hardware.

The compiled core (`tessera._core`) holds the configs, quantizers, tiles, models and sweeps;
`tessera.torch` (imported on demand, it needs torch) holds the PyTorch modules and conversions.
"""
import os as _os
from typing import Union as _Union

from . import _config
from ._version import __version__
from ._core import (
    ActivationQuantConfig,
    AffineQuantizer,
    AnalogTile,
    AnalogTileArray,
    ConfigError,
    ConversionPlan,
    Dequantize,
    InferenceRPUConfig,
    Model,
    ModelError,
    QuantizationConfig,
    QuantizationMap,
    QuantizedModuleConfig,
    Quantize,
    QuantizeDequantize,
    UnsupportedError,
    WeightQuantConfig,
    correct_biases,
    cross_layer_equalization,
    cuda_availability,
    activation_pairs,
    analyze,
    adaround,
    fold_batch_norms,
    fuse_activations,
    load_idx_dataset,
    per_channel_shape,
    plan_analog,
    plan_fused,
    plan_quantized,
    preset_names,
    run_sweep,
    set_simd_level,
    simd_level,
    supported_simd_level,
    sweep_run_count,
)
from . import _core
from ._onnx_conversion import (convert_onnx_to_analog, convert_onnx_to_quantized, convert_to_analog,
                               convert_to_quantized)
from ._core import load_preset as _load_preset
from .mixed_precision import choose_mixed_precision, mixed_precision_map
from .noise_budget import noise_budget, write_noise_budget
from .sensitivity import sensitivity_from_results, write_sensitivity

# An installed package carries its presets next to it (the build tree uses the source folder).
# Only tessera's own lookup is told: the process environment is left as it is.
_bundled_presets = _os.path.join(_os.path.dirname(__file__), "presets")
if _os.path.isdir(_bundled_presets):
    _core._use_presets_directory(_bundled_presets)

_config_classes = [InferenceRPUConfig, QuantizationMap, QuantizedModuleConfig, QuantizationConfig,
                   ActivationQuantConfig, WeightQuantConfig]
_config.add_attribute_access(_config_classes)
_config.add_field_help(_config_classes)


def load_preset(name_or_path: str) -> _Union[InferenceRPUConfig, QuantizationMap]:
    """A bundled preset by name (see `preset_names()`) or a preset YAML file.

    Returns the InferenceRPUConfig of an analog preset or the QuantizationMap of a digital one.
    """
    preset = _load_preset(name_or_path)
    return preset["analog"] if preset["analog"] is not None else preset["quantization"]


__all__ = [name for name in dir() if not name.startswith("_")]
