#include "tokenizer/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/growth_limit.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/replace_all.h"

namespace gqa::tok {
namespace {

std::string replace_regex(const Regex& re, std::string_view s, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (const auto& [b, e] : re.find_all(s)) {
    out.append(s.substr(pos, b - pos)).append(to);
    pos = e;
  }
  out.append(s.substr(pos));
  return out;
}

// Whether HF's normalizers (the unicode-normalization-alignments crate: Unicode 9.0's tables) know
// nothing of c: a code point assigned after 9.0 is to them a starter with no decomposition that
// composes with nothing, where ICU may reorder, compose or decompose it.
bool unknown_to_hf(UChar32 c) {
  UVersionInfo age;
  u_charAge(c, age);
  return age[0] > 9 || (age[0] == 9 && (age[1] > 0 || age[2] > 0));
}

std::string icu_normalize(std::string_view s, Normalizer::Kind kind) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (kind) {
    case Normalizer::Kind::kNfc: n = icu::Normalizer2::getNFCInstance(status); break;
    case Normalizer::Kind::kNfd: n = icu::Normalizer2::getNFDInstance(status); break;
    case Normalizer::Kind::kNfkc: n = icu::Normalizer2::getNFKCInstance(status); break;
    default: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  GQA_CHECK(U_SUCCESS(status), "ICU: cannot load the Unicode normalization data: " << u_errorName(status));
  const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  if (n->isNormalized(in, status) && U_SUCCESS(status)) return std::string(s);
  // As HF: each run between code points unknown to Unicode 9.0 normalized alone (those of 9.0 and
  // before normalize alike in every later version), the unknown ones kept as they are.
  icu::UnicodeString outu;
  int32_t run = 0;
  const auto normalize_run = [&](int32_t end) {
    if (end <= run) return;
    status = U_ZERO_ERROR;
    outu.append(n->normalize(in.tempSubStringBetween(run, end), status));  // (not merged at the boundary)
    GQA_CHECK(U_SUCCESS(status), "ICU normalize failed: " << u_errorName(status));
  };
  for (int32_t i = 0; i < in.length();) {
    const UChar32 c = in.char32At(i);
    const int32_t next = in.moveIndex32(i, 1);
    if (c >= 0x80 && unknown_to_hf(c)) {
      normalize_run(i);
      outu.append(in, i, next - i);
      run = next;
    }
    i = next;
  }
  normalize_run(in.length());
  std::string out;
  outu.toUTF8String(out);
  return out;
}

std::string lowercase(std::string_view s) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  std::string out;
  u.toLower().toUTF8String(out);
  return out;
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& where) {
  Normalizer n;
  n.where_ = where;
  if (!j.is_null()) n.add_json(j, where);
  return n;
}

void Normalizer::add_json(const nlohmann::json& j, const std::string& where) {
  const std::string type = j.value("type", "");
  const std::string field = where + ": normalizer " + type;
  if (type == "Sequence") {
    for (const auto& sub : json_array_field(j, "normalizers", where, "normalizer Sequence.normalizers")) {
      add_json(sub, where);
    }
  } else if (type == "Prepend") {
    steps_.push_back({Kind::kPrepend, j.at("prepend").get<std::string>(), "", nullptr});
  } else if (type == "Replace") {
    const auto& pattern = j.at("pattern");
    const std::string content = j.at("content").get<std::string>();
    if (pattern.contains("String")) {
      steps_.push_back({Kind::kReplace, pattern.at("String").get<std::string>(), content, nullptr});
    } else {
      auto re = std::make_shared<const Regex>(pattern.at("Regex").get<std::string>(), field);
      steps_.push_back({Kind::kReplaceRegex, "", content, std::move(re)});
    }
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    const Kind k = type == "NFC" ? Kind::kNfc : type == "NFD" ? Kind::kNfd : type == "NFKC" ? Kind::kNfkc : Kind::kNfkd;
    steps_.push_back({k, "", "", nullptr});
  } else if (type == "Lowercase") {
    steps_.push_back({Kind::kLowercase, "", "", nullptr});
  } else {
    GQA_FAIL(where << ": unsupported normalizer type '" << type
                   << "' (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase)");
  }
}

std::string Normalizer::apply(std::string_view text) const {
  std::string s(text);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& st = steps_[i];
    switch (st.kind) {
      case Kind::kPrepend:
        if (!s.empty()) s.insert(0, st.a);  // HF prepends to non-empty text only
        break;
      case Kind::kReplace:
        check_growth(text.size(), replaced_size(s, st.a, st.b), where_, "normalizer", i, steps_.size());
        s = replace_all(s, st.a, st.b);
        break;
      case Kind::kReplaceRegex: s = replace_regex(*st.regex, s, st.b); break;
      case Kind::kLowercase: s = lowercase(s); break;
      default: s = icu_normalize(s, st.kind); break;
    }
    check_growth(text.size(), s.size(), where_, "normalizer", i, steps_.size());
  }
  return s;
}

}  // namespace gqa::tok
