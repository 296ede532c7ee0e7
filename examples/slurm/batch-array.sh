#!/bin/bash
# One `scout batch` input split over a Slurm job array, then merged.
#
# Submit from a login node:
#     ./batch-array.sh            # submits the array and the merge job after it
# Each array task runs shard $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT:
# scout reads both variables itself (no --shard needed) and writes
# out.shard-K-of-N.jsonl next to OUT. A task that fails or is preempted can be
# requeued or resubmitted as is: it resumes from its own file and redoes only
# what is missing. The merge job runs once every task succeeded
# (afterok) and checks that every input id is there exactly once.
#
# Adapt the paths, the shard count, and the resources below.
set -euo pipefail

SCOUT=${SCOUT:-/shared/bin/scout}               # the scout binary, on a shared volume
MODEL=${MODEL:-/shared/models/model.gguf}       # the model every task loads (read-only, mmap'ed)
IN=${IN:-/shared/batch/in.jsonl}                # scout jobs or OpenAI Batch lines (detected)
OUT=${OUT:-/shared/batch/out.jsonl}             # tasks write out.shard-K-of-N.jsonl; the merge writes this
SHARDS=${SHARDS:-32}                            # N: array tasks, one shard each

if [[ "${1:-}" != "--task" && "${1:-}" != "--merge" ]]; then
  mkdir -p "$(dirname "$OUT")/logs"
  # The array: task ids 0..N-1 (any contiguous range works: scout counts from SLURM_ARRAY_TASK_MIN).
  # --requeue lets Slurm rerun a preempted task; it picks up where it stopped.
  JOBID=$(sbatch --parsable \
    --job-name=scout-batch --array=0-$((SHARDS - 1)) --requeue \
    --gpus=1 --cpus-per-task=8 --mem=64G --time=04:00:00 \
    --output="$(dirname "$OUT")/logs/shard-%a.log" \
    --export=ALL,SCOUT="$SCOUT",MODEL="$MODEL",IN="$IN",OUT="$OUT" \
    "$0" --task)
  echo "array job $JOBID: $SHARDS shards"
  # The merge, once every task of the array succeeded.
  MERGE=$(sbatch --parsable \
    --job-name=scout-merge --dependency=afterok:"$JOBID" \
    --cpus-per-task=1 --mem=8G --time=00:30:00 \
    --output="$(dirname "$OUT")/logs/merge.log" \
    --export=ALL,SCOUT="$SCOUT",IN="$IN",OUT="$OUT",SHARDS="$SHARDS" \
    "$0" --merge)
  echo "merge job $MERGE runs after $JOBID"
  exit 0
fi

if [[ "$1" == "--task" ]]; then
  # One shard. --parallel keeps several jobs in flight in the one loaded model.
  exec "$SCOUT" batch -m "$MODEL" -i "$IN" -o "$OUT" --parallel 8 -n 512 --temp 0
fi

# --merge: every shard's file, in any order; exit 1 (the job fails) when an
# id is missing or duplicated, and then nothing is written.
stem="${OUT%.*}" ext="${OUT##*.}"
shards=()
for ((k = 0; k < SHARDS; k++)); do shards+=("$stem.shard-$k-of-$SHARDS.$ext"); done
exec "$SCOUT" batch merge -i "$IN" -o "$OUT" "${shards[@]}"
