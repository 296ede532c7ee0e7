#!/usr/bin/env bash
# The GPU measurement the CUDA issue asks for: `scout-layers` files (true
# Llama 4 Scout layer shapes, llama.cpp's Q4_K_M-style mix: q6_K for the output
# head and for attn_v / ffn_down_exps / ffn_down_shexp of every fourth layer,
# q4_K elsewhere) with two layer counts, each benchmarked on the GPU for pp512
# and tg128. The difference between the two, divided by the layers between
# them, is the time of one layer, free of the embedding and output head; times
# 48 plus the fixed part is full Scout.
#   tools/bench/cuda_scout_layers.sh [BUILD_DIR] [LAYERS_A] [LAYERS_B] [REPS] [OUT_DIR]
# Each layer is about 1.2 GB on disk and in GPU memory.
set -euo pipefail
build=${1:-build}
la=${2:-4}
lb=${3:-8}
reps=${4:-3}
out=${5:-bench-models}
here=$(cd "$(dirname "$0")/../.." && pwd)
scout="$build/scout"
vocab="$here/../shared/models/llama4/tokenizer.model"
mkdir -p "$out"

for n in "$la" "$lb"; do
  f="$out/scout-layers-$n-q4_k_m.gguf"
  if [ ! -f "$f" ]; then
    q6='{"output":"q6_K"'
    for ((l = 0; l < n; l += 4)); do
      for t in attn_v ffn_down_exps ffn_down_shexp; do q6="$q6,\"blk.$l.$t.weight\":\"q6_K\""; done
    done
    q6="$q6}"
    "$scout" make-model --preset scout-layers --layers "$n" --type q4_K --set "tensor_types=$q6" --vocab "$vocab" -o "$f"
  fi
done

nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv 2>/dev/null || true
for n in "$la" "$lb"; do
  "$scout" bench -m "$out/scout-layers-$n-q4_k_m.gguf" --device cuda --load map -p 512 -n 128 -r "$reps" -o md
done
