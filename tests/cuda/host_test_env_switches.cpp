// The CUDA backend's on/off switches from the environment (kernels/cuda/cuda_check.h): the
// spellings taken for on and off, the default when unset or empty, and a clear refusal of anything
// else, also up front for every registered switch (check_env_switches, run by CudaOps' constructor).
// No GPU needed: runs in CI builds with CUDA.
#include <gtest/gtest.h>

#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/attention_decode.h"
#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/gemv_mma.h"
#include "kernels/cuda/gemv_rope.h"
#include "kernels/cuda/l2_prefetch.h"
#include "kernels/cuda/mlp_persistent.h"
#include "kernels/cuda/pdl.h"
#include "kernels/cuda/sampling.h"
#include "runtime/backend.h"

namespace gqa {
namespace {

// The defaults the measurements chose, where no variable says otherwise: PDL with its early trigger
// (since run 8 on an H200), the wgmma prefill's TMA build in its overlap variant (run 11; the TMA
// build runs 8-10) with the swizzle build under it; the opt-in late-turn variant takes precedence
// over the overlap one, and the opt-in overlap build over all of them; the lazy rescale and the
// persistent MLP kernel off.
TEST(CudaEnvSwitches, DefaultsAreTheMeasuredChoices) {
  for (const char* v : {"GQA_PDL", "GQA_PDL_EARLY", "GQA_PREFILL_WGMMA", "GQA_PREFILL_WGMMA_PINGPONG",
                        "GQA_PREFILL_WGMMA_PRODUCER", "GQA_PREFILL_WGMMA_OVERLAP", "GQA_PREFILL_WGMMA_SWIZZLE",
                        "GQA_PREFILL_WGMMA_TMA", "GQA_PREFILL_WGMMA_ROTATE", "GQA_PREFILL_WGMMA_LATE_TURNS",
                        "GQA_PREFILL_WGMMA_TMA_OVERLAP", "GQA_PREFILL_WGMMA_LAZY_RESCALE", "GQA_MLP_PERSISTENT",
                        "GQA_PREFILL_WGMMA_PERSISTENT"}) {
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
  EXPECT_TRUE(cuda::prefill_wgmma_tma_overlap());
  EXPECT_FALSE(cuda::prefill_wgmma_lazy_rescale());  // (opt-in until measured)
  EXPECT_FALSE(cuda::mlp_persistent_enabled());       // (the same)
  EXPECT_FALSE(cuda::prefill_wgmma_persistent());     // (the same)
  EXPECT_EQ(cuda::prefill_wgmma_persistent_grid_cap(), 0);
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaOverlap);
  {
    // the persistent build: over TMA overlap (and over the TMA build without it), under late turns;
    // not without the TMA build
    const cuda::ScopedSwitch persistent(cuda::prefill_wgmma_persistent, cuda::set_prefill_wgmma_persistent, true);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaPersistent);
    {
      const cuda::ScopedSwitch no_tma_overlap(cuda::prefill_wgmma_tma_overlap, cuda::set_prefill_wgmma_tma_overlap,
                                              false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaPersistent);
    }
    {
      const cuda::ScopedSwitch late(cuda::prefill_wgmma_late_turns, cuda::set_prefill_wgmma_late_turns, true);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaLate);
    }
    const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
  }
  {
    // the TMA build's variants: late turns over the overlap one, either over the TMA build itself;
    // none of them without the TMA build
    const cuda::ScopedSwitch late(cuda::prefill_wgmma_late_turns, cuda::set_prefill_wgmma_late_turns, true);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaLate);
    {
      const cuda::ScopedSwitch no_tma_overlap(cuda::prefill_wgmma_tma_overlap, cuda::set_prefill_wgmma_tma_overlap,
                                              false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaLate);
      const cuda::ScopedSwitch no_late(cuda::prefill_wgmma_late_turns, cuda::set_prefill_wgmma_late_turns, false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTma);
      const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
      EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
    }
    const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
  }
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {  // each build's scope selects it
    const cuda::ScopedPrefillWgmmaBuild selected(b);
    EXPECT_EQ(cuda::prefill_wgmma_build(), b) << cuda::prefill_wgmma_build_name(b);
  }
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kTmaOverlap);  // and each scope undone
  {
    const cuda::ScopedSwitch no_tma(cuda::prefill_wgmma_tma, cuda::set_prefill_wgmma_tma, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kSwizzle);
    const cuda::ScopedSwitch no_swizzle(cuda::prefill_wgmma_swizzle, cuda::set_prefill_wgmma_swizzle, false);
    EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kProducer);
  }
  const cuda::ScopedSwitch overlap(cuda::prefill_wgmma_overlap, cuda::set_prefill_wgmma_overlap, true);
  EXPECT_EQ(cuda::prefill_wgmma_build(), cuda::PrefillWgmmaBuild::kOverlap);  // over the TMA and swizzle builds
}

