#!/usr/bin/env bash
# The 8B peer's compiled greedy loop against generate() on a tiny model (hf_peer_loop_check.py);
# skipped (exit 77) without torch and transformers.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 "$here/hf_peer_loop_check.py"
