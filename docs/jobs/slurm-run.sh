#!/usr/bin/env bash
# One bedsim run split by region over a Slurm job array: task K runs every N-th region
# (--shard auto), then docs/jobs/slurm-merge.sh, as a job that waits for them all, adds the
# shards' group sums and writes exactly the single-machine results:
#
#   run=$(sbatch --parsable --array=1-16 docs/jobs/slurm-run.sh)
#   sbatch --dependency=afterok:$run --export=ALL,SHARDS_DIR=run-shards docs/jobs/slurm-merge.sh
#
# A shard holds at most --memory MiB of per-draw group sums at once (docs/distributed.md).
# .ci/slurm-test runs it on a one-node Slurm with the national scenario at 200 draws.
#SBATCH --job-name=bedsim-run
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=02:00:00
#SBATCH --output=logs/bedsim-run-%A_%a.out
set -euo pipefail
cd "${BEDSIM_REPO:-${SLURM_SUBMIT_DIR:-.}}"
BEDSIM=${BEDSIM:-bedsim}
RUN_SHARDS_DIR=${RUN_SHARDS_DIR:-run-shards}

"$BEDSIM" run "${RUN_SCENARIO:-scenarios/china-counties.toml}" \
  --draws "${RUN_DRAWS:-10000}" \
  --threads "${SLURM_CPUS_PER_TASK:-2}" \
  --shard auto --out "$RUN_SHARDS_DIR/shard-${SLURM_ARRAY_TASK_ID:?run as an array job: sbatch --array=1-N}" --quiet
