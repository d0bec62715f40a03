// The packed form of RopeKvWriteArgs (kernels/ops.h): the output of one QKV GEMM over n tokens,
// qkv [n, (hq + 2 hkv) hd] with each row q | k | v. Both backends check it here.
#pragma once

#include <cstdint>

#include "core/error.h"
#include "kernels/ops.h"

namespace gqa {

struct PackedQkvDims {
  int64_t n, hq, hkv, hd;
  int64_t row() const { return (hq + 2 * hkv) * hd; }  // elements per qkv row
};

// The head counts of a packed RopeKvWriteArgs: qkv 2-D [n, (hq + 2 hkv) hd] with q's n, hq and hd
// and hkv >= 1; q [n, hq, hd] of qkv's dtype, not overlapping it; k and v undefined.
inline PackedQkvDims packed_qkv_dims(const RopeKvWriteArgs& a, const char* op) {
  GQA_CHECK(a.qkv.defined() && a.q.defined(), op << ": the packed form needs qkv and the output q");
  GQA_CHECK(!a.k.defined() && !a.v.defined(), op << ": give either qkv or k and v, not both");
  GQA_CHECK(a.q.ndim() == 3 && a.qkv.ndim() == 2,
            op << ": q must be [n, hq, hd] and qkv [n, (hq + 2 hkv) hd]; got q " << shape_str(a.q.shape())
               << ", qkv " << shape_str(a.qkv.shape()));
  PackedQkvDims d{a.q.dim(0), a.q.dim(1), 0, a.q.dim(2)};
  const int64_t kv2 = a.qkv.dim(1) - d.hq * d.hd;
  GQA_CHECK(a.qkv.dim(0) == d.n && d.hd > 0 && kv2 > 0 && kv2 % (2 * d.hd) == 0,
            op << ": qkv " << shape_str(a.qkv.shape()) << " is not [n, (hq + 2 hkv) hd] for q "
               << shape_str(a.q.shape()));
  d.hkv = kv2 / (2 * d.hd);
  GQA_CHECK(a.q.dtype() == a.qkv.dtype(), op << ": q and qkv must have one dtype");
  GQA_CHECK(!overlaps(a.q, a.qkv), op << ": the output q must not overlap qkv");
  return d;
}

}  // namespace gqa
