#!/usr/bin/env bash
# The `scout batch` throughput table of the README: 64 OpenAI Batch jobs of
# about 100 prompt tokens (random common English words, fixed seed) and 64
# generated tokens each, at --parallel 1, 4, 8 and 16, on a model file (the
# `bench` preset's Q4_K_M from bench_preset.sh by default); then, when
# LLAMA_BATCHED_BENCH names llama.cpp's llama-batched-bench, the same
# workload through it (B sequences: their prompts in one batch, then B
# tokens a step). Prints scout's summary lines and llama.cpp's table.
#   tools/bench/batch_throughput.sh [BUILD_DIR] [MODEL] [THREADS] [OUT_DIR]
set -euo pipefail
build=${1:-build}
model=${2:-bench-models/bench-q4_k_m.gguf}
threads=${3:-2}
out=${4:-batch-throughput}
mkdir -p "$out"

python3 - "$out/jobs.jsonl" <<'EOF'
import json, random, sys
words = """the a of and to in is was for on that with as by at from his her it an were are which this be or has
had not but have they their one all been its who also after first new two more other into some time
when can than over only most would such these about years may many people there between during where
three being because under while world through these city state school work war long life known part
made early later did high each great since both same before family then well found home any before
house around line began public small end water general used country four late every year right group
large area number system several american use power national king back""".split()
random.seed(17)
with open(sys.argv[1], "w") as f:
    for i in range(64):
        text = " ".join(random.choice(words) for _ in range(random.randint(94, 104))).capitalize() + "."
        body = {"model": "bench", "prompt": text, "max_tokens": 64, "temperature": 0, "ignore_eos": True}
        f.write(json.dumps({"custom_id": f"job-{i:02d}", "method": "POST", "url": "/v1/completions", "body": body}) + "\n")
EOF

for p in 1 4 8 16; do
  "$build/scout" batch -m "$model" -i "$out/jobs.jsonl" -o "$out/out.p$p.jsonl" --no-resume --parallel "$p" -t "$threads" 2>&1 |
    grep -E ' done \('
done
# Every level must give the same 64 texts.
for p in 4 8 16; do
  cmp -s <(python3 -c 'import json,sys; [print(json.loads(l)["response"]["body"]["choices"][0]["text"]) for l in open(sys.argv[1])]' "$out/out.p1.jsonl") \
         <(python3 -c 'import json,sys; [print(json.loads(l)["response"]["body"]["choices"][0]["text"]) for l in open(sys.argv[1])]' "$out/out.p$p.jsonl") ||
    echo "--parallel $p: the texts differ from --parallel 1"
done

if [ -n "${LLAMA_BATCHED_BENCH:-}" ]; then
  "$LLAMA_BATCHED_BENCH" -m "$model" -c 8192 -b 2048 -ub 512 -npp 102 -ntg 64 -npl 1,4,8,16 -t "$threads" 2>&1 | grep -E '^\|'
fi
