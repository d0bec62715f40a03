// gqa-tokenize: text <-> token ids on the command line, with gqa's tokenizer (equal to HF tokenizers).
//   gqa-tokenize --tokenizer PATH [--add-special] < text      -> ids, space-separated, one line
//   gqa-tokenize --tokenizer PATH --decode < ids               -> the text, exactly (no newline added)
//   gqa-tokenize --tokenizer PATH --bench FILE [--repeat N]    -> encode speed, one JSON line
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>

#include "core/error.h"
#include "core/regular_file.h"
#include "launch/cli_checks.h"
#include "launch/token_list.h"
#include "tokenizer/tokenizer.h"

namespace {

struct Options {
  std::string tokenizer, bench_file;
  bool add_special = false, decode = false, skip_special = false, bench_lines = false;
  int repeat = 5;
};

// All of stdin (read(2) on descriptor 0, so that a failed read is an error, not the end of an
// empty input: a folder or a closed descriptor given as stdin encoded as the empty text, exit 0).
std::string read_stdin() {
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n == 0) return text;
    if (n < 0 && errno == EINTR) continue;
    GQA_CHECK(n > 0, "cannot read the input from stdin: " << std::strerror(errno));
    text.append(buf, static_cast<size_t>(n));
  }
}

// Ids separated by whitespace or by commas, as gqa-generate's --prompt-tokens-file takes them (its
// JSON line prints them with commas); no ids at all decode to the empty text.
std::vector<int32_t> parse_ids(const std::string& text) {
  if (text.find_first_not_of(" \t\n\r\v\f") == std::string::npos) return {};
  return gqa::parse_token_text(text, "--decode input");
}

// The text as one string, or (--bench-lines) as its lines, each keeping its "\n".
std::vector<std::string_view> bench_inputs(const std::string& text, bool lines) {
  if (!lines) return {text};
  std::vector<std::string_view> out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl + 1;
    out.emplace_back(text.data() + pos, end - pos);
    pos = end;
  }
  return out;
}

size_t encode_all(const gqa::tok::Tokenizer& tok, const std::vector<std::string_view>& inputs) {
  size_t n = 0;
  for (std::string_view s : inputs) n += tok.encode(s, false).size();
  return n;
}

// Far above a useful benchmark text, below what would exhaust memory by mistake.
constexpr uint64_t kMaxBenchFileBytes = uint64_t{1} << 30;

// Encodes the file once to warm up, then `repeat` times; reports the median.
void bench(const gqa::tok::Tokenizer& tok, const Options& o) {
  const std::string text =
      gqa::read_regular_file_text(o.bench_file, "--bench file", kMaxBenchFileBytes, "a benchmark file");
  GQA_CHECK(!text.empty(), "--bench file " << o.bench_file << " is empty: nothing to time");
  const std::vector<std::string_view> inputs = bench_inputs(text, o.bench_lines);
  size_t n_tokens = encode_all(tok, inputs);
  std::vector<double> secs;
  for (int r = 0; r < o.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    n_tokens = encode_all(tok, inputs);
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  const double median = secs[secs.size() / 2];
  std::cout << "{\"impl\":\"gqa\",\"mode\":\"" << (o.bench_lines ? "lines" : "whole") << "\",\"bytes\":" << text.size() << ",\"tokens\":" << n_tokens << ",\"seconds\":" << median
            << ",\"mb_per_s\":" << text.size() / 1e6 / median << "}\n";
}

int run(const Options& o) {
  const auto tok = gqa::tok::Tokenizer::load(o.tokenizer);
  if (!o.bench_file.empty()) {
    bench(tok, o);
  } else if (o.decode) {
    const std::string text = tok.decode(parse_ids(read_stdin()), o.skip_special);
    std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
  } else {
    const std::vector<int32_t> ids = tok.encode(read_stdin(), o.add_special);
    std::string line;
    for (int32_t id : ids) line += (line.empty() ? "" : " ") + std::to_string(id);
    std::cout << line << "\n";
  }
  std::cout.flush();
  // (a full disk or a closed pipe: said, not just an exit status)
  GQA_CHECK(std::cout.good(), "cannot write the result to stdout");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{
      "gqa-tokenize: encode stdin to token ids (printed space-separated on one line), or decode ids, with a "
      "Hugging Face tokenizer.json or the vocabulary of a GGUF file. All of stdin is the text: its exact bytes, "
      "nothing trimmed; invalid UTF-8 is read as U+FFFD per invalid sequence. Encodings equal HF tokenizers'. "
      "Exit status: 0 done, 2 a usage error (flags), 1 any other error (tokenizer file, ids, input).",
      "gqa-tokenize"};
  Options o;
  app.set_version_flag("--version", std::string("gqa-tokenize ") + GQA_VERSION, "print the version, then exit");
  app.add_option("--tokenizer", o.tokenizer, "tokenizer.json, a directory holding one, or a .gguf file")
      ->required()
      ->check(gqa::non_empty_path());
  CLI::Option* add_special =
      app.add_flag("--add-special", o.add_special,
                   "encoding only: add what the tokenizer adds around a text (e.g. BOS): tokenizer.json "
                   "post_processor, GGUF add_bos_token/add_eos_token. Special tokens written in the text are "
                   "recognised either way");
  CLI::Option* decode = app.add_flag("--decode", o.decode,
                                     "read ids from stdin, separated by whitespace or commas, and print their "
                                     "text exactly (no newline added)");
  add_special->excludes(decode);
  // (the flags that only mean something with another are refused without it, not ignored)
  app.add_flag("--skip-special", o.skip_special, "with --decode: leave special tokens (BOS, EOS, ...) out")
      ->needs(decode);
  CLI::Option* bench = app.add_option("--bench", o.bench_file,
                                      "instead: encode FILE (one call, no special tokens) and print one JSON line "
                                      "with the median MB/s of --repeat runs after one warm-up run, single thread")
                            ->type_name("FILE")
                            ->check(gqa::non_empty_path());  // ("" would encode stdin instead)
  bench->excludes(decode);
  bench->excludes(add_special);
  app.add_flag("--bench-lines", o.bench_lines, "with --bench: encode the file line by line (each keeps its newline)")
      ->needs(bench);
  app.add_option("--repeat", o.repeat, "timed runs for --bench")
      ->check(gqa::at_least(1))
      ->needs(bench)
      ->capture_default_str();
  if (const int status = gqa::parse_or_exit_status(app, argc, argv); status >= 0) return status;
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "gqa-tokenize: " << gqa::error_text(e) << "\n";
    return 1;
  }
}
