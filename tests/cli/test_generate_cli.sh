#!/usr/bin/env bash
# gqa-generate end to end from the command line, under mpirun:
#  - T = 1, 2, 4 print the same greedy tokens as transformers; --dump-logits has the contracted shape;
#  - every kind of bad input gives one clear message and a non-zero exit on every rank, fast.
# usage: test_generate_cli.sh BUILD_BIN_DIR   (run from the repository root)
set -uo pipefail
bin="${1:?usage: $0 BUILD_BIN_DIR}"
gen="$bin/gqa-generate"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/checks.sh"

# --- correct runs -----------------------------------------------------------------------------
fixture=gqa
prompt=$(ref_field $fixture prompt_tokens)
expected=$(ref_field $fixture generated_tokens)
n_new=$(python3 -c "print(len('$expected'.split(',')))")
for np in 1 2 4; do
  out=$(timeout 120 "${mpi[@]}" -np $np "$gen" --model tests/fixtures/models/$fixture --backend cpu \
        --prompt-tokens "$prompt" --max-new-tokens "$n_new" --temperature 0 --dump-logits "$tmp/l$np.npy" \
        2>"$tmp/err$np")
  rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  got=$(python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(','.join(map(str,j['generated_tokens'])))" \
        "$last" 2>/dev/null)
  if [ $rc -eq 0 ] && [ "$got" = "$expected" ]; then ok "np $np greedy tokens equal transformers"; else
    bad "np $np: rc $rc, got '$got', expected '$expected'"; cat "$tmp/err$np"; fi
done

# Logits dump: shape [prompt_len + N - 1, vocab] and equal to transformers' to 1e-4 relative.
if python3 - "$tmp/l4.npy" "$tmp/l1.npy" tests/fixtures/models/$fixture/reference_logits.npy <<'PY'
import math, struct, sys, ast
def load(p):
    d = open(p, "rb").read()
    assert d[:6] == b"\x93NUMPY", p
    n = struct.unpack("<H", d[8:10])[0]
    h = ast.literal_eval(d[10:10 + n].decode())
    assert h["descr"] == "<f4" and not h["fortran_order"], h
    cnt = 1
    for s in h["shape"]: cnt *= s
    return h["shape"], struct.unpack("<%df" % cnt, d[10 + n:10 + n + 4 * cnt])
(s4, a4), (s1, a1), (sr, ar) = (load(p) for p in sys.argv[1:4])
assert s4 == s1 == sr, (s4, s1, sr)
for a in (a4, a1):
    num = sum((x - y) ** 2 for x, y in zip(a, ar)); den = sum(y * y for y in ar)
    assert math.sqrt(num / den) <= 1e-4, math.sqrt(num / den)
PY
then ok "--dump-logits shape and values (np 1 and 4) match transformers"; else bad "--dump-logits"; fi

# --prefill-chunk: 0 (the default) is 512 prompt tokens a step on the cpu backend (4096 on cuda, not
# here); a chunk given is used (the summary line says which), the tokens the same either way.
for chunk in "" 0 5; do
  out=$(timeout 120 "$gen" --model tests/fixtures/models/$fixture --backend cpu --prompt-tokens "$prompt" \
        --max-new-tokens "$n_new" --temperature 0 ${chunk:+--prefill-chunk $chunk} 2>"$tmp/err_chunk")
  want=${chunk:-0}; [ "$want" = 0 ] && want=512
  got=$(python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(','.join(map(str,j['generated_tokens'])))" \
        "$(printf '%s\n' "$out" | tail -n 1)" 2>/dev/null)
  if grep -q "(chunks of $want) in" "$tmp/err_chunk" && [ "$got" = "$expected" ]; then
    ok "--prefill-chunk '${chunk}': chunks of $want, the same tokens"
  else
    bad "--prefill-chunk '${chunk}': wanted chunks of $want and $expected, got '$got'"; cat "$tmp/err_chunk"
  fi
done

# --help documents every flag and exits 0 once.
help=$("$gen" --help 2>&1); rc=$?
missing=""
for flag in --model --backend --comm --prompt-tokens --max-new-tokens --temperature --top-k --top-p --seed \
            --dump-logits --ignore-eos --block-size --kv-blocks --prefill-chunk --quiet --prompt --chat --system \
            --tokenizer --stop --dtype --no-graphs --version --prompt-file --prompt-tokens-file; do
  grep -q -- "$flag" <<<"$help" || missing="$missing $flag"
done
if [ $rc -eq 0 ] && [ -z "$missing" ]; then ok "--help documents every flag"; else bad "--help rc $rc missing:$missing"; fi
# --help-env (exit 0, no --model needed, as --help) names every GQA_* variable the library reads;
# --help points to it instead of burying the flags under them
env_help=$("$gen" --help-env 2>&1); rc=$?
missing=""
for name in $(grep -rhoE '"GQA_[A-Z0-9_]+"' kernels src parallel | tr -d '"' | sort -u); do
  grep -q -- "$name" <<<"$env_help" || missing="$missing $name"
done
if [ $rc -eq 0 ] && [ -z "$missing" ] && [ "$(grep -c 'GQA_' <<<"$env_help")" -gt 20 ]; then
  ok "--help-env names every GQA_* variable the sources read"
else bad "--help-env rc $rc missing:$missing"; fi
if grep -q -- "--help-env lists them" <<<"$help" && ! grep -q "GQA_PDL=0" <<<"$help"; then ok "--help points to --help-env"
else bad "--help and the environment variables"; fi
# --version: the project's version (CMakeLists.txt) and what the build holds, exit 0, at np 2 too
version=$(sed -nE 's/^project\(gqa VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
out=$(timeout 30 "${mpi[@]}" -np 2 "$gen" --version 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -n "$version" ] && grep -qE "^gqa-generate $version \(backends: cpu.*; communicators: single, mpi" <<<"$out" &&
   [ "$(grep -c '^gqa-generate ' <<<"$out")" -eq 1 ]; then ok "--version: $out"
else bad "--version (want $version): rc $rc, '$out'"; fi

# --- text in, text out ----------------------------------------------------------------------------
# (only in builds with the tokenizer: gqa-tokenize exists exactly then)
tokenize="$bin/gqa-tokenize"
if [ -x "$tokenize" ]; then
  json_field() { python3 -c "import json,sys; print(','.join(map(str, json.loads(sys.argv[1])[sys.argv[2]])))" "$1" "$2"; }
  out=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 12 -q)
  rc=$?
  want=$(printf 'Hello' | "$tokenize" --tokenizer tests/fixtures/models/gqa --add-special | tr ' ' ',')
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" prompt_tokens 2>/dev/null)
  text_lines=$(printf '%s\n' "$out" | head -n -1 | wc -c)
  if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ "$text_lines" -gt 1 ]; then ok "--prompt text: ids equal gqa-tokenize ($got), text streamed"
  else bad "--prompt: rc $rc, prompt ids '$got' vs '$want', text bytes $text_lines"; fi

  # --prompt-file: the file's bytes, as --prompt (for prompts past the 128 KiB a Linux argument holds)
  printf 'Hello' >"$tmp/prompt.txt"
  by_file=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt-file "$tmp/prompt.txt" \
            --max-new-tokens 12 -q)
  if [ $? -eq 0 ] && [ "$by_file" = "$out" ]; then ok "--prompt-file gives what --prompt gives (text and JSON)"
  else bad "--prompt-file: '$by_file' vs --prompt's '$out'"; fi

  # text that is not UTF-8 (Latin-1 here): read with U+FFFD, as HF's tokenizers get it after
  # bytes.decode("utf-8", "replace"), and said once (rank 0), under -q too; UTF-8 text says nothing
  printf 'caf\xe9' >"$tmp/latin1.txt"
  timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt-file "$tmp/latin1.txt" --chat \
    --system $'\xff' --max-new-tokens 1 -q >"$tmp/out" 2>"$tmp/err"
  rc=$?
  warned=$(grep -c "is not valid UTF-8: each ill-formed byte sequence in it is read as U+FFFD" "$tmp/err")
  if [ $rc -eq 0 ] && [ "$warned" -eq 2 ] && grep -q -- "--prompt-file $tmp/latin1.txt is not valid UTF-8" "$tmp/err" &&
     grep -q -- "--system is not valid UTF-8" "$tmp/err" &&
     ! grep -q "not valid UTF-8" <(timeout 60 "$gen" --model tests/fixtures/models/gqa --prompt "café" --max-new-tokens 1 2>&1); then
    ok "text that is not UTF-8 is read with U+FFFD and warned of once per flag"
  else bad "non-UTF-8 text: rc $rc, $warned warnings (want 2):"; sed 's/^/    /' "$tmp/err" | head -n 6; fi

  rendered=$'<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n'
  want=$(printf '%s' "$rendered" | "$tokenize" --tokenizer tests/fixtures/models/qwen2_bias | tr ' ' ',')
  out=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/qwen2_bias --prompt "What is the capital of France?" \
        --chat --system "Be brief." --max-new-tokens 4 -q)
  rc=$?
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" prompt_tokens 2>/dev/null)
  if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ]; then ok "--chat renders the ChatML template (ids equal the rendered text's)"
  else bad "--chat: rc $rc, ids '$got' vs '$want'"; fi

  # The same conversation through the GGUF copy of that vocabulary, whose template is tokenizer.chat_template.
  want=$(printf '%s' "$rendered" | "$tokenize" --tokenizer tests/fixtures/tokenizer/demo-chatml.gguf | tr ' ' ',')
  out=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/qwen2_bias --prompt "What is the capital of France?" \
        --chat --system "Be brief." --max-new-tokens 4 -q --tokenizer tests/fixtures/tokenizer/demo-chatml.gguf)
  rc=$?
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" prompt_tokens 2>/dev/null)
  if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ]; then ok "--chat with a .gguf tokenizer uses its tokenizer.chat_template"
  else bad "--chat with .gguf: rc $rc, ids '$got' vs '$want'"; fi

  # --system "" is a system turn with no text, as transformers renders [{"role": "system", "content": ""}]
  # (tests/fixtures/chat/expected.json, empty_contents), not a missing one: Qwen2's template would put
  # its default system prompt there.
  mkdir -p "$tmp/qwen2_chat"
  cp tests/fixtures/models/qwen2_bias/tokenizer.json tests/fixtures/chat/qwen2/tokenizer_config.json "$tmp/qwen2_chat/"
  printf '<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n' >"$tmp/empty_system"
  want=$("$tokenize" --tokenizer "$tmp/qwen2_chat" <"$tmp/empty_system" | tr ' ' ',')
  out=$(timeout 60 "$gen" --model tests/fixtures/models/qwen2_bias --tokenizer "$tmp/qwen2_chat" --prompt "Hi" --chat \
        --system "" --max-new-tokens 1 -q)
  rc=$?
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" prompt_tokens 2>/dev/null)
  if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ]; then ok "--chat --system \"\" renders an empty system turn (Qwen2: not its default one)"
  else bad "--chat --system \"\": rc $rc, ids '$got' vs '$want'"; fi

  # A model whose vocab_size pads the tokenizer's (as Qwen2's): its padding ids print no text, as
  # Hugging Face tokenizers decode them, instead of ending the run (greedy decoding picks them here).
  first=$(timeout 60 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 1 -q --ignore-eos |
          tail -n 1 | python3 -c "import json,sys; print(json.loads(sys.stdin.read())['generated_tokens'][0])")
  python3 tests/cli/make_bad_checkpoint.py tests/fixtures/models/gqa "$tmp/padded" "padded_vocab:$first" || bad "make padded_vocab"
  out=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model "$tmp/padded" --prompt "Hello" --max-new-tokens 4 -q --ignore-eos)
  rc=$?
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" generated_tokens 2>/dev/null)
  if [ $rc -eq 0 ] && [ -n "$got" ] && python3 -c "import sys; assert all(int(t) >= 512 for t in sys.argv[1].split(','))" "$got"
  then ok "--prompt with a padded vocabulary: padding ids ($got) print no text, the run ends normally"
  else bad "--prompt with a padded vocabulary: rc $rc, generated '$got'"; fi

  # --stop: a stop string taken from the greedy text itself cuts the output right before it.
  full=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 24 -q \
         --ignore-eos | head -n -1)
  stop=$(python3 -c "import sys,re; t=sys.argv[1]; m=re.search(r'[A-Za-z]{3}', t[3:]); print(m.group(0) if m else '')" "$full")
  if [ -n "$stop" ]; then
    cut=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 24 -q \
          --ignore-eos --stop "$stop" | head -n -1)
    expect=$(python3 -c "import sys; t=sys.argv[1]; print(t[:t.find(sys.argv[2])])" "$full" "$stop")
    if [ "$cut" = "$expect" ]; then ok "--stop '$stop' ends the text right before it"; else bad "--stop '$stop': got '$cut' want '$expect'"; fi
    # repeatable, one string a --stop: a second one that never occurs changes nothing, and a bare
    # word after a --stop (a forgotten --prompt) is refused, not taken as another stop string
    cut2=$(timeout 60 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 24 -q --ignore-eos \
           --stop "no such text" --stop "$stop" | head -n -1)
    if [ "$cut2" = "$expect" ]; then ok "two --stop: the one that occurs cuts"; else bad "two --stop: got '$cut2' want '$expect'"; fi
    rc=0
    timeout 60 "$gen" --model tests/fixtures/models/gqa --max-new-tokens 2 --stop "$stop" "Hello world" >/dev/null \
      2>"$tmp/stop.err" || rc=$?
    if [ $rc -eq 2 ] && grep -q "not expected: Hello world" "$tmp/stop.err"; then ok "--stop takes one string: a stray word is refused"
    else bad "--stop STR 'Hello world': exit $rc, $(cat "$tmp/stop.err")"; fi
  else
    bad "--stop: no 3-letter word in the greedy text to use as a stop string: '$full'"
  fi
  # A stop string that the text's end begins but never completes: the held-back end is printed when
  # the generation ends ('.' keeps the text's trailing newlines through $(...); the JSON line is cut).
  raw=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 24 -q \
        --ignore-eos; echo .)
  text=${raw%$'\n'\{*}
  tail_stop="${text: -2}"$'\u00a7'
  raw=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 24 -q \
        --ignore-eos --stop "$tail_stop"; echo .)
  if [ -n "$text" ] && [ "${raw%$'\n'\{*}" = "$text" ]; then ok "--stop that the text's end only begins: the end is printed"
  else bad "--stop '$tail_stop' (the text's last 2 characters and one more): got '${raw%$'\n'\{*}' want '$text'"; fi

  # --chat with a template that spells its BOS (Llama 3's) and a tokenizer whose post-processor adds
  # one (<|endoftext|>, id 0, here): the rendered text is encoded without the post-processor, as
  # transformers' apply_chat_template does, so no id 0 is added in front.
  mkdir -p "$tmp/bos_chat"
  cp tests/fixtures/chat/llama3/tokenizer_config.json "$tmp/bos_chat/"
  python3 - "$tmp/bos_chat" <<'PY'
