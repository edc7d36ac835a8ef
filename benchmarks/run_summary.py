"""Summarise finished runs from their TensorBoard logs (or benchmark.py's run data files): the env step of the first
success, the mean success rate over the last `--window` env steps, and the mean intrinsic reward over the first and the
last 10 % of the run.
`--tags T ... --between A B` adds the mean of other logged tags over env steps (A, B].

    python benchmarks/run_summary.py runs/FrankaReach__ppo_pixmc__1__* runs/FrankaReach__ppo_pixmc_mimex__1__*
    python benchmarks/run_summary.py runs/* --tags charts/episodic_length --between 400000 500000
    python benchmarks/run_summary.py results/kukareach_authors/*.npz

Success rates are per-iteration means over the episodes that ended in it, averaged over the iterations in the window;
"never" means no logged success in the whole run.
"""

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from benchmark import read_run_data, read_scalars  # noqa: E402


def load(path: pathlib.Path) -> dict:
    """{tag: (steps, values)} of a TensorBoard run folder or of a data file of benchmark.py (*.npz)."""
    return read_run_data(path)["scalars"] if path.suffix == ".npz" else read_scalars(path)


def mean_between(scalars: dict, tag: str, low: float, high: float) -> float:
    """The mean of a tag's values logged at steps in (low, high]; NaN where there are none (or no such tag)."""
    if tag not in scalars:
        return float("nan")
    steps, values = scalars[tag]
    inside = (steps > low) & (steps <= high)
    return float(np.mean(values[inside])) if inside.any() else float("nan")


def summarise(scalars: dict, window: int, tags: list, between: tuple, name: str = "") -> dict:
    last_step = int(scalars["charts/SPS"][0].max())
    steps, success = scalars["charts/success_rate"]
    first = int(steps[np.argmax(success > 0)]) if (success > 0).any() else None
    out = {"run": name, "steps": last_step, "first_success": first,
           "success_last_window": mean_between(scalars, "charts/success_rate", last_step - window, last_step),
           "SPS": float(scalars["charts/SPS"][1][-1])}
    if "charts/intrinsic_reward" in scalars:
        out["r_i_first_10pct"] = mean_between(scalars, "charts/intrinsic_reward", -1, 0.1 * last_step)
        out["r_i_last_10pct"] = mean_between(scalars, "charts/intrinsic_reward", 0.9 * last_step, last_step)
    for tag in tags:
        out[tag] = mean_between(scalars, tag, *between)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders (runs/{run_name}) or data files (*.npz)")
    parser.add_argument("--window", type=int, default=100_000, help="env steps at the end of the run for the success rate")
    parser.add_argument("--tags", nargs="*", default=[], help="further tags to average over --between")
    parser.add_argument("--between", nargs=2, type=float, default=(0, float("inf")), help="env steps (A, B] for --tags")
    cli = parser.parse_args()
    extra = "".join(f" {tag} |" for tag in cli.tags)
    print(f"| run | env steps | first success at | success, last {cli.window:,} steps | r_i, first 10 % | r_i, last 10 % "
          f"| SPS |{extra}")
    print("|---" * (7 + len(cli.tags)) + "|")
    for run in cli.runs:
        s = summarise(load(run), cli.window, cli.tags, cli.between, run.name)
        first = "never" if s["first_success"] is None else f"{s['first_success']:,}"
        r_i = [f"{s[k]:.4f}" if k in s else "—" for k in ("r_i_first_10pct", "r_i_last_10pct")]
        print(f"| {s['run']} | {s['steps']:,} | {first} | {s['success_last_window']:.3f} | {r_i[0]} | {r_i[1]} | "
              f"{s['SPS']:,.0f} |" + "".join(f" {s[tag]:.2f} |" for tag in cli.tags))
