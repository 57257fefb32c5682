"""One weight matrix on a tessera tile array, as torch sees it: the matrix stays a (view of a)
torch Parameter, the tile array is refreshed when it changes, and products run through the
tile's full periphery with the ideal gradients (aihwkit's InferenceTile does the same).
"""
import threading
import warnings

import torch

from .. import _core


def numpy_float32(tensor):
    return tensor.detach().to("cpu", torch.float32).contiguous().numpy()


def check_floating(x, who):
    """torch's layers refuse integer, bool and complex inputs; so do tessera's (they compute in float32)."""
    if not torch.is_tensor(x):
        raise TypeError(f"{who}: expected a torch.Tensor, found {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{who}: expected a floating-point input (float16, float32 or float64), found {x.dtype}")


def check_finite_parameters(module, name):
    """Hardware cannot hold NaN or Inf: a conversion refuses them, naming the layer and tensor."""
    for parameter_name, parameter in module.named_parameters(recurse=False):
        bad = ~torch.isfinite(parameter.detach())
        if bad.any():
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{name}: {parameter_name} holds {int(bad.sum())} NaN or Inf value(s), the first at "
                             f"{first}; hardware needs finite weights")



class _TileProduct(torch.autograd.Function):
    """y = tile(x) + bias for a 2-d batch, with the ideal gradients."""

    @staticmethod
    def forward(ctx, x, weight, bias, matrix):  # pylint: disable=arguments-differ
        ctx.matrix = matrix
        ctx.save_for_backward(x)
        ctx.has_bias = bias is not None
        ctx.weight_shape = weight.shape
        return torch.from_numpy(matrix.forward_numpy(numpy_float32(x))).to(x.device, x.dtype)

    @staticmethod
    def backward(ctx, grad_output):  # pylint: disable=arguments-differ
        (x,) = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.from_numpy(ctx.matrix.backward_numpy(numpy_float32(grad_output))).to(x.device, x.dtype)
        if ctx.needs_input_grad[1]:
            grad_w = grad_output.t().matmul(x).reshape(ctx.weight_shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_output.sum(0)
        return grad_x, grad_w, grad_b, None


class TileMatrix:
    """A weight matrix [out, in] (and its bias) on an AnalogTileArray named `name`.

    Thread contract: calls are serialised by a lock. A tile keeps state between calls (the noise
    streams' sample counter, programming and drift, the last forward for backward), so threads
    sharing one layer run one after the other and get what some sequential order gives; with
    noise off, exactly the sequential results.

    Pickling keeps the state: the seed, name and config rebuild the same tiles, and the
    programming, the drift time and the sample counter are replayed once the weights are back
    (programming and drift noise depend only on seed, name and t_inference).
    """

    def __init__(self, out_size, in_size, rpu_config, seed, name, backend="cpu"):
        self.shape = (int(out_size), int(in_size))
        self.rpu_config = rpu_config
        self.seed = int(seed)
        self.name = name
        self.backend = backend
        self._build()

    def _build(self):
        self.tiles = _core.AnalogTileArray(self.shape[0], self.shape[1], self.rpu_config, self.seed, self.name)
        self.tiles.set_backend(self.backend)
        self.lock = threading.RLock()
        self.synced = None
        self.programmed = False
        self.drift_time = None  # t_inference of the last drift
        self.samples_seen = 0  # rows through forward: where the noise streams continue
        self._replay = None
        self.keeps_weights_in_range = self.rpu_config.clip.type != "NONE" or self.rpu_config.remap.type != "NONE"

    @staticmethod
    def _state(weight, bias):
        return (weight._version, weight.data_ptr(), None if bias is None else (bias._version, bias.data_ptr()))

    def sync(self, weight, bias, training):
        """Hands changed weights to the tiles; in training, clipping/remapping act on them. New
        weights must be programmed again (as on hardware)."""
        with self.lock:
            if self.synced == self._state(weight, bias):
                return
            self.tiles.set_weights(numpy_float32(weight.reshape(self.shape)))
            if bias is not None:
                self.tiles.set_bias(numpy_float32(bias).tolist())
            if training and self.keeps_weights_in_range:
                self.tiles.post_update_step()
                with torch.no_grad():
                    weight.copy_(torch.from_numpy(self.tiles.get_weights()).reshape(weight.shape))
            self.synced = self._state(weight, bias)
            self.programmed, self.drift_time = False, None
            if self._replay is not None:  # an unpickled layer: the same state as when it was saved
                programmed, drift_time, samples = self._replay
                self._replay = None
                if drift_time is not None:
                    self._drift(drift_time)
                elif programmed:
                    self._program()
                self.tiles.set_sample_counter(samples)
                self.samples_seen = samples

    def forward_numpy(self, x):
        with self.lock:
            y = self.tiles.forward(x)
            self.samples_seen += x.shape[0]
            return y

    def backward_numpy(self, grad_output):
        with self.lock:
            return self.tiles.backward(grad_output)

    def product(self, x2d, weight, bias, training):
        """tile(x2d) + bias with gradients to x2d, weight and bias."""
        self.sync(weight, bias, training)
        return _TileProduct.apply(x2d, weight, bias, self)

    def set_training(self, training):
        with self.lock:
            self.tiles.set_training(training)

    def set_backend(self, backend):
        with self.lock:
            self.tiles.set_backend(backend)
            self.backend = backend

    def _program(self):
        self.tiles.program()
        self.programmed, self.drift_time = True, None

    def _drift(self, t_inference):
        self.tiles.drift(float(t_inference))
        self.programmed, self.drift_time = True, float(t_inference)

    def program(self, weight, bias, training):
        self.sync(weight, bias, training)
        with self.lock:
            self._program()

    def drift(self, weight, bias, training, t_inference):
        self.sync(weight, bias, training)
        with self.lock:
            self._drift(t_inference)

    def __getstate__(self):
        with self.lock:
            return {"shape": self.shape, "rpu_config": self.rpu_config, "seed": self.seed, "name": self.name,
                    "backend": self.backend, "programmed": self.programmed, "drift_time": self.drift_time,
                    "samples_seen": self.samples_seen}

    def __setstate__(self, state):
        self.shape, self.rpu_config, self.seed = tuple(state["shape"]), state["rpu_config"], state["seed"]
        self.name, self.backend = state["name"], state["backend"]
        try:
            self._build()
        except RuntimeError as error:  # saved on a GPU, loaded where there is none
            warnings.warn(f"analog layer '{self.name}': backend '{self.backend}' is not usable here ({error}); "
                          "it computes on the CPU")
            self.backend = "cpu"
            self._build()
        self._replay = (state["programmed"], state["drift_time"], state["samples_seen"])


def im2col(x, kernel_size, stride, dilation):
    """Patches of an N-d convolution input (batch, C, *spatial), already padded, as rows
    (batch * positions, C * prod(kernel)), channel-major like a convolution weight reshaped to
    (out, -1). Returns the rows and the output's spatial shape."""
    spatial = len(kernel_size)
    for axis, (k, s, d) in enumerate(zip(kernel_size, stride, dilation)):
        x = x.unfold(2 + axis, d * (k - 1) + 1, s)
        if d > 1:
            x = x[..., ::d]
    # (N, C, o_1..o_n, k_1..k_n) -> (N, o_1..o_n, C, k_1..k_n)
    channels, positions = x.shape[1], tuple(x.shape[2:2 + spatial])
    order = [0, *range(2, 2 + spatial), 1, *range(2 + spatial, 2 + 2 * spatial)]
    width = channels
    for k in kernel_size:
        width *= k
    return x.permute(order).reshape(-1, width), positions
