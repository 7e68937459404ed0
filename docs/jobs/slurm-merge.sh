#!/usr/bin/env bash
# Merges the shards of docs/jobs/slurm-sweep.sh or docs/jobs/slurm-run.sh once they have all
# finished: submit it with --dependency=afterok:<array job id>. bedsim merge checks that every
# shard of the same sweep or run is there once and writes the single-machine result.
#SBATCH --job-name=bedsim-merge
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
#SBATCH --output=logs/bedsim-merge-%j.out
set -euo pipefail
cd "${BEDSIM_REPO:-${SLURM_SUBMIT_DIR:-.}}"
BEDSIM=${BEDSIM:-bedsim}
SHARDS_DIR=${SHARDS_DIR:-shards}

"$BEDSIM" merge "$SHARDS_DIR"/shard-* --out "${MERGE_OUT:-results/merged}" --force --quiet
