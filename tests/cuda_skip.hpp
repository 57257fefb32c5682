// GPU tests run only where a CUDA device is usable; elsewhere they report themselves skipped
// with the reason (built without CUDA, or no device).
#pragma once

#include <gtest/gtest.h>

#include "tessera/simulator/backend.hpp"

#define TESSERA_SKIP_WITHOUT_CUDA()                                                 \
  do {                                                                              \
    const auto& probe = ::tessera::simulator::cuda::availability();                 \
    if (!probe.available) GTEST_SKIP() << "no CUDA backend here: " << probe.reason; \
  } while (false)
