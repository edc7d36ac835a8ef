"""Env throughput of pixmc_sparse: env-steps per second (steps summed over envs) with random actions.

    python benchmarks/env_throughput.py                      # state, 84 px, 224 px x 1/16/64 envs
    python benchmarks/env_throughput.py --tasks KukaPick --num-envs 64 --seconds 10

Prints one row per (task, observation, num_envs), plus the peak resident memory of the process.
Timing excludes construction and the first reset; autoresets inside the window are included.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pixmc_sparse  # noqa: E402


def measure(task: str, obs_type: str, image_size: int, num_envs: int, seconds: float, threads: int | None) -> float:
    envs = pixmc_sparse.make(task, num_envs=num_envs, obs_type=obs_type, image_size=image_size, seed=0,
                             num_threads=threads)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (64,) + envs.action_space.shape).astype(np.float32)
    envs.step(actions[0])  # warm-up
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(actions[steps % 64])
        steps += 1
    elapsed = time.perf_counter() - start
    envs.close()
    return steps * num_envs / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["FrankaPick", "KukaPick"], help="tasks to measure")
    p.add_argument("--num-envs", nargs="+", type=int, default=[1, 16, 64], help="numbers of envs")
    p.add_argument("--obs", nargs="+", default=["state", "84", "224"], help="'state' or an image size in pixels")
    p.add_argument("--seconds", type=float, default=5.0, help="measuring window per row (s)")
    p.add_argument("--threads", type=int, default=None, help="stepping threads (default: one per core)")
    args = p.parse_args()
    print(f"{'task':14s} {'obs':>6s} {'envs':>5s} {'env-steps/s':>12s}")
    for task in args.tasks:
        for obs in args.obs:
            obs_type, size = ("state", 84) if obs == "state" else ("pixels", int(obs))
            for n in args.num_envs:
                sps = measure(task, obs_type, size, n, args.seconds, args.threads)
                print(f"{task:14s} {obs:>6s} {n:5d} {sps:12,.0f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
