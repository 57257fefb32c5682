"""Analog layers: torch modules whose matrix products run on tessera's simulated tiles.

The weights stay torch Parameters (so optimizers, state_dict and .to() work as usual); the tiles
are refreshed from them whenever they change. Forward runs the tiles' full periphery pipeline;
backward is the ideal one (aihwkit's InferenceTile does the same): the input gradient through the
weights the forward used (with any training-time weight modifier), the weight gradient
grad_output^T x. Tiles are named after the module (grouped convolutions: "<name>.group<g>"),
like the layers of an ONNX model converted in C++, so both draw the same noise streams.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import _core
from ._tiles import TileMatrix, check_finite_parameters, check_floating, im2col
from .recurrent import RecurrentProducts, check_supported, copy_recurrent, recurrent_arguments, weight_names


def _checked_rpu_config(rpu_config):
    if rpu_config is None:
        return _core.InferenceRPUConfig()
    if not isinstance(rpu_config, _core.InferenceRPUConfig):
        raise TypeError(f"rpu_config: expected a tessera.InferenceRPUConfig, found {type(rpu_config).__name__}")
    return rpu_config.copy()


class AnalogLayer:
    """What every analog layer has: an rpu_config, its weight matrices on tile arrays (one
    TileMatrix each, see tile_layout) and the tile lifecycle."""

    def _init_analog(self, rpu_config, seed, name, backend="cpu"):
        self.rpu_config = _checked_rpu_config(rpu_config)
        self.tile_seed = int(seed)
        self.tile_name = name
        self.backend = backend
        self.analog_tiles = [TileMatrix(out_size, in_size, self.rpu_config, self.tile_seed, tile_name, backend)
                             for out_size, in_size, tile_name in self.tile_layout()]

    def tile_layout(self) -> List[Tuple[int, int, str]]:
        """[(out_size, in_size, tile name)] of the layer's weight matrices."""
        raise NotImplementedError

    def tile_parameters(self, k: int) -> Tuple[Tensor, Optional[Tensor]]:
        """(weight view, bias view or None) that tile matrix k holds."""
        raise NotImplementedError

    def _tile_product(self, k, x2d):
        weight, bias = self.tile_parameters(k)
        return self.analog_tiles[k].product(x2d, weight, bias, self.training)

    def set_backend(self, backend: str) -> None:
        """'cpu' or 'cuda': where the tiles compute (RuntimeError when no CUDA device is usable)."""
        for tiles in self.analog_tiles:
            tiles.set_backend(backend)
        self.backend = backend

    def train(self, mode: bool = True) -> "AnalogLayer":
        super().train(mode)
        for tiles in self.analog_tiles:
            tiles.set_training(mode)
        return self

    def program_analog_weights(self) -> None:
        """Programs the tiles (programming noise, t = 0) from the current weights."""
        for k, tiles in enumerate(self.analog_tiles):
            tiles.program(*self.tile_parameters(k), self.training)

    def drift_analog_weights(self, t_inference: float = 0.0) -> None:
        """Drift and read noise t_inference seconds after programming (programs first if needed)."""
        for k, tiles in enumerate(self.analog_tiles):
            tiles.drift(*self.tile_parameters(k), self.training, t_inference)

    def _tile_weights(self, k):
        """Tile matrix k's target weights as the tiles hold them (after clipping/remapping in training)."""
        weight, bias = self.tile_parameters(k)
        self.analog_tiles[k].sync(weight, bias, self.training)
        return torch.from_numpy(self.analog_tiles[k].tiles.get_weights())

    def get_weights(self) -> Tuple[Tensor, Optional[Tensor]]:
        """(weight, bias) as aihwkit gives them: the target weights as the tiles hold them (after
        clipping/remapping in training), in the layer's weight shape, and a copy of the bias
        (None without one; the bias is digital, added after the tile's periphery)."""
        weight = torch.cat([self._tile_weights(k) for k in range(len(self.analog_tiles))])
        bias = None if self.bias is None else self.bias.detach().clone()
        return weight.reshape(self.weight.shape), bias

    def set_weights(self, weight: Tensor, bias: Optional[Tensor] = None) -> None:
        """Writes the layer's weight (and bias, when given) parameters; the tiles take them on
        their next use and must be programmed again, as on hardware."""
        _set_parameters(self, {"weight": weight, "bias": bias})

    def _apply(self, fn, *args, **kwargs):
        """.to(device), .cuda() and .cpu() move the tiles too: parameters that change device take
        the layer's computation with them (cuda -> the CUDA backend, anything else -> the CPU).
        Casts that keep the device leave an explicitly chosen backend alone."""
        before = _parameter_device(self)
        result = super()._apply(fn, *args, **kwargs)
        after = _parameter_device(self)
        if after != before:
            self.set_backend("cuda" if after.type == "cuda" else "cpu")
        return result

    def extra_repr(self) -> str:
        count = sum(t.tiles.tile_count for t in self.analog_tiles)
        return super().extra_repr() + f", tiles={count}"


