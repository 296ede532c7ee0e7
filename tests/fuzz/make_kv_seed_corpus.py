#!/usr/bin/env python3
"""Writes the seed corpus of kv_snapshot_fuzz (tests/fuzz/corpus-kv/): saved KV
caches for the fuzz target's fixed cache (4 layers, chunk 4 and global
alternating, one kv head of 32, f16 blocks of 16, vocabulary 8), valid except
for the checksum, which the target recomputes on its second try."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-kv")
FINGERPRINT = 0x5C0075C0075C0075
CHUNKS = [4, 0, 4, 0]
BLOCK = 16
BLOCK_BYTES = 1 * BLOCK * (32 + 32) * 2


def pad8(b):
    return b + b"\0" * (-len(b) % 8)


def snapshot(n_tokens, type_k=1, type_v=1):
    h = b"SCOUTKV\0" + struct.pack("<IIQIIIIIIIIQQQ", 1, len(CHUNKS), FINGERPRINT, 1, 32, 32, BLOCK, type_k, type_v, 8,
                                       1, n_tokens, BLOCK_BYTES, 0)
    body = pad8(struct.pack(f"<{n_tokens}i", *[(i * 3) % 8 for i in range(n_tokens)]))
    body += pad8(struct.pack("<8f", *[0.5 * i for i in range(8)]))
    blocks = b""
    for c in CHUNKS:
        base = n_tokens - n_tokens % c if c else 0
        n_blocks = 0 if base >= n_tokens else (n_tokens - base + BLOCK - 1) // BLOCK
        body += struct.pack("<qq", base, n_blocks)
        blocks += bytes((i * 7) % 251 for i in range(n_blocks * BLOCK_BYTES))
    return h + body + blocks + b"\0" * 8


os.makedirs(here, exist_ok=True)
seeds = {
    "seed-6-tokens": snapshot(6),
    "seed-8-tokens-chunk-boundary": snapshot(8),
    "seed-40-tokens": snapshot(40),
    "seed-other-types": snapshot(6, 3, 4),
}
seeds["seed-truncated"] = seeds["seed-40-tokens"][:500]
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {here}")