import json, sys
t = json.load(open("tests/fixtures/models/qwen2_bias/tokenizer.json"))
t["post_processor"] = {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                  {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}
json.dump(t, open(sys.argv[1] + "/tokenizer.json", "w"))
PY
  rendered=$'<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'
  want=$(printf '%s' "$rendered" | "$tokenize" --tokenizer "$tmp/bos_chat" | tr ' ' ',')
  with_special=$(printf '%s' "$rendered" | "$tokenize" --tokenizer "$tmp/bos_chat" --add-special | tr ' ' ',')
  out=$(timeout 60 "$gen" --model tests/fixtures/models/qwen2_bias --tokenizer "$tmp/bos_chat" --prompt "Hi" --chat \
        --max-new-tokens 1 -q)
  rc=$?
  got=$(json_field "$(printf '%s\n' "$out" | tail -n 1)" prompt_tokens 2>/dev/null)
  if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && [ "$with_special" = "0,$want" ]
  then ok "--chat: the template's text alone, nothing added by the post-processor"
  else bad "--chat with a post-processor: rc $rc, ids '$got' vs '$want' (with it: '$with_special')"; fi

  # a text prompt that cannot run says how it could: no tokenizer in --model's folder (the ids
  # flag or --tokenizer), or a --tokenizer whose ids the model does not have (they do not match)
  for case in "mha|--prompt Hi|has no tokenizer.json (a text prompt needs a tokenizer: name one with --tokenizer, or give the prompt as token ids with --prompt-tokens)" \
              "gqa|--prompt Hello --tokenizer tests/fixtures/tokenizer/gpt-2.gguf|is outside the vocabulary [0, 512): the tokenizer --tokenizer tests/fixtures/tokenizer/gpt-2.gguf gave it, so it does not match this model"; do
    IFS='|' read -r model flags want <<<"$case"
    rc=0
    # shellcheck disable=SC2086  # (flags: words)
    timeout 60 "$gen" --model tests/fixtures/models/$model $flags --max-new-tokens 1 >/dev/null 2>"$tmp/hint.err" || rc=$?
    if [ $rc -eq 1 ] && grep -qF -- "$want" "$tmp/hint.err"; then ok "$model $flags: the error says how to run"
    else bad "$model $flags: exit $rc, $(cat "$tmp/hint.err")"; fi
  done
fi

# --- the stats line: the first token comes from the prefill, the rate is over the decode steps after it
timeout 60 "$gen" --model tests/fixtures/models/gqa --backend cpu --prompt-tokens 1,2,3 --max-new-tokens 5 --ignore-eos \
  >/dev/null 2>"$tmp/stats"
if grep -qE '^\[gqa\] prefill 3 tokens \(chunks of [0-9]+\) in [0-9.]+ s, giving the first token; then 4 more in [0-9.]+ s \([0-9.]+ tok/s\); stop: length$' "$tmp/stats"
then ok "stats line: the prefill's first token, then 4 more over 5 new tokens"
else bad "stats line: $(grep prefill "$tmp/stats")"; fi

# --- --prompt-tokens-file: ids separated by commas and/or white space (gqa-tokenize's output) ------
printf ' %s\n' "$prompt" | tr ',' ' ' | sed 's/ \([0-9]*\) / \1,\n/' >"$tmp/ids.txt"  # mixed separators
want=$(timeout 60 "$gen" --model tests/fixtures/models/gqa --backend cpu --prompt-tokens "$prompt" --max-new-tokens 3 -q | tail -n 1)
got=$(timeout 60 "$gen" --model tests/fixtures/models/gqa --backend cpu --prompt-tokens-file "$tmp/ids.txt" --max-new-tokens 3 -q | tail -n 1)
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok "--prompt-tokens-file ($(tr '\n' '|' <"$tmp/ids.txt")) gives what --prompt-tokens gives"
else bad "--prompt-tokens-file: '$got' vs '$want'"; fi

# --- bad input: non-zero on every rank, a message naming the problem, within seconds ----------
expect_job_failure() {  # name expected-text mpirun-args...: fails fast, one line naming the problem
  # (EXPECT_RC=N in the environment: that exit status too)
  local name=$1 text=$2; shift 2
  local t0=$SECONDS
  timeout 30 "${mpi[@]}" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? dt=$((SECONDS - t0))
  local count
  count=$(grep -c -- "$text" "$tmp/err")
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $dt -le 20 ] && [ "$count" -eq 1 ] &&
     { [ -z "${EXPECT_RC:-}" ] || [ "$rc" -eq "$EXPECT_RC" ]; }; then
    ok "$name -> rc $rc in ${dt}s: $(grep -m1 -- "$text" "$tmp/err")"
  else
    bad "$name: rc $rc after ${dt}s, $count matching lines (want 1), stderr:"; sed 's/^/    /' "$tmp/err" | head -n 8
  fi
}
expect_failure() {  # name np expected-text args...
  local name=$1 np=$2 text=$3; shift 3
  expect_job_failure "$name" "$text" -np "$np" "$gen" "$@"
}
good=tests/fixtures/models/mha
p=1,2,3
for mode in missing_safetensors truncated header_past_file overlap offset_past_end bad_dtype wrong_shape \
            bad_architecture bad_config_json nan_norm; do
  python3 tests/cli/make_bad_checkpoint.py $good "$tmp/$mode" $mode || bad "make $mode"
