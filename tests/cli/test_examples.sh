#!/usr/bin/env bash
# The programs in examples/ run as their comments say: example_generate_tokens on a fixture prints
# transformers' greedy tokens at T = 1 and 2 (mpirun), and refuses bad input with one message.
# usage: test_examples.sh BUILD_BIN_DIR   (run from the repository root)
set -uo pipefail
bin="${1:?usage: $0 BUILD_BIN_DIR}"
example="$bin/example_generate_tokens"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/checks.sh"

# The fixture's reference generates 8 tokens, as many as the example asks for.
fixture=tests/fixtures/models/gqa
read -r -a prompt <<<"$(ref_field gqa prompt_tokens " ")"
expected="$(ref_field gqa generated_tokens " ") (length)"
for np in 1 2; do
  out=$(timeout 120 "${mpi[@]}" -np $np "$example" "$fixture" "${prompt[@]}" 2>"$tmp/err$np")
  rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$expected" ]; then ok "example_generate_tokens np $np prints transformers' tokens"; else
    bad "example_generate_tokens np $np: rc $rc, got '$out', expected '$expected'"; cat "$tmp/err$np"; fi
done

# Bad input: a token id past the vocabulary (exit 1, named), a word that is not an id (exit 1), no
# token at all (usage, exit 2), a directory without a model (exit 1).
expect_refusal() {  # NAME WANT_RC PATTERN ARGS...
  local name=$1 want=$2 pattern=$3
  shift 3
  timeout 60 "${mpi[@]}" -np 2 "$example" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -eq "$want" ] && grep -q -- "$pattern" "$tmp/err"; then ok "$name: exit $want, '$pattern'"; else
    bad "$name: rc $rc (want $want), stderr: $(head -c 400 "$tmp/err")"; fi
}
expect_refusal "token past the vocabulary" 1 "outside the vocabulary" "$fixture" 1 9999999
expect_refusal "a word for a token" 1 "'two' is not a token id" "$fixture" 1 two
expect_refusal "a number with a suffix" 1 "'1x' is not a token id" "$fixture" 1 1x
expect_refusal "a negative id" 1 "'-1' is not a token id" "$fixture" 1 -1
expect_refusal "a signed zero" 1 "'-0' is not a token id" "$fixture" 1 -0
expect_refusal "a plus sign" 1 "'+5' is not a token id" "$fixture" 1 +5
expect_refusal "a leading space" 1 "' 5' is not a token id" "$fixture" 1 " 5"
expect_refusal "an id past int32" 1 "'2147483648' is not a token id" "$fixture" 1 2147483648
expect_refusal "no token" 2 "usage:" "$fixture"
expect_refusal "no model" 1 "error:" "$tmp/nothing" 1 2

tally "examples"
