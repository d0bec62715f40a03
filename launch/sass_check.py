#!/usr/bin/env python3
"""Checks in the built SASS that ptxas kept what the kernels' sources count on.

  sass_check.py BUILD_DIR    the object files of a build (gemv.cu.o, gemv_rope.cu.o,
                             attention_prefill_wgmma.cu.o, timing.cu.o) through cuobjdump -sass:
                             a markdown table, exit 1 when a check fails, 2 without cuobjdump
  sass_check.py --self-test  the analysis on small SASS texts written here (no CUDA needed)

What it checks (each found by a SASS reading on 2026-11-26, CUDA 13.0, where ptxas had undone it):
- loads in flight: the decode GEMVs with a register budget (gemv_kernel.cuh, min_resident_blocks;
  n <= 6) issue at least 8 (n = 2: 7) of their 16-byte W loads (LDG.E.NA...128) before using
  any, and the read ceilings' read_stream_kernel<k> k of them. A load counts as in flight from its issue to the
  first later instruction that reads or overwrites one of its 4 destination registers, in program
  order (branches not followed: a lower bound inside loops is fine, the steps are unrolled).
- the wgmma prefill's overlap build: its softmax (MUFU.EX2) runs between the wait for S
  (WARPGROUP.DEPBAR.LE gsb0, 0x1) and the wait for the previous tile's P V (gsb0, 0x0).
- the wgmma prefill's TMA build: its K/V tiles come by TMA (UTMALDG in the kernel), and the
  producers' work stays within their 40 registers (no LDL/STL: hoisted copy offsets had spilled 72
  bytes before the tail-tile copies took an opaque thread index). Its variants (written in the
  seventeenth session, not from a reading where ptxas undid them): 'late turns' (kLateTurns) passes
  each turn after its GEMM's wait (no mbarrier arrive between an HGMMA batch and its wait, and at
  least 2 right after a complete wait), 'overlap' (kOverlapPv) runs its softmax between the S and
  P V waits as the overlap build does, and so does the overlap without turns (kOverlapPv |
  kAblateTurns, thirtieth session). The persistent build (thirty-fourth session) is held to the
  overlap's softmax placement, its TMA loads and no local memory.
- before griddepcontrol.wait (ACQBULK; kernels/cuda/pdl.cuh), in every kernel object of the
  library: no global store or atomic, and no global load but the decode attention's L2-only
  reads of a step's inputs (its K/V prefetch, LDG.E.STRONG.GPU); and every decode GEMV
  build starts its W traffic there (an L2 prefetch, CCTL, or a bulk copy, UBLKCP): ptxas had
  sunk the norm build's first-step W loads, written before the wait, below it.
- no decode GEMV reads or writes global memory a byte at a time (LDG/STG .U8: a memcpy from global
  memory into a register pack had become that in the bulk GEMVs' inline-norm build, nineteenth
  session, since removed).
The mask bits are read from kernels/cuda/attention_prefill_wgmma_mask.h.
cuobjdump comes from PATH, $CUDA_HOME/bin or /usr/local/cuda/bin.
"""
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys



def mask_bits(header=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels", "cuda",
                                  "attention_prefill_wgmma_mask.h")):
    """The wgmma prefill's mask bits by name (kRotateTiles, kLateTurns, kOverlapPv, ...), read from
    the header the kernels take them from."""
    with open(header) as f:
        bits = dict((name, int(value)) for name, value in re.findall(r"\b(k[A-Z]\w*) = (\d+),", f.read()))
    for name in ("kRotateTiles", "kLateTurns", "kOverlapPv", "kAblateTurns"):
        if name not in bits:
            raise SystemExit(f"sass_check: {name} not found in {header}")
    return bits


MASK = mask_bits()
ROTATE, LATE, OVERLAP_PV = MASK["kRotateTiles"], MASK["kLateTurns"], MASK["kOverlapPv"]
TURNS = MASK["kAblateTurns"]
W_LOAD = re.compile(r"^LDG\.E\.NA\S*\.128")
REG = re.compile(r"\bR(\d+)\b")
INSTR = re.compile(r"^\s+/\*([0-9a-f]+)\*/\s+(.*?)\s*;")
PREDICATE = re.compile(r"^@!?U?P\w+\s+")


