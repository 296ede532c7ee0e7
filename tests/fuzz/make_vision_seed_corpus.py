#!/usr/bin/env python3
"""Writes the seed corpora of the vision parsers' fuzz targets.

corpus-image/: small images in every accepted format (PNG, JPEG baseline and
progressive-free, BMP, GIF, PPM, PGM, with and without alpha) plus truncated
and corrupted variants. The JPEG seeds are written by stb_image_write from
libstb-dev (compiled here with cc). corpus-mmproj/: a tiny valid Llama 4
projector GGUF (width 8, 2 heads, one layer, 28x28 tiles) and one variant per
check of vision/mmproj.cpp. Run from anywhere; overwrites seed-* files only.
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_seed_corpus import kv, gguf, U32, F32, BOOL, STR, ARR  # noqa: E402


def write(folder, name, data):
    with open(os.path.join(HERE, folder, "seed-" + name), "wb") as f:
        f.write(data)


def pixels(w, h, n):
    return bytes(((i * 37 + i // 7) & 0xFF) for i in range(w * h * n))


def png(w, h, n, raw):
    color = {1: 0, 3: 2, 4: 6}[n]
    rows = b"".join(b"\0" + raw[y * w * n:(y + 1) * w * n] for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def bmp(w, h, raw):
    stride = (w * 3 + 3) // 4 * 4
    body = b"".join(bytes(c for x in range(w) for c in reversed(raw[(y * w + x) * 3:(y * w + x) * 3 + 3])) +
                    b"\0" * (stride - w * 3) for y in reversed(range(h)))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(body), 0, 0, 54) + info + body


def jpegs():
    src = r'''
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#include <stdio.h>
static void put(void* f, void* d, int n) { fwrite(d, 1, n, (FILE*)f); }
int main(int argc, char** argv) {
  unsigned char px[24 * 17 * 3];
  for (int i = 0; i < 24 * 17 * 3; ++i) px[i] = (unsigned char)(i * 37 + i / 7);
  FILE* f = fopen(argv[1], "wb"); stbi_write_jpg_to_func(put, f, 24, 17, 3, px, 90); fclose(f);
  f = fopen(argv[2], "wb"); stbi_write_jpg_to_func(put, f, 9, 5, 1, px, 50); fclose(f);
  return 0;
}
'''
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "w.c"), os.path.join(d, "w")
        open(c, "w").write(src)
        subprocess.run(["cc", "-O1", c, "-o", exe, "-lm"], check=True)
        a, b = os.path.join(d, "a.jpg"), os.path.join(d, "b.jpg")
        subprocess.run([exe, a, b], check=True)
        return open(a, "rb").read(), open(b, "rb").read()


def images():
    out = {
        "rgb.png": png(13, 7, 3, pixels(13, 7, 3)),
        "grey.png": png(5, 4, 1, pixels(5, 4, 1)),
        "rgba.png": png(6, 3, 4, pixels(6, 3, 4)),
        "rgb.bmp": bmp(7, 5, pixels(7, 5, 3)),
        "rgb.ppm": b"P6\n# comment\n4 3\n255\n" + pixels(4, 3, 3),
        "grey.pgm": b"P5 3 2 255\n" + pixels(3, 2, 1),
        "two.gif": bytes([71, 73, 70, 56, 57, 97, 2, 0, 1, 0, 0x80, 0, 0, 255, 0, 0, 0, 0, 255,
                          0x2C, 0, 0, 0, 0, 2, 0, 1, 0, 0, 2, 2, 0x44, 0x0A, 0, 0x3B]),
    }
    out["colour.jpg"], out["grey.jpg"] = jpegs()
    for name, data in list(out.items()):
        out["cut-" + name] = data[: len(data) * 2 // 3]
        bad = bytearray(data)
        for i in range(len(bad) // 3, len(bad) - 4, 5):
            bad[i] ^= 0x5A
        out["flip-" + name] = bytes(bad)
    out["huge.png"] = png(1, 1, 3, b"\0\0\0")[:16] + struct.pack(">II", 100000, 100000) + b"\x08\x02\0\0\0\0\0\0\0"
    out["zero.bmp"] = bmp(0, 0, b"")
    for name, data in out.items():
        write("corpus-image", name, data)


def projector(**over):
    C, H, ff, p, S, r, P, out = 8, 2, 16, 14, 28, 2, 8, 8
    keys = {
        "general.architecture": (STR, "clip"),
        "clip.has_vision_encoder": (BOOL, 1),
        "clip.projector_type": (STR, "llama4"),
        "clip.vision.image_size": (U32, S),
        "clip.vision.patch_size": (U32, p),
        "clip.vision.embedding_length": (U32, C),
        "clip.vision.feed_forward_length": (U32, ff),
        "clip.vision.block_count": (U32, 1),
        "clip.vision.attention.head_count": (U32, H),
        "clip.vision.attention.layer_norm_epsilon": (F32, 1e-5),
        "clip.vision.projector.scale_factor": (U32, r),
        "clip.use_gelu": (BOOL, 1),
        "clip.vision.image_mean": (ARR, (F32, [0.5, 0.5, 0.5])),
        "clip.vision.image_std": (ARR, (F32, [0.5, 0.5, 0.5])),
    }
    g = (S // p) ** 2 + 1
    tensors = [("v.patch_embd.weight", [3 * p * p, C], 1), ("v.class_embd", [C], 0),
               ("v.position_embd.weight", [C, g], 0)]
    for ln in ("v.pre_ln", "v.post_ln", "v.blk.0.ln1", "v.blk.0.ln2"):
        tensors += [(ln + ".weight", [C], 0), (ln + ".bias", [C], 0)]
    for m in ("attn_q", "attn_k", "attn_v", "attn_out"):
        tensors += [("v.blk.0.%s.weight" % m, [C, C], 1), ("v.blk.0.%s.bias" % m, [C], 0)]
    tensors += [("v.blk.0.ffn_up.weight", [C, ff], 1), ("v.blk.0.ffn_up.bias", [ff], 0),
                ("v.blk.0.ffn_down.weight", [ff, C], 1), ("v.blk.0.ffn_down.bias", [C], 0),
                ("mm.model.mlp.1.weight", [r * r * C, P], 1), ("mm.model.mlp.2.weight", [P, P], 1),
                ("mm.model.fc.weight", [P, out], 1)]
    for k, v in over.get("keys", {}).items():
        if v is None:
            keys.pop(k)
        else:
            keys[k] = v
    for name, ne in over.get("shapes", {}).items():
        tensors = [(n, ne if n == name else s, t) for n, s, t in tensors]
    tensors = [t for t in tensors if t[0] not in over.get("drop", ())]
    return gguf([kv(k, t, v) for k, (t, v) in keys.items()], tensors)


def projectors():
    write("corpus-mmproj", "valid", projector())
    write("corpus-mmproj", "no-type", projector(keys={"clip.projector_type": None}))
    write("corpus-mmproj", "other-type", projector(keys={"clip.projector_type": (STR, "mlp")}))
    write("corpus-mmproj", "text-arch", projector(keys={"general.architecture": (STR, "llama4")}))
    write("corpus-mmproj", "odd-patch", projector(keys={"clip.vision.patch_size": (U32, 13)}))
    write("corpus-mmproj", "odd-heads", projector(keys={"clip.vision.attention.head_count": (U32, 3)}))
    write("corpus-mmproj", "zero-layers", projector(keys={"clip.vision.block_count": (U32, 0)}))
    write("corpus-mmproj", "bad-std", projector(keys={"clip.vision.image_std": (ARR, (F32, [0.5, 0.0]))}))
    write("corpus-mmproj", "wrong-shape", projector(shapes={"v.blk.0.attn_q.weight": [8, 7]}))
    write("corpus-mmproj", "missing-fc", projector(drop=("mm.model.fc.weight",)))


if __name__ == "__main__":
    images()
    projectors()
