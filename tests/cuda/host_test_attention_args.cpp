// The CUDA attention's host-side argument checks (kernels/cuda/attention.cpp,
// check_attention_args; attention_decode's context hint): nothing is launched, so no GPU is needed
// and CI runs these (the GPU cases are tests/cuda/test_attention.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/error.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_decode.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::fake_args;

TEST(CudaAttentionArgs, RefusesBadShapesAndTypes) {
  for (int64_t hd : {16, 32, 64, 128}) {
    EXPECT_NO_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 2, hd), "t")) << "hd " << hd;
  }
  for (int64_t hd : {8, 24, 48, 96, 256}) {  // head_dim without a compiled kernel
    EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 2, hd), "t"), Error) << "hd " << hd;
  }
  EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kBF16, 8, 3, 64), "t"), Error);  // hq % hkv
  EXPECT_THROW(cuda::check_attention_args(fake_args(DType::kI32, 8, 2, 64), "t"), Error);   // dtype
  AttentionArgs a = fake_args(DType::kF16, 8, 2, 64);
  a.v_cache = Tensor::view(a.v_cache.data(), DType::kBF16, a.v_cache.shape(), Device::kCuda);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // mixed dtypes
  a = fake_args(DType::kF16, 8, 2, 64);
  a.q = Tensor::view(a.q.data(), DType::kF16, a.q.shape(), Device::kCpu);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // host tensor
  a = fake_args(DType::kF16, 8, 2, 64);
  a.positions = Tensor::view(a.positions.data(), DType::kI32, {3}, Device::kCuda);
  EXPECT_THROW(cuda::check_attention_args(a, "t"), Error);  // positions shape
  a = fake_args(DType::kF16, 8, 2, 64);
  a.max_context = 0;
  EXPECT_THROW(cuda::attention_decode(a, nullptr), Error);  // missing hint
  a.max_context = 33;                                       // > 2 blocks * 16
  EXPECT_THROW(cuda::attention_decode(a, nullptr), Error);
}

// out may be q itself (OutMayAliasQ runs it) but overlap no other input, as on the CPU.
TEST(CudaAttentionArgs, OutIsQOrApartFromEveryInput) {
  AttentionArgs a = fake_args(DType::kBF16, 8, 2, 64);
  a.out = a.q;
  EXPECT_NO_THROW(cuda::check_attention_args(a, "t"));
  const auto refused = [](const AttentionArgs& bad, const std::string& what) {
    try {
      cuda::check_attention_args(bad, "t");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  auto* q = static_cast<char*>(a.q.data());
  a.out = Tensor::view(q + 128, DType::kBF16, a.q.shape(), Device::kCuda);  // one head further on
  refused(a, "t: out overlaps q without being q");
  a = fake_args(DType::kBF16, 8, 2, 64);
  for (const Tensor* input : {&a.k_cache, &a.v_cache, &a.block_tables, &a.token_seq, &a.positions}) {
    AttentionArgs b = a;
    b.out = Tensor::view(input->data(), DType::kBF16, a.q.shape(), Device::kCuda);
    refused(b, "t: out overlaps ");
  }
}

// Positions per sequence are capped at 2^30 (the kernels' tile arithmetic stays inside int32):
// a block table of 2^26 entries of 16-token blocks addresses exactly 2^30, one more entry past it.
TEST(CudaAttentionArgs, PositionsPerSequenceAtMost2To30) {
  AttentionArgs a = fake_args(DType::kBF16, 8, 2, 64);
  const auto table = [&](int64_t entries) {
    AttentionArgs b = a;
    b.block_tables = Tensor::view(reinterpret_cast<void*>(uintptr_t{1} << 44), DType::kI32, {1, entries}, Device::kCuda);
    return b;
  };
  EXPECT_NO_THROW(cuda::check_attention_args(table(int64_t{1} << 26), "t"));
  try {
    cuda::check_attention_args(table((int64_t{1} << 26) + 1), "t");
    ADD_FAILURE() << "accepted 2^30 + 16 positions";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("positions per sequence, at most 1073741824"), std::string::npos) << e.what();
  }
}

// The message for query heads that are not a multiple of the KV heads names both shapes.
TEST(CudaAttentionArgs, QueryHeadsAMultipleOfKvHeads) {
  try {
    cuda::check_attention_args(fake_args(DType::kBF16, 8, 3, 64), "t");
    ADD_FAILURE() << "accepted 8 query heads over 3 KV heads";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("are not a positive multiple of the KV heads"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gqa
