#!/usr/bin/env bash
# gqa as an installed library (cmake/install.cmake): `cmake --install` of this build into a
# temporary prefix, then a project of its own that does find_package(gqa), builds
# examples/generate_tokens.cpp against gqa::gqa_runtime and runs it on a fixture: its tokens must
# be reference.json's; where the build has the tokenizer, a program linking gqa::gqa_tokenizer
# encodes as the installed gqa-tokenize. Also: the installed gqa-generate runs, the headers are there.
# usage: test_install.sh BUILD_BIN_DIR   (run from the repository root)
set -uo pipefail
bin="${1:?usage: $0 BUILD_BIN_DIR}"
build=$(cd "$bin/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/checks.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then ok "cmake --install"; else
  bad "cmake --install:"; tail -n 20 "$tmp/install.log"; tally install; exit 1; fi
for f in include/gqa/core/tensor.h include/gqa/model/model.h include/gqa/runtime/generator.h \
         include/gqa/kernels/ops.h include/gqa/parallel/bootstrap.h lib/cmake/gqa/gqaConfig.cmake bin/gqa-generate; do
  [ -e "$tmp/prefix/$f" ] && ok "installed $f" || bad "installed $f"
done

fx=tests/fixtures/models/gqa
want=$(python3 -c "import json; r=json.load(open('$fx/reference.json')); print(' '.join(map(str, r['generated_tokens'][:8])))" 2>/dev/null)
prompt=$(python3 -c "import json; r=json.load(open('$fx/reference.json')); print(' '.join(map(str, r['prompt_tokens'])))" 2>/dev/null)

mkdir -p "$tmp/consumer"
cp examples/generate_tokens.cpp "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.24)
project(gqa_consumer LANGUAGES C CXX)
find_package(gqa 0.1 REQUIRED)
add_executable(generate_tokens generate_tokens.cpp)
target_link_libraries(generate_tokens PRIVATE gqa::gqa_runtime)
CMAKE
if cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cfg.log" 2>&1 &&
   cmake --build "$tmp/consumer/build" -j 2 >"$tmp/build.log" 2>&1; then
  ok "a project of its own builds examples/generate_tokens.cpp with find_package(gqa)"
  got=$(timeout 120 mpirun -np 2 "$tmp/consumer/build/generate_tokens" "$fx" $prompt 2>"$tmp/run.err" | tail -n 1)
  # (the example prints its 8 greedy tokens space-separated)
  if [ -n "$want" ] && [ "${got:0:${#want}}" = "$want" ]; then ok "the installed library generates reference.json's tokens at np 2"
  else bad "installed library's tokens: got '$got', want '$want...'"; sed 's/^/    /' "$tmp/run.err" | head -n 8; fi
else
  bad "consumer project:"; tail -n 20 "$tmp/cfg.log" "$tmp/build.log"
fi

# the tokenizer library, where the build has it: the same ids as the installed gqa-tokenize
if [ -x "$tmp/prefix/bin/gqa-tokenize" ]; then
  mkdir -p "$tmp/tok"
  cat >"$tmp/tok/encode.cpp" <<'CPP'
#include <iostream>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  for (int32_t id : gqa::tok::Tokenizer::load(argv[1]).encode(argv[2], false)) std::cout << id << " ";
  std::cout << "\n";
}
CPP
  cat >"$tmp/tok/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.24)
project(gqa_tokenizer_consumer LANGUAGES C CXX)
find_package(gqa 0.1 REQUIRED)
add_executable(encode encode.cpp)
target_link_libraries(encode PRIVATE gqa::gqa_tokenizer)
CMAKE
  text="Hello, tensor-parallel world"
  if cmake -S "$tmp/tok" -B "$tmp/tok/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/tcfg.log" 2>&1 &&
     cmake --build "$tmp/tok/build" >"$tmp/tbuild.log" 2>&1; then
    got=$("$tmp/tok/build/encode" "$fx" "$text" | tr -s ' ' | sed 's/ $//')
    want_ids=$(printf '%s' "$text" | "$tmp/prefix/bin/gqa-tokenize" --tokenizer "$fx" | tr -s ' ' | sed 's/ $//')
    if [ -n "$got" ] && [ "$got" = "$want_ids" ]; then ok "gqa::gqa_tokenizer from the install encodes as gqa-tokenize ($got)"
    else bad "installed tokenizer: '$got' vs gqa-tokenize '$want_ids'"; fi
  else
    bad "tokenizer consumer:"; grep -m5 -i "error" "$tmp/tcfg.log" "$tmp/tbuild.log"
  fi
fi

out=$(timeout 60 "$tmp/prefix/bin/gqa-generate" --model "$fx" --prompt-tokens "${prompt// /,}" --max-new-tokens 4 \
      --backend cpu -q 2>&1 | tail -n 1)
case "$out" in *'"generated_tokens":['*) ok "the installed gqa-generate runs" ;; *) bad "installed gqa-generate: $out" ;; esac

tally "install"
