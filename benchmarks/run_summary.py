"""Summarise finished runs from their TensorBoard logs: the env step of the first success, the mean success rate
over the last `--window` env steps, and the mean intrinsic reward over the first and the last 10 % of the run.

    python benchmarks/run_summary.py runs/FrankaReach__ppo_pixmc__1__* runs/FrankaReach__ppo_pixmc_mimex__1__*

Success rates are per-iteration means over the episodes that ended in it, averaged over the iterations in the window
(weighted by nothing else); "never" means no logged success in the whole run.
"""

import argparse
import pathlib

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def summarise(run_dir: pathlib.Path, window: int) -> dict:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    success = [(e.step, e.value) for e in acc.Scalars("charts/success_rate")]
    last_step = max(e.step for e in acc.Scalars("charts/SPS"))
    first = next((step for step, value in success if value > 0), None)
    recent = [value for step, value in success if step > last_step - window]
    out = {"run": run_dir.name, "steps": last_step, "first_success": first,
           "success_last_window": sum(recent) / len(recent) if recent else float("nan"),
           "SPS": acc.Scalars("charts/SPS")[-1].value}
    if "charts/intrinsic_reward" in tags:
        r_i = [(e.step, e.value) for e in acc.Scalars("charts/intrinsic_reward")]
        head = [v for s, v in r_i if s <= 0.1 * last_step]
        tail = [v for s, v in r_i if s > 0.9 * last_step]
        out["r_i_first_10pct"], out["r_i_last_10pct"] = sum(head) / len(head), sum(tail) / len(tail)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders (runs/{run_name})")
    parser.add_argument("--window", type=int, default=100_000, help="env steps at the end of the run for the success rate")
    cli = parser.parse_args()
    print("| run | env steps | first success at | success, last {:,} steps | r_i, first 10 % | r_i, last 10 % | SPS |"
          .format(cli.window))
    print("|---|---|---|---|---|---|---|")
    for run in cli.runs:
        s = summarise(run, cli.window)
        first = "never" if s["first_success"] is None else f"{s['first_success']:,}"
        r_i = [f"{s[k]:.4f}" if k in s else "—" for k in ("r_i_first_10pct", "r_i_last_10pct")]
        print(f"| {s['run']} | {s['steps']:,} | {first} | {s['success_last_window']:.3f} | {r_i[0]} | {r_i[1]} | "
              f"{s['SPS']:,.0f} |")
