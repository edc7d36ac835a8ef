"""What the hand camera sees of the goal: is the Reach (or Move) goal marker in the policy's image, how large, when?

    python benchmarks/goal_visibility.py                                   # FrankaReach and KukaReach, 84 px
    python benchmarks/goal_visibility.py --tasks FrankaMove --num-envs 16 --image-size 224

The pixel policy has only the hand camera's image and the robot's joint state: the goal's position is not in its
observation (the oracle state has it). So it can only learn to reach a goal it sees. For each env and step, the
image is rendered a second time with the goal marker moved out of the scene; the pixels that differ are the
marker's. Two policies: random actions (what PPO starts from) and the scripted inverse-kinematics reach (what a
solved episode looks like). Prints, per task and policy: the share of episodes whose goal is in view at the reset,
the share of all steps with it in view, its mean area in pixels when in view, and the share at the episode's last
step. A few seconds per task on a CPU.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pixmc_sparse  # noqa: E402
from pixmc_sparse import scripted  # noqa: E402

AWAY = np.array([0.0, 0.0, -50.0])  # far below the floor: out of every view


def goal_pixels(sim) -> np.ndarray:
    """Per env: how many pixels of its current image are the goal marker's."""
    counts = np.zeros(sim.num_envs, int)
    for i in range(sim.num_envs):
        goal, image = sim.datas[i].mocap_pos[sim.goal_mocap].copy(), sim.pixels[i].copy()
        sim.place(i, goal_pos=AWAY)
        counts[i] = np.count_nonzero((image != sim.pixels[i]).any(-1))
        sim.place(i, goal_pos=goal)  # back as it was (the image too)
    return counts


def episode(task: str, num_envs: int, image_size: int, policy: str, seed: int) -> np.ndarray:
    """Goal pixels of every env at every step of one episode: (steps + 1, num_envs), the reset first."""
    envs = pixmc_sparse.make(task, num_envs=num_envs, obs_type="pixels", image_size=image_size, seed=seed)
    envs.reset()
    sim, rng = envs.sim, np.random.default_rng(seed)
    counts = [goal_pixels(sim)]
    for _ in range(envs.max_episode_steps):
        if policy == "random":
            actions = rng.uniform(-1, 1, (num_envs, sim.ndof))
        else:
            actions = scripted.reach_actions(sim)
        _, _, terminated, truncated, _ = envs.step_without_reset(actions)
        counts.append(goal_pixels(sim))
        if (terminated | truncated).all():
            break
    envs.close()
    return np.array(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["FrankaReach", "KukaReach"])
    parser.add_argument("--num-envs", type=int, default=32, help="episodes per task and policy")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"| task | policy | goal in view at reset | steps with the goal in view | its pixels when in view (of "
          f"{args.image_size}²) | in view at the last step |\n|---|---|---|---|---|---|")
    for task in args.tasks:
        for policy in ("random", "scripted"):
            c = episode(task, args.num_envs, args.image_size, policy, args.seed)
            seen = c > 0
            area = c[seen].mean() if seen.any() else 0.0
            print(f"| {task} | {policy} | {seen[0].mean():.2f} | {seen.mean():.2f} | {area:.0f} | {seen[-1].mean():.2f} |")


if __name__ == "__main__":
    main()