def parse(text):
    """{(arch, function): [instruction text]} from cuobjdump -sass output."""
    out, arch, fun = {}, "?", None
    for line in text.splitlines():
        m = re.search(r"arch = (sm_\w+)", line)
        if m:
            arch = m.group(1)
            continue
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            fun = (arch, m.group(1))
            out[fun] = []
            continue
        m = INSTR.match(line)
        if m and fun is not None:
            out[fun].append(PREDICATE.sub("", m.group(2)))
    return out


def loads_in_flight(instrs):
    """The most 16-byte W loads issued and not yet used at any point (see the docstring)."""
    pending, best = set(), 0
    for ins in instrs:
        op, _, args = ins.partition(" ")
        regs = [int(r) for r in REG.findall(args)]
        stores = op.startswith(("ST", "RED", "ATOM"))
        reads = regs if stores else regs[1:]
        written = None if stores or not regs else regs[0]
        for d in list(pending):
            if any(d <= r < d + 4 for r in reads) or (written is not None and d <= written < d + 4):
                pending.discard(d)
        if W_LOAD.match(op) and regs:
            pending.add(regs[0])
            best = max(best, len(pending))
    return best


def softmax_between_waits(instrs):
    """MUFU.EX2 count between each 'gsb0, 0x1' wait and the wait after it (a list, one per 0x1 wait)."""
    counts, counting = [], None
    for ins in instrs:
        if ins.startswith("WARPGROUP.DEPBAR"):
            if counting is not None:
                counts.append(counting)
                counting = None
            if ins.replace(" ", "").endswith("gsb0,0x1"):
                counting = 0
        elif ins.startswith("MUFU.EX2") and counting is not None:
            counting += 1
    return counts


def overlap_row(instrs, arch, what):
    """The overlap check's row: the most MUFU.EX2 between an S wait and the P V wait after it (>= 1)."""
    counts = softmax_between_waits(instrs)
    got = max(counts) if counts else 0
    return ("MUFU.EX2 between the S and P V waits", arch, what, got, 1, got >= 1)


def turn_arrives(instrs):
    """(early, late): how many HGMMA batches have an mbarrier arrive (SYNCS.ARRIVE) between them and
    their wait, and how many complete waits (WARPGROUP.DEPBAR ... gsb0, 0x0) an arrive follows before
    any other HGMMA or wait (a turn passed once the GEMM completed)."""
    early = late = 0
    state = None  # "batch": after an HGMMA, before its wait; "done": right after a complete wait
    for ins in instrs:
        if ins.startswith("HGMMA"):
            state = "batch"
        elif ins.startswith("WARPGROUP.DEPBAR"):
            state = "done" if ins.replace(" ", "").endswith("gsb0,0x0") else None
        elif ins.startswith("SYNCS.ARRIVE") and state is not None:
            early += state == "batch"
            late += state == "done"
            state = None
    return early, late


# gemv_kernel (no register budget) and gemv_kernel_budget<..., kMinBlocks>: budget, dtype, n, row map,
# deep, norm
GEMV = re.compile(r"gemv_kernel(_budget)?I(13__nv_bfloat16|6__half)Li(\d)E.*?(Plain|SwiGlu|Rope)RowsIS3_EE"
                  r"Lb([01])ELb([01])E")
# (the streaming build, kPlain false: the L2 flush's plain-load build, ...ILi8ELb1E, keeps no count)
READ = re.compile(r"read_stream_kernelILi(\d+)ELb0E")
OVERLAP = re.compile(r"prefill_wgmma_pingpong_kernelI(?:13__nv_bfloat16|6__half)Li(\d+)ELb1ELb1E")
TMA = re.compile(r"prefill_wgmma_tma_kernelI(13__nv_bfloat16|6__half)Li(\d+)ELj(\d+)E")
PERSISTENT = re.compile(r"prefill_wgmma_persistent_kernelI(13__nv_bfloat16|6__half)Li(\d+)E")


