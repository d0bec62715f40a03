// One-tile checks of the two wgmma forms the wgmma prefill uses (kernels/cuda/wgmma.cuh), bf16 in,
// f32 out, with the descriptors' LBO and SBO given by the caller: tests compare them with a host
// product, and on a mismatch can try other strides to say which layout convention the hardware
// follows. The device code is sm_90a (call only where prefill_wgmma_available()).
#pragma once

#include <cstdint>
#include <vector>

namespace gqa::cuda {

// s[64][128] = a[64][hd] b[128][hd]^T: a and b (row-major, rounded to bf16 on the way) are stored
// in shared memory in the prefill's core-matrix layout (core_chunk) and read K-major by
// hd / 16 wgmma m64n128k16 whose descriptors carry `lbo` and `sbo` (the prefill: 128, hd * 16).
// swizzle128: a and b staged as the swizzle build stages q and K (swizzle128_byte, 128-row tiles),
// read through 128-byte-swizzle descriptors (the swizzle build: lbo 16 (unused), sbo 1024).
std::vector<float> wgmma_probe_qk(const std::vector<float>& a, const std::vector<float>& b, int hd, uint32_t lbo,
                                  uint32_t sbo, bool swizzle128 = false);

// o[64][hd] = p[64][128] v[128][hd]: p goes through registers (the A fragments of p_fragment),
// v is stored like a K tile and read N-major ("transposed") by 8 wgmma m64n{hd}k16 whose
// descriptors carry `lbo` and `sbo` (the prefill: hd * 16, 128).
// swizzle128: v staged as the swizzle build stages V, read N-major through a 128-byte-swizzle
// descriptor (the swizzle build: lbo 128 * 128 = the next 64 dims, sbo 1024 = the next 8 keys).
std::vector<float> wgmma_probe_pv(const std::vector<float>& p, const std::vector<float>& v, int hd, uint32_t lbo,
                                  uint32_t sbo, bool swizzle128 = false);

}  // namespace gqa::cuda