done
expect_failure "missing model dir" 2 "/nonexistent/model" --model /nonexistent/model --prompt-tokens $p
# a path the file system cannot resolve (a symlink loop; a folder the user may not enter is alike):
# gqa's own line naming it, not std::filesystem's "filesystem error: status: ... [path]"
ln -s "$tmp/loop_b" "$tmp/loop_a" && ln -s "$tmp/loop_a" "$tmp/loop_b"
expect_failure "model path in a symlink loop" 2 "gqa-generate: cannot access $tmp/loop_a: Too many levels of symbolic links" \
  --model "$tmp/loop_a" --prompt-tokens $p
expect_failure "missing safetensors" 2 "model.safetensors" --model "$tmp/missing_safetensors" --prompt-tokens $p
expect_failure "truncated safetensors" 2 "model.safetensors" --model "$tmp/truncated" --prompt-tokens $p
expect_failure "header length past the file" 2 "model.safetensors" --model "$tmp/header_past_file" --prompt-tokens $p
expect_failure "overlapping offsets" 2 "overlap in" --model "$tmp/overlap" --prompt-tokens $p
expect_failure "offsets past the file" 2 "run past the end" --model "$tmp/offset_past_end" --prompt-tokens $p
expect_failure "unsupported dtype" 2 "k_proj" --model "$tmp/bad_dtype" --prompt-tokens $p
expect_failure "tensor shape vs config" 2 "gate_proj" --model "$tmp/wrong_shape" --prompt-tokens $p
expect_failure "unsupported architecture" 2 "GPT2LMHeadModel" --model "$tmp/bad_architecture" --prompt-tokens $p
expect_failure "malformed config.json" 2 "config.json" --model "$tmp/bad_config_json" --prompt-tokens $p
# Found by fuzzing: bytes after the last tensor were ignored (a header length 4 short read every
# tensor 4 bytes early, exit 0), a FIFO for a file hung the run, a config.json key nested 10,000
# deep took 6 s and 3.4 GB.
cp -r $good "$tmp/trailing_bytes" && printf 'junk' >>"$tmp/trailing_bytes/model.safetensors"
expect_failure "bytes after the last tensor" 2 "last 4 bytes" --model "$tmp/trailing_bytes" --prompt-tokens $p
mkdir -p "$tmp/fifo" && cp $good/config.json "$tmp/fifo/" && mkfifo "$tmp/fifo/model.safetensors"
expect_failure "model.safetensors a FIFO (refused, not waited on)" 2 "is a FIFO" --model "$tmp/fifo" --prompt-tokens $p
expect_failure "--prompt-file missing" 2 "--prompt-file /nonexistent/prompt.txt does not exist" --model $good \
  --prompt-file /nonexistent/prompt.txt
