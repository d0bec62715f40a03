#include "tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <tuple>

#include "core/error.h"
#include "tokenizer/growth_limit.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/utf8.h"

namespace gqa::tok {

const char* const kGpt2SplitRegex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

using Span = std::pair<size_t, size_t>;

// HF's SplitDelimiterBehavior over the matches of one pattern: `matches` are non-overlapping, in order.
std::vector<Span> split_spans(size_t size, const std::vector<Span>& matches, SplitBehavior behavior) {
  std::vector<std::tuple<size_t, size_t, bool>> parts;  // gaps and matches covering [0, size)
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (b > prev) parts.emplace_back(prev, b, false);
    parts.emplace_back(b, e, true);
    prev = e;
  }
  if (prev < size) parts.emplace_back(prev, size, false);

  std::vector<Span> out;
  if (behavior == SplitBehavior::kMergedWithNext) {
    bool next_is_match = false;  // walk backwards: a match joins the following gap
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      const auto [b, e, m] = *it;
      if (m && !next_is_match && !out.empty()) out.back().first = b;
      else out.emplace_back(b, e);
      next_is_match = m;
    }
    return {out.rbegin(), out.rend()};
  }
  bool prev_match = false;
  for (const auto& [b, e, m] : parts) {
    const bool join = behavior == SplitBehavior::kMergedWithPrevious ? (m && !prev_match)
                      : behavior == SplitBehavior::kContiguous       ? (m == prev_match)
                                                                     : false;
    if (behavior == SplitBehavior::kRemoved && m) {
      // dropped
    } else if (join && !out.empty()) {
      out.back().second = e;
    } else {
      out.emplace_back(b, e);
    }
    prev_match = m;
  }
  return out;
}

std::vector<Span> literal_matches(std::string_view s, std::string_view lit) {
  std::vector<Span> m;
  if (lit.empty()) return m;
  for (size_t pos = s.find(lit); pos != std::string_view::npos; pos = s.find(lit, pos + lit.size())) {
    m.emplace_back(pos, pos + lit.size());
  }
  return m;
}

void split_piece(const Piece& p, const std::vector<Span>& matches, SplitBehavior behavior, std::vector<Piece>* out) {
  for (const auto& [b, e] : split_spans(p.text.size(), matches, behavior)) {
    if (e > b) out->push_back({p.text.substr(b, e - b), p.at_origin && b == 0});
  }
}

std::string byte_level_spelling(std::string_view s) {
  const auto& table = byte_to_unicode();
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) out += table[c];
  return out;
}

void apply_step(const PreTokenizer::Step& st, std::vector<Piece>& pieces) {
  std::vector<Piece> next;
  next.reserve(pieces.size());
  for (Piece& p : pieces) {
    switch (st.kind) {
      case PreTokenizer::Kind::kSplit:
        split_piece(p, st.regex ? st.regex->find_all(p.text) : literal_matches(p.text, st.literal), st.behavior,
                    &next);
        break;
      case PreTokenizer::Kind::kByteLevel: {
        if (st.add_prefix_space && (p.text.empty() || p.text[0] != ' ')) p.text.insert(p.text.begin(), ' ');  // (a char: GCC 12 warns -Wrestrict on insert(0, " "))
        const size_t first = next.size();
        if (st.regex) split_piece(p, st.regex->find_all(p.text), SplitBehavior::kIsolated, &next);
        else if (!p.text.empty()) next.push_back(std::move(p));
        for (size_t i = first; i < next.size(); ++i) next[i].text = byte_level_spelling(next[i].text);
        break;
      }
      case PreTokenizer::Kind::kMetaspace: {
        std::string s;
        s.reserve(p.text.size() + 8);
        for (char c : p.text) {
          if (c == ' ') s += st.literal;
          else s.push_back(c);
        }
        const bool starts = s.compare(0, st.literal.size(), st.literal) == 0;
        if (!starts && (st.prepend == PrependScheme::kAlways || (st.prepend == PrependScheme::kFirst && p.at_origin))) {
          s.insert(0, st.literal);
        }
        Piece q{std::move(s), p.at_origin};
        if (st.split) split_piece(q, literal_matches(q.text, st.literal), SplitBehavior::kMergedWithNext, &next);
        else if (!q.text.empty()) next.push_back(std::move(q));
        break;
      }
    }
  }
  pieces = std::move(next);
}

