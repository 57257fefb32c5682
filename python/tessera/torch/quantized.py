"""Quantized layers: fake quantization (quantize-dequantize) of inputs, weights and outputs with
tessera's C++ quantizers, so Python and the C++ models round the same way.

Training uses the straight-through estimator: the gradient passes where the value lies inside
the quantization range and is zero where it was clipped (as torch's fake_quantize does).
Activation encodings come from calibration: `with compute_encodings(model): model(batch)`.
A module's output quantizer quantizes its output (the first element of a tuple output: an
LSTM's sequence, an attention's result), as the C++ layers quantize a module's last output.
"""
import contextlib
from typing import Any, Callable, ContextManager, List, Optional, Sequence
import threading

import torch
from torch import nn
from torch.nn import functional as F

from .. import _core
from ._tiles import check_finite_parameters, check_floating, numpy_float32
from .recurrent import RecurrentProducts, check_supported, copy_recurrent, recurrent_arguments, weight_names


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, quantizer, lock):  # pylint: disable=arguments-differ
        with lock:
            if quantizer.is_calibrating:
                quantizer(numpy_float32(x))  # observes; the data passes unquantized while calibrating
                ctx.mask = None
                return x.clone()
            y = torch.from_numpy(quantizer(numpy_float32(x))).to(x.device, x.dtype)
            low, high = quantizer.min, quantizer.max
        shape = quantizer.shape or [1]
        low = torch.from_numpy(low).reshape(shape).to(x.device, x.dtype)
        high = torch.from_numpy(high).reshape(shape).to(x.device, x.dtype)
        ctx.mask = (x >= low) & (x <= high)
        return y

    @staticmethod
    def backward(ctx, grad_output):  # pylint: disable=arguments-differ
        if ctx.mask is None:
            return grad_output, None, None
        return grad_output * ctx.mask, None, None


# Quantizers observe during calibration (state that must not interleave) and are read while
# quantizing: one lock per process keeps threads that share a model from mixing the two.
_QUANTIZER_LOCK = threading.RLock()


def fake_quantize(x, quantizer):
    """x quantize-dequantized by a tessera quantizer, with the straight-through gradient."""
    return x if quantizer is None else _FakeQuant.apply(x, quantizer, _QUANTIZER_LOCK)


def _input_quantizer(config):
    return None if config is None or config.n_bits <= 0 else _core.activation_quantizer(config)


def _output_quantizer(qconfig):
    return None if qconfig is None or qconfig.activation_quant.n_bits <= 0 else _core.output_quantizer(qconfig)


def _weight_quantizer(qconfig, shape, axis):
    if qconfig is None or qconfig.weight_quant.n_bits <= 0:
        return None
    return _core.weight_quantizer(qconfig, list(shape), axis)


def _calibrated(quantizer, weight):
    """Encodings of a weight from its own range (as the C++ layers compute them)."""
    with _QUANTIZER_LOCK:
        quantizer.begin_calibration()
        quantizer(numpy_float32(weight))
        quantizer.end_calibration()
    return quantizer


# Calls of each quantized module in the current forward pass of this thread: a module torch
# calls twice in one pass (a ReLU reused in a ResNet block) quantizes each call's output with
# a quantizer of its own, as torch.ao's graph mode and the C++ layers do; the root module's
# pre-hook starts a pass (reset_calls).
_CALLS = threading.local()


def reset_calls(_module=None, _inputs=None):
    """Forward pre-hook of a converted model's root: a new forward pass begins."""
    _CALLS.counts = {}


def _next_call(module):
    counts = getattr(_CALLS, "counts", None)
    if counts is None:
        counts = _CALLS.counts = {}
    k = counts.get(id(module), 0)
    counts[id(module)] = k + 1
    return k


