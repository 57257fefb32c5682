"""LSTM, GRU and RNN whose weight products are tessera's: analog tiles (aihwkit's AnalogRNN
semantics: the input and the recurrent weight matrices of every layer and direction on tiles of
their own, biases added digitally) or fake-quantized weights.

One recurrence serves both, written after torch's equations, so that with ideal tiles or
unquantized weights it equals nn.LSTM / nn.GRU / nn.RNN; each subclass only says how to compute
x W^T + b for one weight matrix.
"""
from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence

from ._tiles import check_floating

Sequence_ = Union[Tensor, PackedSequence]  # a batch of sequences, padded or packed
State = Union[Tensor, Tuple[Tensor, Tensor]]  # h, or (h, c) for an LSTM

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def weight_names(module):
    """[(layer, direction, 'ih' | 'hh', weight name, bias name or None)] of a torch recurrent module."""
    names = []
    for layer in range(module.num_layers):
        for direction in range(2 if module.bidirectional else 1):
            suffix = "_reverse" if direction else ""
            for kind in ("ih", "hh"):
                bias = f"bias_{kind}_l{layer}{suffix}" if module.bias else None
                names.append((layer, direction, kind, f"weight_{kind}_l{layer}{suffix}", bias))
    return names


def check_supported(module, who):
    if getattr(module, "proj_size", 0):
        raise NotImplementedError(f"{who}: LSTM with proj_size is not supported; leave it digital with an exclusion")


class RecurrentProducts:
    """Mixin for a torch RNNBase subclass: forward runs the recurrence with self.weight_product."""

    def weight_product(self, layer: int, direction: int, kind: str, x2d: Tensor) -> Tensor:
        """x2d W^T + b for weight_{kind}_l{layer}{_reverse}."""
        raise NotImplementedError

    def forward(self, input: Sequence_,  # pylint: disable=redefined-builtin
                hx: Optional[State] = None) -> Tuple[Sequence_, State]:
        return self.recurrence(input, hx, self.weight_product)

    def recurrence(self, input: Sequence_, hx: Optional[State],  # pylint: disable=redefined-builtin
                   product: Callable[[int, int, str, Tensor], Tensor]) -> Tuple[Sequence_, State]:
        """torch's equations for self.mode, with product(layer, direction, kind, x2d) = x2d W^T + b."""
        who = f"{type(self).__name__} '{getattr(self, 'tile_name', '')}'"
        if isinstance(input, PackedSequence):
            raise TypeError(f"{who}: packed sequences are not supported; pass a padded tensor")
        check_floating(input, who)
        batched = input.dim() == 3
        if input.dim() not in (2, 3):
            raise ValueError(f"{who}: expected a 2-d or 3-d input, found shape {tuple(input.shape)}")
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if x.shape[2] != self.input_size:
            raise ValueError(f"{who}: expected {self.input_size} input features, found shape {tuple(input.shape)}")
        directions = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        h0, c0 = self._initial_states(hx, batch, directions, batched, x)
        layer_input, h_last, c_last = x, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                h, c = h0[index], (c0[index] if lstm else None)
                projected = product(layer, direction, "ih", layer_input.reshape(steps * batch, -1))
                projected = projected.reshape(steps, batch, -1)
                ys = [None] * steps
                for t in (reversed(range(steps)) if direction else range(steps)):
                    h, c = self._cell(projected[t], product(layer, direction, "hh", h), h, c)
                    ys[t] = h
                outputs.append(torch.stack(ys))
                h_last.append(h)
                c_last.append(c)
            layer_input = torch.cat(outputs, dim=2) if directions > 1 else outputs[0]
            if self.dropout and self.training and layer + 1 < self.num_layers:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        if batched and self.batch_first:
            output = output.transpose(0, 1)
        h_n = torch.stack(h_last)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
        if lstm:
            c_n = torch.stack(c_last)
            return output, (h_n, c_n if batched else c_n.squeeze(1))
        return output, h_n

    def _initial_states(self, hx, batch, directions, batched, x):
        shape = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            zeros = torch.zeros(shape, dtype=x.dtype, device=x.device)
            return zeros, zeros
        if self.mode == "LSTM":
            h0, c0 = hx
        else:
            h0, c0 = hx, None
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        return h0, c0

    def _cell(self, xw, hw, h, c):
        if self.mode == "LSTM":
            i, f, g, o = (xw + hw).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        if self.mode == "GRU":
            xr, xz, xn = xw.chunk(3, 1)
            hr, hz, hn = hw.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return (1 - z) * n + z * h, None
        activation = torch.tanh if self.mode == "RNN_TANH" else torch.relu
        return activation(xw + hw), None


def copy_recurrent(layer, module):
    """The same architecture's parameters copied from a torch recurrent module."""
    with torch.no_grad():
        for name, parameter in module.named_parameters(recurse=False):
            getattr(layer, name).copy_(parameter)
    return layer.train(module.training)


def recurrent_arguments(module):
    """nn.LSTM / nn.GRU / nn.RNN constructor arguments of an existing module."""
    arguments = dict(input_size=module.input_size, hidden_size=module.hidden_size, num_layers=module.num_layers,
                     bias=module.bias, batch_first=module.batch_first, dropout=module.dropout,
                     bidirectional=module.bidirectional)
    if module.mode.startswith("RNN"):
        arguments["nonlinearity"] = "tanh" if module.mode == "RNN_TANH" else "relu"
    if module.mode == "LSTM":
        arguments["proj_size"] = module.proj_size
    return arguments


TORCH_RECURRENT = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


def gates(module):
    return _GATES[module.mode]
