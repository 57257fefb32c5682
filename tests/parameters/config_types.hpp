// Every config struct, for tests that must run over all of them.
#pragma once

#include <gtest/gtest.h>

#include "tessera/parameters/drift_compensation.hpp"
#include "tessera/parameters/io.hpp"
#include "tessera/parameters/mapping.hpp"
#include "tessera/parameters/noise_models.hpp"
#include "tessera/parameters/quantization.hpp"
#include "tessera/parameters/rpu_config.hpp"

namespace tessera::parameters::testing {

using AllConfigTypes =
    ::testing::Types<RangeEstimatorParameters, BaseQuantConfig, ActivationQuantConfig, WeightQuantConfig,
                     QuantizationConfig, QuantizedModuleConfig, QuantizationMap, IOParameters, MappingParameter,
                     WeightClipParameter, WeightRemapParameter, WeightModifierParameter, InputRangeParameter,
                     PrePostProcessingParameter, SinglePairConductanceConverter, DualPairConductanceConverter,
                     NPairConductanceConverter, PCMLikeNoiseModel, CustomDriftTable, CustomDriftPCMLikeNoiseModel,
                     StateIndependentNoiseModel, ReRamWan2022NoiseModel, NullNoiseModel, GlobalDriftCompensation,
                     PerColumnDriftCompensation, InferenceRPUConfig>;

}  // namespace tessera::parameters::testing