class QuantizedModule:
    """Input and output quantizers every quantized module has, one per call in a forward pass
    (a list may be empty: no quantizer of that kind). `input_quantizer` and `output_quantizer`
    are those of the first call."""

    def _init_quantizers(self, qconfig, input_qconfig):
        self.qconfig = qconfig
        self.input_qconfig = input_qconfig
        first_input, first_output = _input_quantizer(input_qconfig), _output_quantizer(qconfig)
        self.input_quantizers = [] if first_input is None else [first_input]
        self.output_quantizers = [] if first_output is None else [first_output]

    @property
    def input_quantizer(self):
        return self.input_quantizers[0] if self.input_quantizers else None

    @input_quantizer.setter
    def input_quantizer(self, quantizer):
        self.input_quantizers = [] if quantizer is None else [quantizer]

    @property
    def output_quantizer(self):
        return self.output_quantizers[0] if self.output_quantizers else None

    @output_quantizer.setter
    def output_quantizer(self, quantizer):
        self.output_quantizers = [] if quantizer is None else [quantizer]

    def activation_quantizers(self) -> List[_core.QuantizeDequantize]:
        return self.input_quantizers + self.output_quantizers

    def _call_quantizers(self):
        """(input quantizer, output quantizer) of this call; calibration adds one per new call."""
        k = _next_call(self)
        return (self._for_call(self.input_quantizers, k, lambda: _input_quantizer(self.input_qconfig), "input"),
                self._for_call(self.output_quantizers, k, lambda: _output_quantizer(self.qconfig), "output"))

    def _for_call(self, quantizers, k, make, role):
        if not quantizers:
            return None
        if k < len(quantizers):
            return quantizers[k]
        if quantizers[0].is_calibrating:
            with _QUANTIZER_LOCK:
                quantizer = make()
                quantizer.begin_calibration()
                quantizers.append(quantizer)
            return quantizer
        if len(quantizers) == 1:
            return quantizers[0]  # a module used once per pass, called on its own
        raise ValueError(f"{type(self).__name__}: call {k + 1} of this module in one forward pass, but calibration "
                         f"saw {len(quantizers)} calls; its {role} quantizers are per call")

    # state_dict carries the calibrated encodings (AIMET keeps them as buffers), so a model
    # loaded into a freshly converted twin needs no calibration: "<role>_encodings.<call>.scale"
    # and ".zero_point" for each calibrated input and output quantizer. Weight encodings follow
    # from the weights and are recomputed, unless frozen ("weight_encodings.scale", below).
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for role, quantizers in (("input", self.input_quantizers), ("output", self.output_quantizers)):
            for call, quantizer in enumerate(quantizers):
                if quantizer.is_initialized:
                    destination[f"{prefix}{role}_encodings.{call}.scale"] = torch.from_numpy(quantizer.scale.copy())
                    destination[f"{prefix}{role}_encodings.{call}.zero_point"] = torch.tensor(quantizer.zero_point,
                                                                                               dtype=torch.int64)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for role, quantizers, make in (("input", self.input_quantizers, lambda: _input_quantizer(self.input_qconfig)),
                                       ("output", self.output_quantizers, lambda: _output_quantizer(self.qconfig))):
            call = 0
            while f"{prefix}{role}_encodings.{call}.scale" in state_dict:
                scale = state_dict.pop(f"{prefix}{role}_encodings.{call}.scale")
                zero_point = state_dict.pop(f"{prefix}{role}_encodings.{call}.zero_point", None)
                if not quantizers:
                    error_msgs.append(f"{prefix}{role}_encodings: the module has no {role} quantizer")
                elif zero_point is None:
                    error_msgs.append(f"{prefix}{role}_encodings.{call}: a scale without a zero_point")
                else:
                    while len(quantizers) <= call:  # a module used more than once per pass
                        quantizers.append(make())
                    quantizers[call].set_encodings(scale.tolist(), zero_point.tolist())
                call += 1
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _quantized_output(self, output, quantizer):
        if isinstance(output, tuple):
            return (fake_quantize(output[0], quantizer),) + output[1:]
        return fake_quantize(output, quantizer)


