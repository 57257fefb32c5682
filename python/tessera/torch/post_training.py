"""AIMET's post-training techniques on torch models:

    model, equalized = tessera.torch.cross_layer_equalization(model, example_input)   # float model
    quantized = tessera.torch.convert_to_quantized(model, qmap, fuse_activations=True)
    with tessera.torch.compute_encodings(quantized): quantized(calibration)
    quantized, rounding = tessera.torch.adaround(quantized, example_input, calibration)
    quantized, shifts = tessera.torch.correct_biases(quantized, example_input, calibration)
    with tessera.torch.compute_encodings(quantized): quantized(calibration)             # as AIMET does after

Each runs the C++ pass (tessera.cross_layer_equalization, adaround, correct_biases) on the
model's ONNX export, the model the sweeps run, and carries what it changed back into the torch
modules by module name, so both front ends hold the same weights and report the same thing.
"""
import copy
import os
import tempfile
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import torch
from torch import nn

from .. import _core
from .batch_norm import fold_batch_norms
from .conversion import _check_module, _get, _replace, logical_modules
from .export import _is_tessera_layer, export_onnx, quantized_twin
from .quantized import _QuantWeightLayer


def _samples(data, what):
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.ndim < 2 or data.shape[0] == 0:
        raise ValueError(f"{what}: expected calibration samples [N, ...] with N >= 1, found shape {data.shape}")
    return data


def _layer(model, name, function):
    try:
        return _get(model, name)
    except (AttributeError, KeyError, IndexError):
        raise ValueError(f"{function}: the ONNX export has a module '{name}' that the torch model lacks "
                         "(a functional call or an op torch merged while exporting)") from None


def _copy_parameters(model, core_model, names, function):
    """Copies each named module's weight (and bias) from the C++ model into the torch module.
    A bias the C++ pass added to a layer without one becomes a new parameter."""
    for name in names:
        layer = _layer(model, name, function)
        tensors = list(core_model.module_weights(name).values())
        with torch.no_grad():
            weight = torch.from_numpy(tensors[0]).to(layer.weight.dtype)
            if weight.shape != layer.weight.shape:
                raise ValueError(f"{function}: '{name}' has a weight of shape {tuple(layer.weight.shape)}, the ONNX "
                                 f"export one of {tuple(weight.shape)}")
            layer.weight.copy_(weight)
            if len(tensors) > 1:
                bias = torch.from_numpy(tensors[1]).to(layer.weight.dtype)
                if layer.bias is None:
                    layer.bias = nn.Parameter(bias)
                else:
                    layer.bias.copy_(bias)


