#include "runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <sstream>
#include <string>

namespace gqa {
namespace {

// The token rank 0 broadcasts when its draw failed (ids are >= 0; -1 asks for the whole row).
constexpr int32_t kFailed = -2;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Returns the sequence's blocks to the cache however generation ends, unless a callback freed it
// already. It never throws (a throw during unwinding would terminate): a failure to free is
// printed to stderr instead.
struct SequenceGuard {
  PagedKvCache& cache;
  int seq;
  ~SequenceGuard() {
    if (!cache.has_sequence(seq)) return;
    try {
      cache.free_sequence(seq);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gqa: Generator could not free KV cache sequence %d: %s\n", seq, e.what());
    }
  }
};

// `error`, which this rank alone saw and every other rank learned of in step: the library's own
// (a gqa::Error: NaN logits, a failed draw) as a RankError with its message, so that a program may
// end every rank normally; any other (a caller's callback's own type) as it is.
[[noreturn]] void rethrow_as_rank_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const AgreedError&) {
    throw;
  } catch (const Error& e) {
    throw RankError(e.what());
  }
}

// Runs a caller's callback (on_token, on_prefill_progress) on this rank, then agrees with every
// rank that each one's returned: one throwing on some ranks only makes every rank throw (that rank
// its own error, the others one naming the callback), where the others would wait in the next
// step's collectives for ever. With `agree` (some rank has a callback: the ranks agree on that
// once, before the first step) every rank agrees after each call, with a callback or without.
template <class F>
void run_callback(Communicator& comm, bool agree, const char* name, F&& f) {
  std::exception_ptr error;
  try {
    f();
  } catch (...) {
    error = std::current_exception();
  }
  if (agree && !comm.all_ok(!error) && !error) {
    throw AgreedError(std::string("generation stopped: another rank's ") + name +
                      " callback threw (its error says why)");
  }
  if (error) agree ? rethrow_as_rank_error(error) : std::rethrow_exception(error);
}

// What would stop a generation part-way, checked before it starts so that nothing made is lost:
// the positions it feeds (the prompt's, then each generated token's but the last) within int32
// and the model's sliding window, and their blocks free in the cache (every rank alike).
void check_fits(const GenerateRequest& req, const ModelConfig& config, const PagedKvCache& cache) {
  const int64_t p = static_cast<int64_t>(req.prompt.size());
  const std::string what =
      "the prompt (" + std::to_string(p) + " tokens) with max_new_tokens " + std::to_string(req.max_new_tokens);
  const int64_t fed = generation_positions(p, req.max_new_tokens, what);
  config.check_within_sliding_window(fed - 1, what);
  const int64_t blocks = cache.blocks_for(fed);
  if (blocks > cache.allocator().num_free()) {
    std::ostringstream os;
    os << "the KV cache cannot hold this generation: " << what << " needs " << blocks << " blocks of "
       << cache.shape().block_size << " positions, and " << cache.allocator().num_free() << " of the cache's "
       << cache.allocator().num_total() << " are free";
    throw KvCacheFull(os.str());
  }
}

}  // namespace

int64_t generation_positions(int64_t prompt_len, int64_t max_new_tokens, const std::string& what) {
  GQA_CHECK(prompt_len >= 0 && max_new_tokens >= 0, what << ": a negative length");
  // (positions are int32 in a step; this also keeps the sum below from overflowing)
  constexpr int64_t kMaxPositions = int64_t{1} << 31;
  GQA_CHECK(prompt_len <= kMaxPositions && max_new_tokens <= kMaxPositions - prompt_len + 1,
            what << " runs past " << kMaxPositions << " positions");
  return prompt_len + std::max<int64_t>(max_new_tokens - 1, 0);
}

void validate_prompt(const std::vector<int32_t>& prompt, int64_t vocab_size) {
  GQA_CHECK(!prompt.empty(), "the prompt is empty");
  for (size_t i = 0; i < prompt.size(); ++i) {
    GQA_CHECK(prompt[i] >= 0 && prompt[i] < vocab_size,
              "prompt token " << prompt[i] << " at index " << i << " is outside the vocabulary [0, " << vocab_size
                              << ")");
  }
}

Generator::Generator(Model& model, PagedKvCache& cache, Communicator& comm)
    : model_(model), cache_(cache), comm_(comm) {}

