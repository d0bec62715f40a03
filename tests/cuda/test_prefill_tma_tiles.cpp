// The wgmma prefill's TMA build's loads alone (kernels/cuda/attention_prefill_wgmma_tma_probe.h):
// one K/V tile by TMA and by the swizzle build's cp.async copies, each against the tile built on
// the host from the cache's own bytes (the 128-byte swizzle of prefill_tile_copy.h, zeros for a
// bad block-table entry's keys), at block sizes 8 to 256, head_dim 64 and 128, bf16 and f16, two
// KV heads, tiles from several places of a sequence. A mismatch names the chunk and where the
// tile holds it instead, so a TMA build failing its attention test is told apart from its loads
// here in the same run. Needs a compute capability 9.0 GPU: skips elsewhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/attention_prefill_wgmma.h"
#include "kernels/cuda/attention_prefill_wgmma_tma_probe.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/prefill_tile_copy.h"
#include "tests/cuda/attention_test_batch.h"

namespace gqa {
namespace {

using attn_test::Batch;
using attn_test::make_batch;

constexpr int kKeys = 128;

// The tile of keys [start, start + 128) of head g of sequence seq, from the raw 16-bit cache.
std::vector<unsigned char> expected_tile(const Batch& b, const std::vector<uint16_t>& raw, int seq, int start, int g) {
  std::vector<unsigned char> tile(size_t(kKeys) * b.hd * 2, 0);
  for (int r = 0; r < kKeys; ++r) {
    const int64_t key = start + r;
    const int32_t page = b.tables[size_t(seq * b.max_blocks + key / b.block_size)];
    if (page < 0 || page >= b.num_blocks) continue;  // zeros
    const size_t row = ((size_t(page) * b.block_size + key % b.block_size) * b.hkv + g) * b.hd;
    for (int c = 0; c < b.hd / 8; ++c) {
      std::memcpy(tile.data() + cuda::swizzle128_byte(r, c, kKeys), raw.data() + row + 8 * c, 16);
    }
  }
  return tile;
}

// "" when equal; else the first chunk that differs and where `got` holds that chunk's bytes.
std::string compare(const std::vector<unsigned char>& got, const std::vector<unsigned char>& want, int hd) {
  const auto place = [](size_t byte) {  // swizzle128_byte's inverse: (key, chunk)
    const size_t half = byte / (kKeys * 128), row = byte % (kKeys * 128) / 128, slot = byte % 128 / 16;
    return std::make_pair(int(row), int(8 * half + (slot ^ (row % 8))));
  };
  size_t differ = 0;
  for (size_t at = 0; at < want.size(); at += 16) differ += std::memcmp(got.data() + at, want.data() + at, 16) != 0;
  if (differ == 0) return "";
  for (size_t at = 0; at < want.size(); at += 16) {
    if (std::memcmp(got.data() + at, want.data() + at, 16) == 0) continue;
    const auto [key, chunk] = place(at);
    std::ostringstream os;
    os << differ << " of " << want.size() / 16 << " chunks differ (hd " << hd << "); first: key " << key << " chunk "
       << chunk << " (tile byte " << at << ")";
    bool found = false;
    for (size_t x = 0; x < got.size() && !found; x += 16) {
      if (std::memcmp(got.data() + x, want.data() + at, 16) == 0) {
        const auto [k2, c2] = place(x);
        os << "; its bytes are at byte " << x << ", the place of key " << k2 << " chunk " << c2;
        found = true;
      }
    }
    if (!found) os << "; its bytes are nowhere in the tile";
    return os.str();
  }
  return "";
}

TEST(CudaPrefillTmaTiles, TmaAndCopiesGiveTheSwizzledTile) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  if (!cuda::prefill_wgmma_available()) GTEST_SKIP() << "not a compute capability 9.0 device";
  for (DType dt : {DType::kBF16, DType::kF16}) {
    for (int64_t hd : {64, 128}) {
      for (int64_t bs : {8, 16, 32, 64, 128, 256}) {
        Batch b = make_batch(dt, {4, 2}, hd, bs, {{0, 700}, {0, 300}}, 70);
        // a bad entry inside sequence 0's tile at 384 (keys 400.. lie on it at every block size)
        const int64_t bad_column = 400 / bs;
        b.tables[size_t(bad_column)] = static_cast<int32_t>(b.num_blocks);
        const int64_t bad_first = std::max<int64_t>(bad_column * bs, 384);
        attn_test::DeviceBatch d(b);
        const AttentionArgs a = d.args(b);
        std::vector<uint16_t> k_raw(size_t(b.num_blocks * bs * b.hkv * hd)), v_raw(k_raw.size());
        cuda::copy_to_host(d.k, k_raw.data());
        cuda::copy_to_host(d.v, v_raw.data());
        for (auto [seq, start] : {std::pair{0, 0}, std::pair{0, 128}, std::pair{0, 384}, std::pair{0, 512},
                                  std::pair{1, 128}}) {
          for (int g = 0; g < 2; ++g) {
            const std::string what = std::string(dtype_name(dt)) + " hd " + std::to_string(hd) + " block " +
                                     std::to_string(bs) + " seq " + std::to_string(seq) + " keys from " +
                                     std::to_string(start) + " head " + std::to_string(g);
            const cuda::PrefillTmaTiles t = cuda::probe_prefill_tma_tiles(a, seq, start, g);
            EXPECT_EQ(t.box_rows, bs < kKeys ? bs : kKeys) << what;
            const std::vector<unsigned char> k_want = expected_tile(b, k_raw, seq, start, g);
            const std::vector<unsigned char> v_want = expected_tile(b, v_raw, seq, start, g);
            EXPECT_EQ(compare(t.k_tma, k_want, int(hd)), "") << "K by TMA, " << what;
            EXPECT_EQ(compare(t.v_tma, v_want, int(hd)), "") << "V by TMA, " << what;
            EXPECT_EQ(compare(t.k_copied, k_want, int(hd)), "") << "K by cp.async, " << what;
            EXPECT_EQ(compare(t.v_copied, v_want, int(hd)), "") << "V by cp.async, " << what;
            const int want_bad = seq == 0 && start == 384 ? int(bad_first) : INT_MAX;
            EXPECT_EQ(t.bad_key_tma, want_bad) << what;
            EXPECT_EQ(t.bad_key_copied, want_bad) << what;
          }
        }
      }
    }
  }
}

TEST(CudaPrefillTmaTiles, RefusesWhatItCannotProbe) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  if (!cuda::prefill_wgmma_available()) GTEST_SKIP() << "not a compute capability 9.0 device";
  Batch b = make_batch(DType::kBF16, {4, 2}, 128, 24, {{0, 300}}, 71);  // 24-key pages: no whole boxes
  attn_test::DeviceBatch d(b);
  EXPECT_THROW(cuda::probe_prefill_tma_tiles(d.args(b), 0, 0, 0), Error);
  Batch ok = make_batch(DType::kBF16, {4, 2}, 128, 16, {{0, 300}}, 72);
  attn_test::DeviceBatch e(ok);
  EXPECT_THROW(cuda::probe_prefill_tma_tiles(e.args(ok), 0, 64, 0), Error);  // not a tile's start
  EXPECT_THROW(cuda::probe_prefill_tma_tiles(e.args(ok), 1, 0, 0), Error);   // no sequence 1
  EXPECT_THROW(cuda::probe_prefill_tma_tiles(e.args(ok), 0, 0, 2), Error);   // no KV head 2
}

}  // namespace
}  // namespace gqa