mkfifo "$tmp/prompt_fifo"
expect_failure "--prompt-file a FIFO (refused, not waited on)" 2 "is a FIFO" --model $good --prompt-file "$tmp/prompt_fifo"
printf '1, 2,, 3' >"$tmp/bad_ids.txt"
expect_failure "--prompt-tokens-file with an empty item" 2 "an empty item before the comma at byte 5" --model $good \
  --prompt-tokens-file "$tmp/bad_ids.txt"
printf '1 x2 3' >"$tmp/bad_ids.txt"
expect_failure "--prompt-tokens-file with a non-id" 2 "'x2' is not a token id" --model $good --prompt-tokens-file "$tmp/bad_ids.txt"
# bytes that are not text quoted as \xNN: a NUL ended the message there, a byte-order mark or binary
# went to the terminal raw
printf '1,2\0' >"$tmp/bad_ids.txt"
expect_failure "--prompt-tokens-file with a NUL byte (the message whole)" 2 \
  "'2\\\\x00' is not a token id (expected ids" --model $good --prompt-tokens-file "$tmp/bad_ids.txt"
printf '\xef\xbb\xbf1 2' >"$tmp/bad_ids.txt"
expect_failure "--prompt-tokens-file with a byte-order mark (quoted as bytes)" 2 \
  "'\\\\xef\\\\xbb\\\\xbf1' is not a token id" --model $good --prompt-tokens-file "$tmp/bad_ids.txt"
# a comma ending the file's ids (found by mutation testing: without the check the ids before it ran)
printf '1, 2,\n' >"$tmp/bad_ids.txt"
expect_failure "--prompt-tokens-file ending in a comma" 2 "a comma ends the ids" --model $good \
  --prompt-tokens-file "$tmp/bad_ids.txt"
rc=0; "$gen" --model $good --prompt-file "$tmp/prompt.txt" --prompt-tokens 1 >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] && ok "--prompt-file with --prompt-tokens is a usage error (exit 2)" || bad "--prompt-file + --prompt-tokens: exit $rc"
cp -r $good "$tmp/deep_config"
python3 - "$tmp/deep_config/config.json" <<'PY'
import sys
text = open(sys.argv[1]).read().rstrip()
assert text.endswith("}")
open(sys.argv[1], "w").write(text[:-1] + ', "x": ' + '{"a": ' * 10000 + "1" + "}" * 10000 + "}")
PY
expect_failure "config.json nested 10,000 deep" 2 "nested more than 64 levels" --model "$tmp/deep_config" \
  --prompt-tokens $p
mkdir -p "$tmp/config_folder/config.json"
expect_failure "config.json a folder (named once, not config.json/config.json)" 2 \
  "model config $tmp/config_folder/config.json is a folder" --model "$tmp/config_folder" --prompt-tokens $p
cp -r $good "$tmp/many_layers"
python3 - "$tmp/many_layers/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["num_hidden_layers"] = 10**12; json.dump(c, open(sys.argv[1], "w"))
PY
expect_failure "num_hidden_layers 10^12 (refused by name, not std::bad_alloc)" 2 \
  "num_hidden_layers must be at most 65536" --model "$tmp/many_layers" --prompt-tokens $p