StepInput Generator::step_input(const StepAt& at, Rows rows) {
  StepInput in;
  const int64_t n = static_cast<int64_t>(at.tokens.size());
  in.tokens = at.tokens;
  in.slots = cache_.append(at.seq, n);
  in.block_tables = {cache_.block_table(at.seq)};
  in.rope_through = at.rope_through;
  for (int64_t i = 0; i < n; ++i) {
    in.positions.push_back(static_cast<int32_t>(at.first_pos + i));
    in.token_seq.push_back(0);
  }
  if (rows == Rows::kAll) {
    for (int64_t i = 0; i < n; ++i) in.logit_rows.push_back(i);
  } else if (rows == Rows::kLast) {
    in.logit_rows.push_back(n - 1);
  }
  return in;
}

std::vector<float> Generator::step(const StepAt& at, Rows rows) {
  return model_.forward(step_input(at, rows), cache_);
}

int32_t Generator::step_sample(const StepAt& at, Sampler& sampler) {
  const StepInput in = step_input(at, Rows::kLast);
  return model_.forward_sample(in, cache_, sampler.spec(), {sampler.next_uniform()}).at(0);
}

std::vector<std::pair<float, int32_t>> Generator::step_top_k(const StepAt& at, int64_t k) {
  return model_.forward_top_k(step_input(at, Rows::kLast), cache_, k).at(0);
}

std::vector<SliceCandidates> Generator::step_slices(const StepAt& at, int64_t k, float temperature) {
  return model_.forward_slices(step_input(at, Rows::kLast), cache_, k, temperature).at(0);
}

