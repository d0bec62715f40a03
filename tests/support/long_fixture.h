// The long-context fixture (tests/fixtures/long/llama3_4k, make_long_fixture.py): a 4096-token
// prompt past llama3 rope's original 1024 positions, transformers' greedy tokens and a sample of its
// logit rows (reference.json's logit_rows: every 256th prompt row, the last 16, every decode row).
// Run on any backend and communicator, prefilled in the chunks and on the pages given, and compared
// on the stored rows the way model_fixture.h compares the tiny fixtures' rows.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/model_fixture.h"

namespace gqa::test {

inline const std::string kLongFixtureDir = "tests/fixtures/long/llama3_4k";

struct LongReference {
  std::vector<int32_t> prompt, generated;
  std::vector<double> margins;  // top-1 minus top-2 logit of each generated token's row
  std::vector<int64_t> rows;    // which of the P + N - 1 logit rows `logits` holds, ascending
  NpyArray logits;              // [rows.size(), vocab]
};

inline LongReference read_long_reference(const std::string& dir = kLongFixtureDir) {
  std::ifstream f(dir + "/reference.json");
  if (!f) throw std::runtime_error("missing " + dir + "/reference.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  LongReference r;
  r.prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  r.generated = j.at("generated_tokens").get<std::vector<int32_t>>();
  r.margins = j.at("decision_margins").get<std::vector<double>>();
  r.rows = j.at("logit_rows").get<std::vector<int64_t>>();
  r.logits = read_npy_f32(dir + "/reference_rows.npy");
  if (r.logits.shape.size() != 2 || r.logits.shape[0] != static_cast<int64_t>(r.rows.size())) {
    throw std::runtime_error(dir + "/reference_rows.npy does not hold one row per logit_rows entry");
  }
  return r;
}

// Greedy generation of the reference's length, every logit row kept.
inline GenerateResult run_long_fixture(const LongReference& ref, Ops& ops, Communicator& comm, int64_t prefill_chunk,
                                       int64_t block_size, bool cuda_graphs = true) {
  return run_generation(kLongFixtureDir, ref.prompt, static_cast<int64_t>(ref.generated.size()), SamplingParams{},
                        /*keep_logits=*/true, ops, comm, cuda_graphs, GenerateRequest{}.slice_candidates, block_size,
                        prefill_chunk);
}

// strict_tokens (f32): every greedy token transformers'. Otherwise (16-bit compute) the first
// token equal, and a later flip only where the reference's margin is within twice our largest
// logit error on that row. The relative error ||ours - ref|| / ||ref|| is taken over the stored
// rows fed the reference's inputs (all prompt rows; decode rows up to the first flip), <= tol.
inline void expect_long_matches(const GenerateResult& res, const LongReference& ref, bool strict_tokens, double tol,
                                const std::string& label, bool print) {
  const int64_t vocab = ref.logits.shape[1], p = static_cast<int64_t>(ref.prompt.size());
  ASSERT_EQ(res.logit_rows, p + static_cast<int64_t>(ref.generated.size()) - 1) << label;
  ASSERT_EQ(res.logits.size(), static_cast<size_t>(res.logit_rows * vocab)) << label;
  ASSERT_EQ(res.tokens.size(), ref.generated.size()) << label;
  int64_t first_mismatch = -1;
  for (size_t i = 0; i < ref.generated.size() && first_mismatch < 0; ++i) {
    if (res.tokens[i] != ref.generated[i]) first_mismatch = static_cast<int64_t>(i);
  }
  const int64_t fed_identical = first_mismatch < 0 ? res.logit_rows : p + first_mismatch;
  double num = 0, den = 0, worst = 0, mismatch_max_abs = 0;
  int64_t worst_row = -1;
  for (size_t k = 0; k < ref.rows.size(); ++k) {
    const int64_t row = ref.rows[k];
    const bool decides_mismatch = first_mismatch >= 0 && row == p - 1 + first_mismatch;
    if (row >= fed_identical && !decides_mismatch) continue;
    double rn = 0, rd = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const double ours = res.logits[row * vocab + v], theirs = ref.logits.data[k * vocab + v];
      rn += (ours - theirs) * (ours - theirs);  // (NaN makes the error NaN, which fails below)
      rd += theirs * theirs;
      if (decides_mismatch) mismatch_max_abs = std::max(mismatch_max_abs, std::fabs(ours - theirs));
    }
    if (row >= fed_identical) continue;  // (the mismatch's own row counts only for its margin)
    num += rn;
    den += rd;
    if (!(std::sqrt(rn / rd) <= worst)) {
      worst = std::sqrt(rn / rd);
      worst_row = row;
    }
  }
  const double rel = std::sqrt(num / den);
  if (print) {
    std::printf("[long] %-40s rel_err=%.3e (worst row %lld: %.3e) tokens=%s\n", label.c_str(), rel,
                static_cast<long long>(worst_row), worst, first_mismatch < 0 ? "same" : "DIFFERENT");
  }
  EXPECT_LE(rel, tol) << label << ": worst row " << worst_row << " at " << worst;
  if (strict_tokens) {
    EXPECT_EQ(res.tokens, ref.generated) << label;
    return;
  }
  EXPECT_EQ(res.tokens[0], ref.generated[0]) << label << ": the first token differs";
  if (first_mismatch > 0) {
    EXPECT_LE(ref.margins.at(first_mismatch), 2 * mismatch_max_abs)
        << label << ": token " << first_mismatch << " flipped although its margin " << ref.margins.at(first_mismatch)
        << " exceeds twice the logit error " << mismatch_max_abs;
  }
}

}  // namespace gqa::test
