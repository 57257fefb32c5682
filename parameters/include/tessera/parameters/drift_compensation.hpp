// Drift compensation: a reference read at programming time, repeated at inference time, gives
// a factor that undoes the average conductance decay (aihwkit inference/compensation).
#pragma once

#include <array>
#include <string_view>
#include <utility>
#include <variant>

#include "tessera/parameters/checks.hpp"
#include "tessera/parameters/enum_names.hpp"

namespace tessera::parameters {

/// How the reference read (the analog forward of the identity, y = W^T plus the periphery's
/// noise and quantization) becomes a number per tile or column.
enum class CompensationReadout {
  /// aihwkit's: mean |y|. Output noise and the ADC add a floor that does not drift, so where
  /// weights are small next to out_noise the factor under-corrects late drift.
  MEAN_ABS,
  /// sum y_ref * y over the read, against sum y_ref * y_ref' of two independent baseline reads:
  /// the periphery's zero-mean noise drops out of both sums, so the factor follows the weights.
  CORRELATION,
};

/// Identity reads averaged per compensation readout: each costs an MVM per input row.
inline constexpr Check kReadCount = between(1.0, 1024.0);

template <>
struct EnumNames<CompensationReadout> {
  static constexpr std::array<std::pair<CompensationReadout, std::string_view>, 2> kNames{{
      {CompensationReadout::MEAN_ABS, "MEAN_ABS"},
      {CompensationReadout::CORRELATION, "CORRELATION"},
  }};
};

struct NoDriftCompensation {
  static constexpr std::string_view kTypeName = "None";
  template <class Self, class Visitor>
  static void visit_fields(Self&, Visitor&) {}
  bool operator==(const NoDriftCompensation&) const = default;
};

/// One scalar per tile: the reference read's summary (mean |y| by default), before over after drift.
struct GlobalDriftCompensation {
  bool exact_reference = false;  ///< baseline from the ideal (noise-free) weights
  CompensationReadout readout = CompensationReadout::MEAN_ABS;  ///< MEAN_ABS (aihwkit) or CORRELATION
  int reads = 1;  ///< identity reads averaged per readout (noise variance / reads); aihwkit: 1
  static constexpr std::string_view kTypeName = "GlobalDriftCompensation";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("exact_reference", self.exact_reference, kAnyValue, "baseline from the ideal (noise-free) weights");
    field("readout", self.readout, kAnyValue, "reference read summary: MEAN_ABS (aihwkit, mean |y|) or CORRELATION (noise drops out)");
    field("reads", self.reads, kReadCount, "identity reads averaged per readout (noise variance / reads); aihwkit: 1");
  }
  bool operator==(const GlobalDriftCompensation&) const = default;
};

/// One factor per output column.
struct PerColumnDriftCompensation {
  bool exact_reference = false;  ///< baseline from the ideal (noise-free) weights
  CompensationReadout readout = CompensationReadout::MEAN_ABS;  ///< MEAN_ABS (aihwkit) or CORRELATION
  int reads = 1;  ///< identity reads averaged per readout (noise variance / reads); aihwkit: 1
  static constexpr std::string_view kTypeName = "PerColumnDriftCompensation";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("exact_reference", self.exact_reference, kAnyValue, "baseline from the ideal (noise-free) weights");
    field("readout", self.readout, kAnyValue, "reference read summary: MEAN_ABS (aihwkit, mean |y|) or CORRELATION (noise drops out)");
    field("reads", self.reads, kReadCount, "identity reads averaged per readout (noise variance / reads); aihwkit: 1");
  }
  bool operator==(const PerColumnDriftCompensation&) const = default;
};

using DriftCompensation = std::variant<GlobalDriftCompensation, PerColumnDriftCompensation, NoDriftCompensation>;

}  // namespace tessera::parameters
