"""Plot a sweep of benchmark.py (or any folder with TensorBoard runs or benchmark.py's run data files below it), like
the paper's Fig. 3.

    python plot.py sweeps/default --out fig.png                 # fig.png, fig.svg and fig.md (the table)
    python plot.py results/kukareach_authors --out fig.png       # the committed data files of a sweep
    python plot.py sweeps/ablations --out ablations.png --intrinsic --filter "seq-len|^ppo_pixmc_mimex$"

One panel per task: the success rate (PixMC) or the evaluation return (DrQ-v2) against env steps (frames), one line
per method (script + extra flags): the mean over seeds and a 95 % bootstrap band (seeds resampled at each point of a
common step grid, onto which each run's curve, smoothed over --smooth logged points, is interpolated). --intrinsic
adds a row of charts/intrinsic_reward, --rows a row per further tag (e.g. charts/coverage). The table: each run's
metric averaged over its last --final-window steps, then per task and method the mean and IQM over seeds with 95 %
bootstrap CIs, and per method the IQM over all tasks' runs with rliable's stratified bootstrap (seeds resampled within
each task).
"""

import dataclasses
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tyro  # noqa: E402

from benchmark import read_run_data, read_scalars  # noqa: E402  (the run data files' format lives with their writer)

DATA_FILE = re.compile(r".*__seed\d+\.npz$")  # benchmark.py's data file of one run: {run name}.npz


@dataclass
class Args:
    sweep_dir: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="SWEEP_DIR")]]
    """the sweep folder of benchmark.py, a folder of its run data files (results/...), or any folder with TensorBoard
    runs below it"""
    out: str = "fig.png"
    """the figure (PNG); the SVG and the markdown table get the same stem (fig.svg, fig.md)"""
    metric: Literal["auto", "charts/success_rate", "eval/episodic_return", "charts/episodic_return"] = "auto"
    """the curve: auto = charts/success_rate where a task's runs log it (PixMC), else eval/episodic_return (DrQ-v2)"""
    intrinsic: bool = False
    """if toggled, add a row of charts/intrinsic_reward (the methods that log it; log scale)"""
    rows: list[str] = dataclasses.field(default_factory=list)
    """further rows, one per tag (e.g. charts/coverage charts/termination_rate), below the metric's"""
    smooth: int = 5
    """moving average over this many logged points of each run, before interpolation (1: none)"""
    grid_points: int = 100
    """points of the common step grid of each task"""
    final_window: int = 100_000
    """the table's score of a run: its metric averaged over its last this many env steps (frames)"""
    bootstrap: int = 2000
    """bootstrap resamples for every confidence interval"""
    filter: Optional[str] = None
    """only methods whose name (script stem + extra flags, e.g. "ppo_pixmc_mimex --seq-len 3") matches this regex"""
    include_unfinished: bool = False
    """if toggled, also plot runs without benchmark.py's finished.json (interrupted or still running)"""
    seed: int = 0
    """seed of the bootstrap"""


# One colour and name per known method, in every figure; other methods (e.g. ablations) get the rest in name order.
STYLE = {"ppo_pixmc": ("noise (PPO)", "0.45"), "ppo_pixmc_icm": ("ICM", "tab:blue"),
         "ppo_pixmc_rnd": ("RND", "tab:green"), "ppo_pixmc_mimex": ("MIMEx", "tab:red"),
         "drqv2_dmc_mimex --beta 0": ("noise (DrQ-v2)", "0.45"), "drqv2_dmc_mimex": ("DrQ-v2 + MIMEx", "tab:red")}
OTHER_COLOURS = ["tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "gold", "navy",
                 "teal", "maroon", "lime", "black", "slateblue", "darkkhaki"]
PIXMC_TASKS = ["FrankaReach", "FrankaCabinet", "FrankaPick", "FrankaMove", "KukaReach", "KukaCabinet", "KukaPick", "KukaMove"]
INTRINSIC = "charts/intrinsic_reward"


@dataclass
class Run:
    method: str
    task: str
    seed: int
    path: Path
    scalars: dict  # tag -> (steps, values) arrays


