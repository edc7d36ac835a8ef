"""What MIMEx costs in DrQ-v2: run drqv2_dmc_mimex.py with --beta 0 (plain DrQ-v2) and with MIMEx (n-mask 1) on the
same settings, one after the other, and print frames/s and updates/s of each (evaluation time excluded).

    python benchmarks/drqv2_throughput.py                       # cartpole_swingup, --preset drqv2 (batch 256), 250 updates
    python benchmarks/drqv2_throughput.py --extra --bf16        # bfloat16 conv encoder
    python benchmarks/drqv2_throughput.py --preset mimex        # the authors' MIMEx settings (batch 1024, 1-step)
    python benchmarks/drqv2_throughput.py --parts               # the pieces: env step + render, conv encoder

The measurement covers two episodes: 1,000 seed frames (no updates), then updates every 2 agent steps, so
frames/s mixes both phases the way a real run does early on; updates/s is what dominates long runs on a CPU.
`--parts` times, in this process, an env step (physics + rendering) with the published look and with --fast-render,
and the conv encoder's forward + backward on one batch in float32 and bf16, deterministic algorithms on and off.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def last(run_root: pathlib.Path, tag: str) -> float:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run_dir,) = (run_root / "runs").iterdir()
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc.Scalars(tag)[-1].value


def parts(task: str, batch_size: int, steps: int) -> None:
    import time

    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    import drqv2_dmc_mimex as drq

    for fast in (False, True):
        env = drq.DMCEnv(drq.resolve_args(drq.Args(task=task, fast_render=fast)), seed=0)
        env.reset()
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(steps):
            if env.step(rng.uniform(-1.0, 1.0, env.act_dim))[3]:
                env.reset()
        look = "--fast-render" if fast else "published look"
        print(f"{task} env step + render ({look}): {steps / (time.perf_counter() - start):.0f} agent steps/s")
    x = torch.randint(0, 256, (batch_size, 9, 84, 84), dtype=torch.uint8)
    for deterministic in (True, False):
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
        for bf16 in (False, True):
            encoder = drq.Encoder(9, 84, bf16)
            encoder(x).sum().backward()  # warm-up
            start = time.perf_counter()
            for _ in range(5):
                encoder(x).sum().backward()
            print(f"conv encoder forward + backward, batch {batch_size}, {'bf16' if bf16 else 'float32'}, "
                  f"deterministic algorithms {'on' if deterministic else 'off'}: {(time.perf_counter() - start) / 5:.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="cartpole_swingup", help="dm_control task")
    p.add_argument("--total-frames", type=int, default=2000,
                   help="frames per run (figures are logged at episode ends: every 1,000 frames)")
    p.add_argument("--preset", default="drqv2", choices=["drqv2", "mimex"],
                   help="drqv2_dmc_mimex.py --preset: drqv2 = batch 256, 3-step (the recorded figures); mimex = 1024, 1-step")
    p.add_argument("--parts", action="store_true", help="time the env step + render and the conv encoder instead")
    p.add_argument("--batch-size", type=int, default=256, help="--parts: the encoder's batch")
    p.add_argument("--steps", type=int, default=500, help="--parts: agent steps per render setting")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further flags for both runs")
    args = p.parse_args()
    if args.parts:
        parts(args.task, args.batch_size, args.steps)
        return
    common = ["--task", args.task, "--preset", args.preset, "--total-frames", str(args.total_frames),
              "--num-seed-frames", "1000", "--eval-episodes", "1", "--eval-every-frames", str(10**9), *args.extra]
    print("settings:", " ".join(common))
    rows = []
    for name, extra in (("DrQ-v2 (--beta 0)", ["--beta", "0"]), ("DrQ-v2 + MIMEx (n-mask 1)", ["--n-mask", "1"])):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, str(ROOT / "drqv2_dmc_mimex.py"), *common, *extra], cwd=tmp, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL)
            rows.append((name, last(pathlib.Path(tmp), "charts/SPS"), last(pathlib.Path(tmp), "charts/updates_per_second")))
    print(f"{'run':28s} {'frames/s':>9s} {'updates/s':>10s} {'frames/s cost':>14s}")
    for name, fps, ups in rows:
        print(f"{name:28s} {fps:9.1f} {ups:10.2f} {100 * (1 - fps / rows[0][1]):13.1f}%")


if __name__ == "__main__":
    main()
