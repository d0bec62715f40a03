#!/usr/bin/env python3
"""Copies a fixture checkpoint and breaks it in one named way (stdlib only), for the
command-line bad-input tests (nan_norm: a valid file whose logits are all NaN), or
(padded_vocab:ID) pads its vocabulary.
usage: make_bad_checkpoint.py SRC DST MODE"""
import json
import os
import shutil
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write(path, header, body):
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + body)


def tensors(header):
    return sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])


def pad_vocab(st, cfg, first_token):
    """vocab_size doubled over the tokenizer's (as Qwen2 pads 151665 tokens to 151936 logits): zero
    embedding rows for the new ids, and lm_head rows 10x the row of first_token (the token greedy
    decoding picks first), so that greedy decoding picks padding ids."""
    h, body = read(st)
    vocab = cfg["vocab_size"]
    pieces, offset = [], 0
    for name in tensors(h):
        begin, end = h[name]["data_offsets"]
        data = body[begin:end]
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert h[name]["dtype"] == "F32" and h[name]["shape"][0] == vocab, name
            width = h[name]["shape"][1]
            if name == "lm_head.weight":
                row = struct.unpack("<%df" % width, data[4 * width * first_token:4 * width * (first_token + 1)])
                data += struct.pack("<%df" % width, *(10 * x for x in row)) * vocab
            else:
                data += bytes(4 * width * vocab)
            h[name]["shape"] = [2 * vocab, width]
        h[name]["data_offsets"] = [offset, offset + len(data)]
        pieces.append(data)
        offset += len(data)
    write(st, h, b"".join(pieces))
    cfg["vocab_size"] = 2 * vocab


def main():
    src, dst, mode = sys.argv[1:4]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    st = os.path.join(dst, "model.safetensors")
    cfg_path = os.path.join(dst, "config.json")
    cfg = json.load(open(cfg_path))
    if mode.startswith("padded_vocab:"):  # (not broken: see pad_vocab)
        pad_vocab(st, cfg, int(mode.split(":")[1]))
        json.dump(cfg, open(cfg_path, "w"))
    elif mode == "missing_safetensors":
        os.remove(st)
    elif mode == "truncated":
        size = os.path.getsize(st)
        with open(st, "r+b") as f:
            f.truncate(size // 2)
    elif mode == "header_past_file":
        with open(st, "r+b") as f:
            f.write(struct.pack("<Q", 1 << 40))
    elif mode == "overlap":
        h, body = read(st)
        names = tensors(h)
        a, b = names[1], names[2]
        h[b]["data_offsets"] = list(h[a]["data_offsets"])  # same size? make it so below
        h[b]["shape"], h[b]["dtype"] = h[a]["shape"], h[a]["dtype"]
        write(st, h, body)
    elif mode == "offset_past_end":
        h, body = read(st)
        last = tensors(h)[-1]
        begin, end = h[last]["data_offsets"]
        h[last]["data_offsets"] = [begin + 4096, end + 4096]
        write(st, h, body)
    elif mode == "bad_dtype":
        h, body = read(st)
        name = "model.layers.0.self_attn.k_proj.weight"
        h[name]["dtype"] = "I16"
        write(st, h, body)
    elif mode == "wrong_shape":
        cfg["intermediate_size"] = cfg["intermediate_size"] // 2
        json.dump(cfg, open(cfg_path, "w"))
    elif mode == "bad_architecture":
        cfg["architectures"] = ["GPT2LMHeadModel"]
        json.dump(cfg, open(cfg_path, "w"))
    elif mode == "nan_norm":  # the final norm's weights NaN: every logit NaN (a valid file)
        h, body = read(st)
        name = "model.norm.weight"
        begin, end = h[name]["data_offsets"]
        nan = {"F32": struct.pack("<I", 0x7FC00000), "F16": struct.pack("<H", 0x7E00),
               "BF16": struct.pack("<H", 0x7FC0)}[h[name]["dtype"]]
        body = body[:begin] + nan * ((end - begin) // len(nan)) + body[end:]
        write(st, h, body)
    elif mode == "bad_config_json":
        with open(cfg_path, "w") as f:
            f.write('{"hidden_size": 128,')
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
