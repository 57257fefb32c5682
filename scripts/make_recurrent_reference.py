#!/usr/bin/python3
"""Exports small torch recurrent layers to ONNX with an input and torch's outputs (.npy), for
tests/nn/recurrent_test.cpp. Covers what libonnx-testdata does not: bidirectional LSTM, GRU as
torch exports it (linear_before_reset = 1), two stacked layers, and batch_first.
Usage: /usr/bin/python3 scripts/make_recurrent_reference.py   (writes tests/data/recurrent/)"""
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "recurrent")


class LastOutput(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


def export(name, layer, shape):
    torch.manual_seed(1)
    for p in layer.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    model = LastOutput(layer).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, (x,), os.path.join(OUT, name + ".onnx"), opset_version=14,
                      input_names=["x"], output_names=["y"])
    np.save(os.path.join(OUT, name + "_input.npy"), x.numpy().astype("<f4"))
    np.save(os.path.join(OUT, name + "_output.npy"), y.numpy().astype("<f4"))


os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
export("lstm_bidirectional", torch.nn.LSTM(5, 7, bidirectional=True), (6, 3, 5))
export("gru_two_layers", torch.nn.GRU(4, 6, num_layers=2), (5, 2, 4))
export("rnn_relu_batch_first", torch.nn.RNN(3, 4, nonlinearity="relu", batch_first=True), (2, 5, 3))
export("gru_bidirectional_batch_first", torch.nn.GRU(4, 3, bidirectional=True, batch_first=True), (3, 4, 4))
