import copy

import numpy as np
import pytest
import torch
from torch import nn

import tessera
from tessera.torch import (AnalogConv1d, AnalogConv2d, AnalogLinear, convert_to_analog, drift_analog_weights,
                           program_analog_weights)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1, stride=2), nn.ReLU(), nn.Conv2d(6, 4, 3))
        self.seq = nn.Conv1d(4, 5, 2, padding=1)
        self.head = nn.Linear(5 * 3, 7)

    def forward(self, x):
        x = self.features(x)  # (N, 4, 3, 3)
        x = self.seq(x.flatten(2)[..., :2])  # (N, 5, 3)
        return self.head(x.flatten(1))


def test_perfect_analog_model_equals_the_torch_model():
    net = Net()
    x = torch.randn(6, 2, 10, 10)
    analog = convert_to_analog(net, tessera.load_preset("ideal"))
    assert isinstance(analog.features[0], AnalogConv2d) and isinstance(analog.seq, AnalogConv1d)
    assert isinstance(analog.head, AnalogLinear)
    torch.testing.assert_close(analog(x), net(x), rtol=1e-5, atol=1e-5)


def test_gradients_through_perfect_tiles_equal_torch_autograd():
    net = Net()
    x = torch.randn(4, 2, 10, 10, requires_grad=True)
    analog = convert_to_analog(net, tessera.load_preset("ideal"))
    x2 = x.detach().clone().requires_grad_(True)
    (net(x) ** 2).sum().backward()
    (analog(x2) ** 2).sum().backward()
    torch.testing.assert_close(x2.grad, x.grad, rtol=1e-4, atol=1e-5)
    for (name, theirs), ours in zip(net.named_parameters(), analog.parameters()):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_exclusion_is_by_subtree_and_subclasses_count_when_they_keep_forward():
    class MyLinear(nn.Linear):  # torch's NonDynamicallyQuantizableLinear is such a subclass
        pass

    class GatedLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * torch.sigmoid(x.sum(-1, keepdim=True))

    net = nn.Sequential(Net(), MyLinear(7, 3), GatedLinear(3, 3))
    analog = convert_to_analog(net, exclude_modules=["0.features"])
    assert type(analog[0].features[0]) is nn.Conv2d and type(analog[0].features[2]) is nn.Conv2d
    assert isinstance(analog[0].head, AnalogLinear)
    assert isinstance(analog[1], AnalogLinear)  # the same forward as nn.Linear: converted
    assert type(analog[2]) is GatedLinear  # its own forward: not a Linear, and reported
    row = next(r for r in analog.tessera_conversion_report if r["module"] == "2")
    assert row["type"] == "GatedLinear" and row["became"] == "unchanged"
    assert row["rule"] == "stays digital: type GatedLinear is not one tessera converts (its parameters stay digital)"
    assert type(net[0].head) is nn.Linear  # not inplace: the original is untouched
    with pytest.raises(tessera.ModelError, match="exclude_modules: 'features' is not a module of Sequential"):
        convert_to_analog(net, exclude_modules=["features"])


def test_programming_and_drift_change_outputs_reproducibly():
    net = Net()
    x = torch.randn(3, 2, 10, 10)
    outputs = []
    for _ in range(2):
        analog = convert_to_analog(net, tessera.InferenceRPUConfig(), seed=11).eval()
        program_analog_weights(analog)
        drift_analog_weights(analog, 86400.0)
        outputs.append(analog(x).detach())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    assert (outputs[0] - net(x)).abs().max() > 1e-3  # the noise is there


def test_drift_shrinks_outputs_and_global_compensation_recovers_much_of_it():
    x = torch.randn(256, 64)
    weight = torch.randn(32, 64) * 0.1
    scales = {}
    for compensation in ("None", "GlobalDriftCompensation"):
        rpu = tessera.InferenceRPUConfig()
        rpu.drift_compensation.type = compensation
        layer = AnalogLinear(64, 32, bias=False, rpu_config=rpu, seed=2).eval()
        with torch.no_grad():
            layer.weight.copy_(weight)
        layer.program_analog_weights()
        with torch.no_grad():
            at_start = layer(x).abs().mean()
            layer.drift_analog_weights(3.15e7)  # one year
            scales[compensation] = (layer(x).abs().mean() / at_start).item()
    # Measured at this seed: 0.53 without compensation, 0.75 with it.
    assert scales["None"] < 0.7  # PCM conductances drift down over a year
    assert scales["GlobalDriftCompensation"] > scales["None"] + 0.15