SplitBehavior parse_behavior(const std::string& b, const std::string& where) {
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  GQA_FAIL(where << ": unknown Split behavior '" << b << "'");
}

PrependScheme metaspace_scheme(const nlohmann::json& j, const std::string& where) {
  if (!j.contains("prepend_scheme")) return j.value("add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
  const std::string s = j.at("prepend_scheme").get<std::string>();
  if (s == "always") return PrependScheme::kAlways;
  if (s == "first") return PrependScheme::kFirst;
  if (s == "never") return PrependScheme::kNever;
  GQA_FAIL(where << ": Metaspace prepend_scheme '" << s << "' is not always, first or never");
}

}  // namespace

PreTokenizer::Step PreTokenizer::split_regex(const std::string& pattern, const std::string& where) {
  Step st;
  st.kind = Kind::kSplit;
  st.regex = std::make_shared<const Regex>(pattern, where);
  return st;
}

PreTokenizer::Step PreTokenizer::byte_level(bool add_prefix_space, bool use_regex) {
  static const auto gpt2 = std::make_shared<const Regex>(kGpt2SplitRegex, "ByteLevel pre-tokenizer");
  Step st;
  st.kind = Kind::kByteLevel;
  st.regex = use_regex ? gpt2 : nullptr;
  st.add_prefix_space = add_prefix_space;
  return st;
}

PreTokenizer::Step PreTokenizer::metaspace(std::string replacement, PrependScheme prepend, bool split) {
  Step st;
  st.kind = Kind::kMetaspace;
  st.literal = std::move(replacement);
  st.prepend = prepend;
  st.split = split;
  return st;
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& j, const std::string& where) {
  PreTokenizer p;
  p.where_ = where;
  if (!j.is_null()) p.add_json(j, where);
  return p;
}

void PreTokenizer::add_json(const nlohmann::json& j, const std::string& where) {
  const std::string type = j.value("type", "");
  const std::string field = where + ": pre_tokenizer " + type;
  if (type == "Sequence") {
    for (const auto& sub : json_array_field(j, "pretokenizers", where, "pre_tokenizer Sequence.pretokenizers")) {
      add_json(sub, where);
    }
  } else if (type == "Split") {
    GQA_CHECK(!j.value("invert", false), field << ": invert = true is not supported");
    const auto& pat = j.at("pattern");
    Step st;
    if (pat.contains("Regex")) {
      st = split_regex(pat.at("Regex").get<std::string>(), field);
    } else {
      st.kind = Kind::kSplit;
      st.literal = pat.at("String").get<std::string>();
    }
    st.behavior = parse_behavior(j.at("behavior").get<std::string>(), field);
    steps_.push_back(std::move(st));
  } else if (type == "ByteLevel") {
    steps_.push_back(byte_level(j.value("add_prefix_space", true), j.value("use_regex", true)));
  } else if (type == "Metaspace") {
    steps_.push_back(metaspace(j.value("replacement", "\u2581"), metaspace_scheme(j, field), j.value("split", true)));
  } else if (type == "Digits") {
    Step st = split_regex(j.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)", field);
    steps_.push_back(std::move(st));
  } else {
    GQA_FAIL(where << ": unsupported pre_tokenizer type '" << type
                   << "' (supported: Sequence, Split, ByteLevel, Metaspace, Digits)");
  }
}

void PreTokenizer::apply(std::string_view text, bool at_origin, std::vector<Piece>* out) const {
  std::vector<Piece> pieces;
  if (!text.empty()) pieces.push_back({std::string(text), at_origin});
  for (size_t i = 0; i < steps_.size(); ++i) {
    apply_step(steps_[i], pieces);
    size_t bytes = 0;
    for (const Piece& p : pieces) bytes += p.text.size();
    check_growth(text.size(), bytes, where_, "pre-tokenizer", i, steps_.size());
  }
  for (Piece& p : pieces) {
    if (!p.text.empty()) out->push_back(std::move(p));
  }
}

}  // namespace gqa::tok
