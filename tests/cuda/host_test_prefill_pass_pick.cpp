// The prefill kernels' pass pick by lanes (kernels/cuda/prefill_pass_pick.h: what warp 0 computes,
// its shuffles' min and max done here by loops) against one thread's walk over the rows, on random
// row bookkeeping as init_pass_row leaves it (a row with seq < 0 is done) and as passes leave it
// (whole sequences done). Host only: nothing is launched.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cuda/prefill_pass_pick.h"

namespace gqa::cuda {
namespace {

struct Rows {
  std::vector<int> done, seq, pos;
};

template <int N>
PassPick by_lanes(const Rows& r) {
  int first = N;
  for (int lane = 0; lane < 32; ++lane) first = std::min(first, lane_first_unfinished<N>(r.done.data(), lane));
  const int seq = first < N ? r.seq[first] : -1;
  int end = 0;
  for (int lane = 0; lane < 32; ++lane) {
    end = std::max(end, lane_pass_end<N>(r.done.data(), r.seq.data(), r.pos.data(), lane, seq));
  }
  return {seq, end};
}

// A warp of 32 lanes as threads, for pass_pick_lanes (what pick_next_pass_warp runs): shfl_xor
// posts the lane's value, waits for all 32, takes lane ^ offset's, waits again (so the next
// shuffle cannot overwrite a value still to be read). Every lane's pick, in lane order.
class EmulatedWarp {
 public:
  template <int N>
  std::vector<PassPick> pick(const Rows& r) {
    std::vector<PassPick> picks(32);
    std::vector<std::thread> lanes;
    for (int lane = 0; lane < 32; ++lane) {
      lanes.emplace_back([&, lane] {
        picks[lane] = pass_pick_lanes<N>(r.done.data(), r.seq.data(), r.pos.data(), lane, [&](int v, int off) {
          slots_[lane] = v;
          arrive_and_wait();
          const int other = slots_[lane ^ off];
          arrive_and_wait();
          return other;
        });
      });
    }
    for (std::thread& t : lanes) t.join();
    return picks;
  }

 private:
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    const long phase = phase_;
    if (++arrived_ == 32) {
      arrived_ = 0;
      ++phase_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return phase_ != phase; });
    }
  }
  int slots_[32] = {};
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long phase_ = 0;
};

// N rows: tokens of up to `seqs` sequences in runs (as packed rows lie: a token's group of rows
// together), some rows without a token (-2) or out of range (-1), then `finished` sequences done.
template <int N>
Rows random_rows(std::mt19937& rng, int seqs, int finished) {
  Rows r{std::vector<int>(N), std::vector<int>(N), std::vector<int>(N)};
  std::uniform_int_distribution<int> pick_seq(0, seqs - 1), pos(0, 100000), odd(0, 15), run(1, 24);
  int row = 0;
  while (row < N) {
    const int s = odd(rng) == 0 ? -1 - (odd(rng) % 2) : pick_seq(rng);
    const int p0 = pos(rng);
    for (int k = run(rng); k > 0 && row < N; --k, ++row) {
      r.seq[row] = s;
      r.pos[row] = s >= 0 ? p0 + k : -1;
      r.done[row] = s < 0;
    }
  }
  for (int f = 0; f < finished; ++f) {
    const int s = pick_seq(rng);
    for (int i = 0; i < N; ++i) r.done[i] = r.done[i] || r.seq[i] == s;
  }
  return r;
}

template <int N>
void expect_same_picks(uint32_t seed) {
  std::mt19937 rng(seed);
  int none = 0, some = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int seqs = 1 + trial % 6, finished = trial % 4;
    Rows r = random_rows<N>(rng, seqs, finished);
    // and the passes a block runs: pick, mark that sequence done, until none is left
    for (int pass = 0; pass < N + 1; ++pass) {
      const PassPick serial = pass_pick_serial<N>(r.done.data(), r.seq.data(), r.pos.data());
      const PassPick lanes = by_lanes<N>(r);
      ASSERT_EQ(lanes.seq, serial.seq) << "trial " << trial << " pass " << pass;
      ASSERT_EQ(lanes.end, serial.end) << "trial " << trial << " pass " << pass;
      if (serial.seq < 0) {
        EXPECT_EQ(serial.end, 0);
        ++none;
        break;
      }
      ++some;
      EXPECT_GT(serial.end, 0);
      for (int i = 0; i < N; ++i) r.done[i] = r.done[i] || r.seq[i] == serial.seq;
    }
  }
  EXPECT_GT(some, 4000);  // (the cases are not all empty)
  EXPECT_EQ(none, 4000);  // (every block's passes end)
}

TEST(PrefillPassPick, LanesPickAsOneThreadDoes128Rows) { expect_same_picks<128>(11); }
TEST(PrefillPassPick, LanesPickAsOneThreadDoes64Rows) { expect_same_picks<64>(12); }

// The whole warp composition (scans, butterflies, the guard on no unfinished row), every lane
// alike, against the serial walk: fewer cases (each starts 32 threads).
template <int N>
void expect_warp_picks(uint32_t seed) {
  std::mt19937 rng(seed);
  EmulatedWarp warp;
  for (int trial = 0; trial < 60; ++trial) {
    Rows r = random_rows<N>(rng, 1 + trial % 6, trial % 4);
    for (int pass = 0; pass < N + 1; ++pass) {
      const PassPick serial = pass_pick_serial<N>(r.done.data(), r.seq.data(), r.pos.data());
      for (const PassPick& lane : warp.pick<N>(r)) {
        ASSERT_EQ(lane.seq, serial.seq) << "trial " << trial << " pass " << pass;
        ASSERT_EQ(lane.end, serial.end) << "trial " << trial << " pass " << pass;
      }
      if (serial.seq < 0) break;
      for (int i = 0; i < N; ++i) r.done[i] = r.done[i] || r.seq[i] == serial.seq;
    }
  }
}

TEST(PrefillPassPick, EmulatedWarpPicksAsOneThreadDoes) {
  expect_warp_picks<128>(21);
  expect_warp_picks<64>(22);
}

TEST(PrefillPassPick, HandWrittenCases) {
  Rows r{std::vector<int>(64, 1), std::vector<int>(64, -2), std::vector<int>(64, -1)};
  EXPECT_EQ(by_lanes<64>(r).seq, -1);  // no row has a token
  r.done[40] = 0, r.seq[40] = 3, r.pos[40] = 9;
  r.done[45] = 0, r.seq[45] = 2, r.pos[45] = 50;
  r.done[63] = 0, r.seq[63] = 3, r.pos[63] = 70;
  const PassPick p = by_lanes<64>(r);  // the first unfinished row (40) names the sequence
  EXPECT_EQ(p.seq, 3);
  EXPECT_EQ(p.end, 71);
  const PassPick s = pass_pick_serial<64>(r.done.data(), r.seq.data(), r.pos.data());
  EXPECT_EQ(s.seq, 3);
  EXPECT_EQ(s.end, 71);
}

}  // namespace
}  // namespace gqa::cuda
