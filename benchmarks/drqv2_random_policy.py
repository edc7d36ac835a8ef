"""What uniformly random actions score under drqv2_dmc_mimex.py's own evaluation: its DMCEnv (action repeat, action
scaling, the evaluation env's seed) and its evaluate() loop, with a policy that ignores the observation and draws
every action uniformly from [-1, 1] (held for `--action-repeat` frames, as the script's actions are).

    python benchmarks/drqv2_random_policy.py                                  # cartpole_swingup, 5 seeds x 10 episodes
    python benchmarks/drqv2_random_policy.py --task cartpole_swingup_sparse --episodes 20

Prints each seed's mean, min and max episode return, then over all seeds: the mean, the range of the seeds' means
(comparable with a training run's evaluation point, the mean of its episodes) and the range of single episodes.
Rendering is the fast kind (--fast-render): the policy never looks at the pixels, so the returns are the same.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import drqv2_dmc_mimex as drq  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="cartpole_swingup", help="dm_control task, as drqv2_dmc_mimex.py --task")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="--seed values of the script")
    p.add_argument("--episodes", type=int, default=10, help="episodes per seed (the script's --eval-episodes)")
    p.add_argument("--action-repeat", type=int, default=2, help="frames each action is held")
    cli = p.parse_args()

    seed_means, episodes = [], []
    for seed in cli.seeds:
        args = drq.resolve_args(drq.Args(task=cli.task, seed=seed, action_repeat=cli.action_repeat, fast_render=True))
        drq.check_args(args)
        env = drq.DMCEnv(args, args.seed + 100_000)  # the script's evaluation env
        rng = np.random.default_rng(seed)
        returns = drq.evaluate(env, lambda obs: rng.uniform(-1.0, 1.0, env.act_dim).astype(np.float32), cli.episodes)
        print(f"seed {seed}: mean {np.mean(returns):6.1f}  min {np.min(returns):6.1f}  max {np.max(returns):6.1f}")
        seed_means.append(np.mean(returns))
        episodes.extend(returns)
    print(f"{cli.task}, uniformly random actions, {len(cli.seeds)} seeds x {cli.episodes} episodes, action repeat "
          f"{cli.action_repeat}: mean {np.mean(episodes):.1f}; seed means {np.min(seed_means):.1f}-{np.max(seed_means):.1f}; "
          f"episodes {np.min(episodes):.1f}-{np.max(episodes):.1f}")


if __name__ == "__main__":
    main()
