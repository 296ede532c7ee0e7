#!/usr/bin/env bash
# The CPU speed table of the README: makes the two `bench`-preset files
# (Q4_K_M-style mix and Q8_0, the real Llama 4 vocabulary from ../shared) if
# they are missing, then runs `scout bench` on each for pp512 and tg128, and
# the batched decode (-np 1,4,8 at depth 128, 64 tokens). With LLAMA_BENCH
# and LLAMA_BATCHED_BENCH naming llama.cpp's llama-bench and
# llama-batched-bench, the same tests through llama.cpp follow each file's
# rows, in the same run, so the two compare side by side.
#   tools/bench/bench_preset.sh [BUILD_DIR] [THREADS] [REPS] [OUT_DIR]
set -euo pipefail
build=${1:-build}
threads=${2:-1,2}
reps=${3:-3}
out=${4:-bench-models}
here=$(cd "$(dirname "$0")/../.." && pwd)
scout="$build/scout"
vocab="$here/../shared/models/llama4/tokenizer.model"
mkdir -p "$out"

# llama.cpp's Q4_K_M mix for these shapes: q6_K for the output head and for
# attn_v, ffn_down_exps and ffn_down_shexp of layers 0, 3, 6 and 7; q4_K elsewhere.
q6='{"output":"q6_K"'
for l in 0 3 6 7; do
  for t in attn_v ffn_down_exps ffn_down_shexp; do q6="$q6,\"blk.$l.$t.weight\":\"q6_K\""; done
done
q6="$q6}"

[ -f "$out/bench-q4_k_m.gguf" ] ||
  "$scout" make-model --preset bench --type q4_K --set "tensor_types=$q6" --vocab "$vocab" -o "$out/bench-q4_k_m.gguf"
[ -f "$out/bench-q8_0.gguf" ] ||
  "$scout" make-model --preset bench --type q8_0 --vocab "$vocab" -o "$out/bench-q8_0.gguf"

"$scout" bench --mem-bw -t "$threads" -o md 2>/dev/null
for f in bench-q4_k_m bench-q8_0; do
  "$scout" bench -m "$out/$f.gguf" -p 512 -n 128 -t "$threads" -r "$reps" -o md 2>/dev/null
  if [ -n "${LLAMA_BENCH:-}" ]; then
    "$LLAMA_BENCH" -m "$out/$f.gguf" -p 512 -n 128 -t "$threads" -r "$reps" -o md 2>/dev/null
  fi
  # Batched decode: aggregate t/s of N sequences, each 128 tokens deep.
  last_threads=${threads##*,}
  "$scout" bench -m "$out/$f.gguf" -p 0 -n 64 -d 128 -np 1,4,8 -t "$last_threads" -r "$reps" -o md 2>/dev/null
  if [ -n "${LLAMA_BATCHED_BENCH:-}" ]; then
    "$LLAMA_BATCHED_BENCH" -m "$out/$f.gguf" -c 4096 -b 2048 -ub 512 -npp 128 -ntg 64 -npl 1,4,8 \
      -t "$last_threads" 2>&1 | grep -E '^\|'
  fi
done
