// The decode GEMVs' process-wide tuning (kernels/cuda/gemv.h: set_gemv_tuning, ScopedGemvTuning),
// host side, no device: what it accepts (warps per row group 0/1/2/4/8, each flag, read back as
// set), what it refuses by name, and that a scope gives the previous tuning back.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "kernels/cuda/gemv.h"

namespace gqa {
namespace {

// Every field of a and b (gemv_tuning() builds its answer field by field).
void expect_same(const cuda::GemvTuning& a, const cuda::GemvTuning& b) {
  EXPECT_EQ(a.group_warps, b.group_warps);
  EXPECT_EQ(a.deep, b.deep);
  EXPECT_EQ(a.bulk, b.bulk);
  EXPECT_EQ(a.no_budget, b.no_budget);
  EXPECT_EQ(a.per_thread, b.per_thread);
  EXPECT_EQ(a.ring, b.ring);
}

TEST(GemvTuning, AcceptsTheOfferedValues) {
  const cuda::ScopedGemvTuning keep(cuda::gemv_tuning());  // (whatever the test leaves, restored)
  for (int g : {0, 1, 2, 4, 8}) {
    EXPECT_NO_THROW(cuda::set_gemv_tuning({g, false})) << g;
    EXPECT_EQ(cuda::gemv_tuning().group_warps, g);
  }
  // each flag alone, then all of them: read back as set (no field lands in another's place)
  for (int f = 0; f <= 5; ++f) {
    const cuda::GemvTuning t{.group_warps = 2, .deep = f == 0 || f == 5, .bulk = f == 1 || f == 5,
                             .no_budget = f == 2 || f == 5, .per_thread = f == 3 || f == 5,
                             .ring = f == 4 || f == 5};
    SCOPED_TRACE(f);
    EXPECT_NO_THROW(cuda::set_gemv_tuning(t));
    expect_same(cuda::gemv_tuning(), t);
  }
}

TEST(GemvTuning, RefusesOtherValuesByName) {
  const cuda::ScopedGemvTuning keep(cuda::gemv_tuning());
  for (int g : {-1, 3, 6, 16}) {
    try {
      cuda::set_gemv_tuning({g, false});
      ADD_FAILURE() << "group_warps " << g << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("group_warps"), std::string::npos) << e.what();
    }
  }
}

TEST(GemvTuning, ScopeRestoresThePreviousTuning) {
  const cuda::GemvTuning before = cuda::gemv_tuning();
  {
    const cuda::GemvTuning t{.group_warps = 4, .deep = true, .bulk = true, .ring = true};
    const cuda::ScopedGemvTuning scoped(t);
    expect_same(cuda::gemv_tuning(), t);
  }
  expect_same(cuda::gemv_tuning(), before);
}

}  // namespace
}  // namespace gqa