def fail(message: str):
    raise SystemExit(f"plot.py: error: {message}")


def run_info(tb_dir: Path, root: Path) -> Optional[dict]:
    """benchmark.py's run.json above the TensorBoard folder (None: the run never finished), else the run name."""
    for folder in [tb_dir, *tb_dir.parents]:
        if (folder / "run.json").is_file():
            info = json.loads((folder / "run.json").read_text())
            return dict(info, finished=(folder / "finished.json").is_file())
        if folder == root:
            break
    parts = tb_dir.name.split("__")  # the scripts' run name: {task}__{exp_name}__{seed}__{time}
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return {"task": parts[0], "method": parts[1], "seed": int(parts[2]), "finished": True}


def load_runs(args: Args) -> list[Run]:
    root = Path(args.sweep_dir).resolve()
    if not root.is_dir():
        fail(f"sweep dir {args.sweep_dir!r} does not exist (or is not a folder)")
    tb_dirs = sorted({path.parent for path in root.rglob("events.out.tfevents.*")})
    data_files = sorted(path for path in root.rglob("*.npz") if DATA_FILE.match(path.name))
    if not tb_dirs and not data_files:
        fail(f"no TensorBoard event files or run data files (*__seed<n>.npz) under {root}")
    found, skipped = [], 0  # (info, path, a function that loads the scalars)
    for path in data_files:
        found.append((read_run_data(path)["meta"], path, lambda path=path: read_run_data(path)["scalars"]))
    for tb_dir in tb_dirs:
        info = run_info(tb_dir, root)
        if info is None or (not info["finished"] and not args.include_unfinished):
            skipped += 1
            continue
        found.append((info, tb_dir, lambda tb_dir=tb_dir: read_scalars(tb_dir)))
    runs = {}
    for info, path, load in found:
        if args.filter is not None and not re.search(args.filter, info["method"]):
            continue
        key = (info["method"], info["task"], int(info["seed"]))
        if key in runs:
            print(f"warning: two runs of {key}: using {path}")
        runs[key] = Run(*key, path, {tag: (np.asarray(s, float), np.asarray(v, float)) for tag, (s, v) in load().items()})
    if skipped:
        print(f"skipped {skipped} TensorBoard folders: unfinished runs (see --include-unfinished) or unknown names")
    if not runs:
        fail(f"no runs to plot under {root}" + (f" matching --filter {args.filter!r}" if args.filter else ""))
    return list(runs.values())


def styles(methods: list[str]) -> dict:
    """method -> (label, colour), known methods first."""
    out, others = {}, sorted(m for m in methods if m not in STYLE)
    for method in [m for m in STYLE if m in methods]:
        out[method] = STYLE[method]
    for i, method in enumerate(others):
        stem, _, extra = method.partition(" ")
        label = f"{STYLE[stem][0]} {extra}" if stem in STYLE else method
        out[method] = (label, OTHER_COLOURS[i % len(OTHER_COLOURS)])
    return out


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over `window` points (fewer at the start)."""
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    end = np.arange(1, len(values) + 1)
    start = np.maximum(0, end - max(1, window))
    return (cumsum[end] - cumsum[start]) / (end - start)


def on_grid(steps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation onto the grid; NaN outside the run's logged steps."""
    out = np.interp(grid, steps, values)
    out[(grid < steps[0]) | (grid > steps[-1])] = np.nan
    return out


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % (scipy's trim_mean(x, 0.25), as rliable)."""
    scores = np.sort(np.ravel(scores))
    cut = int(0.25 * len(scores))
    return float(scores[cut:len(scores) - cut].mean())


def bootstrap_band(samples: np.ndarray, n: int, rng) -> np.ndarray:
    """95 % percentile bootstrap of the mean over axis 0 (seeds), at every column: (2, columns)."""
    picks = samples[rng.integers(0, len(samples), (n, len(samples)))]  # (n, seeds, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns no seed reaches: NaN
        return np.nanpercentile(np.nanmean(picks, axis=1), [2.5, 97.5], axis=0)


def stratified_bootstrap(groups: list, statistic, n: int, rng) -> tuple:
    """95 % CI of statistic(all scores), resampling scores with replacement within each group (task)."""
    stats = [statistic(np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])) for _ in range(n)]
    return tuple(np.percentile(stats, [2.5, 97.5]))