def test_bad_inputs_to_analog_layers_raise_clear_errors():
    layer = AnalogLinear(8, 4)
    with pytest.raises(ValueError, match="expected inputs with 8 features .* found shape \\(2, 7\\)"):
        layer(torch.zeros(2, 7))
    with pytest.raises(TypeError, match="rpu_config: expected a tessera.InferenceRPUConfig, found dict"):
        AnalogLinear(8, 4, rpu_config={})
    with pytest.raises(ValueError, match="no analog layers"):
        program_analog_weights(nn.Linear(2, 2))


def _task(seed, n=1200):
    """Four Gaussian classes in 16-d (the same classes for every seed; other samples)."""
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(123)) * 0.6
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=generator)
    return centers[labels] + torch.randn(n, 16, generator=generator), labels


def _train(model, x, y, epochs=30):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model


def _noisy_accuracy(model, x, y, seeds):
    rpu = tessera.InferenceRPUConfig()
    rpu.noise_model.prog_noise_scale = 3.0  # a noisy device, where training for it pays
    rpu.forward.out_noise = 0.1
    accuracies = []
    for seed in seeds:
        analog = convert_to_analog(model, rpu, seed=seed).eval()
        program_analog_weights(analog)
        drift_analog_weights(analog, 3600.0)
        with torch.no_grad():
            accuracies.append((analog(x).argmax(1) == y).float().mean().item())
    return float(np.mean(accuracies))


def test_hardware_aware_training_improves_accuracy_under_noise():
    x, y = _task(0)
    test_x, test_y = _task(1, 600)
    plain_scores, hwa_scores = [], []
    for init in range(2):
        torch.manual_seed(init)
        digital = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        start = {k: v.clone() for k, v in digital.state_dict().items()}
        plain = _train(digital, x, y)
        hwa_rpu = tessera.InferenceRPUConfig()
        hwa_rpu.modifier.type = "ADD_NORMAL"
        hwa_rpu.modifier.std_dev = 0.1
        hwa_rpu.forward.out_noise = 0.1
        fresh = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        fresh.load_state_dict(start)
        hwa = _train(convert_to_analog(fresh, hwa_rpu, seed=init), x, y)
        hwa_digital = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        hwa_digital.load_state_dict({k: v.detach() for k, v in hwa.state_dict().items()})
        plain_scores.append(_noisy_accuracy(plain, test_x, test_y, range(3)))
        hwa_scores.append(_noisy_accuracy(hwa_digital, test_x, test_y, range(3)))
    print(f"accuracy under noise: plain {np.mean(plain_scores):.3f}, hardware-aware {np.mean(hwa_scores):.3f}")
    assert np.mean(hwa_scores) > np.mean(plain_scores) + 0.005


def test_weight_modifier_acts_in_training_only():
    rpu = tessera.load_preset("ideal")
    rpu.modifier.type = "ADD_NORMAL"
    rpu.modifier.std_dev = 0.1
    digital = nn.Linear(8, 4)
    layer = convert_to_analog(digital, rpu)
    x = torch.randn(16, 8)
    layer.train()
    with torch.no_grad():
        first, second = layer(x), layer(x)
    assert (first - second).abs().max() > 1e-3  # fresh weight noise in every training forward
    layer.eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), digital(x), rtol=1e-5, atol=1e-5)


def test_deepcopy_and_torch_save_give_working_copies(tmp_path):
    net = Net()
    analog = convert_to_analog(net, tessera.load_preset("ideal"))
    x = torch.randn(2, 2, 10, 10)
    copied = copy.deepcopy(analog)
    assert copied.head.analog_tiles[0].tiles is not analog.head.analog_tiles[0].tiles
    torch.save(analog, tmp_path / "analog.pt")
    loaded = torch.load(tmp_path / "analog.pt")
    with torch.no_grad():
        torch.testing.assert_close(copied(x), analog(x), rtol=0, atol=0)
        torch.testing.assert_close(loaded(x), analog(x), rtol=0, atol=0)


