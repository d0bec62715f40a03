// Several logit rows in one step at the job's rank count (np 1, 2, 4): a 6-token prefill step that
// asks for every row. forward_sample (greedy) and forward_top_k gather each rank's best per row;
// row i's must be row i's of the gathered logits (forward). Mutation testing found the rows'
// order across ranks untested (every caller used one row, or one rank).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "tests/mpi/generator_job.h"

namespace gqa {
namespace {

using test::Job;

StepInput six_tokens(PagedKvCache& cache) {
  const int seq = cache.add_sequence();
  StepInput in;
  in.tokens = {5, 17, 101, 3, 250, 9};
  for (int32_t p = 0; p < 6; ++p) in.positions.push_back(p), in.token_seq.push_back(0), in.logit_rows.push_back(p);
  in.slots = cache.append(seq, 6);
  in.block_tables = {cache.block_table(seq)};
  return in;
}

TEST(ModelRows, EachGatheredRowIsItsOwn) {
  Job s;
  const int64_t vocab = s.config.vocab_size, k = 4;
  const std::vector<float> logits = s.model.forward(six_tokens(s.cache), s.cache);
  ASSERT_EQ(static_cast<int64_t>(logits.size()), 6 * vocab);
  const std::vector<int32_t> greedy =
      s.model.forward_sample(six_tokens(s.cache), s.cache, SampleSpec{}, std::vector<double>(6, 0.5));
  const std::vector<Model::Candidates> top = s.model.forward_top_k(six_tokens(s.cache), s.cache, k);
  ASSERT_EQ(greedy.size(), 6u);
  ASSERT_EQ(top.size(), 6u);
  for (int64_t r = 0; r < 6; ++r) {
    const float* row = logits.data() + r * vocab;
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    EXPECT_EQ(greedy[r], order[0]) << "row " << r;
    Model::Candidates best = top[r];
    std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    ASSERT_GE(best.size(), static_cast<size_t>(k)) << "row " << r;
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_EQ(best[i].second, order[i]) << "row " << r << ", candidate " << i;
      EXPECT_NEAR(best[i].first, row[order[i]], 1e-5f * (1.0f + std::abs(row[order[i]]))) << "row " << r;
    }
  }
}

}  // namespace
}  // namespace gqa
