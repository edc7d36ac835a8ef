"""Write docs/results.md from the committed run data of benchmark.py (results/<sweep>/*.npz, one file per finished run):
per experiment the commands, the code's commit, the machine, a figure (success rate, intrinsic reward, coverage,
termination rate and cells per episode against env steps; plot.py), a table per method with 95 % bootstrap CIs over
seeds, a top-down heat map of where the hand went, and one row per run. Every number on the page comes from those
files; the README's headline sentence too (it is rewritten between the `<!-- results-headline -->` markers; per
method: seeds that found the goal, the median over seeds of the first-success and 50 %-success steps, a seed that never
got there counting as later than any, and the mean final success). Needs no run folder: a clean clone regenerates it.
A results folder may hold a plan file (plan.txt: the experiment's benchmark.py commands, one per line): the page then
shows those commands and names the runs they plan that have no data file yet.

    python benchmarks/results_page.py results/kukareach_authors results/pixel_check

Per run: first success = the first logged step with a success rate > 0; 50 % success = the first logged step where the
success rate, averaged over the last 5 logged iterations, reaches 0.5; AUC = the area under the success-rate curve over
the run divided by its length (1: succeeding from the start); final = the mean success rate over the last 10 % of the
run's env steps; coverage at 1M / 4M = charts/coverage interpolated there; policy entropy = losses/entropy over the
last 10 % (the Gaussian policy's entropy summed over action dimensions: the lower, the less action noise is left). A
run that never got there counts with its length for the step figures (marked ">="), which makes those means lower
bounds.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from run_summary import mean_between  # noqa: E402

import benchmark  # noqa: E402
from benchmark import runs_word  # noqa: E402
from plot import DATA_FILE, stratified_bootstrap  # noqa: E402

LABEL = {"ppo_pixmc": "noise (PPO)", "ppo_pixmc_icm": "ICM", "ppo_pixmc_rnd": "RND", "ppo_pixmc_mimex": "MIMEx",
         "ego_goal_reach": "PPO, goal as the camera sees it"}  # benchmarks/ego_goal_reach.py (the pixel check)
HEADLINE = re.compile(r"(<!-- results-headline -->)(.*?)(<!-- /results-headline -->)", re.S)
HALF_WINDOW = 5  # logged iterations averaged for the 50 % success step
PLAN = "plan.txt"  # in a results folder: the experiment's benchmark.py commands, finished or not (optional)
COVERAGE_AT = (1_000_000, 4_000_000)
BOOTSTRAP = 2000


def load(folder: pathlib.Path) -> list:
    """One dict per data file: its meta, scalars, coverage and the figures of `run_figures`."""
    runs = []
    for path in sorted(p for p in folder.glob("*.npz") if DATA_FILE.match(p.name)):
        data = benchmark.read_run_data(path)
        runs.append(dict(data["meta"], scalars=data["scalars"], coverage=data["coverage"], file=path,
                         **run_figures(data["scalars"])))
    return runs


def first_step(steps: np.ndarray, hit: np.ndarray):
    return int(steps[np.argmax(hit)]) if hit.any() else None


def run_figures(scalars: dict) -> dict:
    length = int(scalars["charts/SPS"][0].max())
    steps, success = scalars["charts/success_rate"]
    trailing = np.convolve(success, np.ones(HALF_WINDOW), "full")[:len(success)] / np.minimum(
        np.arange(1, len(success) + 1), HALF_WINDOW)
    out = {"length": length, "first_success": first_step(steps, success > 0),
           "half_success": first_step(steps, trailing >= 0.5),
           "auc": float(np.trapezoid(success, steps) / (steps[-1] - steps[0])) if len(steps) > 1 else float("nan"),
           "final": mean_between(scalars, "charts/success_rate", 0.9 * length, length),
           "episode_length_final": mean_between(scalars, "charts/episodic_length", 0.9 * length, length),
           "termination_first": mean_between(scalars, "charts/termination_rate", -1, 0.1 * length),
           "termination_final": mean_between(scalars, "charts/termination_rate", 0.9 * length, length),
           "cells_first": mean_between(scalars, "charts/episode_coverage", -1, 0.1 * length),
           "cells_final": mean_between(scalars, "charts/episode_coverage", 0.9 * length, length),
           "entropy_final": mean_between(scalars, "losses/entropy", 0.9 * length, length),
           "r_i_first": float("nan"), "r_i_final": float("nan")}
    if "charts/intrinsic_reward" in scalars:
        out["r_i_first"] = mean_between(scalars, "charts/intrinsic_reward", -1, 0.1 * length)
        out["r_i_final"] = mean_between(scalars, "charts/intrinsic_reward", 0.9 * length, length)
    cov_steps, cov = scalars.get("charts/coverage", (np.zeros(0), np.zeros(0)))
    for at in COVERAGE_AT + (length,):
        out[f"coverage_{at}"] = float(np.interp(at, cov_steps, cov)) if len(cov) and cov_steps[-1] >= at else float("nan")
    out["coverage_end"] = out.pop(f"coverage_{length}")
    return out


def method_order(method: str) -> tuple:
    stem = method.split(" ")[0]
    return (list(LABEL).index(stem) if stem in LABEL else len(LABEL), method)


def label(method: str) -> str:
    stem, _, extra = method.partition(" ")
    return f"{LABEL.get(stem, stem)} {extra}".strip()


def fmt_step(step, length=None) -> str:
    return f"never (< {length:,})" if step is None else f"{step:,}"


def fmt_values(values: list, digits: int) -> str:
    """"a / b / c"; "—" for a value a run did not log or did not reach (coverage at 4M in a 2M run), one "—" for none."""
    if not any(np.isfinite(v) for v in values):
        return "—"
    return " / ".join(f"{v:.{digits}f}" if np.isfinite(v) else "—" for v in values)


def with_ci(values: list, digits: int = 2, scale: float = 1.0, prefix: str = "") -> str:
    v = np.array([x for x in values if np.isfinite(x)], float) / scale
    if not len(v):
        return "—"
    low, high = stratified_bootstrap([v], np.mean, BOOTSTRAP, np.random.default_rng(0))
    return f"{prefix}{v.mean():.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def method_table(runs: list) -> list:
    lines = ["| method | seeds | first success, M env steps | 50 % success, M env steps | AUC of success | final success "
             "(last 10 %) | coverage at 1M | coverage at 4M |", "|---" * 8 + "|"]
    for method in sorted({r["method"] for r in runs}, key=method_order):
        rs = [r for r in runs if r["method"] == method]
        steps = {}
        for key in ("first_success", "half_success"):  # never: the run's length, a lower bound
            censored = any(r[key] is None for r in rs)
            steps[key] = with_ci([r[key] if r[key] is not None else r["length"] for r in rs], 2, 1e6,
                                 ">= " if censored else "")
        lines.append(f"| {label(method)} | {len(rs)} | {steps['first_success']} | {steps['half_success']} "
                     f"| {with_ci([r['auc'] for r in rs], 3)} | {with_ci([r['final'] for r in rs], 3)} "
                     f"| {with_ci([r['coverage_1000000'] for r in rs], 4)} "
                     f"| {with_ci([r['coverage_4000000'] for r in rs], 4)} |")
    return lines


def per_run_table(runs: list) -> list:
    lines = ["| method | seed | env steps | first success | 50 % success | AUC | final success | coverage 1M / 4M / end "
             "| termination rate, first / last 10 % | cells per episode, first / last 10 % | episode length, last 10 % "
             "| policy entropy, last 10 % | r_i, first / last 10 % | wall (min) | commit |", "|---" * 15 + "|"]
    for r in sorted(runs, key=lambda r: (method_order(r["method"]), r["seed"])):
        lines.append(f"| {label(r['method'])} | {r['seed']} | {r['length']:,} | {fmt_step(r['first_success'], r['length'])} "
                     f"| {fmt_step(r['half_success'], r['length'])} | {r['auc']:.3f} | {r['final']:.3f} "
                     f"| {fmt_values([r['coverage_1000000'], r['coverage_4000000'], r['coverage_end']], 4)} "
                     f"| {fmt_values([r['termination_first'], r['termination_final']], 2)} "
                     f"| {fmt_values([r['cells_first'], r['cells_final']], 1)} | {fmt_values([r['episode_length_final']], 0)} "
                     f"| {fmt_values([r['entropy_final']], 1)} | {fmt_values([r['r_i_first'], r['r_i_final']], 4)} "
                     f"| {r['seconds'] / 60:.1f} | {r['commit'][:10]} |")
    return lines


def in_repository(path: str) -> str:
    """A script's path as a clone has it: an absolute path (another checkout, e.g. the git worktree a long sweep ran
    from) becomes the shortest tail of it that names a file of this repository; anything else is left as it is."""
    parts = pathlib.PurePath(path).parts
    if not pathlib.PurePath(path).is_absolute():
        return path
    for k in range(len(parts) - 1, 0, -1):
        if (ROOT / pathlib.PurePath(*parts[k:])).is_file():
            return pathlib.PurePath(*parts[k:]).as_posix()
    return path


def portable(command: str) -> str:
    """A sweep command as the page shows it: --sweep-dir and --results-dir as sweeps/NAME and results/NAME, and the
    --scripts as paths in the repository, whatever folders the machine that ran it used."""
    words = shlex.split(command)
    for flag, parent in (("--sweep-dir", "sweeps"), ("--results-dir", "results")):
        if flag in words[:-1]:
            words[words.index(flag) + 1] = f"{parent}/{pathlib.Path(words[words.index(flag) + 1]).name}"
    if "--scripts" in words:
        k = words.index("--scripts") + 1
        while k < len(words) and not words[k].startswith("--"):
            words[k] = in_repository(words[k])
            k += 1
    return shlex.join(words)


def sweep_commands(folder: pathlib.Path, runs: list) -> tuple:
    """The experiment's benchmark.py commands and where they come from: its plan file (PLAN: one command per line, `#`
    comments), which names runs not started yet too, or else the commands its data files record."""
    plan = folder / PLAN
    if plan.is_file():
        lines = [line.strip() for line in plan.read_text().splitlines()]
        return [line for line in lines if line and not line.startswith("#")], f"its plan, `{os.path.relpath(plan, ROOT)}`"
    return list(dict.fromkeys(r["command"] for r in runs if r.get("command"))), "from the run data"


def planned(commands: list) -> list:
    """The runs that benchmark.py commands expand to (their names)."""
    names = []
    for command in commands:
        words = shlex.split(portable(command))[2:]  # after "python benchmark.py"; scripts as in this repository
        try:
            args = benchmark.tyro.cli(benchmark.Args, args=benchmark.shield_flag_values(words))
        except SystemExit:
            continue
        sweep = pathlib.Path(args.sweep_dir)
        names += [run.name for run in benchmark.expand(args, sweep, sweep)]
    return list(dict.fromkeys(names))


def machines(runs: list) -> str:
    """The distinct machines the runs' attempts ran on (older data files say '1 cores')."""
    names = {re.sub(r"\b1 cores\b", "1 core", m.strip()) for r in runs for m in r["machine"].split(";")}
    return "; ".join(sorted(names))