def check(functions):
    """Rows (what, arch, kernel, measured, wanted, ok) for every function a check applies to."""
    rows = []
    for (arch, name), instrs in sorted(functions.items()):
        m = GEMV.search(name)
        if m:
            budget = m.group(1) is not None
            dtype = "bf16" if "bfloat16" in m.group(2) else "f16"
            n, row_map = int(m.group(3)), m.group(4).lower()
            deep, norm = m.group(5) == "1", m.group(6) == "1"
            what = (f"gemv {row_map} {dtype} n={n}{' deep' if deep else ''}{' norm' if norm else ''}"
                    f"{'' if budget else ' no budget'}")
            got = loads_in_flight(instrs)
            # (no budget, n = 7-8: reported, not required; n = 2 at its 64 registers: 7 in the bf16
            # plain build with CUDA 13.0)
            wanted = None if not budget or n > 6 else 7 if n == 2 else 8
            rows.append(("W loads in flight", arch, what, got, wanted, wanted is None or got >= wanted))
            continue
        m = READ.search(name)
        if m:
            k = int(m.group(1))
            got = loads_in_flight(instrs)
            rows.append(("loads in flight", arch, f"read_stream_kernel<{k}>", got, k, got >= k))
            continue
        m = OVERLAP.search(name)
        if m:
            rows.append(overlap_row(instrs, arch, f"wgmma overlap hd {m.group(1)}"))
            continue
        m = PERSISTENT.search(name)
        if m:  # the TMA overlap build's consumers and producers, looping over row blocks
            what = f"wgmma persistent {'bf16' if 'bfloat16' in m.group(1) else 'f16'} hd {m.group(2)}"
            rows.append(overlap_row(instrs, arch, what))
            tma = sum(1 for ins in instrs if ins.startswith("UTMALDG"))
            rows.append(("TMA loads (UTMALDG)", arch, what, tma, 1, tma >= 1))
            local = sum(1 for ins in instrs if re.match(r"^(LDL|STL)\b", ins))
            rows.append(("local memory (LDL/STL)", arch, what, local, 0, local == 0))
            continue
        m = TMA.search(name)
        if m:
            dtype = "bf16" if "bfloat16" in m.group(1) else "f16"
            mask = int(m.group(3))
            # the build's variants (rotated tiles, late turns, both; the overlap, alone or without
            # its turns) are the attention
            overlap = mask in (OVERLAP_PV, OVERLAP_PV | TURNS)
            attention = (mask & ~(ROTATE | LATE)) == 0 or overlap
            variant = "".join(name for bit, name in ((ROTATE, " rotated"), (LATE, " late turns"),
                                                     (OVERLAP_PV, " overlap"), (TURNS, " no turns"))
                              if attention and mask & bit)
            what = f"wgmma tma {dtype} hd {m.group(2)}{variant}"
            if overlap:  # the overlap build's consumers on TMA tiles: softmax under the P V, as OVERLAP
                rows.append(overlap_row(instrs, arch, what))
            if attention:  # the attention itself (the build and its variants)
                tma = sum(1 for ins in instrs if ins.startswith("UTMALDG"))
                rows.append(("TMA loads (UTMALDG)", arch, what, tma, 1, tma >= 1))
                if mask & LATE:  # each turn passed after its GEMM's wait, not between issue and wait
                    early, late = turn_arrives(instrs)
                    rows.append(("turns passed before the GEMM's wait", arch, what, early, 0, early == 0))
                    # (and turns there are: QK's and P V's, each right after its wait)
                    rows.append(("turns passed right after the GEMM's wait", arch, what, late, 2, late >= 2))
            else:  # an ablated TMA build (attention_prefill_wgmma_ablation.h; "no copies" loads nothing)
                what += f" ablated {mask}"
            local = sum(1 for ins in instrs if re.match(r"^(LDL|STL)\b", ins))
            rows.append(("local memory (LDL/STL)", arch, what, local, 0, local == 0))
    return rows


PRE_WAIT_STORE = re.compile(r"^(STG|ST\.|ST$|ATOM|RED)")
PRE_WAIT_LOAD = re.compile(r"^(LDG|LD\.|LD$)")
# The decode GEMVs' kernels, and the persistent MLP kernel (mlp_persistent.cu: two GEMVs in one)
GEMV_ANY = re.compile(r"(?:gemv_(?:kernel|kernel_budget|bulk_kernel|ring_kernel|mma_kernel)|mlp_persistent_kernel)I")


