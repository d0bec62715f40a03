#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention(enable_gqa=True) on gqa-bench's decode attention shapes.

One new query token per sequence against `context` cached keys: q [B, Hq, 1, D], K/V
[B, Hkv, context, D], bf16, contiguous (SDPA has no paged cache). Each shape runs under PyTorch's
own kernel pick and under each fused SDPA backend forced (flash, efficient, cudnn; those that do
not take the shape are skipped); the row keeps the fastest and its "mode" names it with every
backend's time. Timed the way gqa-bench times
its own attention op: a spin kernel (torch.cuda._sleep) so the host queues ahead, the L2 flushed
(a buffer of 4x its size zeroed) before each call, CUDA events around the call, median of --runs
after --warmup; K/V copies rotated so successive calls read different memory.

Prints progress, then one line "GQA_BENCH_JSON {...}" that gqa-bench reads:
  {"status": "ok", "torch": ..., "how": ..., "rows": [{"context", "batch", "us", "kv_bytes", "mode"}]}
or {"status": "skipped", "reason": ...} when torch or a GPU is missing. A shape that fails (out of
memory, no SDPA kernel, ...) gets an "error" in its row instead of "us"/"kv_bytes".

Smoke test without a GPU: GQA_PEER_DEVICE=cpu runs the same code on the CPU, timed by the host
clock (no spin, no L2 flush; the numbers mean nothing), e.g.
  GQA_PEER_DEVICE=cpu python3 sdpa_bench.py --contexts 256,1K --batches 1,2 --runs 2 --warmup 1
Unset (the default, and what gqa-bench runs) it is "cuda".
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

RESULT_PREFIX = "GQA_BENCH_JSON "
DEVICE = os.environ.get("GQA_PEER_DEVICE", "cuda")  # "cpu": smoke test only, see above


def emit(obj):
    print(RESULT_PREFIX + json.dumps(obj), flush=True)


def first_line(e):
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else ""


def sizes(text):
    out = []
    for item in text.split(","):
        item = item.strip()
        mult = 1024 if item[-1:] in ("K", "k") else 1
        out.append(int(item.rstrip("Kk")) * mult)
    return out


def make_attention(torch, F):
    """SDPA with enable_gqa when this torch has it, else K/V repeated to the query heads (slower:
    it materialises the repeat), so the caller can say which it measured."""
    def gqa(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    def repeat(q, k, v):
        g = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1))

    q = torch.randn(1, 8, 1, 64, device=DEVICE, dtype=torch.bfloat16)
    kv = torch.randn(1, 1, 16, 64, device=DEVICE, dtype=torch.bfloat16)
    try:
        gqa(q, kv, kv)
        return gqa, "enable_gqa=True"
    except TypeError:
        return repeat, "repeat_interleave (no enable_gqa in this torch)"


def sdpa_backends(torch):
    """(name, context factory) for each SDPA kernel to try: PyTorch's own pick, then each fused
    backend forced (torch.nn.attention.sdpa_kernel, torch >= 2.3), so the peer is PyTorch's fastest
    on each shape rather than whatever its dispatcher picks."""
    import contextlib
    out = [("default", contextlib.nullcontext)]
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return out
    for name, member in (("flash", "FLASH_ATTENTION"), ("efficient", "EFFICIENT_ATTENTION"), ("cudnn", "CUDNN_ATTENTION")):
        backend = getattr(SDPBackend, member, None)
        if backend is not None:
            out.append((name, lambda b=backend: sdpa_kernel([b])))
    return out