GenerateResult Generator::generate(const GenerateRequest& req, const std::function<void(int32_t)>& on_token) {
  const int64_t vocab = model_.config().vocab_size;
  validate_prompt(req.prompt, vocab);
  GQA_CHECK(req.max_new_tokens >= 0, "GenerateRequest: max_new_tokens must be >= 0, got " << req.max_new_tokens);
  GQA_CHECK(req.prefill_chunk > 0, "GenerateRequest: prefill_chunk must be > 0, got " << req.prefill_chunk);
  GQA_CHECK(req.slice_candidates >= 1 && req.slice_candidates <= Model::kMaxTopK,
            "GenerateRequest: slice_candidates must be in [1, " << Model::kMaxTopK << "], got "
                                                                  << req.slice_candidates);
  check_fits(req, model_.config(), cache_);
  // (one host collective a token at T > 1, only when some rank has a callback)
  const bool agree_callbacks = comm_.size() > 1 && !comm_.all_ok(!on_token && !req.on_prefill_progress);
  GenerateResult res;
  const int seq = cache_.add_sequence();
  SequenceGuard guard{cache_, seq};
  auto keep = [&](const std::vector<float>& rows) {
    if (!req.keep_logits) return;
    res.logits.insert(res.logits.end(), rows.begin(), rows.end());
    res.logit_rows += static_cast<int64_t>(rows.size()) / vocab;
  };

  // Where the next token comes from, when no logits are kept: drawn where the logits are (T = 1;
  // greedy at T > 1: Model::forward_sample), or at T > 1 by rank 0 from every rank's candidates:
  // its top-k (0 < top_k <= Model::kMaxTopK: the whole row's rule on far fewer values), or with
  // top_k 0 its best slice_candidates and its slice's mass (from_slices: the gathered row only for
  // a draw those cannot decide); else from the gathered logits on rank 0.
  const SamplingParams& sp = req.sampling;
  const bool backend_samples = !req.keep_logits && (comm_.size() == 1 || sp.temperature == 0.0f);
  const bool from_candidates = !req.keep_logits && !backend_samples && sp.top_k > 0 && sp.top_k <= Model::kMaxTopK;
  const bool from_slices = !req.keep_logits && !backend_samples && sp.top_k == 0;
  std::vector<std::pair<float, int32_t>> candidates;  // (from_candidates) the last row's
  std::vector<SliceCandidates> slices;                // (from_slices) the last row's
  Sampler sampler(req.sampling);

  // One step (StepAt: the prompt's chunks with rope_through the prompt's last position, decode
  // steps with -1). With draw_next (the prompt's last chunk when tokens are
  // wanted, and every decode step) it leaves what the next token is drawn from, by the mode above;
  // else it only fills the cache (and the kept logits).
  std::vector<float> last;  // the logits the next token is drawn from (host sampling)
  int32_t next = -1;        // the next token (backend sampling)
  auto advance = [&](const StepAt& at, bool draw_next) {
    if (draw_next && backend_samples) {
      next = step_sample(at, sampler);
    } else if (draw_next && from_candidates) {
      candidates = step_top_k(at, sp.top_k);
    } else if (draw_next && from_slices) {
      slices = step_slices(at, req.slice_candidates, sp.temperature);
    } else {
      const Rows rows_wanted = req.keep_logits ? Rows::kAll : draw_next ? Rows::kLast : Rows::kNone;
      std::vector<float> rows = step(at, rows_wanted);
      keep(rows);
      if (draw_next && static_cast<int64_t>(rows.size()) == vocab) {
        last = std::move(rows);  // (the usual decode step: its one row)
      } else if (draw_next) {
        last.assign(rows.end() - vocab, rows.end());
      }
    }
  };

  // Prefill in chunks; only the last chunk's last row is needed unless every row is kept.
  auto t0 = std::chrono::steady_clock::now();
  const int64_t p = static_cast<int64_t>(req.prompt.size());
  for (int64_t a = 0; a < p; a += req.prefill_chunk) {
    const int64_t b = std::min(p, a + req.prefill_chunk);
    const std::vector<int32_t> chunk(req.prompt.begin() + a, req.prompt.begin() + b);
    advance({seq, chunk, a, /*rope_through=*/p - 1}, b == p && req.max_new_tokens > 0);
    run_callback(comm_, agree_callbacks, "on_prefill_progress", [&] {
      if (req.on_prefill_progress) req.on_prefill_progress(b, p);
    });
  }
  res.prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  res.finish_reason = "length";
  for (int64_t i = 0; i < req.max_new_tokens; ++i) {
    // Rank 0 decides; every rank receives the token and whether to stop.
    int32_t msg[2] = {0, 0};
    auto decide = [&](int32_t token) {  // (rank 0) the token, and whether and why to stop after it
      const bool eos = std::find(req.eos_ids.begin(), req.eos_ids.end(), token) != req.eos_ids.end();
      msg[0] = token;
      msg[1] = eos ? 1 : (req.stop_after && req.stop_after(token)) ? 2 : 0;
    };
    // Rank 0 alone draws and calls stop_after: an error there (NaN logits, a throwing callback)
    // goes to every rank in the broadcast (token kFailed), so all throw together instead of the
    // others waiting in the broadcast for ever.
    std::exception_ptr failed;
    auto on_rank0 = [&](auto&& f) {  // (f: a lambda, not wrapped in a std::function each token)
      if (comm_.rank() != 0) return;
      try {
        f();
      } catch (...) {
        failed = std::current_exception();
        msg[0] = kFailed;
      }
    };
    auto throw_if_failed = [&] {
      if (msg[0] != kFailed) return;
      if (failed) rethrow_as_rank_error(failed);
      throw AgreedError("generation stopped: rank 0 failed drawing or deciding a token (its error says why)");
    };
    on_rank0([&] {
      const int32_t token = backend_samples   ? next
                            : from_candidates ? sampler.sample_candidates(candidates)
                            : from_slices     ? sampler.sample_slices(slices)
                                              : sampler.sample(last.data(), vocab);
      if (token >= 0) {
        decide(token);
      } else {
        msg[0] = -1;  // (from_slices) the candidates cannot decide this draw
      }
    });
    comm_.broadcast(msg, sizeof(msg), 0);
    throw_if_failed();
    if (msg[0] < 0) {  // every rank gathers the row; rank 0 draws from it with the same uniform
      const std::vector<float> rows = model_.last_logits();
      ++res.whole_row_draws;
      on_rank0([&] { decide(sampler.sample_again(rows.data() + rows.size() - vocab, vocab)); });
      comm_.broadcast(msg, sizeof(msg), 0);
      throw_if_failed();
    }
    res.tokens.push_back(msg[0]);
    run_callback(comm_, agree_callbacks, "on_token", [&] {
      if (on_token) on_token(msg[0]);
    });
    if (msg[1]) {
      res.finish_reason = msg[1] == 1 ? "eos" : "stop";
      break;
    }
    if (i + 1 == req.max_new_tokens) break;
    const std::vector<int32_t> token{msg[0]};
    advance({seq, token, p + i, /*rope_through=*/-1}, true);
  }
  res.decode_seconds = seconds_since(t0);
  return res;
}

}  // namespace gqa
