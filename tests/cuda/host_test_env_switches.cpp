// The CUDA backend's on/off switches from the environment (kernels/cuda/cuda_check.h): the
// spellings taken for on and off, the default when unset or empty, and a clear refusal of anything
// else, also up front for every registered switch (check_env_switches, run by CudaOps' constructor).
// No GPU needed: runs in CI builds with CUDA.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pdl.h"

namespace gqa {
namespace {

// The defaults the measurements chose, where no variable says otherwise: PDL with its early trigger
// (since run 8 on an H200), the wgmma prefill's TMA build with the swizzle build under it (runs
// 8-9); the opt-in overlap build takes precedence over both when asked for.
TEST(CudaEnvSwitches, DefaultsAreTheMeasuredChoices) {
  for (const char* v : {"GQA_PDL", "GQA_PDL_EARLY", "GQA_PREFILL_WGMMA", "GQA_PREFILL_WGMMA_PINGPONG",
                        "GQA_PREFILL_WGMMA_PRODUCER", "GQA_PREFILL_WGMMA_OVERLAP", "GQA_PREFILL_WGMMA_SWIZZLE",
                        "GQA_PREFILL_WGMMA_TMA", "GQA_PREFILL_WGMMA_ROTATE", "GQA_PREFILL_WGMMA_LATE_TURNS",
                        "GQA_PREFILL_WGMMA_TMA_OVERLAP"}) {
    if (std::getenv(v) != nullptr) GTEST_SKIP() << v << " is set";
  }
  EXPECT_TRUE(cuda::pdl_enabled());
  EXPECT_TRUE(cuda::pdl_early_enabled());
  EXPECT_TRUE(cuda::prefill_wgmma_enabled());
  EXPECT_TRUE(cuda::prefill_wgmma_tma());
  EXPECT_TRUE(cuda::prefill_wgmma_swizzle());
  EXPECT_FALSE(cuda::prefill_wgmma_overlap());
  EXPECT_FALSE(cuda::prefill_wgmma_rotate());
  EXPECT_FALSE(cuda::prefill_wgmma_late_turns());
  EXPECT_FALSE(cuda::prefill_wgmma_tma_overlap());
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTma);
  {
    // the TMA build's variants, the overlap one over late turns; neither without the TMA build
    const cuda::ScopedSwitch late(cuda::prefill_wgmma_late_turns, cuda::set_prefill_wgmma_late_turns, true);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaLate);
    {
      const cuda::ScopedSwitch tma_overlap(cuda::prefill_wgmma_tma_overlap, cuda::set_prefill_wgmma_tma_overlap, true);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaOverlap);
      const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
    }
  }
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {  // each build's scope selects it
    const cuda::ScopedPrefillWgmmaBuild selected(b);
    EXPECT_EQ(cuda::prefill_wgmma_build(), b) << cuda::prefill_wgmma_build_name(b);
  }
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTma);  // and each scope undone
  {
    const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
    const cuda::ScopedSwitch no_swizzle(cuda::prefill_wgmma_swizzle, cuda::set_prefill_wgmma_swizzle, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kProducer);
  }
  const cuda::ScopedSwitch overlap(cuda::prefill_wgmma_overlap, cuda::set_prefill_wgmma_overlap, true);
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kOverlap);  // over the TMA and swizzle builds
}

TEST(CudaEnvSwitches, SpellingsOfOnAndOff) {
  for (const char* on : {"1", "true", "TRUE", "On", "yes"}) EXPECT_TRUE(cuda::parse_switch_value("GQA_X", on, false)) << on;
  for (const char* off : {"0", "false", "Off", "NO"}) EXPECT_FALSE(cuda::parse_switch_value("GQA_X", off, true)) << off;
  EXPECT_TRUE(cuda::parse_switch_value("GQA_X", nullptr, true));
  EXPECT_FALSE(cuda::parse_switch_value("GQA_X", nullptr, false));
  EXPECT_TRUE(cuda::parse_switch_value("GQA_X", "", true));  // empty: the default
}

TEST(CudaEnvSwitches, AnythingElseIsRefusedByName) {
  for (const char* bad : {"2", "of", "enable", " 1", "-1"}) {
    try {
      cuda::parse_switch_value("GQA_PDL", bad, true);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("GQA_PDL=") + bad + ": expected 1 or 0"), std::string::npos)
          << e.what();
    }
  }
}

TEST(CudaEnvSwitches, CheckedUpFrontForEveryRegisteredSwitch) {
  (void)cuda::pdl_enabled;  // (links pdl.cu, which registers GQA_PDL)
  ASSERT_EQ(::setenv("GQA_PDL", "off", 1), 0);
  EXPECT_NO_THROW(cuda::check_env_switches());
  ASSERT_EQ(::setenv("GQA_PDL", "maybe", 1), 0);
  EXPECT_THROW(cuda::check_env_switches(), Error);
  ASSERT_EQ(::setenv("GQA_CUDA_SYNC_DEBUG", "x", 1), 0);
  ASSERT_EQ(::unsetenv("GQA_PDL"), 0);
  EXPECT_THROW(cuda::check_env_switches(), Error);
  ASSERT_EQ(::unsetenv("GQA_CUDA_SYNC_DEBUG"), 0);
  EXPECT_NO_THROW(cuda::check_env_switches());
}

}  // namespace
}  // namespace gqa
