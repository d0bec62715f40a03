// gqa-generate: tensor-parallel generation from token ids or text.
//   mpirun -np T gqa-generate --model DIR --prompt-tokens 1,2,3 --max-new-tokens N [--dump-logits F.npy]
//   mpirun -np T gqa-generate --model DIR --prompt "Hello" [--chat] [--stop STR]
// Failure policy: errors every rank can see (flags, config, checkpoint, prompt) are agreed on
// with all_ok() so every rank exits 1 together; so are errors during generation that every rank
// learns of in step (gqa::AgreedError: NaN logits, a failed draw or callback); any other error on
// one rank during generation aborts the whole job (MPI_Abort), so no rank is left waiting in a
// collective.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/json_limits.h"
#include "launch/argument_agreement.h"
#include "launch/generate_options.h"
#include "launch/text_prompt.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/generation_config.h"
#include "model/model.h"
#include "model/weights.h"
#include "parallel/bootstrap.h"
#include "parallel/shard_plan.h"
#include "runtime/backend.h"
#include "runtime/communicator_factory.h"
#include "runtime/generator.h"
#include "runtime/npy.h"

namespace {

using gqa::GenerateOptions;

struct Loaded {
  std::string config_text;  // config.json as read (once: the ranks' agreement hashes this text)
  gqa::ModelConfig config;
  std::vector<int64_t> generation_eos;  // generation_config.json's eos_token_id (transformers stops there too)
  std::unique_ptr<gqa::Ops> ops;
  std::unique_ptr<gqa::Model> model;
  std::unique_ptr<gqa::PagedKvCache> cache;
  std::vector<int32_t> prompt;
  int64_t positions = 0;  // what the generation runs through the model (gqa::generation_positions)
  std::unique_ptr<gqa::TextPrompt> text;  // with --prompt: the tokenizer, kept for streaming
  // gqa::Checkpoint::sample_fingerprints, by tensor name: the ranks compare them combined, and
  // tensor by tensor where they differ.
  std::vector<std::string> tensor_names;
  std::vector<uint64_t> tensor_samples;
};

void progress(bool on, const std::string& line) {
  if (on) std::cerr << "[gqa] " << line << std::endl;
}

// "rank R: " before a line one rank prints, where the job has more than one.
std::string rank_prefix(int rank, int size) { return size > 1 ? "rank " + std::to_string(rank) + ": " : ""; }

// (as the flags' warnings read: parse_generate_options)
void warning(bool on, const std::string& line) {
  if (on) std::cerr << "gqa-generate: warning: " << line << std::endl;
}

// Throws gqa::Error naming `flag` unless a file can be written at `path` (its folder exists and
// is writable, and it is not a folder): found out before a generation that would end in it.
void check_writable(const std::string& path, const char* flag) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  GQA_CHECK(fs::is_directory(dir, ec), flag << " " << path << ": folder " << dir.string() << " does not exist");
  GQA_CHECK(!fs::is_directory(p, ec), flag << " " << path << " is a folder");
  GQA_CHECK(::access(dir.c_str(), W_OK) == 0, flag << " " << path << ": folder " << dir.string() << " is not writable");
}

// The prompt's token ids (l.prompt; with a text prompt, l.text: its tokenizer), checked against
// config.json's vocabulary (config_file: where it was read); `say` prints the tokenizer's warnings.
void load_prompt(const GenerateOptions& o, bool say, const std::string& config_file, Loaded& l) {
  l.prompt = o.prompt_tokens;
  if (o.has_prompt_text) {  // every rank encodes the same text the same way: no broadcast needed
    l.text = gqa::encode_text_prompt(o);
    l.prompt = l.text->ids();
    for (const std::string& w : l.text->warnings()) warning(say, w);  // (-q too)
  }
  try {
    gqa::validate_prompt(l.prompt, l.config.vocab_size);
  } catch (const gqa::Error& e) {
    if (l.prompt.empty()) throw;
    // (the vocabulary is config.json's: where its vocab_size disagrees with the checkpoint, this says
    // where the bound came from before the load would)
    if (!o.has_prompt_text) throw gqa::Error(std::string(e.what()) + " (vocab_size in " + config_file + ")");
    throw gqa::Error(std::string(e.what()) + ": the tokenizer " +
                     (o.tokenizer.empty() ? "in --model's folder" : "--tokenizer " + o.tokenizer) +
                     " gave it, so it does not match this model");
  }
}