def _parameter_device(layer):
    return next(layer.parameters()).device


def _set_parameters(layer, values):
    """Copies {parameter name: tensor, or None to keep it} into the layer's parameters."""
    with torch.no_grad():
        for name, value in values.items():
            parameter = getattr(layer, name)
            if value is None:  # a bias not given stays as it is
                continue
            if parameter is None:
                raise ValueError(f"{layer.tile_name}: the layer has no {name}")
            value = torch.as_tensor(value)
            if tuple(value.shape) != tuple(parameter.shape):
                raise ValueError(f"{layer.tile_name}: {name} should have shape {tuple(parameter.shape)}, "
                                 f"found {tuple(value.shape)}")
            if not torch.isfinite(value).all():
                raise ValueError(f"{layer.tile_name}: {name} holds NaN or infinite values")
            parameter.copy_(value)


def _copy_parameters(layer, module):
    check_finite_parameters(module, layer.tile_name)
    with torch.no_grad():
        for name, parameter in module.named_parameters(recurse=False):
            getattr(layer, name).copy_(parameter)
    return layer.train(module.training)


class AnalogLinear(AnalogLayer, nn.Linear):
    """nn.Linear on analog tiles (aihwkit's AnalogLinear)."""

    def __init__(self, in_features, out_features, bias=True, rpu_config=None, seed=0, name="AnalogLinear",
                 backend="cpu"):
        nn.Linear.__init__(self, in_features, out_features, bias)
        self._init_analog(rpu_config, seed, name, backend)

    @classmethod
    def from_digital(cls, module: nn.Linear, rpu_config: Optional[_core.InferenceRPUConfig] = None, seed: int = 0,
                     name: str = "AnalogLinear", backend: str = "cpu") -> "AnalogLinear":
        layer = cls(module.in_features, module.out_features, module.bias is not None, rpu_config, seed, name,
                    backend)
        return _copy_parameters(layer, module)

    def tile_layout(self) -> List[Tuple[int, int, str]]:
        return [(self.out_features, self.in_features, self.tile_name)]

    def tile_parameters(self, k: int) -> Tuple[Tensor, Optional[Tensor]]:
        return self.weight, self.bias

    def forward(self, x: Tensor) -> Tensor:  # pylint: disable=arguments-renamed
        check_floating(x, f"{type(self).__name__} '{self.tile_name}'")
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.tile_name}: expected inputs with {self.in_features} features in the last "
                             f"dimension, found shape {tuple(x.shape)}")
        y = self._tile_product(0, x.reshape(-1, self.in_features))
        return y.reshape(*x.shape[:-1], self.out_features)


class _AnalogConvNd(AnalogLayer):
    """Convolution as patches (im2col) + one tile product over all of them; a grouped (or
    depthwise) convolution has one tile array per group, as in the C++ conversion."""

    _torch_conv = None  # the torch class a subclass stands in for

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", rpu_config=None, seed=0, name=None, backend="cpu"):
        self._torch_conv.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                                  bias, padding_mode)
        self._init_analog(rpu_config, seed, name or type(self).__name__, backend)

    @classmethod
    def from_digital(cls, module: nn.Module, rpu_config: Optional[_core.InferenceRPUConfig] = None, seed: int = 0,
                     name: Optional[str] = None, backend: str = "cpu") -> "_AnalogConvNd":
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode, rpu_config, seed,
                    name, backend)
        return _copy_parameters(layer, module)

    def tile_layout(self) -> List[Tuple[int, int, str]]:
        rows = self.out_channels // self.groups
        width = self.weight[0].numel()
        if self.groups == 1:
            return [(rows, width, self.tile_name)]
        return [(rows, width, f"{self.tile_name}.group{g}") for g in range(self.groups)]

    def tile_parameters(self, k: int) -> Tuple[Tensor, Optional[Tensor]]:
        rows = self.out_channels // self.groups
        bias = None if self.bias is None else self.bias[k * rows:(k + 1) * rows]
        return self.weight[k * rows:(k + 1) * rows], bias

    def forward(self, x: Tensor) -> Tensor:  # pylint: disable=arguments-renamed
        spatial = len(self.kernel_size)
        check_floating(x, f"{type(self).__name__} '{self.tile_name}'")
        if x.dim() != spatial + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.tile_name}: expected input (batch, {self.in_channels}, {spatial} spatial "
                             f"dimension{'s' if spatial > 1 else ''}), found shape {tuple(x.shape)}")
        if any(self._reversed_padding_repeated_twice):  # torch's own padding amounts ('same' included)
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=mode)
        rows, positions = im2col(x, self.kernel_size, self.stride, self.dilation)
        if self.groups == 1:
            y = self._tile_product(0, rows)
        else:
            grouped = rows.reshape(rows.shape[0], self.groups, -1)
            y = torch.cat([self._tile_product(g, grouped[:, g]) for g in range(self.groups)], dim=1)
        y = y.reshape(x.shape[0], *positions, self.out_channels)
        return y.permute(0, spatial + 1, *range(1, spatial + 1))


