"""Render the README's task table: for each task, the hand camera at reset, the hand camera facing
the task's object (arm placed by inverse kinematics), and a third-person view.

    python docs/make_task_pictures.py            # writes docs/img/<Task>.png (3 panels each)
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402

import pixmc_sparse  # noqa: E402
from pixmc_sparse.render import make_renderer  # noqa: E402
from pixmc_sparse.scripted import pose_facing  # noqa: E402


def facing_view(envs) -> np.ndarray:
    """Place env 0's arm to face its object and return the hand-camera image (H, W, 3)."""
    sim = envs.sim
    if sim.task.kind == "cabinet":
        pose_facing(sim, 0, sim.point("handle")[0], direction="-x", standoff=0.3)
    elif sim.task.kind == "reach":
        pose_facing(sim, 0, sim.point("goal")[0], direction="down", standoff=0.3)
    else:
        pose_facing(sim, 0, sim.point("cube")[0], direction="down", standoff=0.3)
    return sim.observation()["pixels"][0].transpose(1, 2, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "img"), help="output folder")
    parser.add_argument("--size", type=int, default=224, help="hand-camera image size (pixels)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for task in pixmc_sparse.TASKS:
        envs = pixmc_sparse.make(task, num_envs=1, obs_type="pixels", image_size=args.size, seed=args.seed,
                                 num_threads=1)
        obs, _ = envs.reset(seed=args.seed)
        at_reset = obs["pixels"][0].transpose(1, 2, 0)
        viewer = make_renderer(envs.sim.model, args.size, args.size * 4 // 3)
        viewer.update_scene(envs.sim.datas[0], camera="scene")
        scene = viewer.render().copy()
        viewer.close()
        facing = facing_view(envs)
        envs.close()
        gap = np.full((args.size, 4, 3), 255, np.uint8)
        imageio.imwrite(out / f"{task}.png", np.concatenate([at_reset, gap, facing, gap, scene], axis=1))
        print(f"wrote {out / f'{task}.png'}")


if __name__ == "__main__":
    main()
