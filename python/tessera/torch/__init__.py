"""PyTorch front end: analog and quantized layers backed by tessera's C++ tiles and quantizers.

Names follow aihwkit (AnalogLinear, AnalogLSTM, convert_to_analog, program_analog_weights,
drift_analog_weights) and AIMET (QuantLinear, QuantizedInputModule, compute_encodings,
fold_all_batch_norms as fold_batch_norms). What a model's modules become is decided by the C++
conversion plan, the same rules that convert ONNX models (tessera.ConversionPlan).
"""
from .analog import (AnalogConv1d, AnalogConv2d, AnalogConv3d, AnalogGRU, AnalogLayer, AnalogLinear, AnalogLSTM,
                     AnalogRNN)
from .attention import MultiheadAttention
from .batch_norm import fold_batch_norms
from .fusion import activation_pairs
from .conversion import (convert_to_analog, convert_to_quantized, drift_analog_weights, module_type,
                         program_analog_weights)
from .export import export_onnx
from .layers import float_layer
from .post_training import adaround, correct_biases, cross_layer_equalization
from .quantized import (QuantConv1d, QuantConv2d, QuantConv3d, QuantEmbedding, QuantGRU, QuantizedInputModule,
                        QuantizedOutputModule, QuantLinear, QuantLSTM, QuantRNN, compute_encodings)

__all__ = [
    "AnalogLayer", "AnalogLinear", "AnalogConv1d", "AnalogConv2d", "AnalogConv3d", "AnalogLSTM", "AnalogGRU",
    "AnalogRNN", "MultiheadAttention", "convert_to_analog", "program_analog_weights", "drift_analog_weights",
    "QuantLinear", "QuantConv1d", "QuantConv2d", "QuantConv3d", "QuantEmbedding", "QuantLSTM", "QuantGRU",
    "QuantRNN", "QuantizedInputModule", "QuantizedOutputModule", "convert_to_quantized", "compute_encodings",
    "fold_batch_norms", "activation_pairs", "float_layer", "module_type", "export_onnx",
    "cross_layer_equalization", "correct_biases", "adaround",
]
