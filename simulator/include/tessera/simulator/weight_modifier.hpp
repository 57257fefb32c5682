// Weight modifiers for hardware-aware training (aihwkit's WeightModifierParameter): the tile's
// forward during training uses a perturbed copy of its weights, drawn afresh per forward call.
// With amax = max|W| (rel_to_actual_wmax) or assumed_wmax, and xi ~ N(0, 1) per weight:
//   DISCRETIZE             round to bins of res * 2 * amax (res as for the DAC/ADC: a fraction
//                          of the full range [-amax, amax], or a number of steps if > 1)
//   ADD_NORMAL             w + std_dev * amax * xi
//   MULT_NORMAL            w * (1 + std_dev * xi)
//   DISCRETIZE_ADD_NORMAL  DISCRETIZE, then ADD_NORMAL
//   DOREFA                 tanh(w) * dorefa_clip / tanh(amax), then DISCRETIZE on [-clip, clip]
//   POLY                   w + amax * std_dev * (c0 + c1 |w|/amax + c2 (|w|/amax)^2 + ...) * xi
//   PROG_NOISE             as POLY with g = |w|/amax * g_max and std_dev / g_max (the
//                          coefficients are in uS), keeping the sign of w
//   DROP_CONNECT           (or any type with pdrop > 0) each weight zeroed with probability pdrop
// Choices where aihwkit's C++ and torch tiles differ: the DISCRETIZE bin follows the torch tile
// (res * 2 * amax, the same convention as the DAC/ADC), and MULT_NORMAL is relative to w only
// (torch; the C++ also multiplies by amax, which makes the noise depend on the weight scale
// twice).
#pragma once

#include "tessera/parameters/mapping.hpp"
#include "tessera/simulator/random_stream.hpp"
#include "tessera/simulator/tensor.hpp"

namespace tessera::simulator {

/// True when `modifier` changes weights at all.
bool modifies_weights(const parameters::WeightModifierParameter& modifier);

/// out = the modified copy of `weights` ([out, in]); every draw comes from `stream`, addressed by
/// the weight's index. With copy_last_column the last column is copied unchanged and left out
/// of amax. Throws std::invalid_argument for settings that are not simulated
/// (per_batch_sample).
void modify_weights(const Tensor& weights, Tensor& out, const parameters::WeightModifierParameter& modifier,
                    const RandomStream& stream);

}  // namespace tessera::simulator
