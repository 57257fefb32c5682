// Drift compensation: a reference read at programming time, repeated at inference time, gives
// a factor that undoes the average conductance decay (aihwkit inference/compensation).
#pragma once

#include <string_view>
#include <variant>

namespace tessera::parameters {

struct NoDriftCompensation {
  static constexpr std::string_view kTypeName = "None";
  template <class Self, class Visitor>
  static void visit_fields(Self&, Visitor&) {}
  bool operator==(const NoDriftCompensation&) const = default;
};

/// One scalar per tile: mean |y| of a reference read, before over after drift.
struct GlobalDriftCompensation {
  bool exact_reference = false;  ///< baseline from the ideal (noise-free) weights
  static constexpr std::string_view kTypeName = "GlobalDriftCompensation";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("exact_reference", self.exact_reference);
  }
  bool operator==(const GlobalDriftCompensation&) const = default;
};

/// One factor per output column.
struct PerColumnDriftCompensation {
  bool exact_reference = false;  ///< baseline from the ideal (noise-free) weights
  static constexpr std::string_view kTypeName = "PerColumnDriftCompensation";
  template <class Self, class Visitor>
  static void visit_fields(Self& self, Visitor& field) {
    field("exact_reference", self.exact_reference);
  }
  bool operator==(const PerColumnDriftCompensation&) const = default;
};

using DriftCompensation = std::variant<GlobalDriftCompensation, PerColumnDriftCompensation, NoDriftCompensation>;

}  // namespace tessera::parameters