// The KV cache's blocks: --kv-blocks, or enough for `positions` (what: the run, for the message).
int64_t kv_blocks(const GenerateOptions& o, int64_t positions, const std::string& what) {
  const int64_t needed = gqa::PagedKvCache::blocks_for(positions, o.block_size);
  const int64_t blocks = o.kv_blocks > 0 ? o.kv_blocks : needed;
  GQA_CHECK(blocks >= needed, "KV cache of " << blocks << (blocks == 1 ? " block" : " blocks") << " x " << o.block_size
                                             << " tokens cannot hold " << positions << " positions (" << what
                                             << ": the last new token is not fed back); raise --kv-blocks to "
                                             << needed << " or more");
  return blocks;
}

// Everything that can fail because of the user's input, on every rank.
Loaded load(const GenerateOptions& o, gqa::Communicator& comm, int local_rank, bool verbose) {
  Loaded l;
  const auto t0 = std::chrono::steady_clock::now();
  GQA_CHECK(!std::filesystem::is_regular_file(o.model_dir),
            "--model " << o.model_dir << " is a file: give the checkpoint's folder (config.json and the safetensors)");
  std::string config_file;
  l.config_text = gqa::ModelConfig::read_json_text(o.model_dir + "/config.json", &config_file);
  l.config = gqa::ModelConfig::from_json_text(l.config_text, config_file);
  if (!o.ignore_eos) l.generation_eos = gqa::read_generation_eos_ids(o.model_dir, l.config.vocab_size);
  load_prompt(o, comm.rank() == 0, config_file, l);
  // Checked here, before loading, as Generator checks it again (the same count of positions).
  const std::string what = "the prompt (" + std::to_string(l.prompt.size()) + " tokens) with --max-new-tokens " +
                           std::to_string(o.max_new_tokens);
  l.positions = gqa::generation_positions(static_cast<int64_t>(l.prompt.size()), o.max_new_tokens, what);
  l.config.check_within_sliding_window(l.positions - 1, what);
  const gqa::ShardDims dims = l.config.shard_dims();
  const gqa::ShardPlan plan = gqa::ShardPlan::make(dims, comm.size());
  const gqa::DType dtype = o.dtype == "f32" ? gqa::DType::kF32 : o.dtype == "f16" ? gqa::DType::kF16 : gqa::DType::kBF16;
  l.ops = gqa::make_backend(o.backend, local_rank, dtype);
  if (l.positions > l.config.max_position_embeddings && l.config.rope_scaling.type != gqa::RopeType::kDynamic) {
    warning(comm.rank() == 0, what + " runs " + std::to_string(l.positions) +  // (-q too)
                          " positions, past the model's max_position_embeddings (" +
                          std::to_string(l.config.max_position_embeddings) + "); output quality may degrade");
  }
  // The KV cache's size, before any weight is read (a run it cannot hold ends here, not after a load).
  const gqa::KvCacheShape kv_shape =
      gqa::kv_cache_shape_for(l.config, plan.rank(comm.rank()), kv_blocks(o, l.positions, what), o.block_size);
  gqa::PagedKvCache::check_shape(kv_shape, l.ops->compute_dtype(), *l.ops);
  progress(verbose, "loading " + o.model_dir + " (" + l.config.architecture + ", " +
                        std::to_string(l.config.num_hidden_layers) + " layers, " +
                        std::to_string(l.config.num_attention_heads) + " q heads / " +
                        std::to_string(l.config.num_key_value_heads) + " kv heads) on " +
                        std::to_string(comm.size()) + " rank(s), backend " + o.backend + " (" +
                        gqa::dtype_name(l.ops->compute_dtype()) + ")" +
                        ", communicator " + comm.name());
  if (l.ops->device() == gqa::Device::kCuda) progress(verbose, "cuda kernels: " + gqa::cuda_kernel_switches());
  if (comm.rank() == 0 && !o.dump_logits.empty()) check_writable(o.dump_logits, "--dump-logits");
  const gqa::Checkpoint ckpt = gqa::Checkpoint::open(o.model_dir);
  l.tensor_names = ckpt.names();
  l.tensor_samples = ckpt.sample_fingerprints();
  // A line every few seconds while a large checkpoint loads (none for a load shorter than that).
  auto last_line = std::chrono::steady_clock::now();
  auto on_loaded = [&](int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (!verbose || done == total || now - last_line < std::chrono::seconds(5)) return;
    last_line = now;
    char line[160];
    std::snprintf(line, sizeof(line), "loading weights: %lld/%lld tensors, rank 0 read %.1f GB so far",
                  static_cast<long long>(done), static_cast<long long>(total), ckpt.bytes_read() / 1e9);
    progress(true, line);
  };
  gqa::ModelWeights weights = gqa::load_weights(ckpt, l.config, plan, comm.rank(), *l.ops, on_loaded);
  l.model = std::make_unique<gqa::Model>(l.config, plan, *l.ops, comm, std::move(weights));
  l.model->set_cuda_graphs(!o.no_graphs);

  l.cache = std::make_unique<gqa::PagedKvCache>(kv_shape, l.ops->compute_dtype(), *l.ops);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[160];
  std::snprintf(buf, sizeof(buf), "loaded in %.2f s: rank 0 read %.1f MB of %.1f MB of weights", secs,
                ckpt.bytes_read() / 1e6, ckpt.total_bytes() / 1e6);
  progress(verbose, buf);
  return l;
}