// launch/gpu-check.sh (in its part launch/gpu_check/tests.sh) spells the wgmma builds' names
// (GQA_TEST_WGMMA_BUILD's values, in the dispatcher's order) and the default build, whose memcheck
// it runs first: the same as the dispatcher's. (ctest runs this in the source tree.)
TEST(CudaEnvSwitches, GpuCheckNamesTheBuildsAndTheDefault) {
  std::ifstream f("launch/gpu_check/tests.sh");
  ASSERT_TRUE(f) << "launch/gpu_check/tests.sh not found from the working directory (ctest runs in the source tree)";
  std::string line, names, default_build;
  while (std::getline(f, line)) {
    if (line.rfind("wgmma_build_names=(", 0) == 0) names = line.substr(19, line.find(')') - 19);
    if (line.rfind("wgmma_default_build=", 0) == 0) {
      default_build = line.substr(20, line.find_first_of(" #", 20) - 20);
    }
  }
  std::string expected;
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    if (!expected.empty()) expected += ' ';
    expected += cuda::prefill_wgmma_build_name(b);
  }
  EXPECT_EQ(names, expected);
  for (const char* v : {"GQA_PREFILL_WGMMA_PINGPONG", "GQA_PREFILL_WGMMA_PRODUCER", "GQA_PREFILL_WGMMA_OVERLAP",
                        "GQA_PREFILL_WGMMA_SWIZZLE", "GQA_PREFILL_WGMMA_TMA", "GQA_PREFILL_WGMMA_LATE_TURNS",
                        "GQA_PREFILL_WGMMA_TMA_OVERLAP", "GQA_PREFILL_WGMMA_LAZY_RESCALE", "GQA_MLP_PERSISTENT",
                        "GQA_PREFILL_WGMMA_PERSISTENT"}) {
    if (std::getenv(v) != nullptr) GTEST_SKIP() << v << " is set";
  }
  EXPECT_EQ(default_build, cuda::prefill_wgmma_build_name(cuda::prefill_wgmma_build()));
}

