#!/usr/bin/env bash
# Encode speed, gqa vs Hugging Face tokenizers (single thread), on the same ~10 MB text in one run:
# the fixture corpus repeated, encoded as one string ("whole") and line by line ("lines").
#   launch/tokenizer-bench.sh [BUILD_DIR] [TOKENIZER]   (defaults: build, the Llama-2 vocabulary; MB=10)
# Prints one JSON line per implementation and mode, then a summary; fails when the token counts differ.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tokenizer=${2:-tests/fixtures/tokenizer/llama-spm.gguf}
text=$(mktemp /tmp/gqa-tokenizer-bench.XXXXXX)
trap 'rm -f "$text"' EXIT
python3 tests/fixtures/tokenizer/bench_hf.py --write-text "$text" --mb "${MB:-10}"
status=0
for mode in whole lines; do
  gflag=(); hflag=()
  if [ "$mode" = lines ]; then gflag=(--bench-lines); hflag=(--lines); fi
  gqa=$("$build/bin/gqa-tokenize" --tokenizer "$tokenizer" --bench "$text" "${gflag[@]}")
  hf=$(TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 python3 tests/fixtures/tokenizer/bench_hf.py \
    --tokenizer "$tokenizer" --text "$text" "${hflag[@]}")
  echo "$gqa"
  echo "$hf"
  python3 - "$gqa" "$hf" <<'PY' || status=1
import json, sys
g, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"encode {g['bytes'] / 1e6:.1f} MB ({g['mode']}): gqa {g['mb_per_s']:.2f} MB/s, HF tokenizers "
      f"{h['mb_per_s']:.2f} MB/s (x{g['mb_per_s'] / h['mb_per_s']:.2f}); tokens gqa {g['tokens']}, HF {h['tokens']}")
sys.exit(0 if g["tokens"] == h["tokens"] else 1)
PY
done
exit $status
