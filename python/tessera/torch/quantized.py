"""Quantized layers: fake quantization (quantize-dequantize) of inputs, weights and outputs with
tessera's C++ quantizers, so Python and the C++ models round the same way.

Training uses the straight-through estimator: the gradient passes where the value lies inside
the quantization range and is zero where it was clipped (as torch's fake_quantize does).
Activation encodings come from calibration: `with compute_encodings(model): model(batch)`.
"""
import contextlib

import torch
from torch import nn
from torch.nn import functional as F

from .. import _core
from .analog import _numpy


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, quantizer):  # pylint: disable=arguments-differ
        if quantizer.is_calibrating:
            quantizer(_numpy(x))  # observes; the data passes unquantized while calibrating
            ctx.mask = None
            return x.clone()
        y = torch.from_numpy(quantizer(_numpy(x))).to(x.device, x.dtype)
        shape = quantizer.shape or [1]
        low = torch.from_numpy(quantizer.min).reshape(shape).to(x.device, x.dtype)
        high = torch.from_numpy(quantizer.max).reshape(shape).to(x.device, x.dtype)
        ctx.mask = (x >= low) & (x <= high)
        return y

    @staticmethod
    def backward(ctx, grad_output):  # pylint: disable=arguments-differ
        if ctx.mask is None:
            return grad_output, None
        return grad_output * ctx.mask, None


def fake_quantize(x, quantizer):
    """x quantize-dequantized by a tessera quantizer, with the straight-through gradient."""
    return x if quantizer is None else _FakeQuant.apply(x, quantizer)


def _input_quantizer(config):
    return None if config is None or config.n_bits <= 0 else _core.activation_quantizer(config)


def _output_quantizer(qconfig):
    return None if qconfig is None or qconfig.activation_quant.n_bits <= 0 else _core.output_quantizer(qconfig)


class QuantizedModule:
    """Input and output quantizers every quantized module has (either may be None)."""

    def _init_quantizers(self, qconfig, input_qconfig):
        self.qconfig = qconfig
        self.input_quantizer = _input_quantizer(input_qconfig)
        self.output_quantizer = _output_quantizer(qconfig)

    def activation_quantizers(self):
        return [q for q in (self.input_quantizer, self.output_quantizer) if q is not None]


class _QuantWeightLayer(QuantizedModule):
    """A Linear/Conv with its weight quantized from the weight's own range at every change."""

    def _init_weight_quantizer(self, qconfig):
        self.weight_quantizer = None
        if qconfig is not None and qconfig.weight_quant.n_bits > 0:
            self.weight_quantizer = _core.weight_quantizer(qconfig, list(self.weight.shape), 0)
        self._weight_encoded = None

    def quantized_weight(self):
        if self.weight_quantizer is None:
            return self.weight
        state = (self.weight._version, self.weight.data_ptr())
        if self._weight_encoded != state:
            self.weight_quantizer.begin_calibration()
            self.weight_quantizer(_numpy(self.weight))
            self.weight_quantizer.end_calibration()
            self._weight_encoded = state
        return fake_quantize(self.weight, self.weight_quantizer)

    def _copy_from(self, module):
        with torch.no_grad():
            self.weight.copy_(module.weight)
            if module.bias is not None:
                self.bias.copy_(module.bias)
        self.train(module.training)

    def _quantized_forward(self, x, product):
        x = fake_quantize(x, self.input_quantizer)
        return fake_quantize(product(x, self.quantized_weight()), self.output_quantizer)


class QuantLinear(_QuantWeightLayer, nn.Linear):
    """nn.Linear with fake-quantized weight, output and (optionally) input (AIMET's QuantizedLinear)."""

    def __init__(self, in_features, out_features, bias=True, qconfig=None, input_qconfig=None):
        nn.Linear.__init__(self, in_features, out_features, bias)
        self._init_quantizers(qconfig, input_qconfig)
        self._init_weight_quantizer(qconfig)

    @classmethod
    def from_float(cls, module, qconfig=None, input_qconfig=None):
        layer = cls(module.in_features, module.out_features, module.bias is not None, qconfig, input_qconfig)
        layer._copy_from(module)
        return layer

    def forward(self, x):  # pylint: disable=arguments-renamed
        return self._quantized_forward(x, lambda x, w: F.linear(x, w, self.bias))


class _QuantConvNd(_QuantWeightLayer):
    @classmethod
    def from_float(cls, module, qconfig=None, input_qconfig=None):
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode)
        layer._init_quantizers(qconfig, input_qconfig)
        layer._init_weight_quantizer(qconfig)
        layer._copy_from(module)
        return layer

    def forward(self, x):  # pylint: disable=arguments-renamed
        return self._quantized_forward(x, lambda x, w: self._conv_forward(x, w, self.bias))


class QuantConv2d(_QuantConvNd, nn.Conv2d):
    """nn.Conv2d with fake-quantized weight, output and (optionally) input."""


class QuantConv1d(_QuantConvNd, nn.Conv1d):
    """nn.Conv1d with fake-quantized weight, output and (optionally) input."""


class QuantizedOutputModule(QuantizedModule, nn.Module):
    """Any other module (ReLU, pooling, ...) with its output (and optionally input) fake-quantized."""

    def __init__(self, module, qconfig=None, input_qconfig=None):
        nn.Module.__init__(self)
        self.module = module
        self._init_quantizers(qconfig, input_qconfig)

    def forward(self, *args, **kwargs):
        if args:
            args = (fake_quantize(args[0], self.input_quantizer),) + args[1:]
        return fake_quantize(self.module(*args, **kwargs), self.output_quantizer)


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
    finished = False
    try:
        with torch.no_grad():
            yield model
        finished = True
    finally:
        for q in quantizers:
            if finished:
                q.end_calibration()
            elif q.is_calibrating:
                with contextlib.suppress(Exception):
                    q.end_calibration()


def compute_encodings(model, forward_pass=None, *args):
    """Calibrates every activation quantizer of `model` on the batches run meanwhile.

    As a context manager: ``with compute_encodings(model): model(batch)``; or AIMET's way,
    ``compute_encodings(model, forward_pass, args)`` calls ``forward_pass(model, *args)``.
    """
    if forward_pass is None:
        return _calibrating(model)
    with _calibrating(model):
        forward_pass(model, *args)
    return None


QUANT_TYPES = {nn.Linear: QuantLinear, nn.Conv1d: QuantConv1d, nn.Conv2d: QuantConv2d}
