// ShardPlan: who owns which heads, FFN columns and vocab rows, and which layouts are refused.
#include "parallel/shard_plan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace gqa {
namespace {

ShardDims dims(int64_t h, int64_t g, int64_t ffn = 1000, int64_t vocab = 1001) {
  return ShardDims{h, g, ffn, vocab};
}

// Every q head's KV head (q / (H/G), the llama2.c kv_mul map) is held by the rank owning q.
void expect_groups_local(const ShardPlan& plan) {
  const int64_t group = plan.dims().n_heads / plan.dims().n_kv_heads;
  for (int r = 0; r < plan.world_size(); ++r) {
    const RankShard& s = plan.rank(r);
    for (int64_t q = s.q_heads.begin; q < s.q_heads.end; ++q) {
      EXPECT_TRUE(s.kv_heads.contains(q / group)) << "rank " << r << " q head " << q;
    }
  }
}

// Ranges cover [0, n) once, in rank order, back to back.
void expect_contiguous_cover(const std::vector<Range>& ranges, int64_t n) {
  int64_t next = 0;
  for (size_t r = 0; r < ranges.size(); ++r) {
    EXPECT_EQ(ranges[r].begin, next) << "rank " << r;
    EXPECT_GE(ranges[r].size(), 0) << "rank " << r;
    next = ranges[r].end;
  }
  EXPECT_EQ(next, n);
}

// Query heads always split exactly once; KV heads do too when nothing is replicated.
void expect_full_cover(const ShardPlan& plan) {
  std::vector<Range> q, kv, ffn, vocab;
  for (int r = 0; r < plan.world_size(); ++r) {
    q.push_back(plan.rank(r).q_heads);
    kv.push_back(plan.rank(r).kv_heads);
    ffn.push_back(plan.rank(r).ffn);
    vocab.push_back(plan.rank(r).vocab);
  }
  expect_contiguous_cover(q, plan.dims().n_heads);
  if (plan.kv_replicas() == 1) expect_contiguous_cover(kv, plan.dims().n_kv_heads);
  expect_contiguous_cover(ffn, plan.dims().intermediate_size);
  expect_contiguous_cover(vocab, plan.dims().vocab_size);
}

std::string refusal(const ShardDims& d, int t) {
  try {
    ShardPlan::make(d, t);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "H=" << d.n_heads << " G=" << d.n_kv_heads << " T=" << t << " was accepted";
  return "";
}

TEST(ShardPlan, MhaSplitsHeadsEvenly) {
  for (int t : {1, 2, 4, 8}) {
    const ShardPlan plan = ShardPlan::make(dims(8, 8), t);
    ASSERT_EQ(plan.world_size(), t);
    EXPECT_EQ(plan.kv_replicas(), 1);
    for (int r = 0; r < t; ++r) {
      const int64_t per = 8 / t;
      EXPECT_EQ(plan.rank(r).q_heads.begin, r * per);
      EXPECT_EQ(plan.rank(r).q_heads.size(), per);
      EXPECT_EQ(plan.rank(r).kv_heads.begin, r * per);
      EXPECT_EQ(plan.rank(r).kv_heads.size(), per);
    }
    expect_groups_local(plan);
    expect_full_cover(plan);
  }
}

TEST(ShardPlan, GqaOneKvHeadPerRank) {
  const ShardPlan plan = ShardPlan::make(dims(64, 8), 8);
  EXPECT_EQ(plan.kv_replicas(), 1);
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(plan.rank(r).kv_heads.begin, r);
    EXPECT_EQ(plan.rank(r).kv_heads.size(), 1);
    EXPECT_EQ(plan.rank(r).q_heads.begin, 8 * r);
    EXPECT_EQ(plan.rank(r).q_heads.size(), 8);
  }
  expect_groups_local(plan);
  expect_full_cover(plan);
}

TEST(ShardPlan, RanksOutsideThePlanAreRefusedByName) {
  const ShardPlan plan = ShardPlan::make({8, 2, 64, 100}, 2);
  EXPECT_EQ(plan.rank(1).kv_heads.begin, 1);
  EXPECT_THROW(plan.rank(2), Error);  // (std::out_of_range before)
  EXPECT_THROW(plan.rank(-1), Error);
  EXPECT_THROW(ShardPlan{}.rank(0), Error);
}

TEST(ShardPlan, GqaTwoRanks) {
  const ShardPlan plan = ShardPlan::make(dims(8, 2), 2);
  EXPECT_EQ(plan.rank(0).kv_heads.begin, 0);
  EXPECT_EQ(plan.rank(0).kv_heads.end, 1);
  EXPECT_EQ(plan.rank(0).q_heads.begin, 0);
  EXPECT_EQ(plan.rank(0).q_heads.end, 4);
  EXPECT_EQ(plan.rank(1).kv_heads.begin, 1);
  EXPECT_EQ(plan.rank(1).kv_heads.end, 2);
  EXPECT_EQ(plan.rank(1).q_heads.begin, 4);
  EXPECT_EQ(plan.rank(1).q_heads.end, 8);
  expect_groups_local(plan);
  expect_full_cover(plan);
}

TEST(ShardPlan, MqaReplicatesTheOneKvHead) {
  const ShardPlan plan = ShardPlan::make(dims(8, 1), 4);
  EXPECT_EQ(plan.kv_replicas(), 4);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(plan.rank(r).kv_heads.begin, 0);
    EXPECT_EQ(plan.rank(r).kv_heads.end, 1);
    EXPECT_EQ(plan.rank(r).q_heads.begin, 2 * r);
    EXPECT_EQ(plan.rank(r).q_heads.size(), 2);
  }
  expect_groups_local(plan);
  expect_full_cover(plan);
}