class _QuantWeightLayer(QuantizedModule):
    """A layer whose weight is quantized from the weight's own range at every change."""

    weight_axis = 0  # the axis of output channels (per-channel encodings)

    def _init_weight_quantizer(self, qconfig):
        self.weight_quantizer = _weight_quantizer(qconfig, self.weight.shape, self.weight_axis)
        self._weight_encoded = None
        self.weight_encodings_frozen = False

    def freeze_weight_encodings(self, scale: Sequence[float], zero_point: Sequence[int]) -> None:
        """Fixes the weight's encodings (AIMET's set_and_freeze_param_encodings): later weight
        changes are quantized on this grid instead of one computed from their range. AdaRound's
        rounded weights keep the grid they were rounded on this way; state_dict carries it."""
        if self.weight_quantizer is None:
            raise ValueError(f"{type(self).__name__}: the weight is not quantized; there are no encodings to freeze")
        self.weight_quantizer.set_encodings(list(map(float, scale)), list(map(int, zero_point)))
        self.weight_encodings_frozen = True

    def quantized_weight(self) -> torch.Tensor:
        if self.weight_quantizer is None:
            return self.weight
        state = (self.weight._version, self.weight.data_ptr())
        if self._weight_encoded != state and not self.weight_encodings_frozen:
            _calibrated(self.weight_quantizer, self.weight)
            self._weight_encoded = state
        return fake_quantize(self.weight, self.weight_quantizer)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self.weight_encodings_frozen:
            destination[f"{prefix}weight_encodings.scale"] = torch.from_numpy(self.weight_quantizer.scale.copy())
            destination[f"{prefix}weight_encodings.zero_point"] = torch.tensor(self.weight_quantizer.zero_point,
                                                                                dtype=torch.int64)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        scale = state_dict.pop(f"{prefix}weight_encodings.scale", None)
        zero_point = state_dict.pop(f"{prefix}weight_encodings.zero_point", None)
        if (scale is None) != (zero_point is None):
            error_msgs.append(f"{prefix}weight_encodings: a scale and a zero_point are needed, found one")
        elif scale is not None:
            try:
                self.freeze_weight_encodings(scale.tolist(), zero_point.tolist())
            except ValueError as error:
                error_msgs.append(f"{prefix}weight_encodings: {error}")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def weight_quantizers(self) -> List[_core.QuantizeDequantize]:
        self.quantized_weight()  # encodings of the current weights
        return [] if self.weight_quantizer is None else [self.weight_quantizer]

    def _copy_from(self, module):
        check_finite_parameters(module, type(self).__name__)
        with torch.no_grad():
            for name, parameter in module.named_parameters(recurse=False):
                getattr(self, name).copy_(parameter)
        self.train(module.training)

    def _quantized_forward(self, x, product):
        check_floating(x, type(self).__name__)
        input_quantizer, output_quantizer = self._call_quantizers()
        x = fake_quantize(x, input_quantizer)
        return fake_quantize(product(x, self.quantized_weight()), output_quantizer)


class QuantLinear(_QuantWeightLayer, nn.Linear):
    """nn.Linear with fake-quantized weight, output and (optionally) input (AIMET's QuantizedLinear)."""

    def __init__(self, in_features, out_features, bias=True, qconfig=None, input_qconfig=None):
        nn.Linear.__init__(self, in_features, out_features, bias)
        self._init_quantizers(qconfig, input_qconfig)
        self._init_weight_quantizer(qconfig)

    @classmethod
    def from_float(cls, module: nn.Linear, qconfig: Optional[_core.QuantizationConfig] = None,
                   input_qconfig: Optional[_core.ActivationQuantConfig] = None) -> "QuantLinear":
        layer = cls(module.in_features, module.out_features, module.bias is not None, qconfig, input_qconfig)
        layer._copy_from(module)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pylint: disable=arguments-renamed
        return self._quantized_forward(x, lambda x, w: F.linear(x, w, self.bias))


class _QuantConvNd(_QuantWeightLayer):
    @classmethod
    def from_float(cls, module: nn.Module, qconfig: Optional[_core.QuantizationConfig] = None,
                   input_qconfig: Optional[_core.ActivationQuantConfig] = None) -> "_QuantConvNd":
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode)
        layer._init_quantizers(qconfig, input_qconfig)
        layer._init_weight_quantizer(qconfig)
        layer._copy_from(module)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pylint: disable=arguments-renamed
        return self._quantized_forward(x, lambda x, w: self._conv_forward(x, w, self.bias))


class QuantConv1d(_QuantConvNd, nn.Conv1d):
    """nn.Conv1d with fake-quantized weight, output and (optionally) input; grouped too."""