def cross_layer_equalization(model: nn.Module, example_input: torch.Tensor,
                             inplace: bool = False) -> Tuple[nn.Module, Dict[str, Any]]:
    """Cross-layer equalization (AIMET's equalize_model, Nagel et al. 2019) of a float torch model:
    BatchNorms are folded first (tessera.torch.fold_batch_norms), then each pair of Conv/Linear
    layers joined through ReLU or pooling, depthwise-separable pairs included, is rescaled per
    channel so both weight ranges are equal; a ReLU6 between a pair becomes a ReLU, as in AIMET.
    Returns (model, report) with report {'folded': [(batch norm, layer)], 'pairs': [{'first',
    'second', 'spread_before'}], 'relu6_replaced': [...], 'iterations': n}. Equalize before
    converting: a converted model is refused."""
    _check_module(model, "cross_layer_equalization")
    if any(_is_tessera_layer(m) for _, m in logical_modules(model)):
        raise ValueError("cross_layer_equalization: the model holds converted layers; equalize the float model, "
                         "then convert it")
    model = model if inplace else copy.deepcopy(model)
    folded = fold_batch_norms(model.eval(), inplace=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.onnx")
        export_onnx(model, example_input, path)
        equalized, report = _core.cross_layer_equalization(_core.Model.load_onnx(path))
    changed = list(dict.fromkeys(n for p in report["pairs"] for n in (p["first"], p["second"])))
    _copy_parameters(model, equalized, changed, "cross_layer_equalization")
    for name in report["relu6_replaced"]:
        activation = _layer(model, name, "cross_layer_equalization")
        if not isinstance(activation, (nn.ReLU6, nn.Hardtanh)):
            raise ValueError(f"cross_layer_equalization: '{name}' clamps at 6 in the export but is a "
                             f"{type(activation).__name__} in the model; replace it by a ReLU to equalize")
        model = _replace(model, name, nn.ReLU(inplace=getattr(activation, "inplace", False)))
    report["folded"] = folded
    return model, report


def _quantized_weight_layers(model, function):
    if getattr(model, "tessera_quantization_map", None) is None:
        raise ValueError(f"{function}: convert the model first (tessera.torch.convert_to_quantized) and calibrate "
                         "it (compute_encodings)")
    return {name: m for name, m in logical_modules(model) if isinstance(m, _QuantWeightLayer)}


def _through_core(model, example_input, run):
    """What `run(core_model)` returns for the C++ twin of a converted, calibrated model."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.onnx")
        export_onnx(model, example_input, path)  # refuses uncalibrated encodings
        return run(quantized_twin(model, path))


def correct_biases(model: nn.Module, example_input: torch.Tensor, data: Union[torch.Tensor, np.ndarray], batch_size: int = 256,
                   inplace: bool = False) -> Tuple[nn.Module, List[Dict[str, Any]]]:
    """Empirical bias correction (AIMET's correct_bias) of a converted and calibrated torch model
    on calibration samples `data` [N, ...]: each quantized Conv/Linear's bias absorbs the mean
    per-channel shift of its quantized output from the float output. Returns (model, [{'module',
    'mean_abs_shift', 'largest_shift'}]). Calibrate the activation quantizers again after."""
    _check_module(model, "correct_biases")
    _quantized_weight_layers(model, "correct_biases")
    samples = _samples(data, "correct_biases")
    model = model if inplace else copy.deepcopy(model)
    corrected, rows = _through_core(model, example_input,
                                    lambda core: _core.correct_biases(core, samples, batch_size))
    _copy_parameters(model, corrected, [row["module"] for row in rows], "correct_biases")
    return model, rows


def adaround(model: nn.Module, example_input: torch.Tensor, data: Union[torch.Tensor, np.ndarray], batch_size: int = 256,
             num_iterations: int = 10000, reg_param: float = 0.01, beta_range: Tuple[float, float] = (20.0, 2.0),
             warm_start: float = 0.2, learning_rate: float = 1e-3, seed: int = 0,
             inplace: bool = False) -> Tuple[nn.Module, List[Dict[str, Any]]]:
    """AdaRound (AIMET's apply_adaround, Nagel et al. 2020, AIMET's default hyperparameters) of a
    converted and calibrated torch model's Conv/Linear weights on calibration samples `data`.
    Each rounded layer's weight encodings are frozen (freeze_weight_encodings), as AIMET freezes
    them, so the rounded weights stay on their grid and state_dict keeps it. Returns (model,
    [{'module', 'nearest_error', 'adaround_error', 'undecided', 'flipped'}])."""
    _check_module(model, "adaround")
    _quantized_weight_layers(model, "adaround")
    samples = _samples(data, "adaround")
    model = model if inplace else copy.deepcopy(model)
    layers = _quantized_weight_layers(model, "adaround")

    def run(core):
        rounded, rows = _core.adaround(core, samples, batch_size, num_iterations, reg_param, tuple(beta_range),
                                       warm_start, learning_rate, seed)
        encodings = {row["module"]: rounded.module_encodings(row["module"], "weight") for row in rows}
        return rounded, rows, encodings

    rounded, rows, encodings = _through_core(model, example_input, run)
    names = [row["module"] for row in rows]
    _copy_parameters(model, rounded, names, "adaround")
    for name in names:
        if name not in layers:
            raise ValueError(f"adaround: '{name}' was rounded in the ONNX export but is no quantized Conv/Linear "
                             "of the torch model")
        layers[name].freeze_weight_encodings(*encodings[name])
    return model, rows
