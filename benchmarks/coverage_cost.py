"""What coverage costs: the time of `Coverage.visit` + `end` (what PixMCVectorEnv.step adds) next to a whole step.

    python benchmarks/coverage_cost.py                                   # KukaReach and KukaPick, state, 512 envs
    python benchmarks/coverage_cost.py --tasks FrankaCabinet --num-envs 32 --obs-type pixels

Random actions; per batched step: the env's whole step (coverage included) and the coverage part alone: computing
the cells (grid index of the hand and object), then `visit` and `end` replayed on them. One row per task: ms per
batched step, and the share.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pixmc_sparse  # noqa: E402
from pixmc_sparse.coverage import Coverage  # noqa: E402


def measure(task: str, obs_type: str, num_envs: int, steps: int) -> tuple[float, float]:
    envs = pixmc_sparse.make(task, num_envs=num_envs, obs_type=obs_type, image_size=84, seed=0)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps,) + envs.action_space.shape)
    cells, ends, step_s, cells_s = [], [], 0.0, 0.0
    for a in actions:
        start = time.perf_counter()
        _, _, terminated, truncated, _ = envs.step(a)
        step_s += time.perf_counter() - start
        start = time.perf_counter()
        cells.append(envs._cells())  # what step computes for coverage: the cells of every env
        cells_s += time.perf_counter() - start
        ends.append(np.flatnonzero(terminated | truncated))
    replay = Coverage(num_envs, envs.coverage.shapes)
    start = time.perf_counter()
    for c, e in zip(cells, ends):
        replay.visit(c)
        replay.end(e)
    step_ms, coverage_ms = step_s / steps * 1e3, (time.perf_counter() - start + cells_s) / steps * 1e3
    envs.close()
    return step_ms, coverage_ms


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["KukaReach", "KukaPick"])
    parser.add_argument("--obs-type", default="state", choices=["state", "pixels"])
    parser.add_argument("--num-envs", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200, help="batched steps timed per task")
    cli = parser.parse_args()
    print("| task | obs | envs | env step, ms (coverage included) | coverage, ms | share |\n|---|---|---|---|---|---|")
    for task in cli.tasks:
        step_ms, coverage_ms = measure(task, cli.obs_type, cli.num_envs, cli.steps)
        print(f"| {task} | {cli.obs_type} | {cli.num_envs} | {step_ms:.2f} | {coverage_ms:.3f} | "
              f"{100 * coverage_ms / step_ms:.2f} % |")