def pick_metric(task_runs: list[Run], metric: str) -> Optional[str]:
    candidates = [metric] if metric != "auto" else ["charts/success_rate", "eval/episodic_return"]
    return next((tag for tag in candidates if any(tag in run.scalars for run in task_runs)), None)


def final_score(run: Run, tag: str, window: int) -> float:
    steps, values = run.scalars[tag]
    return float(values[steps > steps[-1] - window].mean())


def draw(ax, task_runs: list[Run], tag: str, style: dict, args: Args, rng, log: bool = False) -> None:
    runs = [run for run in task_runs if tag in run.scalars and len(run.scalars[tag][0])]
    if not runs:
        ax.set_axis_off()
        return
    grid = np.linspace(min(r.scalars[tag][0][0] for r in runs), max(r.scalars[tag][0][-1] for r in runs), args.grid_points)
    for method in [m for m in style if any(r.method == m for r in runs)]:
        curves = np.array([on_grid(r.scalars[tag][0], smooth(r.scalars[tag][1], args.smooth), grid)
                           for r in runs if r.method == method])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves, axis=0)
        low, high = bootstrap_band(curves, args.bootstrap, rng)
        label, colour = style[method]
        ax.plot(grid, mean, color=colour, label=f"{label} (n={len(curves)})", lw=1.5)
        ax.fill_between(grid, low, high, color=colour, alpha=0.2, lw=0)
    if log and all(np.all(r.scalars[tag][1] > 0) for r in runs):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)


ROW_LABELS = {INTRINSIC: ("intrinsic reward", "r_i (raw, rollout mean)"), "charts/coverage": ("coverage", "share of cells"),
              "charts/termination_rate": ("termination rate", "share of ended episodes"),
              "charts/episode_coverage": ("cells per episode", "distinct cells, episode mean")}