// config.json as every rank must read it alike: numbers as doubles (10000 and 10000.0, 1e-5 and
// 0.00001 are one value), keys sorted, whitespace gone, and without the fields that only record
// where it came from. Built from a const reference, each value once: taking `j` by value copied
// every subtree at every level (a key nested 10,000 deep took 6 s and 3.4 GB).
nlohmann::json canonical_config(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(canonical_config(v));
    return out;
  }
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, v] : j.items()) {
      if (key != "transformers_version" && key != "_name_or_path") out[key] = canonical_config(v);
    }
    return out;
  }
  return j;
}

// What the ranks must agree on beside the arguments, each hashed (never 0; all 0: not loaded).
struct LoadFingerprint {
  uint64_t config = 0;      // config.json, canonical_config of the text load() read
  uint64_t checkpoint = 0;  // the tensors (gqa::Checkpoint::combined_fingerprint of their samples)
  uint64_t prompt = 0;      // the prompt's token ids
};

// Parsed with the nesting limit from_json_text already applied to this text.
LoadFingerprint load_fingerprint(const Loaded& l) {
  const nlohmann::json config =
      nlohmann::json::parse(l.config_text, gqa::json_depth_limit("config.json"));
  std::string prompt;
  for (int32_t t : l.prompt) prompt += std::to_string(t) + ",";
  return {gqa::nonzero_fingerprint(canonical_config(config).dump()),
          gqa::Checkpoint::combined_fingerprint(l.tensor_samples), gqa::nonzero_fingerprint(prompt)};
}

// Where some rank's checkpoint differs from rank 0's (every rank calls this then, `mine` whether
// this one's does): rank 0's per-tensor samples go to every rank, and this one's first tensor by
// name that differs comes back ("" where it does not differ).
std::string first_differing_tensor(const Loaded& l, gqa::Communicator& comm, bool mine) {
  uint64_t count = l.tensor_samples.size();
  comm.broadcast(&count, sizeof(count), 0);
  std::vector<uint64_t> rank0s = comm.rank() == 0 ? l.tensor_samples : std::vector<uint64_t>(count);
  if (count > 0) comm.broadcast(rank0s.data(), count * sizeof(uint64_t), 0);
  if (!mine) return "";
  size_t i = 0;
  while (i < std::min<size_t>(count, l.tensor_samples.size()) && l.tensor_samples[i] == rank0s[i]) ++i;
  return i < l.tensor_samples.size() ? "the first that differs, by name: " + l.tensor_names[i]
                                     : "rank 0's holds more tensors";
}