expect_failure "layout the ShardPlan refuses (2 KV heads on 3 ranks)" 3 "cannot shard" \
  --model tests/fixtures/models/gqa --prompt-tokens $p
expect_failure "prompt id outside the vocabulary (whose bound config.json gives)" 2 \
  "outside the vocabulary \[0, 512) (vocab_size in $good/config.json)" --model $good --prompt-tokens 1,512
EXPECT_RC=2 expect_failure "negative prompt id (a usage error: exit 2)" 2 "'-1' is not a token id" --model $good \
  --prompt-tokens 245,-1
# flags the cpu backend ignores: said once (rank 0), not refused
out=$(timeout 60 "${mpi[@]}" -np 2 "$gen" --model $good --prompt-tokens $p --max-new-tokens 1 -q --backend cpu --dtype f16 \
      --no-graphs 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c "warning: --dtype f16 has no effect on the cpu backend" <<<"$out")" -eq 1 ] &&
   [ "$(grep -c "warning: --no-graphs has no effect on the cpu backend" <<<"$out")" -eq 1 ]; then
  ok "--dtype f16 and --no-graphs with --backend cpu: one warning each"
else bad "--dtype / --no-graphs on cpu: rc $rc, '$out'"; fi
expect_failure "malformed --prompt-tokens" 2 "not a token id" --model $good --prompt-tokens 1,x
expect_failure "KV cache too small" 2 "KV cache of 1 block x 2 tokens cannot hold" --model $good --prompt-tokens $p \
  --kv-blocks 1 --block-size 2 --max-new-tokens 4
# a run past max_position_embeddings (64 in the gqa fixture) goes on with one warning, as
# transformers does (--max-new-tokens' help says so; a sliding window is refused instead, below)
long_ids=$(seq -s, 1 60)
rc=0
timeout 60 "$gen" --model tests/fixtures/models/gqa --prompt-tokens "$long_ids" --max-new-tokens 8 -q >/dev/null \
  2>"$tmp/past.err" || rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c "^gqa-generate: warning: .*runs 67 positions, past the model's max_position_embeddings (64); output quality may degrade" \
   "$tmp/past.err")" -eq 1 ]; then ok "past max_position_embeddings: one warning, the run goes on"
else bad "past max_position_embeddings: exit $rc, $(cat "$tmp/past.err")"; fi
# a cache past what its int32 slots index: the flags to lower named, before any weight is read
expect_failure "--kv-blocks 2e9 (past the slots a cache indexes)" 2 \
  "KV cache of 2000000000 blocks x 256 tokens: more than the 2147483647 slots a cache can index; lower --kv-blocks" \
  --model $good --prompt-tokens $p --kv-blocks 2000000000
if grep -q "loading" "$tmp/err"; then bad "--kv-blocks 2e9: refused only after loading: $(head -c 300 "$tmp/err")"
else ok "--kv-blocks 2e9: refused before loading"; fi
# ... and one exactly large enough: 3 prompt tokens + 4 new ones feed 6 positions (the last new
# token is never fed back), 3 blocks of 2.
if timeout 60 "$gen" --model $good --prompt-tokens $p --kv-blocks 3 --block-size 2 --max-new-tokens 4 -q >/dev/null \
   2>"$tmp/kv_exact"; then ok "KV cache of exactly the positions fed (6 in 3 blocks of 2) runs"
else bad "KV cache of exactly the positions fed: $(cat "$tmp/kv_exact")"; fi
expect_failure "--dump-logits into a missing folder (before generating)" 2 "does not exist" --model $good \
  --prompt-tokens $p --dump-logits /nonexistent/x.npy
expect_failure "--dump-logits naming a folder" 2 "is a folder" --model $good --prompt-tokens $p --dump-logits "$tmp"
expect_failure "negative --max-new-tokens" 2 "must be at least 0, got -1" --model $good --prompt-tokens $p --max-new-tokens -1
expect_failure "--block-size 0" 2 "must be at least 1, got 0" --model $good --prompt-tokens $p --block-size 0
expect_failure "negative --seed (not wrapped to 2^64 - 1)" 2 "not an unsigned integer" --model $good --prompt-tokens $p --seed -1
expect_failure "--temperature inf" 2 "finite number" --model $good --prompt-tokens $p --temperature inf
expect_failure "--temperature 1e39 (quoted as given, not as the inf a float makes of it)" 2 \
  "--temperature: '1e39' is past a float's range" --model $good --prompt-tokens $p --temperature 1e39
expect_failure "--top-p 1e309 (past a double's range too: not 'got inf')" 2 \
  "--top-p: '1e309' is past a float's range" --model $good --prompt-tokens $p --top-p 1e309
expect_failure "--top-p abc" 2 "--top-p: 'abc' is not a number" --model $good --prompt-tokens $p --top-p abc
expect_failure "a KV cache past the machine's memory (refused, not OOM-killed)" 2 "memory this process may use" --model $good \
  --prompt-tokens $p --block-size 1000000000
GQA_CPU_THREADS=abc expect_failure "a bad GQA_CPU_THREADS, on a short prompt too" 2 "GQA_CPU_THREADS=abc" --model $good \
  --prompt-tokens $p
expect_failure "--model naming a file" 2 "is a file" --model $good/config.json --prompt-tokens $p
expect_failure "--comm nccl with --backend cpu" 2 "needs --backend cuda" --model $good --prompt-tokens $p \
  --backend cpu --comm nccl
rc=0; "$gen" --model $good --prompt-tokens $p --backend cpu --comm nccl >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] && ok "--comm nccl with --backend cpu is a usage error (exit 2)" || bad "--comm nccl --backend cpu: exit $rc, want 2"
# --backend auto (the default) where it picks cpu (no device visible): not a flag error; the message
# says which backend the job got and why
CUDA_VISIBLE_DEVICES= EXPECT_RC=1 expect_failure "--comm nccl with --backend auto on cpu (exit 1)" 2 \
  "and this job runs on the cpu backend (--backend auto picks cpu where" --model $good --prompt-tokens $p --comm nccl
# NaN logits (a valid checkpoint whose final norm is NaN): every rank learns of it in step, so the
# job ends with one line and exit 1, not a line per rank and MPI_Abort; greedy (the ranks' slices),
# sampled, and drawn by rank 0 from the gathered rows (--dump-logits); at np 1 with an MPI
# communicator too (where an abort is MPI_Abort, not the single communicator's exit)
for args in "" "--comm mpi" "--temperature 0.7 --top-k 2000" "--dump-logits $tmp/nan.npy"; do
  for np in 1 2; do
    # shellcheck disable=SC2086  # (args: several flags)
    EXPECT_RC=1 expect_failure "NaN logits at np $np ${args:-greedy}: one line" $np "logits contain NaN" \
      --model "$tmp/nan_norm" --backend cpu --prompt-tokens $p --max-new-tokens 4 -q $args
    if grep -q "MPI_ABORT" "$tmp/err"; then bad "NaN logits at np $np ${args:-greedy}: the job was aborted"; fi
  done
