// The distributed generation loop for one sequence: chunked prefill, then decode. Every rank
// runs the same steps; rank 0 samples each token and broadcasts it, so all ranks feed the same
// token and stop at the same step. At T = 1 without keep_logits the token is drawn by the backend
// where the logits are (Model::forward_sample: on the GPU only the id comes back); otherwise the
// logits are gathered and rank 0's Sampler draws it. Both draw from the Sampler's one random
// stream with the same math, so a seed gives the same tokens either way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "parallel/communicator.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace gqa {

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
  std::vector<int64_t> eos_ids;  // stop after sampling one of these (empty: only the length limit)
  int64_t prefill_chunk = 512;   // prompt tokens per forward step
  bool keep_logits = false;      // keep the logits of every position fed (prompt + fed-back tokens)
  // Runs on rank 0 for each sampled token before it is broadcast; returning true stops after it
  // (finish_reason "stop"), e.g. when the streamed text reached a stop string.
  std::function<bool(int32_t)> stop_after;
  // Called on every rank after each prefill chunk with (prompt tokens done, prompt length).
  std::function<void(int64_t, int64_t)> on_prefill_progress;
};

struct GenerateResult {
  std::vector<int32_t> tokens;     // generated tokens (an EOS that stopped it included)
  std::string finish_reason;       // "length", "eos" or "stop"
  std::vector<float> logits;       // [logit_rows, vocab] when keep_logits
  int64_t logit_rows = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class Generator {
 public:
  Generator(Model& model, PagedKvCache& cache, Communicator& comm);

  // on_token runs on every rank for each token as soon as it is known.
  GenerateResult generate(const GenerateRequest& req, const std::function<void(int32_t)>& on_token = {});

 private:
  enum class Rows { kNone, kLast, kAll };  // which positions' logits a step returns
  StepInput step_input(int seq, const std::vector<int32_t>& tokens, int64_t first_pos, Rows rows);
  std::vector<float> step(int seq, const std::vector<int32_t>& tokens, int64_t first_pos, Rows rows);
  // The step, then the token after its last position, drawn by the backend.
  int32_t step_sample(int seq, const std::vector<int32_t>& tokens, int64_t first_pos, Sampler& sampler);
  // The step, then its last position's top-k candidates from every rank (Model::forward_top_k).
  std::vector<std::pair<float, int32_t>> step_top_k(int seq, const std::vector<int32_t>& tokens, int64_t first_pos,
                                                    int64_t k);

  Model& model_;
  PagedKvCache& cache_;
  Communicator& comm_;
};

// Checks ids against the vocabulary; throws gqa::Error naming the first bad id and its index.
void validate_prompt(const std::vector<int32_t>& prompt, int64_t vocab_size);

}  // namespace gqa