def time_fastest(torch, attn, backends, args, ctx, batch, flush, l2_bytes):
    """Every backend on the same tensors: (fastest us, kv_bytes, its name, "name us" or "name error" each)."""
    hq, hkv, hd = args.q_heads, args.kv_heads, args.head_dim
    kv_bytes = 2 * batch * hkv * ctx * hd * 2
    copies = max(2, math.ceil(4 * l2_bytes / kv_bytes))
    q = torch.randn(batch, hq, 1, hd, device=DEVICE, dtype=torch.bfloat16)
    ks = [torch.rand(batch, hkv, ctx, hd, device=DEVICE, dtype=torch.bfloat16) * 2 - 1 for _ in range(copies)]
    vs = [torch.rand(batch, hkv, ctx, hd, device=DEVICE, dtype=torch.bfloat16) * 2 - 1 for _ in range(copies)]
    best, best_name, notes, first_error = None, None, [], None
    for name, context in backends:
        try:
            with context():
                us = time_one(torch, attn, args, q, ks, vs, flush)
        except Exception as e:  # noqa: BLE001 - this backend does not take the shape: try the others
            if isinstance(e, torch.cuda.OutOfMemoryError):
                raise
            notes.append(f"{name} n/a")
            first_error = first_error or e
            continue
        notes.append(f"{name} {us:.1f}")
        if best is None or us < best:
            best, best_name = us, name
    if best is None:
        raise first_error
    return best, kv_bytes, best_name, notes


def time_one(torch, attn, args, q, ks, vs, flush):
    copies = len(ks)
    if DEVICE != "cuda":  # smoke test: host clock, nothing to flush or queue ahead
        times = []
        for i in range(args.warmup + args.runs):
            t = time.perf_counter()
            attn(q, ks[i % copies], vs[i % copies])
            if i >= args.warmup:
                times.append((time.perf_counter() - t) * 1e6)
        return statistics.median(times)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(args.warmup + args.runs):
        torch.cuda._sleep(200000)
        flush.zero_()
        start.record()
        attn(q, ks[i % copies], vs[i % copies])
        stop.record()
        stop.synchronize()
        if i >= args.warmup:
            times.append(start.elapsed_time(stop) * 1e3)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contexts", default="1K,8K,32K,128K")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--q-heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=1)
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--time-budget", type=float, default=120, help="seconds; later shapes are skipped past it")
    args = p.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means no peer here
        emit({"status": "skipped", "reason": f"torch not importable: {e}"})
        return 0
    cuda = DEVICE == "cuda"
    if cuda and not torch.cuda.is_available():
        emit({"status": "skipped", "reason": "torch sees no CUDA device"})
        return 0
    t0 = time.monotonic()
    if cuda:
        l2_bytes = torch.cuda.get_device_properties(0).L2_cache_size
        flush = torch.empty(l2_bytes, dtype=torch.int32, device="cuda")  # 4 bytes each: 4x the L2
    else:
        l2_bytes, flush = 0, None
    try:
        attn, mode = make_attention(torch, F)
    except Exception as e:  # noqa: BLE001 - no working SDPA at all: say so in the result line
        emit({"status": "skipped", "reason": f"SDPA failed: {type(e).__name__}: {first_line(e)}"})
        return 0
    backends = sdpa_backends(torch)
    rows = []
    for ctx in sizes(args.contexts):
        for batch in sizes(args.batches):
            row = {"context": ctx, "batch": batch, "mode": mode}
            if time.monotonic() - t0 > args.time_budget:
                row["error"] = "skipped: time budget"
            else:
                try:
                    us, kv_bytes, best, notes = time_fastest(torch, attn, backends, args, ctx, batch, flush, l2_bytes)
                    row.update(us=us, kv_bytes=kv_bytes, mode=f"{mode}, {best} (us: {', '.join(notes)})")
                    print(f"sdpa context {ctx} batch {batch}: {us:.1f} us ({best}; {', '.join(notes)})", flush=True)
                except torch.cuda.OutOfMemoryError:
                    row["error"] = "out of memory"
                except Exception as e:  # noqa: BLE001 - keep the other shapes' rows
                    row["error"] = f"{type(e).__name__}: {first_line(e)}"
                    print(f"sdpa context {ctx} batch {batch}: {row['error']}", flush=True)
                if cuda:
                    torch.cuda.empty_cache()
            rows.append(row)
    if cuda:
        how = (f"CUDA events, spin + 4x-L2 flush before each call, median of {args.runs} after {args.warmup} "
               f"warm-up, rotated K/V copies; the fastest of PyTorch's own pick and each fused backend forced")
    else:
        how = f"{DEVICE} smoke test (GQA_PEER_DEVICE), host clock, median of {args.runs} after {args.warmup} warm-up"
    emit({"status": "ok", "torch": torch.__version__,
          "device": torch.cuda.get_device_name(0) if cuda else DEVICE, "how": how, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
