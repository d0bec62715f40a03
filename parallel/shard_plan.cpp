#include "parallel/shard_plan.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace gqa {
namespace {

// Rank counts this head layout can be split over: divisors of G, and multiples of G (KV
// replication) that still divide H. Listed in refusals so the user sees what would work.
std::string accepted_world_sizes(int64_t n_heads, int64_t n_kv_heads) {
  std::ostringstream os;
  const char* sep = "";
  for (int64_t t = 1; t <= n_heads; ++t) {
    const bool split = n_kv_heads % t == 0;
    const bool replicate = t > n_kv_heads && t % n_kv_heads == 0 && n_heads % t == 0;
    if (split || replicate) {
      os << sep << t;
      sep = ", ";
    }
  }
  return os.str();
}

void check_dims(const ShardDims& d, int world_size) {
  GQA_CHECK(world_size >= 1, "cannot shard over " << world_size << " ranks: need at least 1");
  GQA_CHECK(d.n_heads >= 1 && d.n_kv_heads >= 1,
            "cannot shard " << d.n_heads << " query heads / " << d.n_kv_heads
                            << " KV heads: both must be at least 1");
  GQA_CHECK(d.n_heads % d.n_kv_heads == 0,
            "cannot shard " << d.n_heads << " query heads over " << d.n_kv_heads
                            << " KV heads: need H % G == 0 (" << d.n_heads << " % " << d.n_kv_heads
                            << " == " << d.n_heads % d.n_kv_heads << ")");
  GQA_CHECK(world_size <= d.n_heads,
            "cannot shard " << d.n_heads << " query heads (" << d.n_kv_heads << " KV heads) over "
                            << world_size << " ranks: need T <= H; accepted rank counts: "
                            << accepted_world_sizes(d.n_heads, d.n_kv_heads));
  GQA_CHECK(d.intermediate_size >= world_size,
            "cannot shard FFN width " << d.intermediate_size << " over " << world_size
                                      << " ranks: need intermediate_size >= T");
  GQA_CHECK(d.vocab_size >= world_size,
            "cannot shard vocab " << d.vocab_size << " over " << world_size
                                  << " ranks: need vocab_size >= T");
}

// Contiguous, nearly equal split of [0, n): the first n % t ranks get one extra.
Range even_range(int64_t n, int64_t t, int64_t r) {
  const int64_t base = n / t;
  const int64_t extra = n % t;
  const int64_t begin = r * base + (r < extra ? r : extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace

ShardPlan ShardPlan::make(const ShardDims& dims, int world_size) {
  check_dims(dims, world_size);
  const int64_t h = dims.n_heads;
  const int64_t g = dims.n_kv_heads;
  const int64_t t = world_size;
  const int64_t group = h / g;  // query heads per KV head

  ShardPlan plan;
  plan.dims_ = dims;
  if (g % t == 0) {
    plan.kv_replicas_ = 1;
  } else if (t % g == 0 && h % t == 0) {
    plan.kv_replicas_ = t / g;
  } else {
    GQA_FAIL("cannot shard " << g << " KV heads (" << h << " query heads) over " << t
                             << " ranks: need " << g << " % " << t << " == 0, or " << t << " % "
                             << g << " == 0 with replication and " << h << " % " << t
                             << " == 0; accepted rank counts: " << accepted_world_sizes(h, g));
  }
  plan.vocab_chunk_ = (dims.vocab_size + t - 1) / t;
  plan.ranks_.resize(static_cast<size_t>(t));
  for (int64_t r = 0; r < t; ++r) {
    RankShard& s = plan.ranks_[static_cast<size_t>(r)];
    if (plan.kv_replicas_ == 1) {
      s.kv_heads = {r * g / t, (r + 1) * g / t};
      s.q_heads = {s.kv_heads.begin * group, s.kv_heads.end * group};
    } else {
      // T/G ranks share KV head r / (T/G); each takes a contiguous H/T slice of its group.
      const int64_t kv = r / plan.kv_replicas_;
      s.kv_heads = {kv, kv + 1};
      s.q_heads = {r * (h / t), (r + 1) * (h / t)};
    }
    s.ffn = even_range(dims.intermediate_size, t, r);
    const int64_t vb = std::min(r * plan.vocab_chunk_, dims.vocab_size);
    s.vocab = {vb, std::min(vb + plan.vocab_chunk_, dims.vocab_size)};
  }
  return plan;
}

std::string ShardPlan::describe() const {
  std::ostringstream os;
  for (int r = 0; r < world_size(); ++r) {
    const RankShard& s = ranks_[static_cast<size_t>(r)];
    os << "rank " << r << "/" << world_size() << ": q heads [" << s.q_heads.begin << ", "
       << s.q_heads.end << ") kv heads [" << s.kv_heads.begin << ", " << s.kv_heads.end << ")";
    if (kv_replicas_ > 1) os << " (each on " << kv_replicas_ << " ranks)";
    os << " ffn [" << s.ffn.begin << ", " << s.ffn.end << ") vocab [" << s.vocab.begin << ", "
       << s.vocab.end << ")\n";
  }
  return os.str();
}

const RankShard& ShardPlan::rank(int r) const {
  GQA_CHECK(r >= 0 && r < world_size(), "shard plan: rank " << r << " is not one of its " << world_size() << " ranks");
  return ranks_[static_cast<size_t>(r)];
}

}  // namespace gqa
