"""Do the pixel policy's image features carry the goal's position? A linear probe on the CNN encoder of a PPO run.

    python benchmarks/goal_probe.py --model runs/RUN/checkpoint.pt            # a run's checkpoint (or --save-model file)
    python benchmarks/goal_probe.py --model A.pt B.pt --task FrankaReach      # several, e.g. early and late in a run

Reach's goal is not in the pixel policy's observation: it is in the hand camera's image or nowhere. So a policy can
only reach it if its encoder's features say where it is. This collects hand-camera images of FrankaReach (or
KukaReach) episodes — half the envs act at random, half follow the scripted reach, so the goal is both near and far
— and, over the frames where the goal marker is in view (its pixels counted as in goal_visibility.py), fits ridge
regressions from the 256-d encoder features to where the goal is: its place in the image (its two angles off the camera's axis,
atan(x / depth) and atan(y / depth) in the camera's frame) and its distance along the camera's axis (depth). Fitted
on the episodes of 3/4 of the envs, scored (R²; image place: the mean over its two coordinates) on the others. Rows:
each --model's encoder, the same CNN freshly initialised (what PPO starts from: random conv features are not
nothing), and the raw image average-pooled to a quarter of its side (21 x 21 at 84 px: what a linear map of the
pixels gets). About two minutes on a CPU.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from goal_visibility import goal_pixels  # noqa: E402

import pixmc_sparse  # noqa: E402
from pixmc_sparse import scripted  # noqa: E402
from ppo_pixmc import CNNEncoder  # noqa: E402


def collect(task: str, num_envs: int, image_size: int, steps: int, seed: int):
    """Images (steps * num_envs, 3, H, W) uint8, the goal in the camera's frame (.., 3; MuJoCo cameras look along
    their -z), goal in view (..,), env index."""
    envs = pixmc_sparse.make(task, num_envs=num_envs, obs_type="pixels", image_size=image_size, seed=seed)
    obs, _ = envs.reset()
    sim, rng, scripted_envs = envs.sim, np.random.default_rng(seed), np.arange(num_envs) >= num_envs // 2
    images, goals, seen = [], [], []
    for _ in range(steps):
        images.append(obs["pixels"])
        goals.append(sim.goal_in_camera())
        seen.append(goal_pixels(sim) > 0)
        actions = rng.uniform(-1, 1, (num_envs, sim.ndof))
        actions[scripted_envs] = scripted.reach_actions(sim)[scripted_envs]
        obs, *_ = envs.step(actions)  # autoreset: the sim then shows the new episode, as obs does
    envs.close()
    env_index = np.tile(np.arange(num_envs), steps)
    return np.concatenate(images), np.concatenate(goals), np.concatenate(seen), env_index


@torch.no_grad()
def encode(encoder: CNNEncoder, images: np.ndarray, batch: int = 512) -> np.ndarray:
    return np.concatenate([encoder(torch.from_numpy(images[k:k + batch])).numpy() for k in range(0, len(images), batch)])


def ridge_r2(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, env: np.ndarray,
             alphas=(1e-2, 1e-1, 1, 10, 100, 1e3)):
    """R² (mean over the columns of y) on `test` of the ridge fit on `train`; the penalty is picked on the frames of
    a quarter of the training envs held out, then the fit is redone on all of them."""
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / np.where(std > 1e-8, std, 1.0)  # features constant on the training frames stay 0

    def fit(rows, alpha):
        xr, yr = x[rows], y[rows]
        ym = yr.mean(0)
        w = np.linalg.solve(xr.T @ xr + alpha * len(xr) * np.eye(x.shape[1]), xr.T @ (yr - ym))
        return lambda r: x[r] @ w + ym

    def r2(pred, rows):
        yt = y[rows]
        return float(np.mean(1 - ((yt - pred) ** 2).sum(0) / ((yt - yt.mean(0)) ** 2).sum(0)))

    inner, held = train & (env % 4 != 0), train & (env % 4 == 0)
    best = max(alphas, key=lambda a: r2(fit(inner, a)(held), held))
    return r2(fit(train, best)(test), test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="*", default=[], help="checkpoint.pt or --save-model files of pixel CNN runs")
    parser.add_argument("--task", default="FrankaReach", choices=["FrankaReach", "KukaReach"])
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=400, help="env steps per env (episodes of 200 steps)")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    fresh = CNNEncoder(args.image_size)  # first: its weights do not depend on how many --model there are

    images, goals, seen, env = collect(args.task, args.num_envs, args.image_size, args.steps, args.seed)
    train, test = seen & (env % 4 != 3), seen & (env % 4 == 3)
    depth = -goals[:, 2]
    targets = {"image place": np.arctan2(goals[:, :2], depth[:, None]), "depth": depth[:, None]}
    print(f"{args.task}, {len(images)} frames of {args.num_envs} envs, {seen.mean():.2f} of them with the goal in "
          f"view: fit on {train.sum()}, scored on {test.sum()}\n")
    rows = []
    for path in args.model:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        if ckpt.get("args", {}).get("encoder", "cnn") != "cnn" or ckpt["args"].get("obs_type") != "pixels":
            raise SystemExit(f"{path}: not a pixel CNN run (needs --obs-type pixels --encoder cnn)")
        encoder = CNNEncoder(ckpt["args"]["image_size"])
        encoder.load_state_dict({k[len("encoder."):]: v for k, v in ckpt["agent"].items() if k.startswith("encoder.")})
        step = ckpt.get("global_step")
        rows.append((f"{path}" + (f" (step {step:,})" if step is not None else ""), encode(encoder, images)))
    rows.append(("the CNN freshly initialised", encode(fresh, images)))
    small = torch.nn.functional.avg_pool2d(torch.from_numpy(images).float(), 4).flatten(1).numpy()
    rows.append((f"pixels, {args.image_size // 4} x {args.image_size // 4} average-pooled", small))
    print("| features | R² goal's place in the image | R² its depth |\n|---|---|---|")
    for name, feats in rows:
        scores = [ridge_r2(feats.astype(np.float64), y, train, test, env) for y in targets.values()]
        print(f"| {name} | {scores[0]:.2f} | {scores[1]:.2f} |")


if __name__ == "__main__":
    main()
