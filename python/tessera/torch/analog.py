"""Analog layers: torch modules whose matrix products run on tessera's simulated tiles.

The weights stay torch Parameters (so optimizers, state_dict and .to() work as usual); the tile
is refreshed from them whenever they change. Forward runs the tile's full periphery pipeline;
backward is the ideal one (aihwkit's InferenceTile does the same): the input gradient through the
weights the forward used (with any training-time weight modifier), the weight gradient
grad_output^T x.
"""
import torch
from torch import nn
from torch.nn import functional as F

from .. import _core


def _numpy(tensor):
    return tensor.detach().to("cpu", torch.float32).contiguous().numpy()


class _TileProduct(torch.autograd.Function):
    """y = tile(x) for a 2-d batch, with the ideal gradients."""

    @staticmethod
    def forward(ctx, x, weight, bias, layer):  # pylint: disable=arguments-differ
        ctx.layer = layer
        ctx.save_for_backward(x)
        ctx.has_bias = bias is not None
        ctx.weight_shape = weight.shape
        y = layer.analog_tile.forward(_numpy(x))
        return torch.from_numpy(y).to(x.device, x.dtype)

    @staticmethod
    def backward(ctx, grad_output):  # pylint: disable=arguments-differ
        (x,) = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.from_numpy(ctx.layer.analog_tile.backward(_numpy(grad_output)))
            grad_x = grad_x.to(x.device, x.dtype)
        if ctx.needs_input_grad[1]:
            grad_w = grad_output.t().matmul(x).reshape(ctx.weight_shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_output.sum(0)
        return grad_x, grad_w, grad_b, None


class AnalogLayer:
    """What every analog layer has: an rpu_config, a tile array and the tile lifecycle."""

    def _init_analog(self, rpu_config, seed, name, backend="cpu"):
        if rpu_config is None:
            rpu_config = _core.InferenceRPUConfig()
        if not isinstance(rpu_config, _core.InferenceRPUConfig):
            raise TypeError(f"rpu_config: expected a tessera.InferenceRPUConfig, found {type(rpu_config).__name__}")
        self.rpu_config = rpu_config.copy()
        self.tile_seed = int(seed)
        self.tile_name = name
        out_size, in_size = self.weight.shape[0], self.weight[0].numel()
        self.analog_tile = _core.AnalogTileArray(out_size, in_size, self.rpu_config, self.tile_seed, name)
        self.set_backend(backend)
        self._synced = None
        self._keeps_weights_in_range = rpu_config.clip.type != "NONE" or rpu_config.remap.type != "NONE"

    def _weight_state(self):
        bias = getattr(self, "bias", None)
        return (self.weight._version, self.weight.data_ptr(),
                None if bias is None else (bias._version, bias.data_ptr()))

    def _sync_tile(self):
        """Hands changed weights to the tile; in training, clipping/remapping act on them."""
        if self._synced == self._weight_state():
            return
        self.analog_tile.set_weights(_numpy(self.weight.reshape(self.weight.shape[0], -1)))
        if self.bias is not None:
            self.analog_tile.set_bias(_numpy(self.bias).tolist())
        if self.training and self._keeps_weights_in_range:
            self.analog_tile.post_update_step()
            with torch.no_grad():
                clipped = torch.from_numpy(self.analog_tile.get_weights()).reshape(self.weight.shape)
                self.weight.copy_(clipped)
        self._synced = self._weight_state()

    def set_backend(self, backend):
        """'cpu' or 'cuda': where the tile computes (RuntimeError when no CUDA device is usable)."""
        self.analog_tile.set_backend(backend)
        self.backend = backend

    def train(self, mode=True):
        super().train(mode)
        self.analog_tile.set_training(mode)
        return self

    def program_analog_weights(self):
        """Programs the tile (programming noise, t = 0) from the current weights."""
        self._sync_tile()
        self.analog_tile.program()

    def drift_analog_weights(self, t_inference=0.0):
        """Drift and read noise t_inference seconds after programming (programs first if needed)."""
        self._sync_tile()
        self.analog_tile.drift(float(t_inference))

    def get_weights(self):
        """The target weights as the tile holds them (after clipping/remapping in training)."""
        self._sync_tile()
        return torch.from_numpy(self.analog_tile.get_weights()).reshape(self.weight.shape)

    def _tile_product(self, x2d):
        self._sync_tile()
        return _TileProduct.apply(x2d, self.weight, self.bias, self)

    # Tiles are C++ objects: a pickled or deep-copied layer gets a fresh tile with the same config,
    # seed, name and weights. Programming and drift are not carried over: program the copy again.
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {key: value for key, value in state.items() if key != "analog_tile"}

    def __setstate__(self, state):
        super().__setstate__(dict(state, _synced=None))
        out_size, in_size = self.weight.shape[0], self.weight[0].numel()
        self.analog_tile = _core.AnalogTileArray(out_size, in_size, self.rpu_config, self.tile_seed, self.tile_name)
        self.analog_tile.set_training(self.training)
        self.analog_tile.set_backend(self.backend)

    def extra_repr(self):
        return super().extra_repr() + f", tiles={self.analog_tile.tile_count}"


def _copy_parameters(layer, module):
    with torch.no_grad():
        layer.weight.copy_(module.weight)
        if module.bias is not None:
            layer.bias.copy_(module.bias)
    return layer.train(module.training)


class AnalogLinear(AnalogLayer, nn.Linear):
    """nn.Linear on analog tiles (aihwkit's AnalogLinear)."""

    def __init__(self, in_features, out_features, bias=True, rpu_config=None, seed=0, name="AnalogLinear",
                 backend="cpu"):
        nn.Linear.__init__(self, in_features, out_features, bias)
        self._init_analog(rpu_config, seed, name, backend)

    @classmethod
    def from_digital(cls, module, rpu_config=None, seed=0, name="AnalogLinear", backend="cpu"):
        layer = cls(module.in_features, module.out_features, module.bias is not None, rpu_config, seed, name,
                    backend)
        return _copy_parameters(layer, module)

    def forward(self, x):  # pylint: disable=arguments-renamed
        if x.shape[-1] != self.in_features:
            raise ValueError(f"{self.tile_name}: expected inputs with {self.in_features} features in the last "
                             f"dimension, found shape {tuple(x.shape)}")
        y = self._tile_product(x.reshape(-1, self.in_features))
        return y.reshape(*x.shape[:-1], self.out_features)


class _AnalogConvNd(AnalogLayer):
    """Convolution as im2col (torch's unfold) + one tile product over all patches. A 1-d
    convolution runs as a 2-d one of height 1."""

    _torch_conv = None  # the torch class a subclass stands in for

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", rpu_config=None, seed=0, name=None, backend="cpu"):
        name = name or type(self).__name__
        self._torch_conv.__init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                                  bias, padding_mode)
        if self.groups != 1:
            raise NotImplementedError(f"{name}: grouped convolutions (groups={self.groups}) are not mapped to tiles "
                                      "yet; leave this layer digital with exclude_modules")
        if isinstance(self.padding, str):
            raise NotImplementedError(f"{name}: padding='{self.padding}' is not supported; give explicit sizes")
        self._init_analog(rpu_config, seed, name, backend)

    @classmethod
    def from_digital(cls, module, rpu_config=None, seed=0, name=None, backend="cpu"):
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode, rpu_config, seed,
                    name, backend)
        return _copy_parameters(layer, module)

    def forward(self, x):  # pylint: disable=arguments-renamed
        spatial = len(self.kernel_size)
        if x.dim() != spatial + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.tile_name}: expected input (batch, {self.in_channels}, {spatial} spatial "
                             f"dimension{'s' if spatial > 1 else ''}), found shape {tuple(x.shape)}")
        padding = self.padding
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = (0,) * spatial

        def as_2d(values, fill):  # a 1-d convolution is a 2-d one of height 1
            return ((fill,) if spatial == 1 else ()) + tuple(values)

        images = x.unsqueeze(2) if spatial == 1 else x
        patches = F.unfold(images, as_2d(self.kernel_size, 1), dilation=as_2d(self.dilation, 1),
                           padding=as_2d(padding, 0), stride=as_2d(self.stride, 1))
        batch, width, count = patches.shape
        y = self._tile_product(patches.transpose(1, 2).reshape(batch * count, width))
        out_shape = [
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(x.shape[2:], padding, self.dilation, self.kernel_size, self.stride)
        ]
        return y.reshape(batch, count, self.out_channels).transpose(1, 2).reshape(batch, self.out_channels, *out_shape)


class AnalogConv2d(_AnalogConvNd, nn.Conv2d):
    """nn.Conv2d on analog tiles (aihwkit's AnalogConv2d); nn.Conv2d's arguments, then rpu_config,
    seed, name and backend."""

    _torch_conv = nn.Conv2d


class AnalogConv1d(_AnalogConvNd, nn.Conv1d):
    """nn.Conv1d on analog tiles (aihwkit's AnalogConv1d); nn.Conv1d's arguments, then rpu_config,
    seed, name and backend."""

    _torch_conv = nn.Conv1d


ANALOG_TYPES = {nn.Linear: AnalogLinear, nn.Conv1d: AnalogConv1d, nn.Conv2d: AnalogConv2d}
