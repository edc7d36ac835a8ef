"""What the bonuses cost: run ppo_pixmc.py, ppo_pixmc_mimex.py (n-mask 1 and 5), ppo_pixmc_icm.py and
ppo_pixmc_rnd.py on the same settings, one after the other, and print each run's SPS and its cost against
plain PPO.

    python benchmarks/mimex_overhead.py                                   # state obs, FrankaReach
    python benchmarks/mimex_overhead.py --extra --obs-type pixels --image-size 84

SPS is the script's own last `charts/SPS` value (env steps per second over the whole run, updates included).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def last_sps(run_root: pathlib.Path) -> float:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run_dir,) = (run_root / "runs").iterdir()
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc.Scalars("charts/SPS")[-1].value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="FrankaReach", help="PixMC-Sparse task")
    p.add_argument("--total-timesteps", type=int, default=65536, help="env steps per run")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=["--obs-type", "state"],
                   help="further flags for every run (default: --obs-type state)")
    args = p.parse_args()
    common = ["--task", args.task, "--total-timesteps", str(args.total_timesteps), *args.extra]
    variants = [("ppo_pixmc", []), ("ppo_pixmc_mimex", ["--n-mask", "1"]), ("ppo_pixmc_mimex", ["--n-mask", "5"]),
                ("ppo_pixmc_icm", []), ("ppo_pixmc_rnd", [])]
    print("settings:", " ".join(common))
    results = []
    for script, extra in variants:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, str(ROOT / f"{script}.py"), *common, *extra], cwd=tmp, check=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL)
            results.append((f"{script} {' '.join(extra)}".strip(), last_sps(pathlib.Path(tmp))))
    base = results[0][1]
    print(f"{'run':32s} {'SPS':>8s} {'SPS cost vs PPO':>16s}")
    for name, sps in results:
        print(f"{name:32s} {sps:8.0f} {100 * (1 - sps / base):15.1f}%")


if __name__ == "__main__":
    main()
