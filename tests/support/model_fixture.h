// Runs a tests/fixtures/models/* checkpoint through the model on any backend/communicator and
// compares it to the transformers reference (reference.json + reference_logits.npy).
//
// Logit rows: P prompt rows, then one row per fed-back token; generated[i] is the argmax of row
// P-1+i. Once our token j differs from the reference, later rows are fed a different token, so
// the logits are compared on rows [0, P+j) only: the rows computed from identical inputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/model.h"
#include "model/weights.h"
#include "runtime/generator.h"
#include "tests/support/fixture_model.h"
#include "tests/support/npy_reader.h"

namespace gqa::test {

inline std::vector<std::string> fixture_names() {
  return {"gqa",        "mha",  "mqa",           "llama3_rope", "rope_linear", "rope_dynamic", "rope_yarn",
          "qwen2_bias", "llama_attn_bias", "tied", "bf16",        "sharded",     "head_dim",     "gqa_hd64",
          "gqa_hd128"};
}

// The long-context fixture (make_long_fixture.py): a 4096-token prompt past llama3 rope's original
// 1024 positions; its reference keeps a sample of the logit rows.
inline const std::string kLongFixtureDir = "tests/fixtures/long/llama3_4k";

struct FixtureReference {
  std::vector<int32_t> prompt, generated;
  std::vector<double> margins;  // top-1 minus top-2 logit of each generated token's row
  std::vector<int64_t> rows;    // which of the P + N - 1 logit rows `logits` holds, ascending
  NpyArray logits;              // [rows.size(), vocab]
  int64_t all_rows() const { return static_cast<int64_t>(prompt.size() + generated.size()) - 1; }
};

// reference.json with reference_logits.npy (every row), or, where it lists logit_rows (the long
// fixture), reference_rows.npy (those rows).
inline FixtureReference read_fixture_reference(const std::string& dir) {
  std::ifstream f(dir + "/reference.json");
  if (!f) throw std::runtime_error("missing " + dir + "/reference.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  FixtureReference r;
  r.prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
  r.generated = j.at("generated_tokens").get<std::vector<int32_t>>();
  r.margins = j.at("decision_margins").get<std::vector<double>>();
  if (j.contains("logit_rows")) {
    r.rows = j.at("logit_rows").get<std::vector<int64_t>>();
    r.logits = read_npy_f32(dir + "/reference_rows.npy");
  } else {
    r.logits = read_npy_f32(dir + "/reference_logits.npy");
    for (int64_t i = 0; i < r.logits.shape.at(0); ++i) r.rows.push_back(i);
  }
  if (r.logits.shape.size() != 2 || r.logits.shape[0] != static_cast<int64_t>(r.rows.size())) {
    throw std::runtime_error(dir + ": the reference logits do not hold one row per listed row");
  }
  return r;
}

// Generation on a fixture checkpoint with small cache blocks (4 tokens unless block_size says
// otherwise) and a small prefill chunk (5 unless prefill_chunk says otherwise), so sequences span
// several blocks and prefill runs in pieces. keep_logits false at T = 1 makes the backend draw the tokens where the logits are
// (Model::forward_sample).
inline GenerateResult run_generation(const std::string& dir, const std::vector<int32_t>& prompt, int64_t new_tokens,
                                     const SamplingParams& sampling, bool keep_logits, Ops& ops, Communicator& comm,
                                     bool cuda_graphs = true,
                                     int64_t slice_candidates = GenerateRequest{}.slice_candidates,
                                     int64_t block_size = 4, int64_t prefill_chunk = 5) {
  const std::unique_ptr<Model> model_ptr = fixture_model(dir, ops, comm);
  Model& model = *model_ptr;
  model.set_cuda_graphs(cuda_graphs);
  const int64_t positions = static_cast<int64_t>(prompt.size()) + new_tokens;
  const int64_t blocks = std::max<int64_t>(128 / block_size, (positions + block_size - 1) / block_size);
  PagedKvCache cache(model.kv_cache_shape(blocks, block_size), ops.compute_dtype(), ops);
  GenerateRequest req;
  req.prompt = prompt;
  req.max_new_tokens = new_tokens;
  req.sampling = sampling;
  req.keep_logits = keep_logits;
  req.prefill_chunk = prefill_chunk;
  req.slice_candidates = slice_candidates;
  Generator gen(model, cache, comm);
  return gen.generate(req);
}

// Greedy generation of the reference's length, keeping every logit row.
inline GenerateResult run_fixture(const std::string& dir, const FixtureReference& ref, Ops& ops, Communicator& comm,
                                  bool cuda_graphs = true, int64_t block_size = 4, int64_t prefill_chunk = 5) {
  return run_generation(dir, ref.prompt, static_cast<int64_t>(ref.generated.size()), SamplingParams{},
                        /*keep_logits=*/true, ops, comm, cuda_graphs, GenerateRequest{}.slice_candidates, block_size,
                        prefill_chunk);
}

struct FixtureComparison {
  int64_t first_mismatch = -1;  // first generated index that differs from the reference, -1: none
  int64_t rows_compared = 0;
  double rel_err = INFINITY;    // ||ours - ref|| / ||ref|| over the compared rows; NaN -> inf
  double mismatch_margin = 0;   // the reference's decision margin at first_mismatch
  double mismatch_max_abs = 0;  // our largest |logit error| on that token's row
};

// Over the reference's stored rows among those fed identical inputs ([0, P + j) once our token j
// differs); the differing token's own row (stored for every decision) gives mismatch_max_abs.
inline FixtureComparison compare_to_reference(const GenerateResult& res, const FixtureReference& ref) {
  FixtureComparison c;
  const int64_t vocab = ref.logits.shape.at(1), p = static_cast<int64_t>(ref.prompt.size());
  if (res.logit_rows != ref.all_rows() || res.tokens.size() != ref.generated.size()) return c;
  for (size_t i = 0; i < ref.generated.size() && c.first_mismatch < 0; ++i) {
    if (res.tokens[i] != ref.generated[i]) c.first_mismatch = static_cast<int64_t>(i);
  }
  const int64_t fed_identical = c.first_mismatch < 0 ? res.logit_rows : p + c.first_mismatch;
  const int64_t mismatch_row = c.first_mismatch < 0 ? -1 : p - 1 + c.first_mismatch;
  if (c.first_mismatch >= 0) c.mismatch_margin = ref.margins.at(c.first_mismatch);
  double num = 0, den = 0;
  for (size_t k = 0; k < ref.rows.size(); ++k) {
    const int64_t row = ref.rows[k];
    const float* ours = res.logits.data() + row * vocab;
    const float* theirs = ref.logits.data.data() + k * vocab;
    for (int64_t v = 0; v < vocab; ++v) {
      const double d = static_cast<double>(ours[v]) - theirs[v];
      if (row == mismatch_row) c.mismatch_max_abs = std::max(c.mismatch_max_abs, std::fabs(d));
      if (row >= fed_identical) continue;
      if (std::isnan(ours[v])) return c;
      num += d * d;
      den += static_cast<double>(theirs[v]) * theirs[v];
    }
    if (row < fed_identical) ++c.rows_compared;
  }
  c.rel_err = std::sqrt(num / den);
  return c;
}

// strict_tokens: every greedy token equal (f32). Otherwise (16-bit compute) the first token must
// be equal and a later flip is accepted only where the reference's margin is within twice our
// logit error on that row (the flip is explained by rounding, not by a bug).
inline void expect_matches_reference(const FixtureComparison& c, const GenerateResult& res,
                                     const FixtureReference& ref, bool strict_tokens, double tol,
                                     const std::string& label, bool print) {
  if (print) {
    std::printf("[fixture] %-28s rel_err=%.3e rows=%lld tokens=%s", label.c_str(), c.rel_err,
                static_cast<long long>(c.rows_compared), c.first_mismatch < 0 ? "same" : "DIFFERENT");
    if (c.first_mismatch >= 0) {
      std::printf(" (first at %lld: margin %.4f, our max |err| there %.4f)", static_cast<long long>(c.first_mismatch),
                  c.mismatch_margin, c.mismatch_max_abs);
    }
    std::printf("\n");
  }
  ASSERT_EQ(res.logit_rows, ref.all_rows()) << label;
  EXPECT_LE(c.rel_err, tol) << label;
  if (strict_tokens) {
    EXPECT_EQ(res.tokens, ref.generated) << label;
    return;
  }
  ASSERT_FALSE(res.tokens.empty()) << label;
  EXPECT_EQ(res.tokens[0], ref.generated[0]) << label << ": the first token differs";
  if (c.first_mismatch > 0) {
    EXPECT_LE(c.mismatch_margin, 2 * c.mismatch_max_abs)
        << label << ": token " << c.first_mismatch << " flipped although its margin " << c.mismatch_margin
        << " exceeds twice the logit error " << c.mismatch_max_abs;
  }
}

}  // namespace gqa::test