done
# --backend cuda on a machine with no device visible: one text whichever communicator is asked for
# (with --comm nccl the device lookup happens in the communicator's setup), printed once at np 2
if ! CUDA_VISIBLE_DEVICES= "$gen" --model $good --prompt-tokens $p --backend cuda 2>&1 | grep -q "has no CUDA backend"; then
  for comm in auto nccl mpi; do
    for np in 1 2; do
      CUDA_VISIBLE_DEVICES= EXPECT_RC=1 expect_failure "--backend cuda --comm $comm at np $np with no device visible" $np \
        "--backend cuda: no CUDA device is visible on this machine" --model $good --prompt-tokens $p --backend cuda \
        --comm $comm
    done
  done
fi
if [ -x "$tokenize" ]; then
  # --system with a template that has no system turn (Mistral v0.1's): its own error (transformers'
  # words), exit 1, and what to do
  mkdir -p "$tmp/mistral_chat"
  cp tests/fixtures/models/gqa/tokenizer.json tests/fixtures/chat/mistral-v0.1/tokenizer_config.json "$tmp/mistral_chat/"
  EXPECT_RC=1 expect_job_failure "--system with Mistral v0.1's template (exit 1)" \
    "Conversation roles must alternate user/assistant/user/assistant/.*leave out --system" -np 2 "$gen" \
    --model tests/fixtures/models/gqa --tokenizer "$tmp/mistral_chat" --prompt "Hi" --chat --system "Be brief." -q
fi
expect_usage() {  # name expected-text args...: exit 2 (a usage error) at once, a line naming the problem
  local name=$1 text=$2; shift 2
  local rc=0 count
  timeout 30 "$gen" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  count=$(grep -c -- "$text" "$tmp/err")
  if [ $rc -eq 2 ] && [ "$count" -eq 1 ]; then ok "$name -> rc 2: $(grep -m1 -- "$text" "$tmp/err")"
  else bad "$name: rc $rc (want 2), $count matching lines (want 1), stderr:"; sed 's/^/    /' "$tmp/err" | head -n 4; fi
}
expect_usage "--top-k 010 (not octal 8)" "without a leading 0" --model $good --prompt-tokens $p --top-k 010
expect_usage "--top-k 0x10 (not hex 16)" "without a leading 0" --model $good --prompt-tokens $p --top-k 0x10
expect_usage "--top-k 2^64 (not clamped)" "must be at most" --model $good --prompt-tokens $p --top-k 18446744073709551616
expect_usage "--top-k -1" "must be at least 0, got -1" --model $good --prompt-tokens $p --top-k -1
# --prompt-tokens: an id past int32 is refused, not wrapped (2^32 would be token 0), and a trailing
# comma is an empty item, not ignored (both found by mutation testing)
expect_usage "--prompt-tokens 2^32 (not wrapped to 0)" "'4294967296' is too large for a token id (at most 2147483647)" \
  --model $good --prompt-tokens 1,4294967296
expect_usage "--prompt-tokens past int64 (too large, not 'not a token id')" \
  "'99999999999999999999' is too large for a token id" --model $good --prompt-tokens 99999999999999999999
expect_usage "--prompt-tokens with a trailing comma" "'' is not a token id" --model $good --prompt-tokens 1,2,
expect_usage "--prompt-tokens -0 (digits only, as -1)" "'-0' is not a token id" --model $good --prompt-tokens=-0,5
expect_usage "--prompt-tokens \"\"" "gqa-generate: --prompt-tokens is empty: give at least one id" --model $good \
  --prompt-tokens ""
# the argument parser's own messages begin with the tool's name too
expect_usage "--backend twice" "gqa-generate: --backend: given 2 times; give it once" --model $good \
  --prompt-tokens $p --backend cpu --backend cpu
expect_usage "--dump-logits \"\" (refused, not ignored)" "--dump-logits: needs a path" --model $good --prompt-tokens $p \
  --dump-logits ""
expect_usage "--tokenizer \"\" (refused, not the --model directory)" "--tokenizer: needs a path" --model $good \
  --prompt-tokens $p --tokenizer ""
expect_usage "--system \"\" without --chat (given, as --system x)" "--system needs --chat" --model $good \
  --prompt-tokens $p --system ""
if grep -q -- "--kv-blocks too small for prompt + --max-new-tokens" <<<"$help"; then
  ok "--help: exit 1 for a --kv-blocks too small for prompt + --max-new-tokens"
else bad "--help: the --kv-blocks exit-status wording"; fi
expect_failure "missing --model" 2 "--model" --prompt-tokens $p
expect_failure "no prompt" 2 "give the prompt" --model $good
expect_failure "--chat without --prompt" 2 "needs --prompt" --model $good --prompt-tokens $p --chat
if [ -x "$tokenize" ]; then
  expect_failure "--prompt without a tokenizer" 2 "tokenizer.json" --model $good --prompt "Hello"
  expect_failure "--chat without a tokenizer_config.json" 2 "tokenizer_config.json" --model tests/fixtures/models/gqa \
    --prompt "Hi" --chat --tokenizer tests/fixtures/tokenizer/bl-llama3.json
else
  expect_failure "--prompt in a build without the tokenizer" 2 "built without it" --model $good --prompt "Hello"
fi

# --- ranks started differently (an MPMD launch, nodes holding different copies): every rank stops,
# fast, and the rank that differs says so (before, some of these hung and one corrupted the heap)
expect_mpmd_failure() {  # name expected-text: rank 0 runs "${rank0[@]}", rank 1 "${rank1[@]}"
  expect_job_failure "$1" "$2" -np 1 "$gen" "${rank0[@]}" : -np 1 "$gen" "${rank1[@]}"
}
rank0=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q)
rank1=("${rank0[@]}" --bogus)
EXPECT_RC=2 expect_mpmd_failure "MPMD: an unknown flag on rank 1 only (exit 2)" "rank 1 stopped on its arguments"
# ... its own error on the next line (written with that line at once: no other rank's line between)
if grep -A1 "rank 1 stopped on its arguments" "$tmp/err" | tail -n 1 | grep -q "^gqa-generate: .*--bogus"; then
  ok "MPMD: rank 1's error right under its line"
