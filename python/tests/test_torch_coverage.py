"""The torch layers tessera converts, each against torch itself: with ideal tiles (or unquantized
weights) the converted layer computes what the torch layer does, for the options users use."""
import numpy as np
import pytest
import torch
from torch import nn

import tessera
from tessera.torch import (AnalogConv3d, AnalogGRU, AnalogLSTM, AnalogRNN, MultiheadAttention, QuantConv3d,
                           QuantLSTM, compute_encodings, convert_to_analog, convert_to_quantized, export_onnx)


def ideal():
    return tessera.load_preset("ideal")


def close(a, b, tolerance=1e-5):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    assert (a - b).abs().max() <= tolerance * max(b.abs().max(), 1.0), float((a - b).abs().max())


@pytest.mark.parametrize("conv, shape", [
    (nn.Conv1d(6, 9, 3, padding=2, dilation=2, groups=3), (2, 6, 11)),
    (nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), (2, 8, 9, 9)),  # depthwise
    (nn.Conv2d(4, 6, (3, 2), padding="same", padding_mode="reflect"), (2, 4, 7, 6)),
    (nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding=1), (2, 2, 5, 6, 4)),
    (nn.Conv3d(4, 4, 2, groups=2, bias=False), (1, 4, 3, 3, 3)),
])
def test_ideal_analog_convolutions_equal_torch(conv, shape):
    x = torch.randn(*shape)
    analog = convert_to_analog(nn.Sequential(conv), ideal())[0]
    with torch.no_grad():
        close(analog(x), conv(x))
    expected_tiles = conv.groups
    assert len(analog.analog_tiles) == expected_tiles
    if conv.groups > 1:
        assert analog.analog_tiles[1].name == "0.group1"  # named as the C++ conversion names them