def heat_map(runs: list, out: pathlib.Path, at: int = COVERAGE_AT[0]) -> str:
    """Top-down visit counts of the hand over the first `at` env steps (the first snapshot at or after it), summed over
    seeds and heights, one panel per method; the title says the steps actually used. Returns the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from pixmc_sparse import coverage
    from pixmc_sparse.tasks import make_task

    methods = sorted({r["method"] for r in runs if "hand" in r["coverage"]}, key=method_order)
    maps, used = {}, {}
    for method in methods:
        for r in (r for r in runs if r["method"] == method and "hand" in r["coverage"]):
            k = int(np.argmax(r["coverage"]["steps"] >= at)) if (r["coverage"]["steps"] >= at).any() else -1
            used.setdefault(method, []).append(int(r["coverage"]["steps"][k]))
            maps[method] = maps.get(method, 0) + r["coverage"]["hand"][k].sum(axis=2).astype(np.int64)  # (x, y)
    vmax = max(m.max() for m in maps.values())
    fig, axes = plt.subplots(1, len(methods), figsize=(3.6 * len(methods), 3.9), squeeze=False, layout="constrained")
    extent = (coverage.LOW[1], coverage.HIGH[1], coverage.HIGH[0], coverage.LOW[0])  # y across, x down: robot at bottom
    task = make_task(runs[0]["task"])
    for ax, method in zip(axes[0], methods):
        image = ax.imshow(np.ma.masked_equal(maps[method], 0), extent=extent, norm=LogNorm(1, vmax), cmap="viridis",
                          interpolation="nearest", aspect="equal")
        ax.invert_yaxis()
        ax.plot([0], [1.0], "k^", ms=8)  # the robot's base
        if task.goal_init is not None:
            (gx, gy, _), (dx, dy, _) = task.goal_init, task.goal_delta
            ax.add_patch(plt.Rectangle((gy - dy, gx - dx), 2 * dy, 2 * dx, fill=False, ec="red", lw=1))
        n = len(used[method])
        share = np.count_nonzero(maps[method]) / maps[method].size
        ax.set(title=f"{label(method)} (n={n})\ncolumns visited: {share:.3f}", xlabel="y (m)", ylabel="x (m)")
    fig.colorbar(image, ax=axes[0].tolist(), label="visits (log)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    steps = sorted({s for v in used.values() for s in v})
    return (f"Where the hand went in the first {steps[0]:,}" + (f"–{steps[-1]:,}" if len(steps) > 1 else "")
            + " env steps, seen from above: visits per 5 cm column of the coverage grid, summed over seeds and heights "
            "(log colour; white: never). Triangle: the robot's base; red box: where the goal is sampled.")


def median_step(runs: list, key: str) -> str:
    """The median over seeds of a step figure, "never" when half the seeds or more never got there."""
    reached = [r[key] for r in runs if r[key] is not None]
    if len(reached) * 2 <= len(runs):
        return "never"
    return f"{np.median(reached + [np.inf] * (len(runs) - len(reached))):,.0f}"


def flag_value(flags: list, flag: str, default: str) -> str:
    """The value a run's flags give `flag` (the last one wins, as in tyro), else the scripts' default."""
    where = [k for k, f in enumerate(flags[:-1]) if f == flag]
    return flags[where[-1] + 1] if where else default


def experiment(folder: pathlib.Path, runs: list, img: pathlib.Path, page_dir: pathlib.Path) -> tuple:
    """The page's section of one experiment (a results folder) and its headline sentence."""
    tasks = sorted({r["task"] for r in runs})
    obs = {flag_value(r["flags"], "--obs-type", "pixels") for r in runs}
    reward = "/".join(sorted({flag_value(r["flags"], "--reward-level", "sparse") for r in runs}))
    length = max(r["length"] for r in runs)
    slug = folder.name
    figure = img / f"results_{slug}.png"
    plot_cmd = ["plot.py", os.path.relpath(folder, ROOT), "--out", os.path.relpath(figure, ROOT),
                "--final-window", str(length // 10), "--intrinsic", "--rows", "charts/coverage",
                "charts/termination_rate", "charts/episode_coverage"]
    subprocess.run([sys.executable, str(ROOT / plot_cmd[0]), *plot_cmd[1:]], check=True, capture_output=True, text=True,
                   cwd=ROOT)
    heat = img / f"results_{slug}_heatmap.png"
    caption = heat_map(runs, heat)
    commands, source = sweep_commands(folder, runs)
    plan = planned(commands)
    missing = [name for name in plan if name not in {r["name"] for r in runs}]
    stats = {}
    for method in sorted({r["method"] for r in runs}, key=method_order):
        rs = [r for r in runs if r["method"] == method]
        found = [r["first_success"] for r in rs if r["first_success"] is not None]
        stats[method] = (f"{label(method)} {len(found)}/{len(rs)} seeds found the goal (median first success "
                         f"{median_step(rs, 'first_success')}, median 50 % success {median_step(rs, 'half_success')}), "
                         f"final success {np.mean([r['final'] for r in rs]):.2f}")
    headline = (f"On {reward} {', '.join(tasks)} from {'/'.join(sorted(obs))} at {length:,} env steps ({runs_word(len(runs))}"
                + (f", {runs_word(len(missing), 'planned run')} not finished yet" if missing else "") + "): "
                + "; ".join(stats.values()) + ".")
    commits = sorted({r["commit"] for r in runs})
    lines = [f"## {slug}: {reward} {', '.join(tasks)}, {'/'.join(sorted(obs))} observations, {length:,} env steps", "",
             headline, "",
             f"- Sweep commands ({source}; run again to finish or extend, skipping the runs whose data is "
             "committed): " + ", ".join(f"`{portable(c)}`" for c in commands) + ".",
             f"- Code: commit{'s' if len(commits) > 1 else ''} {', '.join(f'`{c}`' for c in commits)}.",
             f"- Machine: {machines(runs)}; no GPU; "
             f"{sum(r['seconds'] for r in runs) / 3600:.1f} h of run time over {runs_word(len(runs))} (wall time, longer "
             "where a run shared the machine with another: not a speed figure; docs/benchmarks.md has those).",
             f"- Runs finished: {len(runs)}" + (f" of {len(plan)} planned" if plan else "")
             + (f"; not yet: {', '.join(missing)}" if missing else "") + ".",
             f"- Figure and table: `python {' '.join(plot_cmd)}`.", "",
             "![success rate, intrinsic reward, coverage, termination rate and cells per episode]"
             f"({os.path.relpath(figure, page_dir)})", "",
             "Curves: each iteration's success rate (fraction of the episodes that ended in it that succeeded), the "
             "raw intrinsic reward of the bonus methods (log scale), the share of the coverage grid's cells the hand "
             "has visited since the start, the share of ended episodes that ended by a termination (collision, fall) "
             "rather than the time limit, and how many distinct cells the hand entered per ended episode; mean over "
             "seeds with a 95 % bootstrap band.", "",
             "Per method: mean over seeds [95 % bootstrap CI]; the definitions are in the header of "
             "`benchmarks/results_page.py`.", ""] + method_table(runs) + [
             "", f"![where the hand went]({os.path.relpath(heat, page_dir)})", "", caption, "",
             "### Every run", ""] + per_run_table(runs)
    return lines, headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", type=pathlib.Path, nargs="+",
                        help="results folders of benchmark.py (results/<sweep>); the first gives the README's headline")
    parser.add_argument("--notes", type=pathlib.Path, default=ROOT / "docs" / "results_notes.md",
                        help="hand-written reading of the tables (no numbers), placed after them if the file exists")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "results.md")
    parser.add_argument("--img", type=pathlib.Path, default=ROOT / "docs" / "img", help="folder of the figures")
    parser.add_argument("--readme", type=pathlib.Path, default=ROOT / "README.md")
    args = parser.parse_args()
    sections, headlines = [], []
    for folder in [f.resolve() for f in args.experiments]:
        runs = load(folder)
        if not runs:
            raise SystemExit(f"results_page.py: error: no run data file (*__seed<n>.npz) in {folder}")
        lines, headline = experiment(folder, runs, args.img, args.out.parent)
        sections += lines + [""]
        headlines.append(headline)
    command = " ".join(["python benchmarks/results_page.py", *(os.path.relpath(f.resolve(), ROOT) for f in args.experiments)])
    page = ["# Results measured here", "",
            f"Generated by `{command}` on {time.strftime('%Y-%m-%d')} from the committed run data files (one per finished "
            "run, written by `benchmark.py`); no run folder is needed. Every number on this page comes from those files; "
            f"the reading at the end is written by hand ({os.path.relpath(args.notes, args.out.parent)}) and quotes no "
            "number.", ""] + sections
    if args.notes.is_file():
        page += [args.notes.read_text().strip()]
    args.out.write_text("\n".join(page).rstrip() + "\n")
    readme = args.readme.read_text()
    if HEADLINE.search(readme):
        link = "[More in docs/results.md](docs/results.md)."
        args.readme.write_text(HEADLINE.sub(lambda m: f"{m.group(1)}{headlines[0]} {link}{m.group(3)}", readme))
    print(headlines[0])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
