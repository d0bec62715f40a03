// Which 16-byte chunks of a K/V tile each thread of the tensor-core prefills copies, and where
// they land in shared memory (attention_prefill_wgmma_tiles.cuh, attention_prefill_mma.cu); host- and
// device-callable so the host tests can check that every chunk is copied once, to its place.
//
// Both give each thread several chunks of one key's row per pass, so a thread looks its key's
// page up once per pass rather than once per chunk (the paged loaders' address arithmetic was a
// fifth of the prefills' instructions per tile).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gqa::cuda {

// The wgmma prefill's no-swizzle core-matrix tile [kKeys][HD]: chunk (key r, dims 8c..8c+7) at
// byte (r / 8) * HD * 16 + c * 128 + (r % 8) * 16. Warp w, lane l, pass ps: key 8 (nw ps + w) + l % 8
// (nw = kThreads / 32 warps), chunks l / 8 + 4i for i < HD / 32. One warp-wide copy i reads 64
// contiguous bytes (two sectors) of each of 8 rows and writes 512 contiguous bytes.
template <int HD, int kKeys, int kThreads>
struct CoreTileCopy {
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kRowsPerPass = 8 * kWarps;
  static constexpr int kPasses = kKeys / kRowsPerPass;
  static constexpr int kPerRow = HD / 32;
  static constexpr int kChunkStep = 4;        // chunk(t, i + 1) - chunk(t, i)
  static constexpr uint32_t kByteStep = 512;  // byte(r, chunk + kChunkStep) - byte(r, chunk)
  static_assert(kThreads % 32 == 0 && kKeys % kRowsPerPass == 0 && HD % 32 == 0, "whole passes of whole rows");

  __host__ __device__ static int key(int tid, int ps) { return 8 * (kWarps * ps + tid / 32) + tid % 8; }
  __host__ __device__ static int chunk(int tid, int i) { return (tid % 32) / 8 + kChunkStep * i; }
  __host__ __device__ static uint32_t byte(int key, int chunk) {
    return uint32_t(key / 8) * HD * 16 + uint32_t(chunk) * 128 + uint32_t(key % 8) * 16;
  }
};

// The 128-byte-swizzled tile [kRows][HD] of the wgmma prefill's swizzle build (wgmma's
// SWIZZLE_128B canonical layout, one 64-column half at a time): the tile is HD / 64 halves of
// [kRows][64] elements, rows of 128 bytes; 16-byte chunk c of row r at byte
// (c / 8) * kRows * 128 + r * 128 + ((c % 8) ^ (r % 8)) * 16 from a 1024-byte-aligned base.
__host__ __device__ inline uint32_t swizzle128_byte(int row, int chunk, int rows) {
  return uint32_t(chunk / 8) * uint32_t(rows) * 128u + uint32_t(row) * 128u + uint32_t((chunk % 8) ^ (row % 8)) * 16u;
}

// The thread -> (key, chunks) mapping of the tiles copied 8 threads a row: thread t, pass ps: key
// ps * (kThreads / 8) + t / 8, chunks t % 8 + 8i for i < HD / 64. One warp-wide copy i reads 128
// contiguous bytes of each of 4 rows. A tile layout derives from it and adds byte() and kByteStep.
template <int HD, int kKeys, int kThreads>
struct EightPerRowCopy {
  static constexpr int kRowsPerPass = kThreads / 8;
  static constexpr int kPasses = kKeys / kRowsPerPass;
  static constexpr int kPerRow = HD / 64;
  static constexpr int kChunkStep = 8;  // chunk(t, i + 1) - chunk(t, i)
  static_assert(kThreads % 8 == 0 && kKeys % kRowsPerPass == 0 && HD % 64 == 0, "whole passes of whole rows");

  __host__ __device__ static int key(int tid, int ps) { return ps * kRowsPerPass + tid / 8; }
  __host__ __device__ static int chunk(int tid, int i) { return tid % 8 + kChunkStep * i; }
};

// Copies into swizzle128_byte tiles [kKeys][HD] (the same (c % 8) in each half, so one byte step);
// a warp-wide copy writes 512 contiguous bytes.
template <int HD, int kKeys, int kThreads>
struct SwizzleTileCopy : EightPerRowCopy<HD, kKeys, kThreads> {
  static constexpr uint32_t kByteStep = kKeys * 128u;  // byte(r, chunk + kChunkStep) - byte(r, chunk)
  __host__ __device__ static uint32_t byte(int key, int chunk) { return swizzle128_byte(key, chunk, kKeys); }
};

// The mma.sync prefill's padded tile [kKeys][kRowElems] (16-bit elements): chunk (key r, dims
// 8c..) at byte 2 (r * kRowElems + 8c).
template <int HD, int kKeys, int kThreads, int kRowElems>
struct RowTileCopy : EightPerRowCopy<HD, kKeys, kThreads> {
  static constexpr uint32_t kByteStep = 128;  // byte(r, chunk + kChunkStep) - byte(r, chunk)
  __host__ __device__ static uint32_t byte(int key, int chunk) { return 2u * uint32_t(key * kRowElems + 8 * chunk); }
};

}  // namespace gqa::cuda
