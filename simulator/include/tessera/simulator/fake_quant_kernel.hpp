// The per-element affine quantization arithmetic, written once for host and device.
// It reproduces torch's fake_quantize_per_{tensor,channel}_affine on float32 bit for bit:
//   q = clamp(nearbyint(x * inv_scale) + zero_point, qmin, qmax)   with inv_scale = 1.0f / scale
//   y = (q - zero_point) * scale
// evaluated in float for grids up to 16 bits (as torch does) and in double above. Beyond
// torch: NaN stays NaN, and +-Inf and values whose q overflows int64 saturate to qmax/qmin
// (torch's float -> int64 cast is undefined there; on x86 it returns qmin even for +Inf).
#pragma once

#include <cmath>

#include "tessera/simulator/philox.hpp"

namespace tessera::simulator {

template <class Real>
struct FakeQuantParams {
  Real scale;
  Real inv_scale;
  Real zero_point;
  Real qmin;
  Real qmax;
};

/// The integer level of x (as Real); NaN for NaN input.
template <class Real>
TESSERA_HOST_DEVICE inline Real quantize_value(Real x, const FakeQuantParams<Real>& p) {
  Real level = std::nearbyint(x * p.inv_scale) + p.zero_point;
  level = level < p.qmin ? p.qmin : level;  // comparisons are false for NaN: it passes through
  level = level > p.qmax ? p.qmax : level;
  return level;
}

template <class Real>
TESSERA_HOST_DEVICE inline Real dequantize_value(Real level, const FakeQuantParams<Real>& p) {
  return (level - p.zero_point) * p.scale;
}

template <class Real>
TESSERA_HOST_DEVICE inline Real quantize_dequantize_value(Real x, const FakeQuantParams<Real>& p) {
  return dequantize_value(quantize_value(x, p), p);
}

}  // namespace tessera::simulator
