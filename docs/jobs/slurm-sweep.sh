#!/usr/bin/env bash
# A bedsim sweep as a Slurm job array: one shard per array task, then one merge job.
#
#   sbatch --array=1-16 docs/jobs/slurm-sweep.sh            # 16 shards
#   sbatch --dependency=afterok:<array job id> --wrap \
#     'bedsim merge shards/shard-* --out results/national-sobol'
#
# Every task must see the same scenario and data files (a shared file system or a copy of the
# repository) and the same bedsim binary: the shards are checked against each other at merge.
#SBATCH --job-name=bedsim-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=logs/bedsim-%A_%a.out
set -euo pipefail

N=${SLURM_ARRAY_TASK_COUNT:?run as an array job: sbatch --array=1-N}
K=${SLURM_ARRAY_TASK_ID:?}

bedsim sweep scenarios/china-provinces.toml \
  --method sobol --samples 512 --draws 1000 --seed 20251231 \
  --vary care.level.sdlog=0.1..0.4 \
  --vary care.trend.mean=-0.03..0 \
  --vary plan.nursing-conversion.beds.mode=350000..850000 \
  --threads "${SLURM_CPUS_PER_TASK:-2}" \
  --shard "${K}/${N}" --out "shards/shard-${K}" --quiet