TEST(ShardPlan, MoreRanksThanKvHeadsReplicates) {
  const ShardPlan plan = ShardPlan::make(dims(64, 8), 16);
  EXPECT_EQ(plan.kv_replicas(), 2);
  for (int r = 0; r < 16; ++r) {
    EXPECT_EQ(plan.rank(r).kv_heads.begin, r / 2);
    EXPECT_EQ(plan.rank(r).kv_heads.size(), 1);
    EXPECT_EQ(plan.rank(r).q_heads.begin, 4 * r);
    EXPECT_EQ(plan.rank(r).q_heads.size(), 4);
  }
  expect_groups_local(plan);
  expect_full_cover(plan);
}

TEST(ShardPlan, RefusesKvHeadsThatDoNotDivide) {
  const std::string msg = refusal(dims(48, 6), 4);
  EXPECT_NE(msg.find("6 KV heads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 ranks"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6 % 4 == 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 % 6 == 0 with replication"), std::string::npos) << msg;
  EXPECT_NE(msg.find("48"), std::string::npos) << msg;  // names H too
  EXPECT_NE(msg.find("accepted rank counts: 1, 2, 3, 6, 12, 24, 48"), std::string::npos) << msg;
}

TEST(ShardPlan, RefusesMhaOverThreeRanks) {
  const std::string msg = refusal(dims(8, 8), 3);
  EXPECT_NE(msg.find("8 KV heads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 ranks"), std::string::npos) << msg;
}

TEST(ShardPlan, RefusesReplicationWhenQueryHeadsDoNotSplit) {
  // T % G == 0 but H % T != 0: ranks sharing a KV head cannot split its group evenly.
  const std::string msg = refusal(dims(12, 2), 8);
  EXPECT_NE(msg.find("12 % 8 == 0"), std::string::npos) << msg;
}

TEST(ShardPlan, RefusesBadDims) {
  EXPECT_NE(refusal(dims(8, 8), 0).find("at least 1"), std::string::npos);
  EXPECT_NE(refusal(dims(8, 8), -2).find("at least 1"), std::string::npos);
  EXPECT_NE(refusal(dims(8, 3), 1).find("H % G == 0"), std::string::npos);
  EXPECT_NE(refusal(dims(8, 0), 1).find("at least 1"), std::string::npos);
  EXPECT_NE(refusal(dims(4, 1), 8).find("T <= H"), std::string::npos);
  EXPECT_NE(refusal(dims(8, 8, 2, 100), 4).find("intermediate_size >= T"), std::string::npos);
  EXPECT_NE(refusal(dims(8, 8, 100, 3), 4).find("vocab_size >= T"), std::string::npos);
}

TEST(ShardPlan, FfnSplitsNearlyEvenly) {
  const ShardPlan plan = ShardPlan::make(dims(8, 8, 10, 100), 4);
  const int64_t want[4] = {3, 3, 2, 2};
  for (int r = 0; r < 4; ++r) EXPECT_EQ(plan.rank(r).ffn.size(), want[r]) << "rank " << r;
  expect_full_cover(plan);
}

TEST(ShardPlan, VocabInEqualChunksLastShorter) {
  const ShardPlan plan = ShardPlan::make(dims(8, 2, 256, 32001), 4);
  EXPECT_EQ(plan.vocab_chunk(), 8001);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(plan.rank(r).vocab.size(), 8001);
  EXPECT_EQ(plan.rank(3).vocab.size(), 32001 - 3 * 8001);
  expect_full_cover(plan);

  const ShardPlan even = ShardPlan::make(dims(8, 2, 256, 512), 4);
  EXPECT_EQ(even.vocab_chunk(), 128);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(even.rank(r).vocab.size(), 128);
}

// The smallest widths accepted: as many FFN columns and vocab rows as ranks, one each.
// (Mutation testing: "intermediate_size > T" refused this and passed.)
TEST(ShardPlan, OneFfnColumnAndOneVocabRowPerRank) {
  const ShardPlan plan = ShardPlan::make(dims(8, 8, 4, 4), 4);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(plan.rank(r).ffn.begin, r);
    EXPECT_EQ(plan.rank(r).ffn.size(), 1);
    EXPECT_EQ(plan.rank(r).vocab.begin, r);
    EXPECT_EQ(plan.rank(r).vocab.size(), 1);
  }
  expect_full_cover(plan);
}

TEST(ShardPlan, DescribeHasOneLinePerRank) {
  const ShardPlan plan = ShardPlan::make(dims(8, 1), 4);
  const std::string text = plan.describe();
  int lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 4) << text;
  EXPECT_NE(text.find("rank 3/4: q heads [6, 8) kv heads [0, 1) (each on 4 ranks)"), std::string::npos)
      << text;
}