def pre_wait(instrs):
    """The instructions before the first ACQBULK (griddepcontrol.wait), or None without one."""
    for k, ins in enumerate(instrs):
        if ins.startswith("ACQBULK"):
            return instrs[:k]
    return None


def pre_wait_problems(name, before):
    """What a PDL kernel does before its wait (`before`: pre_wait's instructions) that it must not
    (a list of strings; empty: fine)."""
    problems = []
    for ins in before:
        op = ins.split(" ")[0]
        if PRE_WAIT_STORE.match(op):
            problems.append(f"global store before the wait: {op}")
        elif PRE_WAIT_LOAD.match(op) and not ("decode_mma_kernel" in name and op.startswith("LDG.E.STRONG.GPU")):
            problems.append(f"global load before the wait: {op}")
    if GEMV_ANY.search(name) and not any(i.startswith(("CCTL", "UBLKCP")) for i in before):
        problems.append("no W prefetch or bulk copy before the wait")
    return problems


def check_pre_wait(functions_by_object):
    """One row per (kernel object, arch): the PDL kernels in it and how many break pre_wait_problems."""
    rows = []
    for obj, functions in sorted(functions_by_object.items()):
        per_arch = {}
        for (arch, name), instrs in functions.items():
            before = pre_wait(instrs)
            if before is None:
                continue
            n, bad = per_arch.get(arch, (0, []))
            problems = pre_wait_problems(name, before)
            per_arch[arch] = (n + 1, bad + ([f"{name[:60]}: {problems[0]}"] if problems else []))
        for arch, (n, bad) in sorted(per_arch.items()):
            what = f"{obj} ({n} PDL kernels)" + (f"; first: {bad[0]}" if bad else "")
            rows.append(("before griddepcontrol.wait", arch, what, len(bad), 0, not bad))
    return rows


BYTE_ACCESS = re.compile(r"^(LDG|STG)\.E\.(U8|S8)\b")


def check_byte_access(functions_by_object):
    """One row per (kernel object, arch) holding decode GEMVs: how many of them read or write global
    memory a byte at a time (LDG/STG .U8/.S8): none of their data is narrower than 16 bits, and a
    memcpy from global memory into a register pack had become 16 byte loads per 16-byte chunk."""
    rows = []
    for obj, functions in sorted(functions_by_object.items()):
        per_arch = {}
        for (arch, name), instrs in functions.items():
            if not GEMV_ANY.search(name):
                continue
            n, bad = per_arch.get(arch, (0, []))
            hits = sum(1 for ins in instrs if BYTE_ACCESS.match(ins))
            per_arch[arch] = (n + 1, bad + ([f"{name[:60]}: {hits}"] if hits else []))
        for arch, (n, bad) in sorted(per_arch.items()):
            what = f"{obj} ({n} GEMV kernels)" + (f"; first: {bad[0]}" if bad else "")
            rows.append(("byte loads/stores (LDG/STG .U8)", arch, what, len(bad), 0, not bad))
    return rows