class QuantConv2d(_QuantConvNd, nn.Conv2d):
    """nn.Conv2d with fake-quantized weight, output and (optionally) input; grouped and depthwise too."""


class QuantConv3d(_QuantConvNd, nn.Conv3d):
    """nn.Conv3d with fake-quantized weight, output and (optionally) input; grouped too."""


class QuantEmbedding(_QuantWeightLayer, nn.Embedding):
    """nn.Embedding with a fake-quantized table (per row when per_channel, as torch's quantized
    Embedding) and output."""

    @classmethod
    def from_float(cls, module: nn.Embedding, qconfig: Optional[_core.QuantizationConfig] = None,
                   input_qconfig: Optional[_core.ActivationQuantConfig] = None) -> "QuantEmbedding":
        if input_qconfig is not None:
            raise ValueError("input_activation_qconfig_map: an Embedding's input is indices; it cannot be quantized")
        layer = cls(module.num_embeddings, module.embedding_dim, module.padding_idx, module.max_norm,
                    module.norm_type, module.scale_grad_by_freq, module.sparse)
        layer._init_quantizers(qconfig, None)
        layer._init_weight_quantizer(qconfig)
        layer._copy_from(module)
        return layer

    def forward(self, indices: torch.Tensor) -> torch.Tensor:  # pylint: disable=arguments-renamed
        _, output_quantizer = self._call_quantizers()
        table = self.quantized_weight()
        y = F.embedding(indices, table, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                        self.sparse)
        return fake_quantize(y, output_quantizer)


class _QuantRecurrent(RecurrentProducts, QuantizedModule):
    """An LSTM/GRU/RNN with fake-quantized weights and output sequence. The input (and the
    recurrent) weights of one layer share encodings across its directions, as the ONNX operator
    holds both directions in one tensor; per channel means per gate row."""

    _torch_class = None

    @classmethod
    def from_float(cls, module: nn.RNNBase, qconfig: Optional[_core.QuantizationConfig] = None,
                   input_qconfig: Optional[_core.ActivationQuantConfig] = None) -> "_QuantRecurrent":
        layer = cls(**recurrent_arguments(module))
        check_supported(layer, type(layer).__name__)
        layer._init_quantizers(qconfig, input_qconfig)
        directions = 2 if layer.bidirectional else 1
        layer._quantizers = {}
        for l in range(layer.num_layers):
            for kind in ("ih", "hh"):
                shape = (directions, *getattr(layer, f"weight_{kind}_l{l}").shape)
                layer._quantizers[(l, kind)] = _weight_quantizer(qconfig, shape, 1)
        layer._encoded = None
        check_finite_parameters(module, type(layer).__name__)
        return copy_recurrent(layer, module)

    def _stacked(self, l, kind):
        directions = 2 if self.bidirectional else 1
        return torch.stack([getattr(self, f"weight_{kind}_l{l}{'_reverse' if d else ''}") for d in range(directions)])

    def quantized_weights(self) -> List[torch.Tensor]:
        """{(layer, kind): [direction weights]} fake-quantized (recomputed when the weights change)."""
        state = tuple((p._version, p.data_ptr()) for p in self._flat_weights)
        if self._encoded != state:
            for (l, kind), quantizer in self._quantizers.items():
                if quantizer is not None:
                    _calibrated(quantizer, self._stacked(l, kind))
            self._encoded = state
        quantized = {}
        for (l, kind), quantizer in self._quantizers.items():
            stacked = self._stacked(l, kind)
            quantized[(l, kind)] = fake_quantize(stacked, quantizer) if quantizer is not None else stacked
        return quantized

    def weight_quantizers(self) -> List[_core.QuantizeDequantize]:
        self.quantized_weights()
        return [q for q in self._quantizers.values() if q is not None]

    def forward(self, input: Any, hx: Any = None) -> Any:  # pylint: disable=redefined-builtin
        input_quantizer, output_quantizer = self._call_quantizers()
        weights = self.quantized_weights()
        output = self.recurrence(fake_quantize(input, input_quantizer), hx,
                                 lambda layer, direction, kind, x2d: self._product(weights, layer, direction, kind, x2d))
        return self._quantized_output(output, output_quantizer)

    def _product(self, weights, layer, direction, kind, x2d):
        suffix = "_reverse" if direction else ""
        bias = getattr(self, f"bias_{kind}_l{layer}{suffix}") if self.bias else None
        return F.linear(x2d, weights[(layer, kind)][direction], bias)


