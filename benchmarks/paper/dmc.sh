#!/usr/bin/env bash
# DeepMind Control from pixels: DrQ-v2 without ("noise", --beta 0) and with MIMEx (the script's default beta 0.05,
# sequence length 5, mask ratio 0.7) on the paper's 6 tasks, those of the authors' mimex-dmc/cfgs/task/: acrobot_swingup,
# cartpole_swingup_sparse, finger_turn_easy, finger_turn_hard, quadruped_run, quadruped_walk. All at their settings:
# DrQ-v2's medium preset (3.1M frames, exploration std 1.0 -> 0.1 over 500k agent steps), batch 1024, 1-step returns,
# replay 1M transitions (quadruped_run: 100k, as their task config); action repeat 2, frame stack 3 (script defaults).
# The authors' repository does not state a seed count for DMC: 7 seeds here, as on PixMC (set SEEDS to change).
#
# Size: 6 tasks x 2 arms x 7 seeds = 84 runs x 3,100,000 frames = 260,400,000 frames in all.
# Memory: a 1M-transition replay of 84x84 frames is ~21 GB of RAM per run (--buffer-size, see docs/drqv2_dmc_mimex.md).
#
# Run from the repository root:
#   bash benchmarks/paper/dmc.sh                                     # Slurm
#   LAUNCHER=local WORKERS=2 THREADS=8 bash benchmarks/paper/dmc.sh   # one machine
# Then: python plot.py sweeps/dmc --out sweeps/dmc/dmc.png --intrinsic
set -euo pipefail
cd "$(dirname "$0")/../.."

LAUNCHER=${LAUNCHER:-slurm}                 # slurm | local | submitit-local
PARTITION=${PARTITION:-}                    # Slurm partition (empty: the cluster's default)
TIME=${TIME:-2880}                          # Slurm time limit per run, minutes
GPUS=${GPUS:-1}                             # GPUs per Slurm job
THREADS=${THREADS:-8}                       # CPU threads (Slurm cpus) per run
WORKERS=${WORKERS:-84}                      # runs queued/running at once (local: in parallel on this machine)
SEEDS=${SEEDS:-1 2 3 4 5 6 7}
SWEEP_DIR=${SWEEP_DIR:-sweeps/dmc}
BIG="--buffer-size 1000000"

# shellcheck disable=SC2086  # SEEDS is a list of words
python benchmark.py \
    --scripts drqv2_dmc_mimex.py \
    --tasks acrobot_swingup cartpole_swingup_sparse finger_turn_easy finger_turn_hard quadruped_run quadruped_walk \
    --seeds $SEEDS \
    --extra "--beta 0" "" \
    --common "--total-frames 3100000 --std-schedule-steps 500000 --batch-size 1024 --nstep 1" \
    --task-flags "acrobot_swingup: $BIG" "cartpole_swingup_sparse: $BIG" "finger_turn_easy: $BIG" \
                 "finger_turn_hard: $BIG" "quadruped_run: --buffer-size 100000" "quadruped_walk: $BIG" \
    --cuda --sweep-dir "$SWEEP_DIR" --launcher "$LAUNCHER" --workers "$WORKERS" --threads "$THREADS" \
    ${PARTITION:+--slurm-partition "$PARTITION"} --slurm-time "$TIME" --slurm-gpus-per-task "$GPUS" \
    "$@"
