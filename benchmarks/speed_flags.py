"""What --bf16 and --compile buy: env steps per second of a PPO script with each flag, on the main job and at the
authors' batch, one run after the other (run it alone: anything else on the machine moves the figures).

    python benchmarks/speed_flags.py                                    # both settings: fp32, bf16, compile
    python benchmarks/speed_flags.py --settings authors --iterations 4

SPS is taken over the iterations after the first `--warmup` ones (torch.compile compiles during the first), from the
times at which the script prints its per-iteration "SPS:" line. Prints one row per (setting, flags).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> (script, flags, env steps per iteration)
    "main": ("ppo_pixmc_mimex.py", ["--task", "KukaPick", "--mask-ratio", "0.7"], 32 * 32),
    "authors": ("ppo_pixmc_mimex.py", ["--task", "KukaReach", "--obs-type", "state", "--num-envs", "512",
                                       "--num-steps", "32"], 512 * 32),
}
FLAGS = {"fp32": [], "bf16": ["--bf16"], "compile": ["--compile"]}


def measure(script: str, flags: list, per_iteration: int, iterations: int, warmup: int) -> float:
    """Env steps per second over iterations warmup+1 .. warmup+iterations."""
    total = per_iteration * (warmup + iterations)
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen([sys.executable, str(ROOT / script), *flags, "--total-timesteps", str(total), "--no-cuda"],
                                cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"))
        stamps, tail = [], []
        for line in proc.stdout:
            tail = (tail + [line])[-20:]
            if line.startswith("SPS:"):
                stamps.append(time.perf_counter())
        if proc.wait() != 0 or len(stamps) < warmup + iterations:
            raise SystemExit(f"{script} {' '.join(flags)} failed:\n{''.join(tail)}")
    return per_iteration * iterations / (stamps[warmup + iterations - 1] - stamps[warmup - 1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--flags", nargs="+", default=list(FLAGS), choices=list(FLAGS))
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per run")
    parser.add_argument("--warmup", type=int, default=2, help="iterations before the timing starts (>= 1)")
    cli = parser.parse_args()
    print("| setting | command | flags | env steps/s | vs fp32 |\n|---|---|---|---|---|")
    for name in cli.settings:
        script, flags, per_iteration = SETTINGS[name]
        base = None
        for label in cli.flags:
            sps = measure(script, flags + FLAGS[label], per_iteration, cli.iterations, max(1, cli.warmup))
            base = sps if label == "fp32" else base
            ratio = f"{sps / base:.2f}x" if base and label != "fp32" else "—"
            shown = ' '.join(FLAGS[label]) or '(none)'
            print(f"| {name} | `{script} {' '.join(flags)}` | {shown} | {sps:,.0f} | {ratio} |", flush=True)
