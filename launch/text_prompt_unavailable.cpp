// encode_text_prompt for a build without the tokenizer (GQA_TOKENIZER off: PCRE2 or ICU was
// missing when the build was configured, as on the GPU machines' image).
#include "core/error.h"
#include "launch/text_prompt.h"

namespace gqa {

std::unique_ptr<TextPrompt> encode_text_prompt(const GenerateOptions&) {
  GQA_FAIL("--prompt and --prompt-file need the tokenizer, and this gqa-generate was built without it (PCRE2 or "
           "ICU was not found when the build was configured): give --prompt-tokens or --prompt-tokens-file, or "
           "rebuild after apt-get install libpcre2-dev libicu-dev");
}

}  // namespace gqa
