// The scalar activation functions, written once for the elementwise operators and for the gates
// of recurrent layers (ONNX names them the same way in both places).
#pragma once

#include <algorithm>
#include <cmath>

namespace tessera::nn::ops::activation {

inline float relu(float x) { return x > 0.0f ? x : (std::isnan(x) ? x : 0.0f); }
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float tanh(float x) { return std::tanh(x); }
inline float softsign(float x) { return x / (1.0f + std::abs(x)); }
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }  // exp overflows past 88
inline float leaky_relu(float x, float alpha) { return x < 0.0f ? alpha * x : x; }
inline float elu(float x, float alpha) { return x < 0.0f ? alpha * (std::exp(x) - 1.0f) : x; }
inline float hard_sigmoid(float x, float alpha, float beta) { return std::min(std::max(alpha * x + beta, 0.0f), 1.0f); }

}  // namespace tessera::nn::ops::activation
