"""What aihwkit users call on a converted model works the same here: program_analog_weights(),
drift_analog_weights(t), analog_layers(), get_weights() -> (weight, bias), .to(device); and the
ONNX-model conversions share the torch conversions' contract under their own names."""
import copy
import io
import os
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import tessera
import tessera.torch as tt
from tessera.torch import analog as analog_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "fmnist_cnn.onnx")


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(6, 5)
        self.lstm = nn.LSTM(5, 4, batch_first=True)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        y, _ = self.lstm(torch.relu(self.embed(x)))
        return self.head(y)


class WithItsOwnGetWeights(nn.Sequential):
    def get_weights(self):
        return "mine"


def converted():
    torch.manual_seed(0)
    return tt.convert_to_analog(Tagger().eval(), tessera.load_preset("pcm_inference"), seed=3)


def test_a_converted_model_programs_and_drifts_like_the_free_functions():
    x = torch.randn(2, 7, 6)
    by_method, by_function = converted(), converted()
    assert isinstance(by_method, Tagger) and type(by_method).__name__ == "Tagger"
    assert [name for name, _ in by_method.named_analog_layers()] == ["embed", "lstm", "head"]
    assert by_method.analog_layers()[0] is by_method.embed
    by_method.drift_analog_weights(86400.0)
    tt.drift_analog_weights(by_function, 86400.0)
    assert torch.equal(by_method(x), by_function(x))
    by_method.program_analog_weights()
    tt.program_analog_weights(by_function)
    assert torch.equal(by_method(x), by_function(x))


def test_get_weights_gives_weight_and_bias_per_layer_as_aihwkit_does():
    model = converted()
    weights = model.get_weights()
    weight, bias = weights["head"]
    assert torch.equal(weight, model.head.weight.detach()) and torch.equal(bias, model.head.bias.detach())
    assert set(weights["lstm"]) == {"weight_ih_l0", "weight_hh_l0"}
    w_ih, b_ih = weights["lstm"]["weight_ih_l0"]
    assert torch.equal(w_ih, model.lstm.weight_ih_l0.detach()) and torch.equal(b_ih, model.lstm.bias_ih_l0.detach())
    assert tt.AnalogLinear(3, 2, bias=False).get_weights()[1] is None


def test_set_weights_reaches_the_tiles_and_checks_what_it_gets():
    model = converted()
    new_weight = torch.full((3, 4), 0.25)
    model.head.set_weights(new_weight, torch.zeros(3))
    assert torch.equal(model.head.get_weights()[0], new_weight)
    model.lstm.set_weights({"weight_hh_l0": (torch.zeros(16, 4), torch.ones(16))})
    assert torch.equal(model.lstm.bias_hh_l0.detach(), torch.ones(16))
    with pytest.raises(ValueError, match=r"weight should have shape \(3, 4\), found \(4, 3\)"):
        model.head.set_weights(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.head.set_weights(torch.full((3, 4), float("nan")))
    with pytest.raises(ValueError, match="no weight matrix 'weight_ih_l1'"):
        model.lstm.set_weights({"weight_ih_l1": (torch.zeros(16, 5), None)})


def test_the_methods_survive_pickle_torch_save_and_deepcopy():
    model = converted()
    model.drift_analog_weights(3600.0)
    x = torch.randn(2, 7, 6)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copies = [pickle.loads(pickle.dumps(model)), torch.load(buffer), copy.deepcopy(model)]
    expected = model(x)
    for other in copies:
        assert isinstance(other, Tagger) and hasattr(other, "drift_analog_weights")
        assert torch.equal(other(x), expected)


def test_a_method_the_model_defines_itself_is_kept():
    model = tt.convert_to_analog(WithItsOwnGetWeights(nn.Linear(2, 2)))
    assert model.get_weights() == "mine"
    model.program_analog_weights()


def test_a_model_with_nothing_analog_says_so():
    model = tt.convert_to_analog(nn.Sequential(nn.Linear(2, 2)), exclude_modules=["0"])
    with pytest.raises(ValueError, match="no analog layers"):
        model.program_analog_weights()


def test_moving_parameters_to_another_device_moves_the_tiles(monkeypatch):
    layer = tt.AnalogLinear(4, 2)
    chosen = []
    monkeypatch.setattr(layer, "set_backend", chosen.append)
    layer.to(torch.float64)  # same device: an explicitly chosen backend is left alone
    layer.to("cpu")
    assert chosen == []
    devices = iter([torch.device("cpu"), torch.device("cuda", 0)])
    monkeypatch.setattr(analog_module, "_parameter_device", lambda _: next(devices))
    layer.to("cpu")  # stands in for .to("cuda"), which needs a GPU here
    assert chosen == ["cuda"]


@pytest.mark.skipif(not torch.cuda.is_available() or not tessera.cuda_availability()["available"],
                    reason="needs a CUDA device")
def test_to_cuda_computes_on_the_gpu_and_back():
    model = tt.convert_to_analog(nn.Sequential(nn.Linear(8, 4)), tessera.load_preset("ideal"))
    x = torch.randn(3, 8)
    on_cpu = model(x)
    model.to("cuda")
    assert model[0].backend == "cuda"
    torch.testing.assert_close(model(x.cuda()).cpu(), on_cpu, rtol=1e-4, atol=1e-4)
    model.cpu()
    assert model[0].backend == "cpu"


def test_onnx_conversions_return_the_model_and_take_exclude_modules():
    model = tessera.Model.load_onnx(MODEL)
    analog = tessera.convert_onnx_to_analog(model, tessera.load_preset("pcm_inference"), seed=1)
    assert isinstance(analog, tessera.Model)
    rows = analog.plan.rows()
    assert {row["became"] for row in rows} >= {"AnalogConv2d", "AnalogLinear"}
    with pytest.raises(tessera.ModelError, match="^exclude_modules: 'nope' is not a module of"):
        tessera.convert_onnx_to_analog(model, exclude_modules=["nope"])
    # The older name keeps its older contract: (model, report rows), keyword exclude.
    older, report = tessera.convert_to_analog(model, tessera.load_preset("pcm_inference"), seed=1)
    assert report == rows
    x = np.random.RandomState(0).randn(4, 1, 28, 28).astype(np.float32)
    analog.drift_analog_weights(3600.0)
    older.drift(3600.0)
    np.testing.assert_array_equal(analog(x), older(x))
    quantized = tessera.convert_onnx_to_quantized(model, tessera.load_preset("digital_int8"))
    assert isinstance(quantized, tessera.Model)
    assert tessera.convert_to_quantized(model, tessera.load_preset("digital_int8"))[1] == quantized.plan.rows()
