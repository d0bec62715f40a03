// The whole model on the CPU backend against transformers at a long context
// (tests/fixtures/long/llama3_4k, make_long_fixture.py): a 4096-token prompt, llama3 rope scaling
// past its original 1024 positions, at the job's rank count (CTest: mpirun -np 1, 2 and 4). The
// prompt is prefilled in many chunks over many KV pages, two ways; the greedy tokens must be
// transformers' and the stored logit rows (every 256th prompt row, the last 16, every decode row)
// must match to relative error <= 1e-4 (f32), as the tiny fixtures' rows do.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "parallel/bootstrap.h"
#include "runtime/backend.h"
#include "tests/support/model_fixture.h"

namespace gqa {
namespace {

const std::string kDir = "tests/fixtures/long/llama3_4k";

struct LongReference {
  std::vector<int32_t> prompt, generated;
  std::vector<int64_t> rows;  // which of the P + N - 1 logit rows rows_logits holds
  test::NpyArray rows_logits;      // [rows.size(), vocab]
};

LongReference read_long_reference() {
  std::ifstream f(kDir + "/reference.json");
  if (!f) throw std::runtime_error("missing " + kDir + "/reference.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  LongReference r;
  r.prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  r.generated = j.at("generated_tokens").get<std::vector<int32_t>>();
  r.rows = j.at("logit_rows").get<std::vector<int64_t>>();
  r.rows_logits = test::read_npy_f32(kDir + "/reference_rows.npy");
  return r;
}

class LongContext : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};  // (prefill chunk, page size)

TEST_P(LongContext, MatchesTransformers) {
  const auto [chunk, block_size] = GetParam();
  const LongReference ref = read_long_reference();
  ASSERT_EQ(ref.rows_logits.shape.size(), 2u);
  ASSERT_EQ(ref.rows_logits.shape[0], static_cast<int64_t>(ref.rows.size()));
  auto comm = make_communicator("auto");
  auto ops = make_backend("cpu");
  const GenerateResult res =
      test::run_generation(kDir, ref.prompt, static_cast<int64_t>(ref.generated.size()), SamplingParams{},
                           /*keep_logits=*/true, *ops, *comm, /*cuda_graphs=*/true, GenerateRequest{}.slice_candidates,
                           block_size, chunk);
  const int64_t vocab = ref.rows_logits.shape[1];
  ASSERT_EQ(res.logit_rows, static_cast<int64_t>(ref.prompt.size() + ref.generated.size()) - 1);
  ASSERT_EQ(res.logits.size(), static_cast<size_t>(res.logit_rows * vocab));
  EXPECT_EQ(res.tokens, ref.generated);
  double num = 0, den = 0, worst = 0;
  int64_t worst_row = -1;
  for (size_t k = 0; k < ref.rows.size(); ++k) {
    double rn = 0, rd = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const double ours = res.logits[ref.rows[k] * vocab + v], theirs = ref.rows_logits.data[k * vocab + v];
      rn += (ours - theirs) * (ours - theirs);  // (NaN makes it NaN: the check below fails)
      rd += theirs * theirs;
    }
    num += rn;
    den += rd;
    if (!(std::sqrt(rn / rd) <= worst)) {
      worst = std::sqrt(rn / rd);
      worst_row = ref.rows[k];
    }
  }
  const double rel = std::sqrt(num / den);
  if (comm->rank() == 0) {
    std::printf("[long] T=%d chunk %lld pages %lld: rel_err %.3e over %zu rows (worst row %lld: %.3e)\n",
                comm->size(), static_cast<long long>(chunk), static_cast<long long>(block_size), rel, ref.rows.size(),
                static_cast<long long>(worst_row), worst);
  }
  EXPECT_LE(rel, 1e-4) << "worst row " << worst_row << ": " << worst;
}

// An odd chunk on small pages (chunks and pages never align), and the cpu backend's default chunk
// on gqa-generate's default pages.
INSTANTIATE_TEST_SUITE_P(ChunksAndPages, LongContext,
                         ::testing::Values(std::pair<int64_t, int64_t>{777, 16}, std::pair<int64_t, int64_t>{512, 256}),
                         [](const auto& info) {
                           return "chunk" + std::to_string(info.param.first) + "_pages" +
                                  std::to_string(info.param.second);
                         });

}  // namespace
}  // namespace gqa