def cuobjdump():
    for d in [None, os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin"), "/usr/local/cuda/bin"]:
        path = shutil.which("cuobjdump", path=d)
        if path:
            return path
    return None


def run(build):
    tool = cuobjdump()
    if tool is None:
        print("sass_check: cuobjdump not found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin): nothing checked")
        return 2
    objects = []
    for stem in ("gemv.cu.o", "gemv_rope.cu.o", "attention_prefill_wgmma.cu.o", "timing.cu.o"):
        objects += sorted(glob.glob(os.path.join(build, "**", stem), recursive=True))
    if not objects:
        print(f"sass_check: no kernel objects under {build}")
        return 1
    # The pre-wait rule reads every kernel object of the library (which holds all but timing.cu.o).
    library = set(glob.glob(os.path.join(build, "**", "kernels", "cuda", "CMakeFiles", "*", "*.cu.o"), recursive=True))
    functions, by_object = {}, {}
    objects = sorted(set(objects) | library)
    # (cuobjdump one object at a time was 86 s of run 15's 120 s limit: the objects in parallel, as
    # many at once as there are cores; the results in the objects' order)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda o: subprocess.run([tool, "-sass", o], capture_output=True, text=True), objects))
    for obj, res in zip(objects, results):
        if res.returncode != 0:
            print(f"sass_check: cuobjdump -sass {obj} failed: {res.stderr.strip()}")
            return 1
        parsed = parse(res.stdout)
        functions.update(parsed)  # (check() picks its kernels by name)
        if obj in library:
            by_object[os.path.basename(obj)] = {**by_object.get(os.path.basename(obj), {}), **parsed}
    rows = check(functions) + check_pre_wait(by_object) + check_byte_access(by_object)
    if any(os.path.basename(o) == "attention_prefill_wgmma.cu.o" for o in objects) and \
            not any(r[2].startswith("wgmma tma ") for r in rows):
        rows.append(("TMA build's kernels in the object", "-", "prefill_wgmma_tma_kernel", 0, 8, False))
    print("| check | arch | kernel | measured | wanted | ok |")
    print("|---|---|---|---:|---:|---|")
    for what, arch, kernel, got, wanted, ok in rows:
        print(f"| {what} | {arch} | {kernel} | {got} | {'-' if wanted is None else wanted} | {'yes' if ok else 'NO'} |")
    failed = sum(1 for r in rows if not r[5])
    print(f"\nsass_check: {len(rows)} checks in {len(objects)} objects, {failed} failed")
    return 1 if failed or not rows else 0


def self_test():
    def fn(body):
        return "".join(f"        /*{16 * i:04x}*/                   {ins} ;\n" for i, ins in enumerate(body))

    eight = [f"LDG.E.NA.LTC256B.128.CONSTANT R{4 * i}, desc[UR4][R{40 + 2 * i}.64]" for i in range(8)]
    eight += [f"FFMA R50, R{4 * i}, R60, R50" for i in range(8)]
    rolling = []
    for i in range(8):  # 4 loads, then each new load only after an older one is used
        if i >= 4:
            rolling.append(f"FFMA R50, R{4 * (i - 4)}, R60, R50")
        rolling.append(f"LDG.E.NA.LTC256B.128.CONSTANT R{4 * (i % 4)}, desc[UR4][R{40 + 2 * i}.64]")
    overlap_ok = ["HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ", "WARPGROUP.DEPBAR.LE gsb0, 0x1",
                  "MUFU.EX2 R3, R3", "MUFU.EX2 R4, R4", "WARPGROUP.DEPBAR.LE gsb0, 0x0"]
    overlap_hoisted = ["WARPGROUP.DEPBAR.LE gsb0, 0x1", "@!P0 BRA 0x7490", "WARPGROUP.DEPBAR.LE gsb0, 0x0",
                       "MUFU.EX2 R3, R3"]
    text = ("Fatbin elf code:\narch = sm_90a\n"
            "\tFunction : _ZN3gqa4cuda11gemv_detail18gemv_kernel_budgetI13__nv_bfloat16Li1ENS_9PlainRowsIS3_EELb0ELb0ELi4EEEv\n"
            + fn(eight) +
            "\tFunction : _ZN3gqa4cuda11gemv_detail11gemv_kernelI13__nv_bfloat16Li1ENS_9RopeRowsIS3_EELb0ELb0EEEv\n"
            + fn(rolling) +
            "\tFunction : _ZN3gqa4cuda11gemv_detail18gemv_kernel_budgetI6__halfLi2ENS_10SwiGluRowsIS3_EELb0ELb1ELi2EEEv\n"
            + fn(rolling) +
            "\tFunction : _ZN3gqa5bench18read_stream_kernelILi8ELb0EEEvPK5uint4mPj\n" + fn(eight) +
            # the L2 flush's plain-load build: not a read-stream row
            "\tFunction : _ZN3gqa5bench18read_stream_kernelILi8ELb1EEEvPK5uint4mPj\n"
            + fn(["LDG.E.128 R4, desc[UR4][R2.64]", "LDG.E.128 R8, desc[UR4][R2.64+0x10]", "IADD3 R0, R4, R8, RZ"]) +
            "\tFunction : _ZN3gqa4cuda29prefill_wgmma_pingpong_kernelI13__nv_bfloat16Li128ELb1ELb1EEEvNS0_4attn\n"
            + fn(overlap_ok) +
            "\tFunction : _ZN3gqa4cuda29prefill_wgmma_pingpong_kernelI6__halfLi64ELb1ELb1EEEvNS0_4attn\n"
            + fn(overlap_hoisted) +
            "\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI13__nv_bfloat16Li128ELj0EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["UTMALDG.4D [UR8], [UR20]", "HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ"]) +
            "\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI6__halfLi64ELj0EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["STL [R1], R2", "LDGSTS.E.BYPASS.128 [R3], desc[UR4][R4.64]", "LDL R2, [R1]"]) +
            f"\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI6__halfLi128ELj{ROTATE}EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["STL [R1], R0", "UTMALDG.4D [UR8], [UR20]", "LDL.LU R0, [R1]"]) +
            f"\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI13__nv_bfloat16Li128ELj{LATE}EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["UTMALDG.4D [UR8], [UR20]", "HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ",
                  "SYNCS.ARRIVE.TRANS64.A1T0 RZ, [UR6], RZ", "WARPGROUP.DEPBAR.LE gsb0, 0x0",
                  "SYNCS.ARRIVE.TRANS64.A1T0 RZ, [UR7], RZ"]) +
            f"\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI13__nv_bfloat16Li128ELj{OVERLAP_PV}EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["UTMALDG.4D [UR8], [UR20]"] + overlap_ok) +
            f"\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI13__nv_bfloat16Li128ELj{OVERLAP_PV | TURNS}EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["UTMALDG.4D [UR8], [UR20]"] + overlap_hoisted) +
            # an ablated TMA build ("no copies": no UTMALDG): only its local memory is checked
            "\tFunction : _ZN3gqa4cuda24prefill_wgmma_tma_kernelI13__nv_bfloat16Li128ELj1EEEvNS1_16TmaPrefillParamsE\n"
            + fn(["HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ"]))
    functions = parse(text)
    assert len(functions) == 14 and all(arch == "sm_90a" for arch, _ in functions), functions.keys()
    assert loads_in_flight(PREDICATE.sub("", i) for i in eight) == 8
    assert loads_in_flight(rolling) == 4
    assert softmax_between_waits(overlap_ok) == [2] and softmax_between_waits(overlap_hoisted) == [0]
    got = {(r[0], r[2], r[3], r[5]) for r in check(functions)}
    tma, local, w, ld = "TMA loads (UTMALDG)", "local memory (LDL/STL)", "W loads in flight", "loads in flight"
    ex2 = "MUFU.EX2 between the S and P V waits"
    want = {(w, "gemv plain bf16 n=1", 8, True), (w, "gemv rope bf16 n=1 no budget", 4, True),
            (w, "gemv swiglu f16 n=2 norm", 4, False),
            (ld, "read_stream_kernel<8>", 8, True), (ex2, "wgmma overlap hd 128", 2, True),
            (ex2, "wgmma overlap hd 64", 0, False),
            (tma, "wgmma tma bf16 hd 128", 1, True), (local, "wgmma tma bf16 hd 128", 0, True),
            (tma, "wgmma tma f16 hd 64", 0, False), (local, "wgmma tma f16 hd 64", 2, False),
            (tma, "wgmma tma f16 hd 128 rotated", 1, True), (local, "wgmma tma f16 hd 128 rotated", 2, False),
            (tma, "wgmma tma bf16 hd 128 late turns", 1, True), (local, "wgmma tma bf16 hd 128 late turns", 0, True),
            ("turns passed before the GEMM's wait", "wgmma tma bf16 hd 128 late turns", 1, False),
            ("turns passed right after the GEMM's wait", "wgmma tma bf16 hd 128 late turns", 1, False),
            (tma, "wgmma tma bf16 hd 128 overlap", 1, True), (local, "wgmma tma bf16 hd 128 overlap", 0, True),
            (ex2, "wgmma tma bf16 hd 128 overlap", 2, True),
            (tma, "wgmma tma bf16 hd 128 overlap no turns", 1, True),
            (local, "wgmma tma bf16 hd 128 overlap no turns", 0, True),
            (ex2, "wgmma tma bf16 hd 128 overlap no turns", 0, False),
            (local, "wgmma tma bf16 hd 128 ablated 1", 0, True)}
    assert got == want, (got, want)
    # the pre-wait rule
    waits = {
        ("sm_90", "_ZN3gqa4cuda11gemv_detail11gemv_kernelI13__nv_bfloat16Li1EPlainRows"):
            ["CCTL.E.PF2 [R2]", "ACQBULK", "LDG.E.NA.128 R4, desc[UR4][R2.64]"],
        ("sm_90", "_ZN3gqa4cuda11gemv_detail18gemv_kernel_budgetI6__halfLi1ESwiGluRows"):
            ["S2R R0, SR_TID.X", "ACQBULK", "LDG.E.NA.128 R4, desc[UR4][R2.64]"],
        ("sm_90", "_ZN3gqa4cuda12_GLOBAL__N_117decode_mma_kernelI13__nv_bfloat16Li128E"):
            ["LDG.E.STRONG.GPU R0, desc[UR4][R2.64]", "CCTL.E.PF2 [R4]", "ACQBULK", "STG.E desc[UR4][R2.64], R0"],
        ("sm_90", "_ZN3gqa4cuda12_GLOBAL__N_112merge_kernelI6__halfLi128ELb1EEEvPKfS6_PT_i"):
            ["LDG.E R0, desc[UR4][R2.64]", "ACQBULK"],
        ("sm_90", "_ZN3gqa4cuda12_GLOBAL__N_114rmsnorm_kernelI6__halfLi8ELb1ELb0EEEvPKT_"):
            ["STG.E desc[UR4][R2.64], R0", "ACQBULK"],
        ("sm_90", "_ZN3gqa4cuda3addEv"): ["IMAD R0, R1, R2, RZ"],  # no wait: not a PDL kernel
    }
    assert pre_wait_problems("gemv_kernelI", pre_wait(waits[list(waits)[0]])) == []
    assert pre_wait_problems("x gemv_kernel_budgetI", pre_wait(waits[list(waits)[1]])) == ["no W prefetch or bulk copy before the wait"]
    assert pre_wait_problems("decode_mma_kernelI", pre_wait(waits[list(waits)[2]])) == []
    assert pre_wait_problems("merge_kernelI", pre_wait(waits[list(waits)[3]])) == ["global load before the wait: LDG.E"]
    assert pre_wait_problems("rmsnorm_kernelI", pre_wait(waits[list(waits)[4]])) == ["global store before the wait: STG.E"]
    rows = check_pre_wait({"k.cu.o": waits})
    assert [(r[3], r[5]) for r in rows] == [(3, False)], rows
    assert rows[0][2].startswith("k.cu.o (5 PDL kernels)"), rows
    bytes_ = {("sm_90a", "_ZN3gqa4cuda11gemv_detail16gemv_bulk_kernelI6__halfLi1EEEv"):
              ["LDG.E.U8 R3, desc[UR4][R4.64]", "STG.E.U8 desc[UR4][R4.64], R3"],
              ("sm_90a", "_ZN3gqa4cuda11gemv_detail11gemv_kernelI6__halfLi1EEEv"): ["LDG.E.128 R4, desc[UR4][R2.64]"],
              ("sm_90a", "_ZN3gqa4cuda3addEv"): ["LDG.E.U8 R3, desc[UR4][R4.64]"]}  # not a GEMV: not checked
    rows = check_byte_access({"g.cu.o": bytes_})
    assert [(r[3], r[5]) for r in rows] == [(1, False)] and "(2 GEMV kernels)" in rows[0][2], rows
    # a predicated load and a store reading a pending register
    assert loads_in_flight(["LDG.E.NA.128 R4, desc[UR4][R2.64]", "STG.E desc[UR4][R8.64], R5",
                            "LDG.E.NA.128 R12, desc[UR4][R2.64]"]) == 1
    # predicates of every spelling are stripped (@P0, @!P0, @UP1, @!UP2)
    pred = parse("arch = sm_90a\n\tFunction : f\n" + fn(["@!P0 LDG.E.NA.128 R4, desc[UR4][R2.64]", "@UP1 MOV R1, R2",
                                                       "@!UP2 BRA 0x10", "@P3 EXIT"]))
    assert pred == {("sm_90a", "f"): ["LDG.E.NA.128 R4, desc[UR4][R2.64]", "MOV R1, R2", "BRA 0x10", "EXIT"]}, pred
    # a load is used by a read of any of its 4 registers (R7 of R4..R7), by an overwrite of one, and by
    # a store whose address it is
    ld = "LDG.E.NA.128 R{}, desc[UR4][R100.64]"
    assert loads_in_flight([ld.format(4), "FADD R20, R7, R7", ld.format(8)]) == 1
    assert loads_in_flight([ld.format(4), "FADD R20, R8, R8", ld.format(8)]) == 2  # R8: not the first load's
    assert loads_in_flight([ld.format(4), "MOV R6, RZ", ld.format(8)]) == 1
    assert loads_in_flight([ld.format(4), "STG.E desc[UR4][R4.64], R9", ld.format(8)]) == 1
    # a complete wait then an S wait: an arrive after that is neither early nor late
    assert turn_arrives(["HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ", "WARPGROUP.DEPBAR.LE gsb0, 0x0",
                         "WARPGROUP.DEPBAR.LE gsb0, 0x1", "SYNCS.ARRIVE.TRANS64.A1T0 RZ, [UR6], RZ"]) == (0, 0)
    # one MUFU.EX2 between the waits is enough
    one = overlap_row(["WARPGROUP.DEPBAR.LE gsb0, 0x1", "MUFU.EX2 R3, R3", "WARPGROUP.DEPBAR.LE gsb0, 0x0"], "sm_90a", "x")
    assert one[3] == 1 and one[5] is True, one
    # the loads-in-flight thresholds: n = 2 wants 7, n = 6 wants 8, n = 7 none
    def gemv(n, loads):
        name = f"_ZN3gqa4cuda11gemv_detail18gemv_kernel_budgetI13__nv_bfloat16Li{n}ENS_9PlainRowsIS3_EELb0ELb0ELi2EEEv"
        instrs = [ld.format(4 * i) for i in range(loads)] + [f"FFMA R50, R{4 * i}, R60, R50" for i in range(loads)]
        return check({("sm_90a", name): instrs})[0]
    assert gemv(2, 7)[4:] == (7, True) and gemv(2, 6)[4:] == (7, False)
    assert gemv(6, 7)[4:] == (8, False) and gemv(7, 1)[4:] == (None, True)
    # before the wait: atomics and reductions are stores; only the decode attention may load, and only
    # L2-only (STRONG.GPU); the persistent MLP is a GEMV (its W traffic starts there)
    assert pre_wait_problems("k", ["RED.E.ADD.F32.FTZ.RN.STRONG.GPU desc[UR4][R2.64], R5"]) == \
        ["global store before the wait: RED.E.ADD.F32.FTZ.RN.STRONG.GPU"]
    assert pre_wait_problems("k", ["ATOMG.E.ADD.STRONG.GPU PT, R0, desc[UR4][R2.64], R5"]) == \
        ["global store before the wait: ATOMG.E.ADD.STRONG.GPU"]
    assert pre_wait_problems("decode_mma_kernelI", ["LDG.E R0, desc[UR4][R2.64]"]) == ["global load before the wait: LDG.E"]
    assert pre_wait_problems("merge_kernelI", ["LDG.E.STRONG.GPU R0, desc[UR4][R2.64]"]) == \
        ["global load before the wait: LDG.E.STRONG.GPU"]
    assert pre_wait_problems("_ZN3gqa4cuda21mlp_persistent_kernelI13__nv_bfloat16EEvv", ["S2R R0, SR_TID.X"]) == \
        ["no W prefetch or bulk copy before the wait"]
    # byte stores and signed byte loads count too
    rows = check_byte_access({"g.cu.o": {("sm_90a", "_ZN3gqa4cuda11gemv_detail16gemv_bulk_kernelI6__halfLi1EEEv"):
                                         ["STG.E.U8 desc[UR4][R4.64], R3"],
                                         ("sm_90a", "_ZN3gqa4cuda11gemv_detail11gemv_kernelI6__halfLi1EEEv"):
                                         ["LDG.E.S8 R3, desc[UR4][R4.64]"]}})
    assert [(r[3], r[5]) for r in rows] == [(2, False)], rows
    print("sass_check: self-test passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help") else 2)
    sys.exit(run(sys.argv[1]))
