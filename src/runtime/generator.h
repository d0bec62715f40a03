// The distributed generation loop for one sequence: chunked prefill, then decode. Every rank
// runs the same steps; rank 0 samples each token and broadcasts it, so all ranks feed the same
// token and stop at the same step. At T = 1 without keep_logits the token is drawn by the backend
// where the logits are (Model::forward_sample: on the GPU only the id comes back); at T > 1 rank
// 0's Sampler draws it from every rank's best candidates (greedy, top_k, or top_k 0 with the
// slices' masses), or, with keep_logits or a top_k above Model::kMaxTopK, from the gathered
// logits. All draw from the Sampler's one random stream with the same math, so a seed gives the
// same tokens either way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "parallel/communicator.h"
#include "runtime/kv_cache.h"
#include "runtime/prefill_chunk.h"
#include "runtime/sampler.h"

namespace gqa {

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
  std::vector<int64_t> eos_ids;  // stop after sampling one of these (empty: only the length limit)
  int64_t prefill_chunk = kCpuPrefillChunk;  // prompt tokens per forward step
  bool keep_logits = false;      // keep the logits of every position fed (prompt + fed-back tokens)
  // At T > 1, sampling with top_k 0 (temperature > 0, no logits kept): each rank's best logits per
  // step that rank 0 draws from, with every slice's mass (Model::forward_slices); a draw these
  // cannot decide (the nucleus or the draw reaching past them) gathers the row. 1..kMaxTopK.
  int64_t slice_candidates = 256;
  // Runs on rank 0 for each sampled token before it is broadcast; returning true stops after it
  // (finish_reason "stop"), e.g. when the streamed text reached a stop string.
  std::function<bool(int32_t)> stop_after;
  // Called on every rank after each prefill chunk with (prompt tokens done, prompt length). A
  // throw on some ranks only (here or in on_token below) stops every rank: that rank rethrows its
  // error (a gqa::Error as a gqa::RankError, any other type as it is), the others throw
  // gqa::AgreedError naming the callback. To end early, use stop_after.
  std::function<void(int64_t, int64_t)> on_prefill_progress;
};

struct GenerateResult {
  std::vector<int32_t> tokens;     // generated tokens (an EOS that stopped it included)
  std::string finish_reason;       // "length", "eos" or "stop"
  std::vector<float> logits;       // [logit_rows, vocab] when keep_logits
  int64_t logit_rows = 0;
  int64_t whole_row_draws = 0;     // draws the slices' candidates could not decide (see slice_candidates)
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class Generator {
 public:
  Generator(Model& model, PagedKvCache& cache, Communicator& comm);

  // on_token runs on every rank for each token as soon as it is known. At T > 1, when some rank
  // has on_token or on_prefill_progress, the ranks agree after each call (and each prefill chunk)
  // that every one returned: one small host collective.
  // Before any step it checks that the positions fed fit the model's sliding window (gqa::Error)
  // and that their blocks are free in the cache (KvCacheFull), so a generation never stops
  // part-way for either.
  GenerateResult generate(const GenerateRequest& req, const std::function<void(int32_t)>& on_token = {});

 private:
  enum class Rows { kNone, kLast, kAll };  // which positions' logits a step returns
  // One step's tokens of sequence seq from first_pos; rope_through is StepInput's (the prompt's
  // last position for a prompt's chunks, so that every chunk gets the whole prompt's dynamic rope
  // table; -1 for a decode step).
  struct StepAt {
    int seq;
    const std::vector<int32_t>& tokens;
    int64_t first_pos;
    int64_t rope_through;
  };
  StepInput step_input(const StepAt& at, Rows rows);
  std::vector<float> step(const StepAt& at, Rows rows);
  // The step, then the token after its last position, drawn by the backend.
  int32_t step_sample(const StepAt& at, Sampler& sampler);
  // The step, then its last position's top-k candidates from every rank (Model::forward_top_k).
  std::vector<std::pair<float, int32_t>> step_top_k(const StepAt& at, int64_t k);
  // The step, then its last position's slices from every rank (Model::forward_slices).
  std::vector<SliceCandidates> step_slices(const StepAt& at, int64_t k, float temperature);

  Model& model_;
  PagedKvCache& cache_;
  Communicator& comm_;
};

// The positions a generation runs through the model: the prompt's, then one for each generated
// token fed back (the last one never is), so max(prompt_len, prompt_len + max_new_tokens - 1).
// Generator checks the sliding window and the KV cache against this count; a caller sizing a
// cache or checking ahead of loading (gqa-generate) uses the same. Throws gqa::Error (naming
// `what`, e.g. "the prompt (5 tokens) with max_new_tokens 8") past 2^31 positions (a step's
// positions are int32) or for a negative length.
int64_t generation_positions(int64_t prompt_len, int64_t max_new_tokens, const std::string& what);

// Checks ids against the vocabulary; throws gqa::Error naming the first bad id and its index.
void validate_prompt(const std::vector<int32_t>& prompt, int64_t vocab_size);

}  // namespace gqa
