#!/usr/bin/env python3
"""The 8B peer's own compiled greedy loop (launch/bench_peers/hf_decode_bench.py: OwnLoop) on a tiny
random Llama on the CPU: the same tokens as generate()'s eager greedy decoding, twice in a row (the
second run resets and reuses the static cache the compiled step was traced with). Exit 77 (ctest:
skipped) where torch or transformers is not importable (CI installs neither)."""
import importlib.util
import os
import sys

try:
    import torch
    import transformers
except Exception as e:  # noqa: BLE001
    print(f"skipped: torch / transformers not importable ({e})")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "hf_decode_bench", os.path.join(here, "..", "..", "launch", "bench_peers", "hf_decode_bench.py"))
hf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hf)

cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, vocab_size=100, max_position_embeddings=256)
torch.manual_seed(0)
model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
prompt = torch.randint(0, 100, (1, 8))
new_tokens = 6

_, want = hf.generate_once(torch, model, prompt, new_tokens)  # generate(), eager, static cache

loop = hf.OwnLoop(torch, model)
for run in (1, 2):
    tps, got = loop.generate_once(prompt, new_tokens)
    if got != want:
        print(f"FAILED: run {run}: own loop {got}, generate() {want}")
        sys.exit(1)
    if not tps > 0:
        print(f"FAILED: run {run}: tokens/s {tps}")
        sys.exit(1)
print(f"ok: {want} in both runs")
