// gqa-generate --help-env: the environment variables it reads (the cuda backend's kernel
// switches, the cpu backend's threads, the communicators' time limits), a paragraph per part;
// kept out of --help, which they would bury.
#pragma once

#include <string>
#include <vector>

namespace gqa {

const std::vector<std::string>& generate_env_paragraphs();

}  // namespace gqa
