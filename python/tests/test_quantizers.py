import numpy as np
import pytest
import torch

import tessera


def _data(shape=(64, 33)):
    values = np.random.randn(*shape).astype(np.float32) * 3
    values.flat[::7] = np.round(values.flat[::7] * 4) / 4 + 0.125  # ties, the hard case for rounding
    return values


@pytest.mark.parametrize("bitwidth,symmetric", [(8, False), (8, True), (4, False), (3, True)])
def test_quantize_dequantize_per_tensor_equals_torch_fake_quantize_bit_for_bit(bitwidth, symmetric):
    x = _data()
    q = tessera.QuantizeDequantize(bitwidth=bitwidth, symmetric=symmetric)
    q.set_range([-2.5], [3.0])
    ours = q(x)
    theirs = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(q.scale[0]), int(q.zero_point[0]),
                                                   int(q.qmin), int(q.qmax)).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_quantize_dequantize_per_channel_equals_torch_bit_for_bit():
    x = _data((16, 40))
    q = tessera.QuantizeDequantize(shape=tessera.per_channel_shape([16, 40], 0), bitwidth=8)
    low = -np.linspace(0.5, 4, 16, dtype=np.float32)
    q.set_range(low.tolist(), (-low * 0.8).tolist())
    theirs = torch.fake_quantize_per_channel_affine(torch.from_numpy(x), torch.from_numpy(q.scale),
                                                    torch.tensor(q.zero_point, dtype=torch.int32), 0,
                                                    int(q.qmin), int(q.qmax)).numpy()
    np.testing.assert_array_equal(q(x), theirs)


def test_quantize_and_dequantize_compose_to_quantize_dequantize():
    x = _data()
    qdq = tessera.QuantizeDequantize(bitwidth=6)
    quantize = tessera.Quantize(bitwidth=6)
    for quantizer in (qdq, quantize):
        quantizer.set_range([-1.0], [2.0])
    levels = quantize(x)
    assert np.all(levels == np.round(levels)) and levels.min() >= quantize.qmin and levels.max() <= quantize.qmax
    np.testing.assert_array_equal(tessera.Dequantize(quantize)(levels), qdq(x))


def test_calibration_observes_then_fixes_the_range():
    q = tessera.QuantizeDequantize(bitwidth=8, range_estimator="allminmax")
    q.begin_calibration()
    np.testing.assert_array_equal(q(np.array([[-1.0, 2.0]], np.float32)), [[-1.0, 2.0]])  # passes through
    q(np.array([[-3.0, 1.0]], np.float32))
    q.end_calibration()
    assert q.min[0] == pytest.approx(-3.0, abs=q.scale[0]) and q.max[0] == pytest.approx(2.0, abs=q.scale[0])


def test_bad_arguments_raise_clear_errors():
    q = tessera.QuantizeDequantize(bitwidth=8)
    with pytest.raises(Exception, match="encodings|compute_encodings"):
        q(np.zeros((2, 2), np.float32))  # not calibrated
    q.set_range([-1.0], [1.0])
    with pytest.raises(TypeError, match="expected a float32 .* found dtype int64"):
        q(np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError, match="expected a numpy array of float32, found list"):
        q([1.0, 2.0])
    with pytest.raises(ValueError, match="range_estimator: unknown 'minmax' .*current_minmax"):
        tessera.QuantizeDequantize(range_estimator="minmax")


def test_quantizers_pickle_and_refuse_foreign_state():
    import pickle

    q = tessera.QuantizeDequantize(bitwidth=5, symmetric=True, range_estimator="allminmax")
    q.set_range([-2.0], [2.0])
    copy = pickle.loads(pickle.dumps(q))
    assert (copy.bitwidth, copy.symmetric, list(copy.scale)) == (5, True, list(q.scale))
    blank = tessera.QuantizeDequantize.__new__(tessera.QuantizeDequantize)
    with pytest.raises(ValueError, match="not a pickled tessera quantizer"):
        blank.__setstate__((1, 2))
