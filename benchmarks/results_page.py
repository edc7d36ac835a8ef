"""Write docs/results.md from a finished sweep of benchmark.py: the commands, the machine, the wall time, the figure
and table of plot.py, one row per run (first success, final success, intrinsic reward), and the pilot runs that chose
the setting. Every number on the page comes from the sweep's files; the README's headline sentence too (it is
rewritten between the `<!-- results-headline -->` markers).

    python benchmarks/results_page.py sweeps/cpu_frankareach --pilot sweeps/pilot
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from run_summary import summarise  # noqa: E402

LABEL = {"ppo_pixmc": "noise (PPO)", "ppo_pixmc_icm": "ICM", "ppo_pixmc_rnd": "RND", "ppo_pixmc_mimex": "MIMEx"}
HEADLINE = re.compile(r"(<!-- results-headline -->)(.*?)(<!-- /results-headline -->)", re.S)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    import torch

    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores, no GPU; Python {platform.python_version()}, torch {torch.__version__}"


TAGS = ["charts/episodic_length", "losses/entropy"]  # averaged over the last `window` steps: how the policy behaves


def runs_of(sweep: pathlib.Path, window: int) -> list:
    """One dict per finished run: benchmark.py's run.json and finished.json, and run_summary's figures."""
    out = []
    for marker in sorted(sweep.glob("*/finished.json")):
        info = json.loads((marker.parent / "run.json").read_text())
        tb = next(marker.parent.glob("runs/*"))
        steps = summarise(tb, window, [], (0, 0))["steps"]
        out.append(dict(info, seconds=json.loads(marker.read_text())["seconds"],
                        **summarise(tb, window, TAGS, (steps - window, steps))))
    return out


def fmt_step(step) -> str:
    return "never" if step is None else f"{step:,}"


def per_run_table(runs: list) -> list:
    lines = ["| method | task | seed | env steps | first success at | success, last 100k steps | r_i, first / last 10 % "
             "| episode length, last 100k | entropy, last 100k | wall (min) |", "|---" * 10 + "|"]
    for r in sorted(runs, key=lambda r: (list(LABEL).index(r["method"]) if r["method"] in LABEL else 9, r["task"], r["seed"])):
        r_i = f"{r['r_i_first_10pct']:.4f} / {r['r_i_last_10pct']:.4f}" if "r_i_first_10pct" in r else "—"
        lines.append(f"| {LABEL.get(r['method'], r['method'])} | {r['task']} | {r['seed']} | {r['steps']:,} "
                     f"| {fmt_step(r['first_success'])} | {r['success_last_window']:.3f} | {r_i} "
                     f"| {r[TAGS[0]]:.0f} | {r[TAGS[1]]:.1f} | {r['seconds'] / 60:.1f} |")
    return lines


def per_method(runs: list) -> dict:
    """method -> seeds, seeds that ever succeeded, median first success (never = the run's length), final success."""
    out = {}
    for method in [m for m in LABEL if any(r["method"] == m for r in runs)]:
        rs = [r for r in runs if r["method"] == method]
        first = [r["first_success"] if r["first_success"] is not None else r["steps"] for r in rs]
        out[method] = {"seeds": len(rs), "solved": sum(r["first_success"] is not None for r in rs),
                       "median_first": float(np.median(first)),
                       "final": float(np.mean([r["success_last_window"] for r in rs]))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", type=pathlib.Path, help="the sweep folder of benchmark.py")
    parser.add_argument("--pilot", type=pathlib.Path, nargs="*", default=[], help="pilot sweep folders, if any")
    parser.add_argument("--ablation", type=pathlib.Path, nargs="*", default=[], help="ablation sweep folders, if any")
    parser.add_argument("--notes", type=pathlib.Path, default=ROOT / "docs" / "results_notes.md",
                        help="hand-written reading of the tables (no numbers), placed after them if the file exists")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--figure", type=pathlib.Path, default=ROOT / "docs" / "img" / "results_cpu.png")
    parser.add_argument("--readme", type=pathlib.Path, default=ROOT / "README.md")
    args = parser.parse_args()
    if not args.sweep.is_dir() or not any(args.sweep.glob("*/finished.json")):
        raise SystemExit(f"results_page.py: error: no finished run of benchmark.py under {args.sweep}")

    runs = runs_of(args.sweep, 100_000)
    pending = sorted(p.parent.name for p in args.sweep.glob("*/run.json") if not (p.parent / "finished.json").exists())
    plot_cmd = [sys.executable, str(ROOT / "plot.py"), str(args.sweep), "--out", str(args.figure), "--intrinsic"]
    subprocess.run(plot_cmd, check=True, capture_output=True, text=True)
    table = args.figure.with_suffix(".md").read_text()
    commands = (args.sweep / "commands.txt").read_text().strip().splitlines()
    sweep_cmd = re.sub(r"^.*?: \S*python\S* ", "python ", commands[-1])
    stats = per_method(runs)
    tasks = sorted({r["task"] for r in runs})
    steps = max(r["steps"] for r in runs)

    def says(method: str) -> str:
        s = stats[method]
        first = "never" if s["solved"] * 2 <= s["seeds"] else f"{s['median_first']:,.0f}"  # most seeds never: no median
        return (f"{LABEL[method]} {s['solved']}/{s['seeds']} seeds, median first success {first}, "
                f"final success {s['final']:.2f}")

    headline = (f"On sparse {', '.join(tasks)} from state (≤ {steps:,} env steps, {len(runs)} runs), seeds that found the "
                "goal, median step of the first success and success over the last 100k steps: "
                + "; ".join(says(m) for m in stats) + ".")
    page = ["# Results measured here", "",
            "Generated by `python benchmarks/results_page.py " + " ".join(
                str(a) for a in [args.sweep] + (["--pilot", *args.pilot] if args.pilot else [])
                + (["--ablation", *args.ablation] if args.ablation else []))
            + "`: every number on this page comes from the sweep folders; the reading at the end is written by hand "
            f"({os.path.relpath(args.notes, args.out.parent)}) and quotes no number.", "",
            "## The CPU experiment", "", headline, "",
            f"- Sweep: `{sweep_cmd}` (resumable: run it again to finish or extend it).",
            f"- Figure and table: `python plot.py {args.sweep} --out {os.path.relpath(args.figure, ROOT)} --intrinsic`.",
            f"- Machine: {machine()}.",
            f"- Run time: {sum(r['seconds'] for r in runs) / 3600:.1f} h summed over the {len(runs)} finished runs (the sweep "
            "ran `--workers` of them at once, so a run's wall time depends on what ran beside it)"
            + (f"; not finished yet: {', '.join(pending)}" if pending else "") + f"), generated {time.strftime('%Y-%m-%d')}.",
            "", f"![success rate and intrinsic reward]({os.path.relpath(args.figure, args.out.parent)})", "",
            "Success rate: each iteration's fraction of ended episodes that succeeded; curves: mean over seeds with a 95 % "
            "bootstrap band. Bottom row: the bonus scripts' mean intrinsic reward per step (before β).", "",
            table.strip(), "", "### Every run", ""] + per_run_table(runs)
    sections = [("How the setting was chosen: the pilots", args.pilot), ("Why: ablations", args.ablation)]
    for title, sweeps in sections:
        if sweeps:
            page += ["", f"## {title}", "",
                     "Sparse reward, state observations; `python benchmarks/run_summary.py SWEEP/*/runs/*` gives the same "
                     "figures. A sweep stopped halfway lists only its finished runs."]
        for sweep in sweeps:
            command = re.sub(r"^.*?: \S*python\S* ", "python ", (sweep / "commands.txt").read_text().strip().splitlines()[-1])
            page += ["", f"`{command}`", ""] + per_run_table(runs_of(sweep, 100_000))
    if args.notes.is_file():
        page += ["", args.notes.read_text().strip()]
    args.out.write_text("\n".join(page) + "\n")
    readme = args.readme.read_text()
    if HEADLINE.search(readme):
        link = "[More in docs/results.md](docs/results.md)."
        args.readme.write_text(HEADLINE.sub(lambda m: f"{m.group(1)}{headline} {link}{m.group(3)}", readme))
    print(headline)
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