// Property check over random layouts: every accepted plan keeps groups local and covers
// everything exactly once; every refusal is one of the documented cases.
TEST(ShardPlan, RandomLayoutsKeepGroupsLocal) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int64_t> kv_dist(1, 16), group_dist(1, 8), t_dist(1, 32);
  std::uniform_int_distribution<int64_t> size_dist(1, 5000);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    const int64_t g = kv_dist(rng);
    const int64_t h = g * group_dist(rng);
    const int t = static_cast<int>(t_dist(rng));
    const ShardDims d = dims(h, g, size_dist(rng), size_dist(rng));
    const bool valid = t <= h && d.intermediate_size >= t && d.vocab_size >= t &&
                       (g % t == 0 || (t % g == 0 && h % t == 0));
    if (!valid) {
      EXPECT_THROW(ShardPlan::make(d, t), Error) << "H=" << h << " G=" << g << " T=" << t;
      continue;
    }
    ++accepted;
    const ShardPlan plan = ShardPlan::make(d, t);
    SCOPED_TRACE("H=" + std::to_string(h) + " G=" + std::to_string(g) + " T=" + std::to_string(t));
    expect_groups_local(plan);
    expect_full_cover(plan);
    EXPECT_EQ(plan.vocab_chunk(), (d.vocab_size + t - 1) / t);
    for (int r = 0; r < t; ++r) {
      EXPECT_EQ(plan.rank(r).q_heads.size(), h / t);
      EXPECT_LE(plan.rank(r).vocab.size(), plan.vocab_chunk());
    }
  }
  EXPECT_GT(accepted, 500);
}

}  // namespace
}  // namespace gqa
