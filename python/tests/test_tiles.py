import numpy as np
import pytest

import tessera


def _tile(rpu, seed=3, shape=(16, 24)):
    tile = tessera.AnalogTileArray(*shape, rpu, seed=seed)
    tile.set_weights((np.random.RandomState(1).randn(*shape) * 0.2).astype(np.float32))
    return tile


def test_perfect_tile_equals_the_float_product():
    rpu = tessera.load_preset("ideal")
    tile = _tile(rpu)
    x = np.random.RandomState(2).randn(7, 24).astype(np.float32)
    np.testing.assert_allclose(tile.forward(x), x @ tile.get_weights().T, rtol=1e-5, atol=1e-6)


def test_same_seed_same_output_other_seed_other_output():
    rpu = tessera.InferenceRPUConfig()
    x = np.random.RandomState(2).randn(5, 24).astype(np.float32)
    outputs = []
    for seed in (3, 3, 4):
        tile = _tile(rpu, seed)
        tile.program()
        tile.drift(3600.0)
        outputs.append(tile.forward(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_output_noise_has_the_configured_std():
    rpu = tessera.load_preset("ideal")
    rpu.forward.is_perfect = False
    rpu.forward.out_noise = 0.05
    rpu.forward.inp_res = 0  # no DAC: only output noise
    rpu.forward.out_res = 0
    rpu.forward.noise_management = "NONE"
    rpu.forward.bound_management = "NONE"
    tile = tessera.AnalogTileArray(32, 8, rpu, seed=5)
    tile.set_weights(np.zeros((32, 8), np.float32))
    samples = tile.forward(np.ones((500, 8), np.float32)).ravel()
    # 16000 draws: the sample std is within 3 % of 0.05 with overwhelming probability
    assert abs(samples.std() / 0.05 - 1) < 0.03
    assert abs(samples.mean()) < 4 * 0.05 / np.sqrt(samples.size)


def test_large_matrices_are_split_over_tiles():
    rpu = tessera.load_preset("ideal")
    rpu.mapping.max_input_size = 16
    rpu.mapping.max_output_size = 8
    tile = _tile(rpu, shape=(20, 40))
    assert tile.tile_count == 3 * 3
    x = np.random.RandomState(2).randn(4, 40).astype(np.float32)
    np.testing.assert_allclose(tile.forward(x), x @ tile.get_weights().T, rtol=1e-5, atol=1e-5)


def test_tile_refuses_bad_shapes_and_dtypes():
    tile = _tile(tessera.InferenceRPUConfig())
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 24\], got \[2, 23\]"):
        tile.forward(np.zeros((2, 23), np.float32))
    with pytest.raises(ValueError, match="expected a 2-d array, found shape"):
        tile.forward(np.zeros(24, np.float32))
    with pytest.raises(TypeError, match="dtype int32"):
        tile.forward(np.zeros((2, 24), np.int32))
    with pytest.raises(ValueError, match="weights"):
        tile.set_weights(np.zeros((3, 3), np.float32))
