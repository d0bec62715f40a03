#include <cstring>

#include "kernels/cpu/cpu_kernels.h"

namespace gqa::cpu {

// ids: i32 [n] global token ids; table: f32 [vocab_local, d] = vocab rows
// [vocab_begin, vocab_begin + vocab_local); out: f32 [n, d].
// Ids outside this rank's slice give zero rows: another rank supplies them and the model
// sums the partial embeddings across ranks.
void embedding(const EmbeddingArgs& a) {
  constexpr const char* kOp = "embedding";
  detail::expect_kind(a.ids, DType::kI32, 1, kOp, "ids");
  detail::expect_kind(a.table, DType::kF32, 2, kOp, "table");
  const int64_t n = a.ids.dim(0);
  const int64_t vocab_local = a.table.dim(0);
  const int64_t d = a.table.dim(1);
  detail::expect(a.out, DType::kF32, {n, d}, kOp, "out");
  GQA_CHECK(a.vocab_begin >= 0, kOp << ": negative vocab_begin " << a.vocab_begin);

  const int32_t* ids = a.ids.data_as<int32_t>();
  const float* table = a.table.data_as<float>();
  float* out = a.out.data_as<float>();
  for (int64_t t = 0; t < n; ++t) {
    const int64_t row = static_cast<int64_t>(ids[t]) - a.vocab_begin;
    float* dst = out + t * d;
    if (row >= 0 && row < vocab_local) {
      std::memcpy(dst, table + row * d, static_cast<size_t>(d) * sizeof(float));
    } else {
      std::memset(dst, 0, static_cast<size_t>(d) * sizeof(float));
    }
  }
}

}  // namespace gqa::cpu
