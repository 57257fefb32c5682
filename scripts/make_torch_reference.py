#!/usr/bin/env python3
"""Writes torch reference data for the C++ tests:

tests/data/torch_fake_quant_reference.txt: inputs and the outputs of
torch.fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine for many encodings,
as float32 bit patterns, so the C++ tests can demand bit-exact agreement.

tests/data/torch_histogram_l2_reference.txt: one batch of data per case and the range that
torch's HistogramObserver (2048 bins, 256 destination bins) picks with
_non_linear_param_search, for the histogram_l2 range estimator.

Run with Debian's interpreter after `scripts/install_deps.sh reference`:
    /usr/bin/python3 scripts/make_torch_reference.py

Inputs cover random values, exact rounding ties (power-of-two scales), near-ties, the grid
edges and values far outside the range. Values whose level overflows int64 (|x / scale| >=
2^62), infinities and NaN are left out: torch's float -> int64 cast is undefined there (it
returns qmin even for +inf on x86); tessera defines those cases itself (see
simulator/include/tessera/simulator/fake_quant_kernel.hpp) and tests them separately.
"""
import pathlib
import struct

import torch

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
OUTPUT = DATA / "torch_fake_quant_reference.txt"
HISTOGRAM_OUTPUT = DATA / "torch_histogram_l2_reference.txt"


def bits(values):
    return " ".join(f"{struct.unpack('<I', struct.pack('<f', float(v)))[0]:08x}" for v in values)