// GQA_REQUIRE_GPU=1 (launch/gpu-check.sh sets it): seeing no device is an error naming the switch,
// so a GPU machine with a broken driver fails its GPU tests instead of skipping them; unset, none.
TEST(CudaEnvSwitches, RequireGpuMakesNoDeviceAnError) {
  if (std::getenv("GQA_REQUIRE_GPU") != nullptr) GTEST_SKIP() << "GQA_REQUIRE_GPU is set";
  if (cuda::device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  ASSERT_EQ(setenv("GQA_REQUIRE_GPU", "1", 1), 0);
  std::string message;
  try {
    (void)cuda::device_count();
  } catch (const Error& e) {
    message = e.what();
  }
  ASSERT_EQ(unsetenv("GQA_REQUIRE_GPU"), 0);
  EXPECT_NE(message.find("GQA_REQUIRE_GPU is set but this process sees no CUDA device"), std::string::npos)
      << "got: '" << message << "'";
  EXPECT_EQ(cuda::device_count(), 0);
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

// The decode, GEMV, sampling and L2 switches' defaults (the measured choices, or off until
// measured), and every switch registered for the up-front check: one table, so that a default
// changed by mistake or a switch missing from check_env_switches shows here.
struct SwitchDefault {
  const char* env;
  bool (*get)();
  bool on;
};
const SwitchDefault kOtherDefaults[] = {
    {"GQA_DECODE_CLUSTER", cuda::decode_cluster_enabled, false},
    {"GQA_DECODE_BULK", cuda::decode_bulk_enabled, true},
    {"GQA_DECODE_KV_PREFETCH", cuda::decode_kv_prefetch_enabled, true},
    {"GQA_DECODE_FUSED_MERGE", cuda::decode_fused_merge_enabled, false},
    {"GQA_DECODE_ONE_WAVE_FUSED", cuda::decode_one_wave_fused_enabled, false},
    {"GQA_DECODE_GROUP_COPIES", cuda::decode_group_copies_enabled, true},
    {"GQA_FUSED_SWIGLU", cuda::fused_swiglu_enabled, true},
    {"GQA_GEMV_BULK", cuda::gemv_bulk_enabled, true},
    {"GQA_GEMV_RING", cuda::gemv_ring_enabled, false},
    {"GQA_FUSED_NORM", cuda::fused_norm_enabled, false},
    {"GQA_GEMV_MMA", cuda::gemv_mma_enabled, false},
    {"GQA_FUSED_ROPE", cuda::fused_rope_enabled, true},
    {"GQA_L2_PREFETCH", cuda::l2_prefetch_enabled, false},
    {"GQA_GPU_TOP_K", cuda::gpu_top_k_enabled, true},
    {"GQA_TOP_K_SELECT", cuda::top_k_select_enabled, true},
    {"GQA_PREFILL_WGMMA_PINGPONG", cuda::prefill_wgmma_pingpong, false},
    {"GQA_PREFILL_WGMMA_PRODUCER", cuda::prefill_wgmma_producer, true},
};

TEST(CudaEnvSwitches, DecodeGemvSamplingAndL2Defaults) {
  for (const SwitchDefault& d : kOtherDefaults) {
    if (std::getenv(d.env) != nullptr) GTEST_SKIP() << d.env << " is set";
  }
  for (const SwitchDefault& d : kOtherDefaults) EXPECT_EQ(d.get(), d.on) << d.env;
}

// Every registered switch refuses a bad value up front, by name; the table above and the first
// test's switches are all registered (this program links every file that defines one).
TEST(CudaEnvSwitches, EveryRegisteredSwitchIsChecked) {
  const std::vector<std::string> names = cuda::registered_env_switches();
  std::vector<std::string> expected = {"GQA_PDL", "GQA_PDL_EARLY", "GQA_PREFILL_WGMMA", "GQA_PREFILL_WGMMA_OVERLAP",
                                       "GQA_PREFILL_WGMMA_SWIZZLE", "GQA_PREFILL_WGMMA_TMA", "GQA_PREFILL_WGMMA_ROTATE",
                                       "GQA_PREFILL_WGMMA_LATE_TURNS", "GQA_PREFILL_WGMMA_TMA_OVERLAP",
                                       "GQA_PREFILL_WGMMA_LAZY_RESCALE", "GQA_MLP_PERSISTENT", "GQA_CUDA_SYNC_DEBUG",
                                       "GQA_REQUIRE_GPU", "GQA_PREFILL_WGMMA_PERSISTENT"};
  for (const SwitchDefault& d : kOtherDefaults) expected.push_back(d.env);
  for (const std::string& e : expected) {
    EXPECT_NE(std::find(names.begin(), names.end(), e), names.end()) << e << " is not registered";
  }
  for (const std::string& name : names) {
    if (std::getenv(name.c_str()) != nullptr) continue;  // (set by the caller: left alone)
    ASSERT_EQ(::setenv(name.c_str(), "maybe", 1), 0);
    try {
      cuda::check_env_switches();
      ADD_FAILURE() << name << "=maybe passed check_env_switches";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name + "=maybe"), std::string::npos) << e.what();
    }
    ASSERT_EQ(::unsetenv(name.c_str()), 0);
  }
}