def figure(runs: list[Run], tasks: list[str], metrics: dict, style: dict, args: Args, rng):
    extra = [tag for tag in ([INTRINSIC] if args.intrinsic else []) + list(args.rows)
             if any(tag in run.scalars for run in runs)]  # a row no run logged (r_i without a bonus method) is left out
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    panel_rows = rows * (1 + len(extra))
    fig, axes = plt.subplots(panel_rows, cols, figsize=(4.2 * cols, 3.3 * panel_rows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_axis_off()
    for i, task in enumerate(tasks):
        task_runs = [run for run in runs if run.task == task]
        unit = "frames" if all(run.method.startswith("drqv2") for run in task_runs) else "env steps"
        ax = axes[i // cols][i % cols]
        ax.set_axis_on()
        draw(ax, task_runs, metrics[task], style, args, rng)
        ax.set(title=task, xlabel=unit, ylabel=metrics[task].split("/")[-1].replace("_", " "))
        if metrics[task].endswith("success_rate"):
            ax.set_ylim(-0.03, 1.03)
        for k, tag in enumerate(extra, start=1):
            ax = axes[k * rows + i // cols][i % cols]
            ax.set_axis_on()
            draw(ax, task_runs, tag, style, args, rng, log=tag == INTRINSIC)
            title, ylabel = ROW_LABELS.get(tag, (tag.split("/")[-1].replace("_", " "), tag))
            ax.set(title=f"{task}: {title}", xlabel=unit, ylabel=ylabel)
    handles = {label.split(" (n=")[0]: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    per_row = max(2, min(5, 2 * cols))  # a one-panel figure is ~4 inches wide: two short labels a row fit
    if max(map(len, handles), default=0) > 20:  # long labels (method and flags): one per row per panel column
        per_row = cols
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=min(len(handles), per_row), frameon=False)
    return fig


def ci(value: float, interval, digits: int) -> str:
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def table(runs: list[Run], tasks: list[str], metrics: dict, style: dict, args: Args, rng) -> str:
    """Markdown: per task and method, then per method over tasks (one block per metric)."""
    lines = []
    for metric in dict.fromkeys(metrics[t] for t in tasks):
        metric_tasks = [t for t in tasks if metrics[t] == metric]
        digits = 2 if metric.endswith("success_rate") else 1
        scores = {}  # (method, task) -> final scores over seeds
        for run in runs:
            if run.task in metric_tasks and metric in run.scalars and len(run.scalars[metric][0]):
                scores.setdefault((run.method, run.task), []).append(final_score(run, metric, args.final_window))
        lines += [f"### `{metric}`: each run's mean over its last {args.final_window:,} steps; 95 % bootstrap CIs over seeds",
                  "", "| task | method | seeds | mean [95 % CI] | IQM [95 % CI] |", "|---|---|---|---|---|"]
        for task in metric_tasks:
            for method in [m for m in style if (m, task) in scores]:
                s = np.array(scores[(method, task)])
                mean_ci, iqm_ci = (stratified_bootstrap([s], stat, args.bootstrap, rng) for stat in (np.mean, iqm))
                lines.append(f"| {task} | {style[method][0]} | {len(s)} | {ci(s.mean(), mean_ci, digits)} "
                             f"| {ci(iqm(s), iqm_ci, digits)} |")
        lines += ["", f"Over all tasks of `{metric}` (stratified bootstrap: seeds resampled within each task):", "",
                  "| method | tasks | runs | IQM [95 % CI] | mean [95 % CI] |", "|---|---|---|---|---|"]
        for method in [m for m in style if any(key[0] == m for key in scores)]:
            groups = [np.array(v) for (m, _), v in scores.items() if m == method]
            flat = np.concatenate(groups)
            lines.append(f"| {style[method][0]} | {len(groups)} | {len(flat)} "
                         f"| {ci(iqm(flat), stratified_bootstrap(groups, iqm, args.bootstrap, rng), digits)} "
                         f"| {ci(flat.mean(), stratified_bootstrap(groups, np.mean, args.bootstrap, rng), digits)} |")
        lines.append("")
    return "\n".join(lines)


def save_figure(fig, out: Path, dpi: int) -> None:
    """Write out.png and out.svg so that the same figure gives the same bytes: the SVG without its creation date and
    with element ids from a fixed salt (matplotlib's default ids are random), so a regenerated page only shows in
    `git diff` where its data changed."""
    with plt.rc_context({"svg.hashsalt": "plot.py"}):
        fig.savefig(out.with_suffix(".png"), dpi=dpi)
        fig.savefig(out.with_suffix(".svg"), dpi=dpi, metadata={"Date": None})


def main() -> None:
    args = tyro.cli(Args, description=__doc__.split("\n")[0])
    if args.smooth < 1 or args.grid_points < 2 or args.bootstrap < 1 or args.final_window < 1:
        fail("--smooth, --bootstrap and --final-window must be >= 1 and --grid-points >= 2")
    try:
        re.compile(args.filter or "")
    except re.error as err:
        fail(f"--filter {args.filter!r} is not a regular expression: {err}")
    runs = load_runs(args)
    found = sorted({run.task for run in runs})
    tasks = [t for t in PIXMC_TASKS if t in found] + [t for t in found if t not in PIXMC_TASKS]
    metrics = {task: pick_metric([r for r in runs if r.task == task], args.metric) for task in tasks}
    for task in [t for t in tasks if metrics[t] is None]:
        print(f"warning: no run of {task} logged {args.metric if args.metric != 'auto' else 'a success rate or eval return'}"
              " (too short?): left out")
    tasks = [t for t in tasks if metrics[t] is not None]
    if not tasks:
        fail("no run logged the metric: nothing to plot")
    style = styles(sorted({run.method for run in runs}))
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = figure(runs, tasks, metrics, style, args, rng)
    save_figure(fig, out, dpi=150)
    text = table(runs, tasks, metrics, style, args, rng)
    out.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {out.with_suffix('.png')}, {out.with_suffix('.svg')}, {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
