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
      prompt of F then N new tokens at batch 1, eager and with generate()'s own torch.compile of
      the decode forward (CompileConfig "reduce-overhead": CUDA graphs); where that fails, with a
      greedy loop of our own around torch.compile(model.forward, mode="reduce-overhead") (the
      static cache reused, torch.compiler.cudagraph_mark_step_begin() before each step, each
      step's token taken from the logits before the next replay). Decode tokens/s = (N - 1) /
      (time of the last generated token - time of the first), read as each token reaches the host
      (a streamer under generate(); the loop's own copy), so the times are synchronised with the GPU.

Each prints progress, then one line "GQA_BENCH_JSON {...}" that gqa-bench reads; a missing torch
or transformers gives {"status": "skipped", "reason": ...}.

Smoke test without a GPU: GQA_PEER_DEVICE=cpu generates the weights and runs HF on the CPU (slow,
the numbers mean nothing; 1 layer is about 2.5 GB; the compiled mode compiles with inductor for
the CPU, about 2 minutes on 2 cores), e.g.
  GQA_PEER_DEVICE=cpu python3 hf_decode_bench.py write --dir /tmp/x --layers 1 --prompt-len 8
  GQA_PEER_DEVICE=cpu python3 hf_decode_bench.py bench --dir /tmp/x --prompt-file /tmp/x/prompt.json --new-tokens 4
Unset (the default, and what gqa-bench runs) it is "cuda": the GPU when there is one.
"""
import argparse
import json
import math
import os
import signal
import sys
import time

STARTED = time.monotonic()  # --time-budget counts from here: gqa-bench's timeout includes the imports

RESULT_PREFIX = "GQA_BENCH_JSON "
DEVICE = os.environ.get("GQA_PEER_DEVICE", "cuda")  # "cpu": smoke test only, see above
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


def shard_plan(layers):
    """[(file name, [(tensor name, shape)])]: embeddings, then 4 layers a shard, then norm + lm_head."""
    d, vocab = SHAPE["hidden"], SHAPE["vocab"]
    groups = [[("model.embed_tokens.weight", (vocab, d))]]
    groups += [sum((layer_shapes(i) for i in range(g, min(g + 4, layers))), []) for g in range(0, layers, 4)]
    groups += [[("model.norm.weight", (d,)), ("lm_head.weight", (vocab, d))]]
    return [(f"model-{n + 1:05d}-of-{len(groups):05d}.safetensors", group) for n, group in enumerate(groups)]


def index_json(plan):
    weight_map = {name: fname for fname, group in plan for name, _ in group}
    total = sum(2 * math.prod(shape) for _, group in plan for _, shape in group)  # bf16
    return {"metadata": {"total_size": total}, "weight_map": weight_map}


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
    device = "cuda" if DEVICE == "cuda" and torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    plan = shard_plan(args.layers)
    index = index_json(plan)
    total = index["metadata"]["total_size"]
    for fname, group in plan:
        tensors = {name: random_tensor(torch, gen, shape, name, device) for name, shape in group}
        save_file(tensors, os.path.join(args.dir, fname), metadata={"format": "pt"})
        print(f"wrote {fname} ({len(tensors)} tensors)", flush=True)
        del tensors
    with open(os.path.join(args.dir, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(args.dir, "config.json"), "w") as f:
        json.dump(config_json(args.layers), f, indent=1)
    prompt = torch.randint(0, SHAPE["vocab"], (args.prompt_len,), generator=torch.Generator().manual_seed(args.seed))
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
    return model.to(DEVICE).eval()


def generate_once(torch, model, prompt, new_tokens, compiled=False):
    import transformers
    gc = model.generation_config
    gc.cache_implementation = "static"
    gc.do_sample = False
    gc.max_new_tokens = new_tokens
    gc.min_new_tokens = new_tokens
    gc.pad_token_id = 0
    gc.eos_token_id = None  # as gqa-bench's Generator (no eos_ids): exactly N tokens, none masked or stopped on
    # Compiled: generate()'s own torch.compile of the decode forward (static cache, CUDA graphs); it
    # copies each step's logits out of the graph's buffers. (Compiling model.forward ourselves
    # failed on the H200 image: "accessing tensor output of CUDAGraphs that has been overwritten".)
    gc.disable_compile = not compiled
    gc.compile_config = transformers.CompileConfig(fullgraph=True, mode="reduce-overhead") if compiled else None
    if compiled and DEVICE == "cpu":  # generate() compiles on accelerators only unless told otherwise
        gc.compile_config._compile_all_devices = True
    streamer = TimingStreamer()
    with torch.inference_mode():
        out = model.generate(prompt, generation_config=gc, streamer=streamer)
    if prompt.device.type == "cuda":
        torch.cuda.synchronize()
    # generate() only warns when its compile criteria are not met and runs eagerly: never report
    # such a run as the compiled peer (get_compiled_call leaves _compiled_call on the model).
    if compiled and not hasattr(model, "_compiled_call"):
        raise RuntimeError("generate() did not compile the decode forward (transformers' compile criteria not met)")
    tokens = out[0, prompt.shape[1]:].tolist()
    dt = streamer.times[-1] - streamer.times[1]  # first generated token -> last
    return (len(tokens) - 1) / dt, tokens


class OwnLoop:
    """Greedy decoding without generate(): an eager prefill, then one compiled forward per token on
    a StaticCache kept across runs (reset between them, so the compiled graphs see the same cache
    tensors), cudagraph_mark_step_begin() before each step (CUDA graph trees may then reuse the
    previous step's output buffers: the token was already taken from them)."""

    def __init__(self, torch, model):
        self.torch, self.model, self.cache, self.cache_len = torch, model, None, 0

        def step(ids, cache, pos):
            return model(input_ids=ids, past_key_values=cache, cache_position=pos, use_cache=True).logits

        self.step = torch.compile(step, mode="reduce-overhead", fullgraph=True)

    def generate_once(self, prompt, new_tokens):
        import transformers
        torch, model = self.torch, self.model
        n = prompt.shape[1]
        times, tokens = [], []
        with torch.inference_mode():  # (the cache's tensors are made, and reset, in inference mode)
            if self.cache is None or self.cache_len != n + new_tokens:
                self.cache = transformers.StaticCache(config=model.config, max_cache_len=n + new_tokens)
                self.cache_len = n + new_tokens
            else:
                self.cache.reset()
            logits = model(input_ids=prompt, past_key_values=self.cache, cache_position=torch.arange(n, device=prompt.device),
                           use_cache=True).logits
            tok = logits[:, -1:].argmax(-1)
            for i in range(new_tokens):
                tokens.append(int(tok[0, 0]))  # to the host: synchronised with the GPU
                times.append(time.perf_counter())
                if i + 1 == new_tokens:
                    break
                pos = torch.tensor([n + i], device=prompt.device)
                torch.compiler.cudagraph_mark_step_begin()
                tok = self.step(tok, self.cache, pos)[:, -1:].argmax(-1)
        if prompt.device.type == "cuda":
            torch.cuda.synchronize()
        return (len(tokens) - 1) / (times[-1] - times[0]), tokens


class Timeout(Exception):
    pass


def describe_error(e):
    """One line: the type and the first line of the message, with the next line when that one only
    introduces it (torch.compile wraps errors, a Timeout included, as "backend='inductor' raised:")."""
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    msg = lines[0] if lines else ""
    if msg.endswith(":") and len(lines) > 1:
        msg += " " + lines[1]
    return f"{type(e).__name__}: {msg[:300]}"


def run_mode(torch, model, prompt, args, compiled, limit_s, own_loop=None):
    """A warm-up generation (at the timed length when compiled: it compiles for the static cache's
    shape and captures the CUDA graphs), then the timed one; through own_loop (OwnLoop) when given."""
    fired = []

    def on_alarm(signum, frame):
        fired.append(True)
        raise Timeout(f"gave up after {limit_s:.0f} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(limit_s)))
    try:
        if own_loop is not None:
            own_loop.generate_once(prompt, args.new_tokens)
            tps, tokens = own_loop.generate_once(prompt, args.new_tokens)
            return {"tokens_per_s": tps, "tokens": tokens}
        generate_once(torch, model, prompt, args.new_tokens if compiled else min(args.new_tokens, 32), compiled)
        tps, tokens = generate_once(torch, model, prompt, args.new_tokens, compiled)
        return {"tokens_per_s": tps, "tokens": tokens}
    except Exception as e:  # noqa: BLE001 - report any failure of this mode, keep the other
        if fired and not isinstance(e, Timeout):  # torch.compile re-raises it wrapped, or as something else
            return {"error": f"Timeout: gave up after {limit_s:.0f} s (raised as {type(e).__name__})"}
        return {"error": describe_error(e)}
    finally:
        signal.alarm(0)


def bench(args):
    import torch
    import transformers
    if DEVICE == "cuda" and not torch.cuda.is_available():
        emit({"status": "skipped", "reason": "torch sees no CUDA device"})
        return
    t0 = time.monotonic()
    print(f"torch and transformers imported in {t0 - STARTED:.1f} s", flush=True)
    with open(args.prompt_file) as f:
        ids = json.load(f)["prompt"]
    model = load_model(torch, transformers, args.dir)
    prompt = torch.tensor([ids], device=DEVICE)
    print(f"loaded {args.dir} in {time.monotonic() - t0:.1f} s", flush=True)
    modes = []
    own = "own greedy loop, torch.compile(forward) reduce-overhead, static cache"
    for name, compiled in (("eager, static cache", False), ("generate()'s torch.compile reduce-overhead, static cache", True),
                           (own, True)):
        if name == own and "tokens_per_s" in modes[-1]:
            continue  # generate()'s compiled mode worked: that is the compiled peer
        left = args.time_budget - (time.monotonic() - STARTED)
        if left < 10:
            modes.append({"mode": name, "error": "skipped: time budget"})
            continue
        try:
            loop = OwnLoop(torch, model) if name == own else None
        except Exception as e:  # noqa: BLE001 - torch.compile unavailable: report it as this mode's failure
            modes.append({"mode": name, "error": describe_error(e)})
            continue
        result = run_mode(torch, model, prompt, args, compiled, left, loop)
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
    b.add_argument("--time-budget", type=float, default=300,
                   help="seconds from the script's start; a mode still running then stops and reports an error")
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
