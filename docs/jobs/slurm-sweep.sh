#!/usr/bin/env bash
# A bedsim sweep as a Slurm job array: one shard per array task (--shard auto reads the task's
# index and the array's size), then docs/jobs/slurm-merge.sh as a job that waits for them all:
#
#   sweep=$(sbatch --parsable --array=0-15 docs/jobs/slurm-sweep.sh)          # 16 shards
#   sbatch --dependency=afterok:$sweep docs/jobs/slurm-merge.sh
#
# Every task must see the same scenario and data files (a shared file system or a copy of the
# repository) and the same bedsim binary: the shards are checked against each other at merge.
# A task that is preempted or requeued resumes from the points it had finished.
# .ci/slurm-test runs this script on a one-node Slurm with a smaller design (the variables
# below), and checks the merge against the same sweep on one machine.
#SBATCH --job-name=bedsim-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=logs/bedsim-sweep-%A_%a.out
set -euo pipefail
cd "${BEDSIM_REPO:-${SLURM_SUBMIT_DIR:-.}}"      # where scenarios/ and data/ are
BEDSIM=${BEDSIM:-bedsim}
SHARDS_DIR=${SHARDS_DIR:-shards}

"$BEDSIM" sweep scenarios/china-provinces.toml \
  --method sobol --samples "${SWEEP_SAMPLES:-512}" --draws "${SWEEP_DRAWS:-1000}" --seed 20251231 \
  --vary care.level.sdlog=0.1..0.4 \
  --vary care.trend.mean=-0.03..0 \
  --vary plan.nursing-conversion.beds.mode=350000..850000 \
  --threads "${SLURM_CPUS_PER_TASK:-2}" \
  --shard auto --out "$SHARDS_DIR/shard-${SLURM_ARRAY_TASK_ID:?run as an array job: sbatch --array=0-N}" --quiet
