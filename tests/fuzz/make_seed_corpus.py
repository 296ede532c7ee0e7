#!/usr/bin/env python3
"""Writes the GGUF reader's seed corpus (tests/fuzz/corpus/seed-*).

Small valid files covering every value type and several tensor layouts, plus
one corrupted variant per validation rule. Run from anywhere; it overwrites
only the seed-* files. No .gguf extension: *.gguf is git-ignored.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MAGIC = 0x46554747
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "B",
       U64: "Q", I64: "q", F64: "d"}
# type id -> (block size, block bytes), for the tensor types used below
TYPES = {0: (1, 4), 1: (1, 2), 8: (32, 34), 12: (256, 144), 14: (256, 210), 23: (256, 136), 30: (1, 2)}


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = s(key) + struct.pack("<I", vtype)
    if vtype == STR:
        return out + s(value)
    if vtype == ARR:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        return out + b"".join(s(i) if etype == STR else struct.pack("<" + FMT[etype], i) for i in items)
    return out + struct.pack("<" + FMT[vtype], value)


def tinfo(name, ne, ttype, offset):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne) + \
        struct.pack("<IQ", ttype, offset)


def nbytes(ne, ttype):
    n = 1
    for d in ne:
        n *= d
    bs, bb = TYPES[ttype]
    return n // bs * bb


def gguf(kvs, tensors, version=3, alignment=32, counts=None):
    """tensors: [(name, ne, type)], laid out back to back at aligned offsets."""
    infos, off = [], 0
    for name, ne, ttype in tensors:
        infos.append(tinfo(name, ne, ttype, off))
        off += nbytes(ne, ttype)
        off = (off + alignment - 1) // alignment * alignment
    n_t, n_kv = counts or (len(tensors), len(kvs))
    head = struct.pack("<IIQQ", MAGIC, version, n_t, n_kv) + b"".join(kvs) + b"".join(infos)
    if not tensors:
        return head
    head += b"\0" * (-len(head) % alignment)
    # Data up to the end of the last tensor only, so every prefix is invalid.
    name, ne, ttype = tensors[-1]
    last_end = int.from_bytes(infos[-1][-8:], "little") + nbytes(ne, ttype)
    return head + bytes((i * 7) & 0xFF for i in range(last_end))


ARCH = [kv("general.architecture", STR, "llama")]
BASE_T = [("a", [4, 2], 0), ("b", [32], 8)]


def valid_files():
    every = [
        kv("u8", U8, 200), kv("i8", I8, -5), kv("u16", U16, 60000), kv("i16", I16, -3),
        kv("u32", U32, 4000000000), kv("i32", I32, -7), kv("u64", U64, 2**63 + 5),
        kv("i64", I64, -(2**40)), kv("f32", F32, 1.5), kv("f64", F64, -2.25), kv("bool", BOOL, 1),
        kv("str", STR, "hello"), kv("a_u8", ARR, (U8, [1, 2, 3])), kv("a_i16", ARR, (I16, [-1, 2])),
        kv("a_u64", ARR, (U64, [2**64 - 1])), kv("a_i64", ARR, (I64, [-1])),
        kv("a_f32", ARR, (F32, [0.5, -1.0])), kv("a_f64", ARR, (F64, [3.5])),
        kv("a_bool", ARR, (BOOL, [0, 1])), kv("a_str", ARR, (STR, ["x", "", "yz"])),
        kv("a_empty", ARR, (U32, [])), kv("bad_utf8", STR, b"\xff\xfe(")]
    llama4 = [kv("general.architecture", STR, "llama4"), kv("general.alignment", U32, 32),
              kv("llama4.block_count", U32, 2), kv("llama4.attention.head_count", ARR, (I32, [4, 4])),
              kv("llama4.attention.head_count_kv", U32, 2), kv("llama4.rope.freq_base", F32, 500000.0),
              kv("llama4.attention.layer_norm_rms_epsilon", F32, 1e-5),
              kv("tokenizer.ggml.model", STR, "gpt2"), kv("tokenizer.ggml.tokens", ARR, (STR, ["a", "b", "ab"])),
              kv("tokenizer.ggml.token_type", ARR, (I32, [1, 1, 1])),
              kv("tokenizer.ggml.merges", ARR, (STR, ["a b"])), kv("tokenizer.ggml.scores", ARR, (F32, [0, -1, -2])),
              kv("tokenizer.ggml.bos_token_id", U32, 0), kv("tokenizer.ggml.add_bos_token", BOOL, 1)]
    quant_t = [("f16", [8, 2], 1), ("bf16", [8], 30), ("q8", [64], 8), ("q4k", [256], 12),
               ("q6k", [256], 14), ("iq4xs", [256], 23)]
    return {
        "seed-valid-v3": gguf(ARCH + [kv("llama.block_count", U32, 2)], BASE_T),
        "seed-valid-v2": gguf(ARCH, BASE_T, version=2),
        "seed-every-value-type": gguf(every, [("t", [4], 0)]),
        "seed-every-value-type-v2": gguf(every, [], version=2),
        "seed-align64": gguf([kv("general.alignment", U32, 64)], BASE_T, alignment=64),
        "seed-no-tensors": gguf(ARCH + [kv("tokenizer.ggml.tokens", ARR, (STR, ["<s>", "</s>"]))], []),
        "seed-quant-types": gguf(ARCH, quant_t),
        "seed-llama4-like": gguf(llama4, [("token_embd.weight", [8, 3], 0), ("blk.0.attn_norm.weight", [8], 0)]),
        "seed-4d-tensor": gguf([], [("w", [2, 3, 4, 5], 0)]),
        "seed-empty-header": gguf([], []),
    }


def corrupted_files(valid):
    good = valid["seed-valid-v3"]
    one_t = lambda ne, t, off=0: struct.pack("<IIQQ", MAGIC, 3, 1, 0) + tinfo("w", ne, t, off)
    padded = lambda b, n: b + b"\0" * (-len(b) % 32) + b"\1" * n
    return {
        "seed-bad-magic": b"GGUX" + good[4:],
        "seed-version1": good[:4] + struct.pack("<I", 1) + good[8:],
        "seed-empty": b"",
        "seed-truncated-header": good[:13],
        "seed-truncated-kv": valid["seed-every-value-type-v2"][:500],
        "seed-truncated-tensor-info": (struct.pack("<IIQQ", MAGIC, 3, 1, 0) +
                                       tinfo("a_rather_long_tensor_name", [8, 8], 0, 0))[:70],
        "seed-truncated-data": good[:-1],
        "seed-string-too-long": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"key" + bytes(20),
        "seed-array-too-long": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + s("a") + struct.pack("<IIQ", ARR, U32, 1 << 40),
        "seed-string-array-absurd": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + s("a") +
        struct.pack("<IIQ", ARR, STR, 1 << 62) + s("x"),
        "seed-kv-count-absurd": struct.pack("<IIQQ", MAGIC, 3, 0, 1 << 62) + kv("a", U8, 1),
        "seed-tensor-count-absurd": struct.pack("<IIQQ", MAGIC, 3, 1 << 62, 0) + tinfo("w", [8], 0, 0),
        "seed-duplicate-key": gguf([kv("a", U8, 1), kv("a", U8, 2)], []),
        "seed-duplicate-tensor": gguf([], [("w", [8], 0), ("w", [8], 0)]),
        "seed-unknown-value-type": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + s("k") + struct.pack("<II", 13, 0),
        "seed-unknown-array-type": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + s("k") + struct.pack("<IIQ", ARR, 77, 0),
        "seed-nested-array": struct.pack("<IIQQ", MAGIC, 3, 0, 1) + s("k") +
        struct.pack("<IIQIQB", ARR, ARR, 1, U8, 1, 0),
        "seed-unknown-tensor-type": padded(one_t([8], 4), 32),
        "seed-ndims-0": padded(struct.pack("<IIQQ", MAGIC, 3, 1, 0) + s("w") + struct.pack("<IIQ", 0, 0, 0), 32),
        "seed-ndims-5": padded(one_t([1, 1, 1, 1, 8], 0), 32),
        "seed-zero-dim": padded(one_t([8, 0], 0), 32),
        "seed-element-overflow": padded(one_t([1 << 32, 1 << 32], 0), 32),
        "seed-block-mismatch": padded(one_t([100], 12), 144),
        "seed-nbytes-overflow": padded(one_t([1 << 31, 1 << 31], 0), 32),
        "seed-offset-unaligned": padded(one_t([8], 0, 16), 64),
        "seed-data-out-of-bounds": padded(one_t([16], 0), 63),
        "seed-overlap": padded(struct.pack("<IIQQ", MAGIC, 3, 2, 0) + tinfo("a", [16], 0, 0) +
                               tinfo("b", [8], 0, 32), 96),
        "seed-wrong-key-type": gguf(ARCH + [kv("llama.block_count", STR, "2")], []),
        "seed-alignment-48": gguf([kv("general.alignment", U32, 48)], []),
        "seed-alignment-u64": gguf([kv("general.alignment", U64, 32)], []),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    valid = valid_files()
    files = {**valid, **corrupted_files(valid)}
    for name, data in files.items():
        assert len(data) < 4096, name
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(files)} seeds to {OUT}")


if __name__ == "__main__":
    main()
