#!/usr/bin/env bash
# PixMC-Sparse, paper Fig. 3: PPO ("noise"), ICM, RND and MIMEx on the 8 sparse-reward tasks, 7 seeds each, at the
# authors' settings (README "Reproducing the paper"): pixels, MVP's frozen ViT-S/16 (224 px), 512 envs x 32 steps,
# each task's iteration count, and the scripts' defaults for everything else (per-task learning rate and MIMEx beta,
# sequence length 5, mask ratio 0.7, reward level sparse).
#
# Size: 8 tasks x 4 scripts x 7 seeds = 224 runs; env steps per (script, seed) over the 8 tasks:
#   FrankaReach 8,192,000 + FrankaCabinet 24,576,000 + FrankaPick 65,536,000 + FrankaMove 65,536,000
#   + KukaReach 16,384,000 + KukaCabinet 32,768,000 + KukaPick 65,536,000 + KukaMove 65,536,000 = 344,064,000,
#   x 28 = 9,633,792,000 env steps in all.
#
# Run from the repository root (needs MVP's checkpoint, see README):
#   MVP_CKPT=/path/mae_pretrain_hoi_vit_small.pth bash benchmarks/paper/pixmc_sparse.sh              # Slurm
#   LAUNCHER=local WORKERS=4 THREADS=4 bash benchmarks/paper/pixmc_sparse.sh                          # one machine
# Killed or timed out? Run the same command again: finished runs are skipped. Then:
#   python plot.py sweeps/pixmc_sparse --out sweeps/pixmc_sparse/fig3.png --intrinsic
set -euo pipefail
cd "$(dirname "$0")/../.."

LAUNCHER=${LAUNCHER:-slurm}                 # slurm | local | submitit-local
PARTITION=${PARTITION:-}                    # Slurm partition (empty: the cluster's default)
TIME=${TIME:-4320}                          # Slurm time limit per run, minutes
GPUS=${GPUS:-1}                             # GPUs per Slurm job
THREADS=${THREADS:-8}                       # CPU threads (Slurm cpus) per run: the env steps and renders on them
WORKERS=${WORKERS:-224}                     # runs queued/running at once (local: in parallel on this machine)
SEEDS=${SEEDS:-1 2 3 4 5 6 7}
SWEEP_DIR=${SWEEP_DIR:-sweeps/pixmc_sparse}
MVP_CKPT=${MVP_CKPT:-mae_pretrain_hoi_vit_small.pth}
[ -f "$MVP_CKPT" ] || { echo "MVP's checkpoint $MVP_CKPT not found: set MVP_CKPT (see README)" >&2; exit 1; }

# shellcheck disable=SC2086  # SEEDS is a list of words
python benchmark.py \
    --scripts ppo_pixmc.py ppo_pixmc_icm.py ppo_pixmc_rnd.py ppo_pixmc_mimex.py \
    --tasks FrankaReach FrankaCabinet FrankaPick FrankaMove KukaReach KukaCabinet KukaPick KukaMove \
    --seeds $SEEDS \
    --obs-type pixels --reward-level sparse \
    --common "--num-envs 512 --num-steps 32 --image-size 224 --encoder mvp --encoder-checkpoint $(realpath "$MVP_CKPT")" \
    --task-flags "FrankaReach: --total-timesteps 8192000" "FrankaCabinet: --total-timesteps 24576000" \
                 "FrankaPick: --total-timesteps 65536000" "FrankaMove: --total-timesteps 65536000" \
                 "KukaReach: --total-timesteps 16384000" "KukaCabinet: --total-timesteps 32768000" \
                 "KukaPick: --total-timesteps 65536000" "KukaMove: --total-timesteps 65536000" \
    --cuda --sweep-dir "$SWEEP_DIR" --launcher "$LAUNCHER" --workers "$WORKERS" --threads "$THREADS" \
    ${PARTITION:+--slurm-partition "$PARTITION"} --slurm-time "$TIME" --slurm-gpus-per-task "$GPUS" \
    "$@"
