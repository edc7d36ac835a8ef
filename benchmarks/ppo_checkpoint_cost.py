"""What a PPO script's checkpoint costs: its size, the seconds to write it, and the share of the run that makes at the
default --checkpoint-every (100 iterations), on the main job and at the authors' batch.

    python benchmarks/ppo_checkpoint_cost.py                       # both settings (MIMEx, the heaviest checkpoint)
    python benchmarks/ppo_checkpoint_cost.py --settings main --iterations 4

Runs the script in this process for a few iterations with --checkpoint-every 1 (the last iteration writes none),
timing each torch.save of the checkpoint (the temp file's write; the rename is instant) and each iteration (between
its "SPS:" lines). Prints one row per setting. Run it alone: the write time is the disk's as much as the CPU's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pathlib
import runpy
import sys
import tempfile
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> (script, flags, env steps per iteration)
    "main": ("ppo_pixmc_mimex", ["--task", "KukaPick", "--mask-ratio", "0.7"], 32 * 32),
    "authors": ("ppo_pixmc_mimex", ["--task", "KukaReach", "--obs-type", "state", "--num-envs", "512",
                                    "--num-steps", "32"], 512 * 32),
}


class Stamps(io.TextIOBase):
    """stdout that notes when each "SPS:" line is printed."""

    def __init__(self):
        self.times = []

    def write(self, text):
        self.times += [time.perf_counter()] * text.count("SPS:")
        return len(text)


def measure(script: str, flags: list, per_iteration: int, iterations: int) -> tuple:
    """(checkpoint MB, mean write s, mean iteration s) of `iterations` iterations with a checkpoint after each."""
    writes, save = [], torch.save

    def timed_save(obj, path, *a, **kw):
        start = time.perf_counter()
        save(obj, path, *a, **kw)
        if str(path).endswith("checkpoint.pt.tmp"):
            writes.append((time.perf_counter() - start, os.path.getsize(path)))

    stamps = Stamps()
    with tempfile.TemporaryDirectory() as cwd:
        argv = [f"{script}.py", *flags, "--total-timesteps", str(per_iteration * iterations), "--checkpoint-every",
                "1", "--no-cuda"]
        old_argv, old_cwd = sys.argv, os.getcwd()
        sys.argv, torch.save = argv, timed_save
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(stamps):
                runpy.run_path(str(ROOT / f"{script}.py"), run_name="__main__")
        finally:
            sys.argv, torch.save = old_argv, save
            os.chdir(old_cwd)
    write = sum(w for w, _ in writes) / len(writes)
    # iteration 2 on (warm); the time between two "SPS:" lines holds the checkpoint written after the first
    seconds = [b - a - w for (a, b), (w, _) in zip(zip(stamps.times, stamps.times[1:]), writes)]
    return writes[-1][1] / 1e6, write, sum(seconds) / len(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--iterations", type=int, default=3, help="iterations per run (>= 3)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print("| setting | checkpoint | write | iteration | share at --checkpoint-every 100 |\n|---|---|---|---|---|")
    for name in args.settings:
        script, flags, per_iteration = SETTINGS[name]
        mb, write, iteration = measure(script, flags, per_iteration, max(args.iterations, 3))
        print(f"| {name} ({script}.py {' '.join(flags)}) | {mb:.1f} MB | {write:.2f} s | {iteration:.2f} s | "
              f"{100 * write / (100 * iteration + write):.2f} % |")


if __name__ == "__main__":
    main()
