"""What the PPO short-run regression test catches: how far deliberate changes move the series it records.

    python benchmarks/regression_sensitivity.py
    python benchmarks/regression_sensitivity.py --changes "--learning-rate 5e-4" "--gamma 0.98"

Runs ppo_pixmc.py with the test's STATE command (tests/test_ppo_scripts.py), as the tests run it (one thread, in this
process), once as is and once per change, and prints each recorded series' values relative to the unchanged run.
The test checks them within 1 % (the value loss: 3 %).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shlex
import sys
import tempfile

os.environ["OMP_NUM_THREADS"] = "1"  # as tests/conftest.py: the recorded values are one thread's
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import test_ppo_scripts  # noqa: E402

import conftest  # noqa: E402

CHANGES = ["--learning-rate 5e-4", "--clip-coef 0.2", "--clip-vloss", "--update-epochs 4", "--gamma 0.98"]


def recorded_series(extra: list) -> dict:
    with tempfile.TemporaryDirectory() as cwd:
        res = conftest.run_inline("ppo_pixmc", test_ppo_scripts.STATE + extra, cwd)
        if res.returncode:
            sys.exit(res.stderr[-2000:])
        (run_dir,) = (pathlib.Path(cwd) / "runs").iterdir()
        return test_ppo_scripts.recorded_series("ppo_pixmc", conftest.read_scalars(run_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", nargs="+", default=CHANGES, help="flag sets to try, one string each")
    args = parser.parse_args()
    base = recorded_series([])
    print("| change | " + " | ".join(base) + " |\n|---|" + "---|" * len(base))
    for change in args.changes:
        moved = recorded_series(shlex.split(change))
        cells = [", ".join(f"{100 * (v - b) / abs(b):+.1f} %" for v, b in zip(moved[k], base[k])) for k in base]
        print(f"| `{change}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
