// Where attention's output may lie (AttentionArgs, kernels/ops.h): both backends check it here.
#pragma once

#include <utility>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/ops.h"

namespace gqa {

// out may be q itself (every backend reads a query row before it writes that row's output) but
// must overlap nothing else: not q in part, and not the cache or an index tensor, which other
// tokens or blocks are still reading while this one writes.
inline void check_attention_out_apart(const AttentionArgs& a, const char* op) {
  GQA_CHECK(a.out.data() == a.q.data() || !overlaps(a.out, a.q),
            op << ": out overlaps q without being q (it may be q itself)");
  const std::pair<const Tensor*, const char*> inputs[] = {{&a.k_cache, "k_cache"},
                                                          {&a.v_cache, "v_cache"},
                                                          {&a.block_tables, "block_tables"},
                                                          {&a.token_seq, "token_seq"},
                                                          {&a.positions, "positions"}};
  for (const auto& [t, name] : inputs) GQA_CHECK(!overlaps(a.out, *t), op << ": out overlaps " << name);
}

}  // namespace gqa
