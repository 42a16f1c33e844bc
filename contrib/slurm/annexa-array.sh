#!/usr/bin/env bash
# A SLURM job array that extracts one BIDS subset with N tasks sharing one
# cache and one target folder. Submit with:
#   sbatch --array=1-8 contrib/slurm/annexa-array.sh ///openneuro/ds004712 /scratch/$USER/t1w
# Each task delivers its part (--shard K/N): the parts are disjoint and cover
# the selection exactly. Re-submitting a failed task only fetches what is missing.
#SBATCH --job-name=annexa
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=02:00:00
set -euo pipefail

source=${1:?usage: annexa-array.sh SOURCE TARGET [annexa get options...]}
target=${2:?usage: annexa-array.sh SOURCE TARGET [annexa get options...]}
shift 2
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(--suffix T1w --ext .nii.gz)

k=${SLURM_ARRAY_TASK_ID:?run as a job array (sbatch --array=1-N)}
n=${SLURM_ARRAY_TASK_COUNT:-$(( ${SLURM_ARRAY_TASK_MAX:?} - ${SLURM_ARRAY_TASK_MIN:-1} + 1 ))}

# One cache on a shared file system for all tasks (see docs/hpc.md).
export ANNEXA_CACHE=${ANNEXA_CACHE:-/scratch/$USER/annexa-cache}
mkdir -p "$target/.manifests"

annexa get "$source" --to "$target" "${filters[@]}" \
  --shard "$k/$n" --jobs "${SLURM_CPUS_PER_TASK:-2}" \
  --manifest "$target/.manifests/part-$k-of-$n.jsonl"
