#!/usr/bin/env bash
# The long-context run of the README: a nano Llama 4 (4 layers, the last one
# global, chunk 64, one kv head of 32) evaluates one sequence of N tokens per
# KV type, generates 32 tokens at that depth, and checks the logits at five
# sampled positions against the plain reference (linear time: the global
# layer is last). One line per type: prefill time, decode t/s, peak RSS, KV
# bytes, the reference's relative error.
#   tools/bench/long_context.sh [BUILD_DIR] [N] [TYPES] [HEADS]
#   tools/bench/long_context.sh build 1048576 f16,q8_0,q4_0 1
# Time: the global layer's prefill attention is quadratic, N^2/2 x heads x 128
# flops; at N = 1M and one head that is ~7e13 flops, ~24 minutes per type
# on this project's 2-core AVX2 VM (N = 64K: ~10 s).
set -euo pipefail
build=${1:-build}
n=${2:-1048576}
types=${3:-f16,q8_0,q4_0}
heads=${4:-1}
for t in ${types//,/ }; do
  SCOUT_LONG_CONTEXT=$n SCOUT_LONG_CONTEXT_KV=$t SCOUT_LONG_CONTEXT_HEADS=$heads \
    "$build/tests/scout_tests" --gtest_filter='LongContextRun.*' 2>&1 | grep -E '^\[long-context-run\]|Failure|FAILED|rel ' || true
done