def test_analog_layers_take_a_backend():
    if tessera.cuda_availability()["available"]:
        layer = convert_to_analog(nn.Linear(4, 2), backend="cuda")
        assert layer.backend == "cuda"
        return
    with pytest.raises(RuntimeError, match="the CUDA backend is not available"):
        convert_to_analog(nn.Linear(4, 2), backend="cuda")


def test_bad_conversions_and_conv_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="convert_to_analog: expected a torch.nn.Module, found dict"):
        convert_to_analog({})
    conv = convert_to_analog(nn.Conv2d(3, 4, 3), tessera.load_preset("ideal"))
    with pytest.raises(ValueError, match=r"expected input \(batch, 3, 2 spatial dimensions\), found shape \(2, 4, 8, 8\)"):
        conv(torch.zeros(2, 4, 8, 8))


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_analog_and_quantized_layers_refuse_what_nn_linear_refuses(dtype):
    model = nn.Sequential(nn.Linear(3, 2))
    x = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(RuntimeError):
        model(x)  # torch's own layer refuses it
    analog = convert_to_analog(model, tessera.load_preset("ideal"))
    with pytest.raises(TypeError, match=f"AnalogLinear '0': expected a floating-point input .* found {dtype}"):
        analog(x)
    quantized = tessera.torch.convert_to_quantized(model, tessera.load_preset("digital_int8"))
    with pytest.raises(TypeError, match=f"QuantLinear: expected a floating-point input .* found {dtype}"):
        quantized(x)


def test_nan_and_inf_weights_are_refused_by_tiles_and_conversions():
    tile = tessera.AnalogTile(2, 3)
    weights = np.zeros((2, 3), dtype=np.float32)
    weights[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"tile 'tile': weight \[1, 2\] is nan \(weights must be finite\)"):
        tile.set_weights(weights)
    with pytest.raises(ValueError, match="must be finite"):
        tessera.AnalogTileArray(2, 3).set_bias([0.0, float("inf")])
    model = nn.Sequential(nn.Linear(3, 2), nn.LSTM(2, 2))
    with torch.no_grad():
        model[0].weight[0, 1] = float("inf")
        model[1].weight_hh_l0[1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"0: weight holds 1 NaN or Inf value\(s\), the first at \(0, 1\)"):
        convert_to_analog(model)
    with pytest.raises(ValueError, match=r"1: weight_hh_l0 holds 1 NaN or Inf value\(s\), the first at \(1, 0\)"):
        convert_to_analog(model, exclude_modules=["0"])
    with pytest.raises(ValueError, match="QuantLinear: weight holds 1 NaN or Inf"):
        tessera.torch.convert_to_quantized(model, tessera.load_preset("digital_int8"))


def test_saved_analog_models_keep_their_programming_drift_and_noise_position(tmp_path):
    torch.manual_seed(0)
    analog = convert_to_analog(Net(), tessera.InferenceRPUConfig(), seed=4)  # PCM noise on everything
    program_analog_weights(analog)
    drift_analog_weights(analog, 86400.0)
    x = torch.randn(3, 2, 10, 10)
    with torch.no_grad():
        analog(x)  # the read-noise streams move on
    torch.save(analog, tmp_path / "analog.pt")
    loaded = torch.load(tmp_path / "analog.pt")
    pickled = __import__("pickle").loads(__import__("pickle").dumps(analog))
    copied = copy.deepcopy(analog)
    with torch.no_grad():
        expected = analog(x)  # the next forward of the original
        for other in (loaded, pickled, copied):
            torch.testing.assert_close(other(x), expected, rtol=0, atol=0)
    tiles = loaded.head.analog_tiles[0]
    assert tiles.programmed and tiles.drift_time == 86400.0


def test_a_model_saved_with_the_cuda_backend_loads_on_the_cpu_with_a_warning():
    layer = convert_to_analog(nn.Sequential(nn.Linear(4, 3)), tessera.load_preset("ideal"))
    layer[0].analog_tiles[0].backend = "cuda"  # as a GPU machine would have saved it
    if tessera.cuda_availability()["available"]:
        pytest.skip("this machine has a CUDA device: the backend would load as saved")
    with pytest.warns(UserWarning, match="backend 'cuda' is not usable here .*; it computes on the CPU"):
        loaded = __import__("pickle").loads(__import__("pickle").dumps(layer))
    assert loaded[0].analog_tiles[0].backend == "cpu"
    x = torch.randn(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), layer(x))