class QuantLSTM(_QuantRecurrent, nn.LSTM):
    """nn.LSTM with fake-quantized weights and output sequence."""


class QuantGRU(_QuantRecurrent, nn.GRU):
    """nn.GRU with fake-quantized weights and output sequence."""


class QuantRNN(_QuantRecurrent, nn.RNN):
    """nn.RNN with fake-quantized weights and output sequence."""


class QuantizedOutputModule(QuantizedModule, nn.Module):
    """Any other module (ReLU, pooling, an analog layer, ...) with its output (and optionally
    input) fake-quantized. Attributes it does not have are the wrapped module's, so code that
    inspects the module (torch's transformer checks batch_first) still finds them."""

    def __init__(self, module, qconfig=None, input_qconfig=None):
        nn.Module.__init__(self)
        self.module = module
        self._init_quantizers(qconfig, input_qconfig)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module" or name.startswith("__"):
                raise
            return getattr(super().__getattr__("module"), name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        input_quantizer, output_quantizer = self._call_quantizers()
        if args and input_quantizer is not None:
            first = args[0]
            quantized = fake_quantize(first, input_quantizer)
            # the same tensor passed twice (self-attention's query, key, value) stays one tensor
            args = tuple(quantized if a is first else a for a in args)
        return self._quantized_output(self.module(*args, **kwargs), output_quantizer)


class QuantizedInputModule(QuantizedOutputModule):
    """A module whose first input alone is fake-quantized (input_activation_qconfig_map)."""

    def __init__(self, module, input_qconfig):
        super().__init__(module, None, input_qconfig)


def _quantized_modules(model):
    return [m for m in model.modules() if isinstance(m, QuantizedModule)]


@contextlib.contextmanager
def _calibrating(model):
    quantizers = [q for m in _quantized_modules(model) for q in m.activation_quantizers()]
    if not quantizers:
        raise ValueError("compute_encodings: the model has no activation quantizers (convert it with "
                         "convert_to_quantized first)")
    for q in quantizers:
        q.begin_calibration()
    reset_calls()
    finished = False
    try:
        with torch.no_grad():
            yield model
        finished = True
    finally:
        reset_calls()
        # calls seen for the first time during calibration added quantizers of their own
        quantizers = [q for m in _quantized_modules(model) for q in m.activation_quantizers()]
        for q in quantizers:
            if finished:
                q.end_calibration()
            elif q.is_calibrating:
                with contextlib.suppress(Exception):
                    q.end_calibration()


def compute_encodings(model: nn.Module, forward_pass: Optional[Callable[..., Any]] = None,
                      *args: Any) -> Optional[ContextManager[None]]:
    """Calibrates every activation quantizer of `model` on the batches run meanwhile.

    As a context manager: ``with compute_encodings(model): model(batch)``; or AIMET's way,
    ``compute_encodings(model, forward_pass, args)`` calls ``forward_pass(model, *args)``.
    """
    if forward_pass is None:
        return _calibrating(model)
    with _calibrating(model):
        forward_pass(model, *args)
    return None


def quantized_attention(attention, qconfig, input_qconfig):
    """tessera's MultiheadAttention with fake-quantized projection weights, inside an output
    (and input) quantizer: the attention's qconfig quantizes its projections' weights and its
    result (out_proj is a module of its own, with its own rule)."""
    weights_only = qconfig.copy()
    weights_only.activation_quant.n_bits = 0
    for name in attention.projection_names():
        setattr(attention, name, QuantLinear.from_float(getattr(attention, name), weights_only))
    return QuantizedOutputModule(attention, qconfig, input_qconfig)


QUANT_TYPES = {"Linear": QuantLinear, "Conv1d": QuantConv1d, "Conv2d": QuantConv2d, "Conv3d": QuantConv3d,
               "Embedding": QuantEmbedding, "LSTM": QuantLSTM, "GRU": QuantGRU, "RNN": QuantRNN}
"""Torch types with weights and their quantized twins (MultiheadAttention: quantized_attention)."""