class AnalogConv1d(_AnalogConvNd, nn.Conv1d):
    """nn.Conv1d on analog tiles (aihwkit's AnalogConv1d); nn.Conv1d's arguments, then rpu_config,
    seed, name and backend."""

    _torch_conv = nn.Conv1d


class AnalogConv2d(_AnalogConvNd, nn.Conv2d):
    """nn.Conv2d on analog tiles (aihwkit's AnalogConv2d); nn.Conv2d's arguments, then rpu_config,
    seed, name and backend."""

    _torch_conv = nn.Conv2d


class AnalogConv3d(_AnalogConvNd, nn.Conv3d):
    """nn.Conv3d on analog tiles (aihwkit's AnalogConv3d); nn.Conv3d's arguments, then rpu_config,
    seed, name and backend."""

    _torch_conv = nn.Conv3d


class _AnalogRecurrent(RecurrentProducts, AnalogLayer):
    """aihwkit's AnalogRNN semantics: every layer's (and direction's) input and recurrent weight
    matrices on tile arrays of their own, named "<name>.weight_ih_l0" and so on; biases digital."""

    _torch_class = None

    def __init__(self, *args, rpu_config=None, seed=0, name=None, backend="cpu", **kwargs):
        self._torch_class.__init__(self, *args, **kwargs)
        check_supported(self, name or type(self).__name__)
        self._weight_names = weight_names(self)
        self._init_analog(rpu_config, seed, name or type(self).__name__, backend)

    @classmethod
    def from_digital(cls, module: nn.RNNBase, rpu_config: Optional[_core.InferenceRPUConfig] = None, seed: int = 0,
                     name: Optional[str] = None, backend: str = "cpu") -> "_AnalogRecurrent":
        layer = cls(**recurrent_arguments(module), rpu_config=rpu_config, seed=seed, name=name, backend=backend)
        check_finite_parameters(module, layer.tile_name)
        return copy_recurrent(layer, module)

    def tile_layout(self) -> List[Tuple[int, int, str]]:
        layout = []
        for _, _, _, weight, _ in self._weight_names:
            rows, columns = getattr(self, weight).shape
            layout.append((rows, columns, f"{self.tile_name}.{weight}"))
        return layout

    def tile_parameters(self, k: int) -> Tuple[Tensor, Optional[Tensor]]:
        _, _, _, weight, bias = self._weight_names[k]
        return getattr(self, weight), (None if bias is None else getattr(self, bias))

    def weight_product(self, layer: int, direction: int, kind: str, x2d: Tensor) -> Tensor:
        for k, (l, d, which, _, _) in enumerate(self._weight_names):
            if (l, d, which) == (layer, direction, kind):
                return self._tile_product(k, x2d)
        raise KeyError((layer, direction, kind))

    def get_weights(self) -> Dict[str, Tuple[Tensor, Optional[Tensor]]]:  # type: ignore[override]
        """{weight parameter name: (weight, bias)} for each weight matrix ("weight_ih_l0", ...):
        the target weights as the tiles hold them and a copy of the matching bias (or None)."""
        weights = {}
        for k in range(len(self.analog_tiles)):
            _, bias = self.tile_parameters(k)
            weights[self._weight_names[k][3]] = (self._tile_weights(k),
                                                 None if bias is None else bias.detach().clone())
        return weights

    def set_weights(self, weights: Dict[str, Tuple[Tensor, Optional[Tensor]]]) -> None:  # type: ignore[override]
        """Writes {weight parameter name: (weight, bias)} (get_weights' form; any subset)."""
        known = {names[3]: names[4] for names in self._weight_names}
        values = {}
        for name, (weight, bias) in weights.items():
            if name not in known:
                raise ValueError(f"{self.tile_name}: no weight matrix '{name}' (it has {', '.join(known)})")
            values[name] = weight
            if known[name] is not None:
                values[known[name]] = bias
        _set_parameters(self, values)


class AnalogLSTM(_AnalogRecurrent, nn.LSTM):
    """nn.LSTM on analog tiles (aihwkit's AnalogLSTM); nn.LSTM's arguments, then rpu_config,
    seed, name and backend as keywords."""

    _torch_class = nn.LSTM


class AnalogGRU(_AnalogRecurrent, nn.GRU):
    """nn.GRU on analog tiles (aihwkit's AnalogGRU)."""

    _torch_class = nn.GRU


class AnalogRNN(_AnalogRecurrent, nn.RNN):
    """nn.RNN on analog tiles (aihwkit's AnalogVanillaRNN)."""

    _torch_class = nn.RNN


ANALOG_TYPES = {"Linear": AnalogLinear, "Conv1d": AnalogConv1d, "Conv2d": AnalogConv2d, "Conv3d": AnalogConv3d,
                "LSTM": AnalogLSTM, "GRU": AnalogGRU, "RNN": AnalogRNN}
"""Torch types and their analog twins (MultiheadAttention: tessera's MultiheadAttention with an
analog in_proj)."""
