#!/usr/bin/env bash
# gqa-tokenize end to end: encode stdin exactly (no trimming), --add-special, --decode round trip, errors.
# Usage: test_tokenizer_cli.sh BIN_DIR   (run from the repository root)
set -euo pipefail
bin=$1/gqa-tokenize
fx=tests/fixtures/tokenizer
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(printf 'Hello world' | "$bin" --tokenizer $fx/llama-spm.gguf)" = "15043 3186" ] || fail "llama encode"
[ "$(printf 'Hello world' | "$bin" --tokenizer $fx/llama-spm.gguf --add-special)" = "1 15043 3186" ] || fail "add-special"
[ "$(printf 'Hello world\n' | "$bin" --tokenizer $fx/llama-spm.gguf)" = "15043 3186 13" ] || fail "trailing newline kept"
[ "$(printf ' Hello world' | "$bin" --tokenizer $fx/gpt-2.gguf)" = "18435 995" ] || fail "gpt-2 leading space kept"
[ "$(printf '' | "$bin" --tokenizer $fx/gpt-2.gguf)" = "" ] || fail "empty input"
[ "$(printf 'Hello' | "$bin" --tokenizer $fx/spm-hub.json --add-special | cut -d' ' -f1)" = "1" ] || fail "tokenizer.json"

text=$'line one\n\ttabbed  \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 end\n'
for vocab in gpt-2.gguf llama-spm.gguf bl-llama3.json; do
  back=$(printf '%s' "$text" | "$bin" --tokenizer $fx/$vocab | "$bin" --tokenizer $fx/$vocab --decode; printf x)
  [ "${back%x}" = "$text" ] || fail "round trip $vocab: '${back%x}'"
done
[ "$(echo '1 15043 2' | "$bin" --tokenizer $fx/llama-spm.gguf --decode --skip-special)" = "Hello" ] || fail "skip-special"
# --decode takes commas as separators too (gqa-generate prints its ids so), not empty items
for ids in "15043,3186" "15043, 3186" " 15043 ,3186
"; do
  [ "$(printf '%s' "$ids" | "$bin" --tokenizer $fx/llama-spm.gguf --decode)" = "Hello world" ] || fail "decode '$ids'"
done
for ids in "15043,,3186" "15043," ",15043"; do
  rc=0
  printf '%s' "$ids" | "$bin" --tokenizer $fx/llama-spm.gguf --decode >/dev/null 2>/tmp/gqa-tok-err.$$ || rc=$?
  [ "$rc" -eq 1 ] && grep -q -- "--decode input: .*comma" /tmp/gqa-tok-err.$$ || fail "decode '$ids': exit $rc, $(cat /tmp/gqa-tok-err.$$)"
done

help=$("$bin" --help) || fail "--help: exit $?"  # (captured: grep -q closing the pipe early fails pipefail)
grep -q -- "--add-special" <<<"$help" || fail "--help"
if echo hi | "$bin" --tokenizer $fx/no-such.gguf 2>/tmp/gqa-tok-err.$$; then fail "missing file accepted"; fi
grep -q "no-such.gguf" /tmp/gqa-tok-err.$$ || fail "error does not name the file"
if echo "1 x 2" | "$bin" --tokenizer $fx/gpt-2.gguf --decode 2>/dev/null; then fail "bad id accepted"; fi
if echo "99999999" | "$bin" --tokenizer $fx/gpt-2.gguf --decode 2>/dev/null; then fail "out-of-range id accepted"; fi
# flags that only mean something with another are refused without it, not ignored
if echo "1 2" | "$bin" --tokenizer $fx/gpt-2.gguf --skip-special 2>/dev/null; then fail "--skip-special without --decode"; fi
if echo hi | "$bin" --tokenizer $fx/gpt-2.gguf --repeat 3 2>/dev/null; then fail "--repeat without --bench"; fi
# and those that mean nothing together are refused, with the usage status (2)
for flags in "--decode --add-special" "--bench /dev/null --decode" "--bench /dev/null --add-special"; do
  rc=0
  echo "1 2" | "$bin" --tokenizer $fx/gpt-2.gguf $flags >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "$flags: exit $rc, wanted 2"
done
if "$bin" --tokenizer $fx/gpt-2.gguf --bench /dev/null --repeat 0 2>/tmp/gqa-tok-err.$$; then fail "--repeat 0 accepted"; fi
grep -q "must be at least 1, got 0" /tmp/gqa-tok-err.$$ || fail "--repeat 0: $(cat /tmp/gqa-tok-err.$$)"
# stdin that cannot be read (a folder, a closed descriptor) is an error (exit 1), not an empty text
rc=0
"$bin" --tokenizer $fx/gpt-2.gguf --add-special </ >/dev/null 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot read the input from stdin" /tmp/gqa-tok-err.$$ ||
  fail "a folder as stdin: exit $rc, $(cat /tmp/gqa-tok-err.$$)"
