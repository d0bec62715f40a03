#include "tokenizer/decoder.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/replace_all.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {
namespace {

void byte_level(std::vector<std::string>& tokens) {
  std::string bytes;
  for (const std::string& t : tokens) {
    std::string mapped;
    bool ok = true;
    for (size_t i = 0; i < t.size() && ok;) {
      const size_t n = utf8_char_len(t, i);
      const int b = n ? unicode_to_byte(utf8_decode_at(t, i, n)) : -1;
      if (b < 0) ok = false;
      else mapped.push_back(static_cast<char>(b));
      i += n ? n : 1;
    }
    bytes += ok ? mapped : t;  // a token outside the byte alphabet (an added token) is kept as spelled
  }
  tokens.assign(1, std::move(bytes));
}

int byte_token_value(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = t[i];
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void byte_fallback(std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  std::string run;
  bool in_run = false;
  for (std::string& t : tokens) {
    const int v = byte_token_value(t);
    if (v >= 0) {
      run.push_back(static_cast<char>(v));
      in_run = true;
      continue;
    }
    if (in_run) out.push_back(std::move(run));
    run.clear();
    in_run = false;
    out.push_back(std::move(t));
  }
  if (in_run) out.push_back(std::move(run));
  tokens = std::move(out);
}

// Removes up to `start` leading and `stop` trailing copies of the character `c` from each token.
void strip(std::vector<std::string>& tokens, const std::string& c, int start, int stop) {
  for (std::string& t : tokens) {
    size_t b = 0, e = t.size();
    for (int k = 0; k < start && e - b >= c.size() && t.compare(b, c.size(), c) == 0; ++k) b += c.size();
    for (int k = 0; k < stop && e - b >= c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k) e -= c.size();
    t = t.substr(b, e - b);
  }
}

void metaspace(std::vector<std::string>& tokens, const std::string& rep, PrependScheme prepend) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string& t = tokens[i];
    if (i == 0 && prepend != PrependScheme::kNever && t.compare(0, rep.size(), rep) == 0) t.erase(0, rep.size());
    t = replace_all(t, rep, " ");
  }
}

// Strip.start / Strip.stop: a count of characters (absent: 0). A count past a token's length strips the
// whole token, so counts above INT_MAX are held as INT_MAX.
int strip_count(const nlohmann::json& j, const char* key, const std::string& where) {
  const nlohmann::json& v = json_field(j, key);
  if (v.is_null()) return 0;
  GQA_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
            where << ": decoder Strip." << key << " = " << json_brief(v) << " is not a count (an integer >= 0)");
  return static_cast<int>(std::min<uint64_t>(v.get<uint64_t>(), std::numeric_limits<int>::max()));
}

}  // namespace

Decoder Decoder::from_json(const nlohmann::json& j, const std::string& where) {
  Decoder d;
  if (!j.is_null()) d.add_json(j, where);
  return d;
}

void Decoder::add_json(const nlohmann::json& j, const std::string& where) {
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    for (const auto& sub : json_array_field(j, "decoders", where, "decoder Sequence.decoders")) add_json(sub, where);
  } else if (type == "ByteLevel") {
    add(step(Kind::kByteLevel));
  } else if (type == "Replace") {
    const auto& pat = j.at("pattern");
    GQA_CHECK(pat.contains("String"), where << ": decoder Replace with a Regex pattern is not supported");
    add(step(Kind::kReplace, pat.at("String").get<std::string>(), j.at("content").get<std::string>()));
  } else if (type == "ByteFallback") {
    add(step(Kind::kByteFallback));
  } else if (type == "Fuse") {
    add(step(Kind::kFuse));
  } else if (type == "Strip") {
    // HF's Strip has content: char, start/stop: usize. An empty content stripped nothing `start` times
    // over (2^31 iterations per token for a large start), so exactly one character is required.
    const std::string content = j.at("content").get<std::string>();
    GQA_CHECK(!content.empty() && utf8_char_len(content, 0) == content.size(),
              where << ": decoder Strip.content = " << json_brief(j.at("content")) << " is not exactly one character");
    add(step(Kind::kStrip, content, "", strip_count(j, "start", where), strip_count(j, "stop", where)));
  } else if (type == "Metaspace") {
    Step s = step(Kind::kMetaspace, j.value("replacement", "\u2581"));
    const std::string scheme = j.value("prepend_scheme", j.value("add_prefix_space", true) ? "always" : "never");
    s.prepend = scheme == "never" ? PrependScheme::kNever : scheme == "first" ? PrependScheme::kFirst : PrependScheme::kAlways;
    add(std::move(s));
  } else {
    GQA_FAIL(where << ": unsupported decoder type '" << type
                   << "' (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace)");
  }
}

std::string Decoder::decode(std::vector<std::string> tokens) const {
  if (steps_.empty()) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const Step& s : steps_) {
    switch (s.kind) {
      case Kind::kByteLevel: byte_level(tokens); break;
      case Kind::kReplace:
        for (std::string& t : tokens) t = replace_all(t, s.a, s.b);
        break;
      case Kind::kByteFallback: byte_fallback(tokens); break;
      case Kind::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case Kind::kStrip: strip(tokens, s.a, s.start, s.stop); break;
      case Kind::kMetaspace: metaspace(tokens, s.a, s.prepend); break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace gqa::tok
