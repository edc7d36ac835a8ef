"""What MIMEx costs in DrQ-v2: run drqv2_dmc_mimex.py with --beta 0 (plain DrQ-v2) and with MIMEx (n-mask 1) on the
same settings, one after the other, and print frames/s and updates/s of each (evaluation time excluded).

    python benchmarks/drqv2_throughput.py                       # cartpole_swingup, batch 256, 250 updates per run
    python benchmarks/drqv2_throughput.py --extra --bf16        # bfloat16 conv encoder

The measurement covers two episodes: 1,000 seed frames (no updates), then updates every 2 agent steps, so
frames/s mixes both phases the way a real run does early on; updates/s is what dominates long runs on a CPU.
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="cartpole_swingup", help="dm_control task")
    p.add_argument("--total-frames", type=int, default=2000,
                   help="frames per run (figures are logged at episode ends: every 1,000 frames)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further flags for both runs")
    args = p.parse_args()
    common = ["--task", args.task, "--total-frames", str(args.total_frames), "--num-seed-frames", "1000",
              "--eval-episodes", "1", "--eval-every-frames", str(10**9), *args.extra]
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
