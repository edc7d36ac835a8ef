"""Episode returns of fixed behaviours: standing still (zero actions) vs the scripted solution, per task and
reward level, with the success rate and how many envs earn a reward term at reset. It shows what a policy is paid
for doing nothing, e.g. sparse FrankaCabinet's "around_handle" term, which the default Franka pose already earns
whenever the randomly placed handle lies between the two fingers' heights (as in the original task).

    python benchmarks/scripted_returns.py                                   # FrankaCabinet, sparse, 32 envs
    python benchmarks/scripted_returns.py --tasks FrankaCabinet KukaCabinet --levels dense sparse --num-envs 16

One episode per env (seeded 0..N-1 through `make(seed=0)`); returns are sums of the env's reward.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import pixmc_sparse  # noqa: E402
import pixmc_sparse.scripted as scripted  # noqa: E402


def controller(task: str, sim):
    """The scripted solution of a task: a callable giving actions, and what to call when episodes end."""
    if task.endswith("Reach"):
        return (lambda: scripted.reach_actions(sim)), None
    script = scripted.CabinetScript(sim) if task.endswith("Cabinet") else (
        scripted.FrankaPickScript(sim) if task.startswith("Franka") else scripted.KukaPickScript(sim))
    return script, script.reset


def episode(task: str, level: str, num_envs: int, behaviour: str) -> dict:
    """Play the first episode of every env; return mean return, success rate and the reset-time reward terms."""
    envs = pixmc_sparse.make(task, num_envs=num_envs, obs_type="state", reward_level=level, seed=0)
    envs.reset(seed=0)
    sim = envs.sim
    at_reset = {k: float(np.mean(v != 0)) for k, v in sim.raw_terms(np.zeros((num_envs, sim.ndof))).items()
                if envs.reward_scales[k] != 0 and k != "action_penalty"}
    policy, on_done = (lambda: np.zeros((num_envs, sim.ndof))), None
    if behaviour == "scripted":
        policy, on_done = controller(task, sim)
    returns, total = np.full(num_envs, np.nan), np.zeros(num_envs)
    success = np.zeros(num_envs, bool)
    while np.isnan(returns).any():
        _, reward, terminated, truncated, info = envs.step(policy())
        total += reward
        done = (terminated | truncated) & np.isnan(returns)
        returns[done], success[done] = total[done], info["success"][done]
        if on_done is not None and (terminated | truncated).any():
            on_done(np.flatnonzero(terminated | truncated))
    envs.close()
    return {"return": returns.mean(), "success": success.mean(), "at_reset": at_reset}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["FrankaCabinet"], choices=pixmc_sparse.TASKS)
    parser.add_argument("--levels", nargs="+", default=["sparse"], choices=pixmc_sparse.REWARD_LEVELS)
    parser.add_argument("--num-envs", type=int, default=32)
    args = parser.parse_args()
    print("| task | reward level | behaviour | mean return | success | envs earning a term at reset |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        for level in args.levels:
            for behaviour in ("zero actions", "scripted"):
                r = episode(task, level, args.num_envs, behaviour)
                terms = ", ".join(f"{k} {v:.0%}" for k, v in r["at_reset"].items() if v > 0) or "none"
                print(f"| {task} | {level} | {behaviour} | {r['return']:.0f} | {r['success']:.2f} | {terms} |", flush=True)
