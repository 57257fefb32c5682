"""PyTorch front end: analog and quantized layers backed by tessera's C++ tiles and quantizers.

Names follow aihwkit (AnalogLinear, convert_to_analog, program_analog_weights,
drift_analog_weights) and AIMET (QuantLinear, QuantizedInputModule, compute_encodings).
"""
from .analog import AnalogConv1d, AnalogConv2d, AnalogLinear, AnalogLayer
from .conversion import convert_to_analog, convert_to_quantized, drift_analog_weights, program_analog_weights
from .export import export_onnx
from .quantized import (
    QuantConv1d,
    QuantConv2d,
    QuantLinear,
    QuantizedInputModule,
    QuantizedOutputModule,
    compute_encodings,
)

__all__ = [
    "AnalogLayer",
    "AnalogLinear",
    "AnalogConv1d",
    "AnalogConv2d",
    "convert_to_analog",
    "program_analog_weights",
    "drift_analog_weights",
    "QuantLinear",
    "QuantConv1d",
    "QuantConv2d",
    "QuantizedInputModule",
    "QuantizedOutputModule",
    "convert_to_quantized",
    "compute_encodings",
    "export_onnx",
]
