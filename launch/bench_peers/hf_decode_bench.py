#!/usr/bin/env python3
"""The Llama-3-8B-shaped decode comparison of gqa-bench --model-8b, python side.

  write --dir D [--layers N] [--seed S] [--prompt-len P]
      Random bf16 weights of Llama-3-8B's shape (hidden 4096, 32 q / 8 kv heads, head_dim 128,
      FFN 14336, vocab 128256, N of its 32 layers) as a Hugging Face checkpoint in D: config.json,
      safetensors shards + model.safetensors.index.json, and prompt.json (P random token ids).
      Matrices uniform in +-1/sqrt(fan_in), embeddings in +-1, norm weights 1; seeded, generated
      on the GPU when there is one. gqa loads D through its normal checkpoint path.
  bench --dir D --prompt-file F [--new-tokens N]
      HF transformers LlamaForCausalLM on D (bf16, SDPA attention, static KV cache), greedy, the
      prompt of F then N new tokens at batch 1, eager and with torch.compile of the forward
      ("reduce-overhead": CUDA graphs). Decode tokens/s = (N - 1) / (time of the last generated
      token - time of the first), read by a streamer as generate() hands each token over (it
      copies each token to the host, so the times are synchronised with the GPU).

Each prints progress, then one line "GQA_BENCH_JSON {...}" that gqa-bench reads; a missing torch
or transformers gives {"status": "skipped", "reason": ...}.
"""
import argparse
import json
import os
import signal
import sys
import time

RESULT_PREFIX = "GQA_BENCH_JSON "
SHAPE = dict(hidden=4096, heads=32, kv_heads=8, head_dim=128, ffn=14336, vocab=128256)


def emit(obj):
    print(RESULT_PREFIX + json.dumps(obj), flush=True)


def config_json(layers):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": SHAPE["hidden"], "intermediate_size": SHAPE["ffn"], "num_hidden_layers": layers,
        "num_attention_heads": SHAPE["heads"], "num_key_value_heads": SHAPE["kv_heads"],
        "head_dim": SHAPE["head_dim"], "vocab_size": SHAPE["vocab"], "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "max_position_embeddings": 131072,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
        "hidden_act": "silu", "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
        "bos_token_id": 128000, "eos_token_id": 128001, "torch_dtype": "bfloat16",
    }


def layer_shapes(i):
    d, hd, f = SHAPE["hidden"], SHAPE["head_dim"], SHAPE["ffn"]
    p = f"model.layers.{i}."
    return [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (SHAPE["heads"] * hd, d)),
            (p + "self_attn.k_proj.weight", (SHAPE["kv_heads"] * hd, d)),
            (p + "self_attn.v_proj.weight", (SHAPE["kv_heads"] * hd, d)),
            (p + "self_attn.o_proj.weight", (d, SHAPE["heads"] * hd)),
            (p + "post_attention_layernorm.weight", (d,)), (p + "mlp.gate_proj.weight", (f, d)),
            (p + "mlp.up_proj.weight", (f, d)), (p + "mlp.down_proj.weight", (d, f))]


def random_tensor(torch, gen, shape, name, device):
    if len(shape) == 1:  # norm weights
        return torch.ones(shape, dtype=torch.bfloat16)
    scale = 1.0 if "embed_tokens" in name else shape[1] ** -0.5
    t = torch.rand(shape, generator=gen, device=device, dtype=torch.float32).mul_(2).sub_(1).mul_(scale)
    return t.to(torch.bfloat16).cpu()