else bad "MPMD: rank 1's error not under its line: $(head -c 400 "$tmp/err")"; fi
rank1=("${rank0[@]}" --help)
EXPECT_RC=2 expect_mpmd_failure "MPMD: --help on rank 1 only (exit 2)" "rank 1 stopped on its arguments"
rank1=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 5 -q)
EXPECT_RC=2 expect_mpmd_failure "MPMD: another --max-new-tokens on rank 1 (exit 2)" \
  "rank 1: its arguments differ from rank 0's in --max-new-tokens ("
rank1=(--model tests/fixtures/models/gqa --prompt-tokens 1,2 --max-new-tokens 4 -q)
EXPECT_RC=2 expect_mpmd_failure "MPMD: another prompt length on rank 1 (exit 2)" \
  "rank 1: its arguments differ from rank 0's in --prompt-tokens ("
rank1=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q --seed 7 --temperature 0.5)
rank0=("${rank0[@]}" --temperature 0.5)
EXPECT_RC=2 expect_mpmd_failure "MPMD: another --seed on rank 1 (exit 2)" "rank 1: its arguments differ from rank 0's in --seed ("
# another --top-k picks another sampling path at T > 1 (candidates or slices), whose collectives
# would not match (found by mutation testing: leaving --top-k out of the compared flags passed)
rank1=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q --temperature 0.5 --top-k 0)
rank0=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q --temperature 0.5 --top-k 5)
EXPECT_RC=2 expect_mpmd_failure "MPMD: another --top-k on rank 1 (exit 2)" "rank 1: its arguments differ from rank 0's in --top-k ("
rank0=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q)
# a node's other copy of a prompt file: named as the file's contents, exit 1 (a file, not the flags);
# one rank's prompt file missing: exit 1 from every rank, whichever mpirun hears first (it was 1 or 2)
printf '1,2,3' >"$tmp/prompt_a"
printf '1,2,4' >"$tmp/prompt_b"
rank0=(--model tests/fixtures/models/gqa --prompt-tokens-file "$tmp/prompt_a" --max-new-tokens 4 -q)
rank1=(--model tests/fixtures/models/gqa --prompt-tokens-file "$tmp/prompt_b" --max-new-tokens 4 -q)
EXPECT_RC=1 expect_mpmd_failure "MPMD: another copy of the prompt file on rank 1 (exit 1)" \
  "rank 1: the prompt its --prompt-tokens-file $tmp/prompt_b holds differs from rank 0's"
rcs=""
with_file=(--model tests/fixtures/models/gqa --prompt-tokens-file "$tmp/prompt_a" --max-new-tokens 4 -q)
without=(--model tests/fixtures/models/gqa --prompt-tokens-file "$tmp/prompt_missing" --max-new-tokens 4 -q)
for i in 1 2 3 4; do  # rank 1's file missing, then rank 0's
  timeout 30 "${mpi[@]}" -np 1 "$gen" "${with_file[@]}" : -np 1 "$gen" "${without[@]}" >/dev/null 2>&1
  rcs="$rcs$?"
  timeout 30 "${mpi[@]}" -np 1 "$gen" "${without[@]}" : -np 1 "$gen" "${with_file[@]}" >/dev/null 2>&1
  rcs="$rcs$?"
done
if [ "$rcs" = 11111111 ]; then ok "MPMD: one rank's prompt file missing: exit 1 every time"
else bad "MPMD: one rank's prompt file missing: exit statuses $rcs (want 1 each time)"; fi
# a flag error on rank 0 and a missing file on rank 1: the flag error's 2 (the ranks agree on one status)
rank0=(--model tests/fixtures/models/gqa --prompt-tokens-file "$tmp/prompt_a" --max-new-tokens 4 -q --bogus)
rank1=("${without[@]}")
EXPECT_RC=2 expect_mpmd_failure "MPMD: a flag error on rank 0, a missing prompt file on rank 1 (exit 2)" "--bogus"
if [ -x "$tokenize" ]; then
  # a text prompt: another copy of a --prompt-file named as its contents (exit 1), and another
  # tokenizer.json (the same text, other ids) as the prompt tokens (exit 1)
  printf 'Hello there' >"$tmp/text_a"
  printf 'Hello where' >"$tmp/text_b"
  rank0=(--model tests/fixtures/models/gqa --prompt-file "$tmp/text_a" --max-new-tokens 4 -q)
  rank1=(--model tests/fixtures/models/gqa --prompt-file "$tmp/text_b" --max-new-tokens 4 -q)
  EXPECT_RC=1 expect_mpmd_failure "MPMD: another copy of the --prompt-file (text) on rank 1 (exit 1)" \
    "rank 1: the prompt its --prompt-file $tmp/text_b holds differs from rank 0's"
  cp -r tests/fixtures/models/gqa "$tmp/gqa_other_tokenizer"
  python3 - "$tmp/gqa_other_tokenizer/tokenizer.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
swap = {"type": "Replace", "pattern": {"String": "H"}, "content": "J"}  # "Hello" reads "Jello"
t["normalizer"] = swap if t.get("normalizer") is None else {"type": "Sequence", "normalizers": [t["normalizer"], swap]}
json.dump(t, open(sys.argv[1], "w"))
PY
  rank0=(--model tests/fixtures/models/gqa --prompt "Hello" --max-new-tokens 4 -q)
  rank1=(--model "$tmp/gqa_other_tokenizer" --prompt "Hello" --max-new-tokens 4 -q)
  EXPECT_RC=1 expect_mpmd_failure "MPMD: another tokenizer.json on rank 1 (exit 1)" \
    "rank 1: differs from rank 0 in its prompt tokens"
fi
rank0=(--model tests/fixtures/models/gqa --prompt-tokens $p --max-new-tokens 4 -q)
# a rank on another backend (--backend auto on a node whose GPU is missing or broken) is named as such
saved=("${rank0[@]}")
rank0=("${saved[@]}" --backend cpu)
rank1=("${saved[@]}" --backend cuda)
EXPECT_RC=2 expect_mpmd_failure "MPMD: another backend on rank 1 (exit 2)" \
  "rank 1: --backend cuda gives the cuda backend here but the cpu backend on rank 0"
