// The decode GEMVs' process-wide tuning (kernels/cuda/gemv.h: set_gemv_tuning, ScopedGemvTuning),
// host side, no device: what it accepts (warps per row group 0/1/2/4/8, the inline norm's units of
// 0/32/64/128 KB), what it refuses by name, and that a scope gives the previous tuning back.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "kernels/cuda/gemv.h"

namespace gqa {
namespace {

TEST(GemvTuning, AcceptsTheOfferedValues) {
  const cuda::ScopedGemvTuning keep(cuda::gemv_tuning());  // (whatever the test leaves, restored)
  for (int kb : {0, 32, 64, 128}) {
    cuda::GemvTuning t;
    t.norm_unit_kb = kb;
    t.norm_prologue = kb == 64;
    EXPECT_NO_THROW(cuda::set_gemv_tuning(t)) << kb;
    EXPECT_EQ(cuda::gemv_tuning().norm_unit_kb, kb);
    EXPECT_EQ(cuda::gemv_tuning().norm_prologue, kb == 64);
  }
  for (int g : {0, 1, 2, 4, 8}) EXPECT_NO_THROW(cuda::set_gemv_tuning({g, false})) << g;
}

TEST(GemvTuning, RefusesOtherValuesByName) {
  const cuda::ScopedGemvTuning keep(cuda::gemv_tuning());
  for (int kb : {-1, 16, 48, 96, 256}) {
    cuda::GemvTuning t;
    t.norm_unit_kb = kb;
    try {
      cuda::set_gemv_tuning(t);
      ADD_FAILURE() << "norm_unit_kb " << kb << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("norm_unit_kb"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(cuda::set_gemv_tuning({3, false}), Error);
}

TEST(GemvTuning, ScopeRestoresThePreviousTuning) {
  const cuda::GemvTuning before = cuda::gemv_tuning();
  {
    cuda::GemvTuning t;
    t.norm_unit_kb = 128;
    t.norm_prologue = true;
    t.bulk = true;
    const cuda::ScopedGemvTuning scoped(t);
    EXPECT_EQ(cuda::gemv_tuning().norm_unit_kb, 128);
    EXPECT_TRUE(cuda::gemv_tuning().norm_prologue);
  }
  const cuda::GemvTuning after = cuda::gemv_tuning();
  EXPECT_EQ(after.norm_unit_kb, before.norm_unit_kb);
  EXPECT_EQ(after.norm_prologue, before.norm_prologue);
  EXPECT_EQ(after.bulk, before.bulk);
  EXPECT_EQ(after.group_warps, before.group_warps);
}

}  // namespace
}  // namespace gqa
