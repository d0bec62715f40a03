// The CUDA backend's on/off switches from the environment (kernels/cuda/cuda_check.h): the
// spellings taken for on and off, the default when unset or empty, and a clear refusal of anything
// else, also up front for every registered switch (check_env_switches, run by CudaOps' constructor).
// No GPU needed: runs in CI builds with CUDA.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/pdl.h"

namespace gqa {
namespace {

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
