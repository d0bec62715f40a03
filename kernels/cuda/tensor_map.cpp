// TMA descriptors for paged caches (tensor_map.h).
#include "kernels/cuda/tensor_map.h"

#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <mutex>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"

namespace gqa::cuda {
namespace {

// cuTensorMapEncodeTiled from the driver this process runs on (the CUDA 12.0 ABI of it).
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    GQA_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found));
    GQA_CHECK(found == cudaDriverEntryPointSuccess && p != nullptr,
              "cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled, 12000): not found (query result "
                  << static_cast<int>(found) << "): the driver has no TMA descriptors");
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  });
  return fn;
}

bool dim_ok(int64_t d) { return d >= 1 && d <= (int64_t(1) << 32); }

}  // namespace

bool paged_cache_map_encodable(const PagedCacheMap& m) {
  return m.base != nullptr && reinterpret_cast<uintptr_t>(m.base) % 16 == 0 && m.hd % 64 == 0 && dim_ok(m.hd) &&
         dim_ok(m.hkv) && dim_ok(m.block_size) && dim_ok(m.num_blocks) && m.box_rows >= 1 && m.box_rows <= 256 &&
         m.box_rows <= m.block_size;
}

CUtensorMap encode_paged_cache_map(const PagedCacheMap& m) {
  GQA_CHECK(paged_cache_map_encodable(m), "encode_paged_cache_map: a cache of " << m.num_blocks << " x " << m.block_size
                                              << " x " << m.hkv << " x " << m.hd << " at " << m.base << ", "
                                              << m.box_rows << "-key boxes cannot be a TMA descriptor");
  const cuuint64_t dims[4] = {cuuint64_t(m.hd), cuuint64_t(m.hkv), cuuint64_t(m.block_size), cuuint64_t(m.num_blocks)};
  const cuuint64_t head = cuuint64_t(m.hd) * 2, key = head * cuuint64_t(m.hkv), page = key * cuuint64_t(m.block_size);
  const cuuint64_t strides[3] = {head, key, page};  // bytes, of dimensions 1-3
  const cuuint32_t box[4] = {64, 1, cuuint32_t(m.box_rows), 1};
  const cuuint32_t steps[4] = {1, 1, 1, 1};
  CUtensorMap map{};
  const CUresult r = encode_tiled()(&map, m.bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                                    4, const_cast<void*>(m.base), dims, strides, box, steps,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  GQA_CHECK(r == CUDA_SUCCESS, "cuTensorMapEncodeTiled (a paged cache of " << m.num_blocks << " x " << m.block_size
                                   << " x " << m.hkv << " x " << m.hd << ", " << m.box_rows
                                   << "-key boxes) failed: CUresult " << static_cast<int>(r));
  return map;
}

}  // namespace gqa::cuda