rank0=("${saved[@]}")
cp -r tests/fixtures/models/gqa "$tmp/gqa_theta"
python3 - "$tmp/gqa_theta/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["rms_norm_eps"] = 10 * c["rms_norm_eps"]; json.dump(c, open(sys.argv[1], "w"))
PY
rank1=(--model "$tmp/gqa_theta" --prompt-tokens $p --max-new-tokens 4 -q)
expect_mpmd_failure "MPMD: another config.json on rank 1" "rank 1: differs from rank 0 in its config.json ("
# the same config with other weights (another model or revision): the sampled bytes of a tensor differ
cp -r tests/fixtures/models/gqa "$tmp/gqa_other_weights"
python3 - "$tmp/gqa_other_weights/model.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
name = sorted(k for k in header if k.endswith("down_proj.weight"))[0]
begin = 8 + n + header[name]["data_offsets"][0]
assert header[name]["dtype"] == "F32", header[name]["dtype"]
v = struct.unpack("<f", data[begin:begin + 4])[0]
data[begin:begin + 4] = struct.pack("<f", 3 * v + 0.5)  # a finite value, another one
open(path, "wb").write(bytes(data))
PY
rank1=(--model "$tmp/gqa_other_weights" --prompt-tokens $p --max-new-tokens 4 -q)
expect_mpmd_failure "MPMD: other weights, same config.json, on rank 1" \
  "rank 1: differs from rank 0 in its checkpoint tensors (names, shapes, dtypes or their sampled bytes); the first that differs, by name: model.layers.0.mlp.down_proj.weight ("
rank1=(--model "$tmp/gqa_theta" --prompt-tokens $p --max-new-tokens 4 -q)
# (whitespace, key order, the spelling of a number and transformers_version do not count)
python3 - tests/fixtures/models/gqa/config.json "$tmp/gqa_theta/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c = dict(reversed(list(c.items())))
c["transformers_version"] = "0.0.1"
text = json.dumps(c, indent=3)
# 1e-05 written 0.00001, and a float that is a whole number written as an integer
text = text.replace('"rms_norm_eps": 1e-05', '"rms_norm_eps": 0.00001').replace('"rope_theta": 10000.0', '"rope_theta": 10000')
assert "0.00001" in text and '"rope_theta": 10000,' in text or '"rope_theta": 10000\n' in text, text
open(sys.argv[2], "w").write(text)
PY
out=$(timeout 30 "${mpi[@]}" -np 1 "$gen" "${rank0[@]}" : -np 1 "$gen" "${rank1[@]}" 2>"$tmp/err")
if [ $? -eq 0 ]; then ok "MPMD: a reformatted copy of config.json on rank 1 runs"; else bad "MPMD reformatted config:"; cat "$tmp/err"; fi

# --- generation_config.json's eos_token_id ends a token-id prompt's generation too (transformers'
# generate stops there; Llama-3-Instruct lists <|eot_id|> only there). 1,2,3 greedy: 181,244,401,144.
cp -r tests/fixtures/models/gqa "$tmp/gqa_gen_eos"
printf '{"bos_token_id": 1, "eos_token_id": [2, 244]}' >"$tmp/gqa_gen_eos/generation_config.json"
out=$(timeout 60 "$gen" --model "$tmp/gqa_gen_eos" --backend cpu --prompt-tokens $p --max-new-tokens 4 2>"$tmp/err_eos" |
      tail -n 1)
if [ "$out" = '{"prompt_tokens":[1,2,3],"generated_tokens":[181,244]}' ] && grep -q "stop: eos" "$tmp/err_eos"; then
  ok "generation_config.json's eos_token_id stops a token-id prompt"
else bad "generation_config.json's eos: '$out', $(tail -n 1 "$tmp/err_eos")"; fi
out=$(timeout 60 "$gen" --model "$tmp/gqa_gen_eos" --backend cpu --prompt-tokens $p --max-new-tokens 4 -q --ignore-eos |
      tail -n 1)
if [ "$out" = '{"prompt_tokens":[1,2,3],"generated_tokens":[181,244,401,144]}' ]; then
  ok "--ignore-eos goes past generation_config.json's eos"
else bad "--ignore-eos with generation_config.json's eos: '$out'"; fi
printf '{"eos_token_id": "x"}' >"$tmp/gqa_gen_eos/generation_config.json"
expect_failure "generation_config.json: a bad eos_token_id" 2 \
  'generation_config.json: eos_token_id = "x" is not a token id (an integer from 0 to' \
  --model "$tmp/gqa_gen_eos" --backend cpu --prompt-tokens $p
printf '{"eos_token_id": 99999999999}' >"$tmp/gqa_gen_eos/generation_config.json"
expect_failure "generation_config.json: an eos_token_id past the vocabulary" 2 "eos_token_id = 99999999999 is not" \
  --model "$tmp/gqa_gen_eos" --backend cpu --prompt-tokens $p
printf '{"top_p": NaN}' >"$tmp/gqa_gen_eos/generation_config.json"  # (Python's json writes NaN)
if timeout 60 "$gen" --model "$tmp/gqa_gen_eos" --backend cpu --prompt-tokens $p --max-new-tokens 2 -q --ignore-eos \
   >/dev/null 2>"$tmp/err_eos"; then ok "--ignore-eos does not read generation_config.json"
else bad "--ignore-eos read generation_config.json: $(cat "$tmp/err_eos")"; fi

# --- sliding_window (Mistral v0.1): below the window full attention is the same, so a run within it
# gives the fixture's tokens; one that would pass it is refused before anything loads
cp -r tests/fixtures/models/gqa "$tmp/gqa_window"
python3 - "$tmp/gqa_window/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["sliding_window"] = 8
c["architectures"] = ["MistralForCausalLM"]; c["model_type"] = "mistral"  # (Llama has no sliding window)
json.dump(c, open(sys.argv[1], "w"))
PY
# (3 prompt positions, then 5 of the 6 generated tokens fed back: positions 0-7, the last below 8)
full=$(timeout 60 "$gen" --model tests/fixtures/models/gqa --backend cpu --prompt-tokens $p --max-new-tokens 6 -q 2>&1 | tail -n 1)
windowed=$(timeout 60 "$gen" --model "$tmp/gqa_window" --backend cpu --prompt-tokens $p --max-new-tokens 6 -q 2>&1 | tail -n 1)
if [ -n "$full" ] && [ "$windowed" = "$full" ]; then ok "sliding_window 8: 3 + 6 tokens (positions 0-7) run as with full attention"
else bad "sliding_window 8 within the window: '$windowed', full attention: '$full'"; fi
expect_failure "sliding_window 8: 3 + 7 tokens (positions 0-8)" 2 \
  "with --max-new-tokens 7 reaches position 8, past this model's sliding window (sliding_window 8" \
  --model "$tmp/gqa_window" --backend cpu --prompt-tokens $p --max-new-tokens 7
expect_failure "sliding_window 8: a 9-token prompt" 2 "(9 tokens) with --max-new-tokens 0 reaches position 8" \
  --model "$tmp/gqa_window" --backend cpu --prompt-tokens 1,2,3,4,5,6,7,8,9 --max-new-tokens 0

tally "generate cli"