def test_analog_conv3d_gradients_equal_torch():
    conv = nn.Conv3d(2, 3, 2, padding=1)
    analog = AnalogConv3d.from_digital(conv, ideal())
    x = torch.randn(2, 2, 3, 3, 3, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    (conv(x) ** 2).sum().backward()
    (analog(x2) ** 2).sum().backward()
    close(x2.grad, x.grad, 1e-4)
    close(analog.weight.grad, conv.weight.grad, 1e-4)


@pytest.mark.parametrize("cls, analog_cls, kwargs", [
    (nn.LSTM, AnalogLSTM, dict(num_layers=2, bidirectional=True)),
    (nn.LSTM, AnalogLSTM, dict(batch_first=True, bias=False)),
    (nn.GRU, AnalogGRU, dict(num_layers=2, batch_first=True)),
    (nn.GRU, AnalogGRU, dict(bidirectional=True)),
    (nn.RNN, AnalogRNN, dict(nonlinearity="relu", num_layers=2)),
    (nn.RNN, AnalogRNN, dict(bidirectional=True, batch_first=True)),
])
def test_ideal_analog_recurrent_layers_equal_torch(cls, analog_cls, kwargs):
    torch_layer = cls(5, 7, **kwargs).eval()
    analog = convert_to_analog(nn.Sequential(torch_layer), ideal())[0]
    assert type(analog) is analog_cls
    directions = 2 if torch_layer.bidirectional else 1
    assert len(analog.analog_tiles) == 2 * torch_layer.num_layers * directions
    x = torch.randn(3, 4, 5)
    h0 = torch.randn(torch_layer.num_layers * directions, 3 if torch_layer.batch_first else 4, 7)
    state = (h0, torch.randn_like(h0)) if cls is nn.LSTM else h0
    with torch.no_grad():
        for args in [(x,), (x, state), (x[0],)]:  # no state, a given state, one unbatched sequence
            expected, got = torch_layer(*args), analog(*args)
            close(got[0], expected[0])
            for g, e in zip(got[1] if cls is nn.LSTM else (got[1],), expected[1] if cls is nn.LSTM else (expected[1],)):
                close(g, e)


def test_analog_lstm_gradients_equal_torch():
    lstm = nn.LSTM(4, 5, num_layers=2)
    analog = AnalogLSTM.from_digital(lstm, ideal())
    x = torch.randn(6, 2, 4, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    (lstm(x)[0] ** 2).sum().backward()
    (analog(x2)[0] ** 2).sum().backward()
    close(x2.grad, x.grad, 1e-4)
    for (name, theirs), ours in zip(lstm.named_parameters(), analog.parameters()):
        close(ours.grad, theirs.grad, 1e-4)


def test_analog_recurrent_layers_refuse_what_they_do_not_simulate():
    with pytest.raises(NotImplementedError, match="proj_size"):
        convert_to_analog(nn.Sequential(nn.LSTM(4, 6, proj_size=3)))
    lstm = convert_to_analog(nn.Sequential(nn.LSTM(4, 6)))[0]
    packed = nn.utils.rnn.pack_sequence([torch.randn(3, 4), torch.randn(2, 4)])
    with pytest.raises(TypeError, match="packed sequences are not supported"):
        lstm(packed)
    with pytest.raises(TypeError, match="expected a floating-point input"):
        lstm(torch.ones(3, 2, 4, dtype=torch.int64))


@pytest.mark.parametrize("options, call", [
    (dict(batch_first=True), "self"),
    (dict(), "self_masked"),
    (dict(batch_first=True, add_bias_kv=True, add_zero_attn=True), "cross"),
    (dict(kdim=3, vdim=5), "cross_dims"),
    (dict(bias=False, batch_first=True), "padding_mask"),
])
def test_tessera_attention_equals_torch(options, call):
    torch.manual_seed(3)
    attention = nn.MultiheadAttention(8, 2, **options).eval()
    ours = MultiheadAttention(attention).eval()
    first = (lambda *s: torch.randn(2, *s)) if options.get("batch_first") else (lambda *s: torch.randn(s[0], 2, s[1]))
    q = first(4, 8)
    kwargs = {}
    if call.startswith("self"):
        k = v = q
        if call == "self_masked":
            kwargs = dict(attn_mask=torch.triu(torch.ones(4, 4, dtype=torch.bool), 1))
    elif call == "cross_dims":
        k, v = first(5, 3), first(5, 5)
    else:
        k = v = first(5, 8)
    if call == "padding_mask":
        k = v = q
        kwargs = dict(key_padding_mask=torch.tensor([[False, False, True, True], [False, False, False, True]]),
                      average_attn_weights=False)
    expected = attention(q, k, v, **kwargs)  # with gradients: torch 1.13's fused path fails without a bias
    with torch.no_grad():
        got = ours(q, k, v, **kwargs)
    close(got[0], expected[0])
    close(got[1], expected[1])


def test_converted_attention_runs_its_projections_on_tiles():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    model = nn.Sequential(nn.TransformerEncoder(layer, 1))
    analog = convert_to_analog(model, ideal())
    attention = analog[0].layers[0].self_attn
    assert isinstance(attention, MultiheadAttention)
    assert type(attention.in_proj).__name__ == "AnalogLinear" and type(attention.out_proj).__name__ == "AnalogLinear"
    assert attention.in_proj.analog_tiles[0].name == "0.layers.0.self_attn"  # as the ONNX module is named
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        close(analog(x), model(x))
    row = next(r for r in analog.tessera_conversion_report if r["module"] == "0.layers.0")
    assert "fast path disabled" in row["rule"]


def test_a_converted_out_proj_is_called_even_when_its_attention_is_not_converted():
    model = nn.Sequential(nn.MultiheadAttention(6, 2, batch_first=True))
    analog = convert_to_analog(model, tessera.InferenceRPUConfig(), module_types=["Linear"])
    out_proj = analog[0].out_proj
    before = out_proj.analog_tiles[0].samples_seen
    x = torch.randn(2, 3, 6)
    with torch.no_grad():
        analog[0](x, x, x)
    assert out_proj.analog_tiles[0].samples_seen == before + 6
    row = next(r for r in analog.tessera_conversion_report if r["module"] == "0")
    assert "runs as tessera's MultiheadAttention" in row["rule"]


def test_quantized_conv3d_and_embedding_and_lstm():
    int8 = tessera.load_preset("digital_int8")
    model = nn.Sequential(nn.Conv3d(2, 3, 2, groups=1), nn.ReLU())
    quantized = convert_to_quantized(model, int8)
    assert isinstance(quantized[0], QuantConv3d) and quantized[0].weight_quantizer is not None
    x = torch.randn(2, 2, 4, 4, 4)
    with compute_encodings(quantized):
        quantized(x)
    with torch.no_grad():
        close(quantized(x), model(x), 0.05)
    lstm = convert_to_quantized(nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 5, bidirectional=True)), int8)
    assert type(lstm[1]) is QuantLSTM and len(lstm[1].weight_quantizers()) == 2  # W and R, both directions each
    assert lstm[0].weight_quantizer is not None
    tokens = torch.randint(0, 10, (6, 3))
    with compute_encodings(lstm):
        lstm(tokens)
    out, _ = lstm(tokens)
    assert out.shape == (6, 3, 10)


class _Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, tokens):
        return self.fc(self.lstm(self.embedding(tokens))[0][:, -1])


def test_quantized_bidirectional_lstm_exports_to_the_same_model(tmp_path):
    torch.manual_seed(0)
    model = _Tagger().eval()
    int8 = tessera.load_preset("digital_int8")
    quantized = convert_to_quantized(model, int8, strict=True)
    tokens = torch.randint(0, 20, (8, 7))
    with compute_encodings(quantized):
        quantized(tokens)
    files = export_onnx(quantized, tokens, str(tmp_path / "tagger.onnx"))
    core, _ = tessera.convert_to_quantized(tessera.Model.load_onnx(files["onnx"]), int8)
    core.load_encodings(files["encodings"])
    with torch.no_grad():
        expected = quantized(tokens).numpy()
    got = core.forward(tokens.numpy())
    step = float(quantized.fc.output_quantizer.scale.max())
    assert np.abs(got - expected).max() <= step * 1.0001
