// Reading the files a loader is pointed at (config.json, safetensors files, the shard index,
// tokenizer.json and its companions): they must be regular files, because open() of a FIFO waits
// for a writer that never comes and a device such as /dev/zero never ends; and a JSON file read
// whole has a size cap.
#pragma once

#include <cstdint>
#include <string>

namespace gqa {

// Checks with stat() that `path` is a regular file, opens it read-only, and checks the descriptor
// again (the path may have been replaced in between); `what` names the file in every message
// ("safetensors file", "model config"). Returns the descriptor (the caller closes it) and its size.
int open_regular_file(const std::string& path, const std::string& what, uint64_t* size);

// Far above any real JSON file the loaders read whole (config.json: a few KB; the index of a
// checkpoint with ~100k tensors: ~10 MB), yet refused by name before a mistaken path fills memory.
constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;

// The whole of `path`, a regular file of at most `max_bytes`; throws gqa::Error naming `what` and
// `path` (`kind` says in that message what the cap is for: "a JSON file", "a prompt file").
std::string read_regular_file_text(const std::string& path, const std::string& what, uint64_t max_bytes,
                                   const std::string& kind);

// The text of a JSON file (config.json, model.safetensors.index.json, tokenizer.json, ...): a
// regular file of at most kMaxJsonFileBytes; throws gqa::Error naming `what` and `path`.
std::string read_json_file_text(const std::string& path, const std::string& what);

}  // namespace gqa