def write(args):
    import torch
    from safetensors.torch import save_file
    os.makedirs(args.dir, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    d, vocab = SHAPE["hidden"], SHAPE["vocab"]
    groups = [[("model.embed_tokens.weight", (vocab, d))]]
    groups += [sum((layer_shapes(i) for i in range(g, min(g + 4, args.layers))), []) for g in range(0, args.layers, 4)]
    groups += [[("model.norm.weight", (d,)), ("lm_head.weight", (vocab, d))]]
    weight_map, total = {}, 0
    for n, group in enumerate(groups):
        fname = f"model-{n + 1:05d}-of-{len(groups):05d}.safetensors"
        tensors = {name: random_tensor(torch, gen, shape, name, device) for name, shape in group}
        save_file(tensors, os.path.join(args.dir, fname), metadata={"format": "pt"})
        for name, t in tensors.items():
            weight_map[name] = fname
            total += t.numel() * 2
        print(f"wrote {fname} ({len(tensors)} tensors)", flush=True)
    with open(os.path.join(args.dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    with open(os.path.join(args.dir, "config.json"), "w") as f:
        json.dump(config_json(args.layers), f, indent=1)
    prompt = torch.randint(0, vocab, (args.prompt_len,), generator=torch.Generator().manual_seed(args.seed))
    with open(os.path.join(args.dir, "prompt.json"), "w") as f:
        json.dump({"prompt": prompt.tolist()}, f)
    what = (f"Llama-3-8B shape with {args.layers} of 32 layers, {total / 1e9:.1f} GB bf16, "
            f"{args.prompt_len}-token random prompt")
    emit({"status": "ok", "what": what})


class TimingStreamer:
    """generate() calls put() with the prompt, then with each new token (copied to the host)."""

    def __init__(self):
        self.times = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


def load_model(torch, transformers, path):
    major = int(transformers.__version__.split(".")[0])
    dtype_kw = "dtype" if major >= 5 else "torch_dtype"  # transformers 4 spells it torch_dtype
    model = transformers.LlamaForCausalLM.from_pretrained(path, attn_implementation="sdpa",
                                                          **{dtype_kw: torch.bfloat16})
    return model.to("cuda").eval()


def generate_once(torch, model, prompt, new_tokens):
    gc = model.generation_config
    gc.cache_implementation = "static"
    gc.do_sample = False
    gc.max_new_tokens = new_tokens
    gc.min_new_tokens = new_tokens
    gc.pad_token_id = 0
    gc.disable_compile = True  # our own torch.compile below, or none: never generate()'s automatic one
    streamer = TimingStreamer()
    with torch.inference_mode():
        out = model.generate(prompt, generation_config=gc, streamer=streamer)
    torch.cuda.synchronize()
    tokens = out[0, prompt.shape[1]:].tolist()
    dt = streamer.times[-1] - streamer.times[1]  # first generated token -> last
    return (len(tokens) - 1) / dt, tokens


class Timeout(Exception):
    pass


def run_mode(torch, model, prompt, args, compiled, limit_s):
    """A warm-up generation (at the timed length when compiled: it compiles for the static cache's
    shape and captures the CUDA graphs), then the timed one."""
    def on_alarm(signum, frame):
        raise Timeout(f"gave up after {limit_s:.0f} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(limit_s)))
    try:
        if compiled:
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        generate_once(torch, model, prompt, args.new_tokens if compiled else min(args.new_tokens, 32))
        tps, tokens = generate_once(torch, model, prompt, args.new_tokens)
        return {"tokens_per_s": tps, "tokens": tokens}
    except Exception as e:  # noqa: BLE001 - report any failure of this mode, keep the other
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
    finally:
        signal.alarm(0)


def bench(args):
    import torch
    import transformers
    if not torch.cuda.is_available():
        emit({"status": "skipped", "reason": "torch sees no CUDA device"})
        return
    t0 = time.monotonic()
    with open(args.prompt_file) as f:
        ids = json.load(f)["prompt"]
    model = load_model(torch, transformers, args.dir)
    prompt = torch.tensor([ids], device="cuda")
    print(f"loaded {args.dir} in {time.monotonic() - t0:.1f} s", flush=True)
    modes = []
    for name, compiled in (("eager, static cache", False), ("torch.compile reduce-overhead, static cache", True)):
        left = args.time_budget - (time.monotonic() - t0)
        if left < 10:
            modes.append({"mode": name, "error": "skipped: time budget"})
            continue
        result = run_mode(torch, model, prompt, args, compiled, left)
        result["mode"] = name
        print(f"{name}: {result.get('tokens_per_s', result.get('error'))}", flush=True)
        modes.append(result)
    how = (f"transformers {transformers.__version__}, torch {torch.__version__}, SDPA attention, bf16, greedy; "
           f"tokens/s from a streamer's timestamps of the first and last of {args.new_tokens} generated tokens, "
           "after a warm-up generation")
    emit({"status": "ok", "how": how, "modes": modes})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--dir", required=True)
    w.add_argument("--layers", type=int, default=32)
    w.add_argument("--seed", type=int, default=1234)
    w.add_argument("--prompt-len", type=int, default=1024)
    b = sub.add_parser("bench")
    b.add_argument("--dir", required=True)
    b.add_argument("--prompt-file", required=True)
    b.add_argument("--new-tokens", type=int, default=512)
    b.add_argument("--time-budget", type=float, default=300)
    args = p.parse_args()
    try:
        import torch  # noqa: F401
        if args.cmd == "bench":
            import transformers  # noqa: F401
    except Exception as e:  # noqa: BLE001
        emit({"status": "skipped", "reason": f"not importable: {e}"})
        return 0
    write(args) if args.cmd == "write" else bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