def inputs_for(scale, zero_point, qmin, qmax, count, generator):
    """Random values plus ties, near-ties, edges and far-outside values on this grid."""
    low = (qmin - zero_point) * scale
    high = (qmax - zero_point) * scale
    span = high - low
    levels = torch.randint(qmin - 3, qmax + 3, (count // 4,), generator=generator).double()
    ties = (levels - zero_point + 0.5) * scale
    near_ties = ties * (1 + 1e-7 * torch.randn(count // 4, generator=generator, dtype=torch.float64))
    random = low + span * (1.4 * torch.rand(count // 4, generator=generator, dtype=torch.float64) - 0.2)
    far = span * torch.tensor([1e3, -1e3, 1e6, -1e6, 3e9, -3e9], dtype=torch.float64)
    edges = torch.tensor([low, high, low - scale / 2, high + scale / 2, 0.0, -0.0], dtype=torch.float64)
    rest = count - 3 * (count // 4) - len(far) - len(edges)
    extra = torch.randn(rest, generator=generator, dtype=torch.float64) * span
    values = torch.cat([ties, near_ties, random, far, edges, extra]).float()
    return values[(values.double() / scale).abs() < 2.0**62]


def write_case(out, name, kind, axis, qmin, qmax, x, scales, zero_points, y):
    dims = " ".join(str(d) for d in x.shape)
    out.write(f"case {name} {kind} {axis} {qmin} {qmax} {x.dim()} {dims}\n")
    out.write(f"scales {len(scales)} {bits(scales)}\n")
    out.write(f"zero_points {len(zero_points)} {' '.join(str(int(z)) for z in zero_points)}\n")
    out.write(f"input {bits(x.flatten())}\n")
    out.write(f"output {bits(y.flatten())}\n")


def main():
    generator = torch.Generator().manual_seed(20261122)
    per_tensor = [  # name, scale, zero_point, qmin, qmax
        ("int8_symmetric", 0.0173, 0, -128, 127),
        ("uint8_asymmetric", 0.0421, 37, 0, 255),
        ("uint8_symmetric", 0.25, 128, 0, 255),
        ("int8_pow2_ties", 2.0**-5, 0, -128, 127),
        ("uint4_asymmetric", 0.37, 5, 0, 15),
        ("int4_symmetric", 0.5, 0, -8, 7),
        ("int2_symmetric", 1.0, 0, -2, 1),
        ("uint1", 0.75, 0, 0, 1),
        ("int16_symmetric", 3.1e-4, 0, -32768, 32767),
        ("uint16_asymmetric", 1.9e-3, 1234, 0, 65535),
        ("int8_tiny_scale", 1.1920929e-7, 3, -128, 127),
    ]
    with OUTPUT.open("w") as out:
        out.write(f"# torch {torch.__version__} fake-quantization reference; made by scripts/make_torch_reference.py\n")
        for name, scale, zero_point, qmin, qmax in per_tensor:
            x = inputs_for(scale, zero_point, qmin, qmax, 1200, generator)
            y = torch.fake_quantize_per_tensor_affine(x, scale, zero_point, qmin, qmax)
            scale32 = torch.tensor([scale], dtype=torch.float32)
            write_case(out, name, "tensor", -1, qmin, qmax, x, scale32, [zero_point], y)

        per_channel = [  # name, shape, axis, qmin, qmax
            ("int8_axis0", (6, 50), 0, -128, 127),
            ("uint8_axis1", (40, 7), 1, 0, 255),
            ("int4_axis1_rank3", (5, 4, 30), 1, -8, 7),
            ("uint8_axis2_rank3", (3, 20, 5), 2, 0, 255),
        ]
        for name, shape, axis, qmin, qmax in per_channel:
            channels = shape[axis]
            scales = (0.01 + torch.rand(channels, generator=generator)).float()
            scales[0] = 2.0**-4  # one channel with exact ties
            if qmin < 0:
                zero_points = torch.zeros(channels, dtype=torch.int32)
            else:
                zero_points = torch.randint(0, qmax + 1, (channels,), generator=generator, dtype=torch.int32)
            # Build each channel's values on its own grid, then move the channel axis into place.
            moved = list(shape)
            moved.insert(0, moved.pop(axis))
            per = int(torch.tensor(moved[1:]).prod())
            columns = []
            for c in range(channels):
                values = inputs_for(float(scales[c]), int(zero_points[c]), qmin, qmax, 4 * per, generator)
                columns.append(values[torch.randperm(len(values), generator=generator)[:per]])
            x = torch.stack(columns).reshape(moved).movedim(0, axis).contiguous()
            y = torch.fake_quantize_per_channel_affine(x, scales, zero_points, axis, qmin, qmax)
            write_case(out, name, "channel", axis, qmin, qmax, x, scales, zero_points, y)
    print(f"wrote {OUTPUT}")
    write_histogram_reference(generator)


def with_integer_ends(values, low, high):
    """Clamps to [low, high] and includes both ends. torch 1.13's HistogramObserver builds its
    histogram over [int(min), int(max)] but labels the bins with the true min/max (a torch bug:
    values beyond the truncated range are dropped); with integer ends both agree."""
    return torch.cat([values.clamp(low, high), torch.tensor([float(low), float(high)])])


def write_histogram_reference(generator):
    count = 4094
    torch.manual_seed(20261122)  # for the Laplace sampler, which uses the global generator
    normal = torch.randn(count, generator=generator)
    uniform = torch.rand(count - 2, generator=generator) * 2 - 1
    cases = {
        "gaussian": with_integer_ends(normal, -4, 4),
        "laplace": with_integer_ends(torch.distributions.Laplace(0.0, 1.0).sample((count,)), -7, 8),
        "uniform_with_outliers": with_integer_ends(torch.cat([uniform, torch.tensor([6.0, -5.5])]), -8, 9),
        "relu_gaussian": with_integer_ends(normal.clamp(min=0.0), 0, 4),
    }
    with HISTOGRAM_OUTPUT.open("w") as out:
        out.write(f"# torch {torch.__version__} HistogramObserver(dtype=quint8) ranges; made by scripts/make_torch_reference.py\n")
        for name, values in cases.items():
            observer = torch.ao.quantization.HistogramObserver(dtype=torch.quint8)
            observer(values)
            low, high = observer._non_linear_param_search()
            out.write(f"case {name} {len(values)}\n")
            out.write(f"range {bits([low, high])}\n")
            out.write(f"input {bits(values)}\n")
    print(f"wrote {HISTOGRAM_OUTPUT}")


if __name__ == "__main__":
    main()