// Which kernel variant each wgmma build launches, and which builds take the rotated tile order:
// the dispatcher launches by these (a wrong mask bit would run another variant's kernel).
TEST(CudaEnvSwitches, WgmmaBuildsVariantsAndRotation) {
  for (cuda::PrefillWgmmaBuild b : cuda::kPrefillWgmmaBuilds) {
    const unsigned want = b == cuda::PrefillWgmmaBuild::kTmaLate      ? cuda::kLateTurns
                          : b == cuda::PrefillWgmmaBuild::kTmaOverlap ? cuda::kOverlapPv
                                                                      : 0u;
    EXPECT_EQ(cuda::prefill_wgmma_build_variant(b), want) << cuda::prefill_wgmma_build_name(b);
    const bool rotates = b == cuda::PrefillWgmmaBuild::kProducer || b == cuda::PrefillWgmmaBuild::kSwizzle ||
                         b == cuda::PrefillWgmmaBuild::kTma || b == cuda::PrefillWgmmaBuild::kTmaLate;
    EXPECT_EQ(cuda::prefill_wgmma_build_rotates(b), rotates) << cuda::prefill_wgmma_build_name(b);
  }
  EXPECT_NE(cuda::kLateTurns, cuda::kOverlapPv);
  EXPECT_NE(cuda::kLateTurns, 0u);
  EXPECT_NE(cuda::kOverlapPv, 0u);
}

// Which cudaGetDeviceCount errors mean "no GPU here" (device_count returns 0: GPU tests skip) and
// which a broken setup (device_count throws: GPU tests fail rather than skip on a GPU machine).
TEST(CudaEnvSwitches, WhichDeviceCountErrorsMeanNoGpu) {
  for (cudaError_t e : {cudaErrorNoDevice, cudaErrorInsufficientDriver, cudaErrorStubLibrary}) {
    EXPECT_TRUE(cuda::means_no_gpu(e)) << cudaGetErrorName(e);
  }
  for (cudaError_t e : {cudaErrorInitializationError, cudaErrorSystemDriverMismatch, cudaErrorUnknown,
                        cudaErrorDevicesUnavailable, cudaErrorCompatNotSupportedOnDevice, cudaErrorMemoryAllocation}) {
    EXPECT_FALSE(cuda::means_no_gpu(e)) << cudaGetErrorName(e);
  }
}

// The one-wave fused plan's rule (decode_one_wave_fused_by_default, shared by checked_plan and the
// startup line): its own switch on, and neither opt-in that changes the merge (the fused merge for
// every plan, the cluster reduction) asked for.
TEST(CudaEnvSwitches, OneWaveFusedByDefaultRule) {
  using cuda::ScopedSwitch;
  const ScopedSwitch fused(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, false);
  const ScopedSwitch cluster(cuda::decode_cluster_enabled, cuda::set_decode_cluster, false);
  {
    const ScopedSwitch on(cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused, true);
    EXPECT_TRUE(cuda::decode_one_wave_fused_by_default());
    EXPECT_NE(cuda_kernel_switches().find("split merge in the last block at one block per SM where it serves"),
              std::string::npos) << cuda_kernel_switches();
    {
      const ScopedSwitch f(cuda::decode_fused_merge_enabled, cuda::set_decode_fused_merge, true);
      EXPECT_FALSE(cuda::decode_one_wave_fused_by_default());
      EXPECT_NE(cuda_kernel_switches().find("split merge as the opt-in below asks"), std::string::npos);
    }
    {
      const ScopedSwitch c(cuda::decode_cluster_enabled, cuda::set_decode_cluster, true);
      EXPECT_FALSE(cuda::decode_one_wave_fused_by_default());
      EXPECT_NE(cuda_kernel_switches().find("split merge as the opt-in below asks"), std::string::npos);
    }
  }
  const ScopedSwitch off(cuda::decode_one_wave_fused_enabled, cuda::set_decode_one_wave_fused, false);
  EXPECT_FALSE(cuda::decode_one_wave_fused_by_default());
  EXPECT_NE(cuda_kernel_switches().find("split merge by the merge kernel"), std::string::npos);
}

}  // namespace
}  // namespace gqa
