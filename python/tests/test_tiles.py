import os

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


def test_cuda_backend_is_refused_with_the_reason_when_unavailable():
    probe = tessera.cuda_availability()
    tile = tessera.AnalogTileArray(4, 4, tessera.InferenceRPUConfig(), name="fc")
    assert tile.backend == "cpu"
    with pytest.raises(ValueError, match="unknown backend 'gpu' \\(expected cpu or cuda\\)"):
        tile.set_backend("gpu")
    if probe["available"]:
        tile.set_backend("cuda")
        assert tile.backend == "cuda"
        return
    assert probe["reason"]
    with pytest.raises(RuntimeError, match="tile 'fc': the CUDA backend is not available: "):
        tile.set_backend("cuda")
    model = tessera.Model.load_onnx(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "fashion_mnist",
                                                 "fmnist_cnn.onnx"))
    with pytest.raises(RuntimeError, match="fmnist_cnn.onnx: the CUDA backend is not available"):
        model.set_backend("cuda")


@pytest.mark.skipif(not tessera.cuda_availability()["available"], reason="no CUDA device")
def test_cuda_tile_agrees_with_the_cpu_tile():
    rpu = tessera.InferenceRPUConfig()
    x = np.random.RandomState(2).randn(64, 24).astype(np.float32)
    cpu, gpu = _tile(rpu), _tile(rpu)
    gpu.set_backend("cuda")
    step = 2 * rpu.forward.out_bound * rpu.forward.out_res
    bound = step * np.abs(x).max(axis=1, keepdims=True) * 64 * 1.5  # one ADC step at the sample's scale
    assert np.all(np.abs(gpu.forward(x) - cpu.forward(x)) <= bound)


def test_tiles_that_cannot_fit_in_memory_are_refused_before_allocating():
    # 2^31 x 2 is inside the 2^32-element limit, but a tile keeps several copies of its weights
    # (96 GiB here): refused with the sizes instead of being killed by the system.
    with open("/proc/meminfo") as meminfo:
        available = next(int(line.split()[1]) << 10 for line in meminfo if line.startswith("MemAvailable"))
    if available > 96 << 30:
        pytest.skip("this machine has more than 96 GiB available: the largest tile fits")
    for make in (tessera.AnalogTile, tessera.AnalogTileArray):
        with pytest.raises(ValueError, match=r"tile 'tile' of 2147483648 x 2 \(about 6 copies of its weights\) "
                                             r"needs 96.0 GiB; only .* GiB of memory are available"):
            make(2**31, 2)


def test_simd_levels_keep_their_promises():
    """Every level this CPU runs gives the same tile forward on avx512 and avx2 bit for bit; on the
    generic level (its products round each multiply) an output may land in the neighbouring ADC
    bin when its sum lies within rounding of a bin edge, so almost all are equal and the rest one
    bin apart."""
    levels = ["generic", "avx2", "avx512"]
    runnable = levels[: levels.index(tessera.supported_simd_level()) + 1]
    before = tessera.simd_level()
    rpu = tessera.load_preset("pcm_inference")
    x = np.random.RandomState(2).randn(64, 300).astype(np.float32)
    outputs = {}
    try:
        for level in runnable:
            tessera.set_simd_level(level)
            assert tessera.simd_level() == level
            tile = _tile(rpu, shape=(40, 300))
            tile.program()
            tile.drift(86400.0)
            outputs[level] = tile.forward(x)
        with pytest.raises(ValueError, match="unknown SIMD level 'sse9'"):
            tessera.set_simd_level("sse9")
    finally:
        tessera.set_simd_level(before)
    if "avx2" in outputs and "avx512" in outputs:
        np.testing.assert_array_equal(outputs["avx2"], outputs["avx512"])
    difference = np.abs(outputs["generic"] - outputs[runnable[-1]])
    assert np.mean(difference == 0) >= 0.99
    # One ADC bin (out_bound 12, 510 steps) at the sample's noise-management scale max|x|, times
    # the drift compensation's factor (well below 4 after a day).
    bin_at_scale = 2 * 12.0 / 510 * np.abs(x).max(axis=1, keepdims=True) * 4
    assert np.all(difference <= bin_at_scale)