// What differs from rank 0's fingerprint, in words ("" when nothing does or either did not load);
// first_tensor: first_differing_tensor's words.
std::string differs_from_rank0(const LoadFingerprint& mine, const LoadFingerprint& rank0,
                               const std::string& first_tensor) {
  if (rank0.config == 0 || mine.config == 0) return "";
  std::vector<std::string> parts;
  if (mine.config != rank0.config) parts.push_back("config.json");
  if (mine.checkpoint != rank0.checkpoint) {
    parts.push_back("checkpoint tensors (names, shapes, dtypes or their sampled bytes)" +
                    (first_tensor.empty() ? "" : "; " + first_tensor));
  }
  if (mine.prompt != rank0.prompt) parts.push_back("prompt tokens");
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

// Loads on every rank, then agrees: all ranks go on (true: `l` loaded alike everywhere), or all
// stop with a message (false), before any collective of the model.
bool load_and_agree(const GenerateOptions& o, gqa::Communicator& comm, int local_rank, bool verbose, Loaded& l) {
  const bool rank0 = comm.rank() == 0;
  std::string error;
  LoadFingerprint loaded_as;  // what the ranks must agree on beside the arguments
  try {
    l = load(o, comm, local_rank, verbose);
    loaded_as = load_fingerprint(l);
  } catch (const std::exception& e) {
    error = gqa::error_text(e);
  }
  // Nodes holding different copies of a checkpoint or tokenizer would run different shapes or
  // prompt lengths into one collective, or the same shapes with other weights into wrong tokens:
  // each rank compares with rank 0's.
  LoadFingerprint rank0_loaded_as = loaded_as;
  static_assert(sizeof(LoadFingerprint) == 3 * sizeof(uint64_t));
  comm.broadcast(&rank0_loaded_as, sizeof(rank0_loaded_as), 0);
  // Which tensor, where checkpoints differ (only then, every rank or none: collectives).
  const bool tensors_differ = loaded_as.config != 0 && rank0_loaded_as.config != 0 &&
                              loaded_as.checkpoint != rank0_loaded_as.checkpoint;
  const std::string first_tensor = comm.all_ok(!tensors_differ) ? "" : first_differing_tensor(l, comm, tensors_differ);
  if (const std::string what = differs_from_rank0(loaded_as, rank0_loaded_as, first_tensor);
      error.empty() && !what.empty()) {
    error = "differs from rank 0 in its " + what + " (every rank must read the same checkpoint and tokenizer)";
  }
  if (comm.all_ok(error.empty())) return true;
  // Usually every rank sees the same problem: then rank 0 alone reports it. Otherwise each failing
  // rank reports its own, prefixed with its rank.
  int32_t rank0_failed = rank0 && !error.empty() ? 1 : 0;
  comm.broadcast(&rank0_failed, sizeof(rank0_failed), 0);
  if (rank0_failed ? rank0 : !error.empty()) {
    const std::string who = rank0 ? "" : "rank " + std::to_string(comm.rank()) + ": ";
    std::cerr << "gqa-generate: " + who + error + "\n" << std::flush;
  }
  return false;
}

// The generation the flags ask for, of the loaded model and prompt.
gqa::GenerateRequest make_request(const GenerateOptions& o, const Loaded& l, bool verbose) {
  gqa::GenerateRequest req;
  req.prompt = l.prompt;
  req.max_new_tokens = o.max_new_tokens;
  req.sampling = o.sampling;
  if (!o.ignore_eos) {
    // config.json's EOS ids, generation_config.json's (transformers' generate stops at these), and
    // with a text prompt the tokenizer's end-of-turn tokens (e.g. <|eot_id|>).
    req.eos_ids = l.config.eos_token_ids;
    req.eos_ids.insert(req.eos_ids.end(), l.generation_eos.begin(), l.generation_eos.end());
    if (l.text) {
      for (int32_t id : l.text->eos_ids()) req.eos_ids.push_back(id);
    }
  }
  req.prefill_chunk = o.prefill_chunk;
  req.keep_logits = !o.dump_logits.empty();
  if (verbose && static_cast<int64_t>(l.prompt.size()) > o.prefill_chunk) {  // long prompts: one line per chunk
    req.on_prefill_progress = [](int64_t done, int64_t total) {
      progress(true, "prefill " + std::to_string(done) + "/" + std::to_string(total) + " tokens");
    };
  }
  return req;
}

// Rank 0's output: the timing line, the JSON result line, the logits file.
void report_result(const GenerateOptions& o, const Loaded& l, const gqa::GenerateResult& res, bool verbose) {
  // The first token is drawn from the prefill's last row; each later one takes a decode step, and
  // the rate is over those steps alone.
  char buf[240];
  const size_t steps = res.tokens.empty() ? 0 : res.tokens.size() - 1;
  const double tps = res.decode_seconds > 0 ? static_cast<double>(steps) / res.decode_seconds : 0;
  std::snprintf(buf, sizeof(buf), "prefill %zu tokens (chunks of %lld) in %.3f s", l.prompt.size(),
                static_cast<long long>(o.prefill_chunk), res.prefill_seconds);
  std::string stats = buf;
  if (res.tokens.empty()) {
    stats += "; no token generated";
  } else if (steps == 0) {
    stats += ", giving the only token";
  } else {
    std::snprintf(buf, sizeof(buf), ", giving the first token; then %zu more in %.3f s (%.1f tok/s)", steps,
                  res.decode_seconds, tps);
    stats += buf;
  }
  stats += "; stop: " + res.finish_reason;
  if (res.whole_row_draws > 0) {  // (T > 1, top_k 0) draws the ranks' candidates could not decide
    stats += "; " + std::to_string(res.whole_row_draws) + " draws gathered the whole logit row";
  }
  progress(verbose, stats);
  nlohmann::ordered_json j;
  j["prompt_tokens"] = l.prompt;
  j["generated_tokens"] = res.tokens;
  std::cout << j.dump() << std::endl;
  GQA_CHECK(std::cout.good(), "cannot write the result to stdout");
  if (!o.dump_logits.empty()) {  // (after the tokens: a failed write does not lose them)
    gqa::write_npy_f32(o.dump_logits, res.logits.data(), {res.logit_rows, l.config.vocab_size});
    progress(verbose, "wrote " + std::to_string(res.logit_rows) + " logit rows to " + o.dump_logits);
  }
}

int run(const GenerateOptions& o, gqa::Communicator& comm, int local_rank) {
  const bool rank0 = comm.rank() == 0;
  const bool verbose = rank0 && !o.quiet;
  Loaded l;
  if (!load_and_agree(o, comm, local_rank, verbose, l)) return 1;
  gqa::GenerateRequest req = make_request(o, l, verbose);
  std::unique_ptr<gqa::TextStreamer> streamer;
  if (rank0 && l.text) {
    streamer = l.text->streamer(l.prompt, o.stop, std::cout);
    req.stop_after = [&](int32_t id) { return streamer->on_token(id); };
  }
  gqa::Generator gen(*l.model, *l.cache, comm);
  // Long generations without streamed text get a progress line every 256 tokens.
  int64_t produced = 0;
  auto on_token = [&](int32_t) {
    if (verbose && !streamer && ++produced % 256 == 0) {
      progress(true, "decoded " + std::to_string(produced) + "/" + std::to_string(o.max_new_tokens) + " tokens");
    }
  };
  const gqa::GenerateResult res = gen.generate(req, on_token);
  if (streamer) streamer->finish();
  if (rank0) report_result(o, l, res, verbose);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gqa::MpiSession mpi(&argc, &argv);
  GenerateOptions opts;
  const int parsed = gqa::parse_generate_options(argc, argv, mpi.world_rank() == 0, &opts);
  const int agreed = gqa::agree_on_arguments(mpi, argc, argv, parsed, opts);
  if (agreed >= 0) return agreed;

  std::unique_ptr<gqa::Communicator> comm;
  try {
    comm = gqa::make_communicator_for(opts.comm, gqa::resolve_backend_name(opts.backend), mpi);
  } catch (const gqa::RankError& e) {
    // (every rank throws together: the factory agrees across ranks; this rank's own reason, which
    // rank 0 knows only as "another rank failed")
    std::cerr << "gqa-generate: " << rank_prefix(mpi.world_rank(), mpi.world_size()) << e.what() << std::endl;
    return 1;  // (not a usage error: the machine or the launch; see --help's exit status)
  } catch (const std::exception& e) {
    if (mpi.world_rank() == 0) std::cerr << "gqa-generate: " << gqa::error_text(e) << std::endl;
    return 1;
  }
  try {
    return run(opts, *comm, mpi.local_rank());
  } catch (const gqa::RankError& e) {
    // (every rank throws together, in step: each ends normally; this rank's own reason)
    std::cerr << "gqa-generate: " << rank_prefix(comm->rank(), comm->size()) << e.what() << std::endl;
    return 1;
  } catch (const gqa::AgreedError& e) {
    // (the same on every rank, or another rank's failure named: said once)
    if (comm->rank() == 0) std::cerr << "gqa-generate: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    // Past the agreed load, other ranks may be inside a collective: take the job down (also at one
    // rank: after a device fault, the communicator's and the backend's teardown are not to be
    // trusted).
    std::cerr << "gqa-generate: " + rank_prefix(comm->rank(), comm->size()) + gqa::error_text(e) + "\n" << std::flush;
    comm->abort(1);
  }
}