rc=0
"$bin" --tokenizer $fx/gpt-2.gguf --decode <&- >/dev/null 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot read the input from stdin" /tmp/gqa-tok-err.$$ ||
  fail "a closed stdin: exit $rc, $(cat /tmp/gqa-tok-err.$$)"
# "-0" is not an id (digits only), as "-1" is not
if printf -- '-0' | "$bin" --tokenizer $fx/gpt-2.gguf --decode >/dev/null 2>&1; then fail "--decode took -0"; fi
# the parser's errors begin with the tool's name; an option given twice says so
rc=0
echo hi | "$bin" --tokenizer $fx/gpt-2.gguf --tokenizer $fx/gpt-2.gguf >/dev/null 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 2 ] || fail "--tokenizer twice: exit $rc, wanted 2"
grep -q -- "^gqa-tokenize: --tokenizer: given 2 times; give it once" /tmp/gqa-tok-err.$$ ||
  fail "--tokenizer twice: $(cat /tmp/gqa-tok-err.$$)"
# an empty --bench file name is refused (it encoded stdin instead), with the usage status
rc=0
echo hi | "$bin" --tokenizer $fx/gpt-2.gguf --bench "" >/dev/null 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 2 ] || fail "--bench \"\": exit $rc, wanted 2"
grep -q -- "--bench: needs a path" /tmp/gqa-tok-err.$$ || fail "--bench \"\": $(cat /tmp/gqa-tok-err.$$)"
# a --bench path that is a folder, missing or empty is an error naming it (exit 1), not a 0 MB/s result
tmp=$(mktemp -d)
: >$tmp/empty.txt
for case in "$tmp:is a folder, not a regular file" "$tmp/none.txt:does not exist" "$tmp/empty.txt:is empty: nothing to time"; do
  path=${case%%:*} want=${case#*:}
  rc=0
  "$bin" --tokenizer $fx/gpt-2.gguf --bench "$path" >/tmp/gqa-tok-out.$$ 2>/tmp/gqa-tok-err.$$ || rc=$?
  [ "$rc" -eq 1 ] && [ ! -s /tmp/gqa-tok-out.$$ ] && grep -q -- "--bench file $path $want" /tmp/gqa-tok-err.$$ ||
    fail "--bench $path: exit $rc, $(cat /tmp/gqa-tok-out.$$ /tmp/gqa-tok-err.$$)"
done
printf 'Hello world' >$tmp/text.txt
"$bin" --tokenizer $fx/gpt-2.gguf --bench $tmp/text.txt --repeat 1 | grep -q '"bytes":11,"tokens":2,' || fail "--bench of 11 bytes"
rm -rf "$tmp" /tmp/gqa-tok-out.$$
# a result that cannot be written (a full disk) says so, not just exit 1
if [ -w /dev/full ]; then
  rc=0
  printf 'Hello' | "$bin" --tokenizer $fx/gpt-2.gguf >/dev/full 2>/tmp/gqa-tok-err.$$ || rc=$?
  [ "$rc" -eq 1 ] || fail "stdout /dev/full: exit $rc, wanted 1"
  grep -q "gqa-tokenize: cannot write the result to stdout" /tmp/gqa-tok-err.$$ || fail "/dev/full: '$(cat /tmp/gqa-tok-err.$$)'"
fi
# damaged files are one error naming the file (exit 1): a .gguf too short for its magic goes to the GGUF
# reader (not "not valid JSON"), and nesting past the depth limit is refused before anything recurses
tmp=$(mktemp -d)
printf 'GGU' >$tmp/short.gguf
rc=0
echo hi | "$bin" --tokenizer $tmp/short.gguf 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 1 ] && grep -q "short.gguf: truncated" /tmp/gqa-tok-err.$$ || fail "3-byte .gguf: exit $rc, $(cat /tmp/gqa-tok-err.$$)"
{ printf '{"model": '; printf '%.0s[' {1..20000}; printf '%.0s]' {1..20000}; printf '}'; } >$tmp/tokenizer.json
rc=0
echo hi | "$bin" --tokenizer $tmp/tokenizer.json 2>/tmp/gqa-tok-err.$$ || rc=$?
[ "$rc" -eq 1 ] && grep -q "tokenizer.json: JSON nested more than 64 levels deep" /tmp/gqa-tok-err.$$ ||
  fail "deep tokenizer.json: exit $rc, $(cat /tmp/gqa-tok-err.$$)"
rm -rf "$tmp"
rm -f /tmp/gqa-tok-err.$$
# --version: the project's version (CMakeLists.txt), exit 0, no --tokenizer needed
version=$(sed -nE 's/^project\(gqa VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
[ -n "$version" ] && [ "$("$bin" --version)" = "gqa-tokenize $version" ] || fail "--version: '$("$bin" --version 2>&1)'"
echo "test_tokenizer_cli: ok"
