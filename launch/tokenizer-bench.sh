#!/usr/bin/env bash
# Encode speed, gqa vs Hugging Face tokenizers (single thread), on the same ~10 MB text in one run:
# the fixture corpus repeated, encoded as one string ("whole") and line by line ("lines").
#   launch/tokenizer-bench.sh [BUILD_DIR] [TOKENIZER]   (defaults: build, the Llama-2 vocabulary; MB=10)
# Prints one JSON line per implementation and mode, then a summary; fails when the token counts differ.
# HF's side needs the Python packages tokenizers (a tokenizer.json) or transformers, tokenizers, gguf
# and torch (a .gguf: transformers converts it, and its GGUF reader needs gguf and torch). Without
# them gqa's own lines still print, with a line saying what to install, and the status is 1 (no
# comparison was made).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tokenizer=${2:-tests/fixtures/tokenizer/llama-spm.gguf}
tokenize="$build/bin/gqa-tokenize"
[ -x "$tokenize" ] || { echo "tokenizer-bench: no $tokenize (build it: cmake --build $build --target gqa-tokenize)" >&2; exit 1; }
# Checked up front, so a missing package is one line naming it, not a Python traceback mid-run.
modules=(tokenizers)
case "$tokenizer" in *.gguf) modules=(transformers tokenizers gguf torch) ;; esac
missing=$(python3 - "${modules[@]}" <<'PY'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
PY
)
if [ -n "$missing" ]; then
  echo "tokenizer-bench: the HF tokenizers side needs the Python package(s) $missing (pip install $missing);" \
       "measuring gqa alone" >&2
fi
text=$(mktemp /tmp/gqa-tokenizer-bench.XXXXXX)
trap 'rm -f "$text"' EXIT
python3 tests/fixtures/tokenizer/bench_hf.py --write-text "$text" --mb "${MB:-10}"  # (json only: no packages)
status=0
for mode in whole lines; do
  gflag=(); hflag=()
  if [ "$mode" = lines ]; then gflag=(--bench-lines); hflag=(--lines); fi
  gqa=$("$tokenize" --tokenizer "$tokenizer" --bench "$text" "${gflag[@]}")
  echo "$gqa"
  if [ -n "$missing" ]; then
    status=1
    continue
  fi
  hf=$(TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 python3 tests/fixtures/tokenizer/bench_hf.py \
    --tokenizer "$tokenizer" --text "$text" "${hflag[@]}")
  echo "$hf"
  python3 - "$gqa" "$hf" <<'PY' || status=1
import json, sys
g, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"encode {g['bytes'] / 1e6:.1f} MB ({g['mode']}): gqa {g['mb_per_s']:.2f} MB/s, HF tokenizers "
      f"{h['mb_per_s']:.2f} MB/s (x{g['mb_per_s'] / h['mb_per_s']:.2f}); tokens gqa {g['tokens']}, HF {h['tokens']}")
sys.exit(0 if g["tokens"] == h["tokens"] else 1)
PY
done
if [ -n "$missing" ]; then
  echo "tokenizer-bench: no HF comparison (pip install $missing, then run it again)" >&2
fi
exit $status
