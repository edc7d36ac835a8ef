"""benchmarks/results_page.py on hand-made runs: TensorBoard logs with known curves, exported by benchmark.py's
export_run into data files, then the page regenerated from those files alone (no run folder): first success, the
50 % step (its trailing window), AUC, the final window's boundary, "never", coverage at 1M, the README headline."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, import_script

pytestmark = pytest.mark.xdist_group("results_page")  # one worker runs this file: its module fixture runs once

STEP = 16_384
K = np.arange(1, 101)  # 100 iterations: 1,638,400 env steps


def success_curve(kind: str) -> np.ndarray:
    if kind == "never":
        return np.zeros(len(K))
    s = np.where(K < 21, 0.0, np.where(K < 40, 0.2, 0.6))
    s[K == 21] = 0.1  # the first success: iteration 21
    s[K == 90] = 0.0  # just outside the last 10 % (steps > 0.9 x 1,638,400 = iteration 91 on)
    s[K == 91] = 1.0  # just inside
    return s


def make_run(sweep, bench, method: str, seed: int, kind: str):
    from torch.utils.tensorboard import SummaryWriter

    name = f"{method}__KukaReach__seed{seed}"
    run_dir = sweep / name
    tb = run_dir / "runs" / f"KukaReach__{method}__{seed}__1"
    writer = SummaryWriter(str(tb))
    for k, s in zip(K, success_curve(kind)):
        step = int(k * STEP)
        writer.add_scalar("charts/success_rate", s, step)
        writer.add_scalar("charts/SPS", 1000, step)
        writer.add_scalar("charts/coverage", k / 1000, step)
        writer.add_scalar("charts/termination_rate", 1.0 if k <= 10 else 0.0, step)
        writer.add_scalar("charts/episodic_length", 199, step)
        writer.add_scalar("losses/entropy", 2.0 if k <= 90 else -3.0, step)  # the last 10 %: iterations 91-100
        writer.add_scalar("losses/value_loss", 1.0, step)  # not a page tag: not exported
        if method.endswith("mimex"):
            writer.add_scalar("charts/intrinsic_reward", 0.5 if k <= 10 else 0.1, step)
    writer.close()
    hand = np.zeros((2, 40, 40, 28), np.uint32)
    hand[:, 30, 20, 10] = [5, 9]
    np.savez_compressed(tb / "coverage.npz", steps=np.array([1_015_808, 1_638_400]), hand=hand)
    flags = ["--task", "KukaReach", "--seed", str(seed), "--obs-type", "state"]
    where = "/elsewhere/wt_sweep/" if method.endswith("mimex") else ""  # a run from a worktree outside the repository
    command = (f"python benchmark.py --scripts {where}{method}.py --tasks KukaReach --seeds {seed} --obs-type state "
               f"--sweep-dir /elsewhere/sweeps/s --results-dir {sweep.parent / 'results'}")
    run = bench.Run(name, method, str(ROOT / f"{method}.py"), "KukaReach", seed, "", flags, str(run_dir),
                    str(sweep.parent / "results" / f"{name}.npz"), command)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps(dict(vars(run), commit="abc123")))
    (run_dir / "finished.json").write_text(json.dumps({"flags": flags, "attempt": 1, "seconds": 600.0}))
    return bench.export_run(run)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    bench = import_script("benchmark")
    for method, seed, kind in [("ppo_pixmc", 1, "learns"), ("ppo_pixmc", 2, "never"), ("ppo_pixmc_mimex", 1, "learns")]:
        make_run(tmp / "sweep", bench, method, seed, kind)
    shutil.rmtree(tmp / "sweep")  # what a clean clone has: the data files only
    readme = tmp / "README.md"
    readme.write_text("intro <!-- results-headline -->old words<!-- /results-headline --> end\n")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_page.py"), str(tmp / "results"),
                             "--out", str(tmp / "results.md"), "--img", str(tmp / "img"), "--readme", str(readme),
                             "--notes", str(tmp / "none.md")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp, (tmp / "results.md").read_text(), readme.read_text()


def row(text: str, start: str, table: str = "runs") -> list:
    """The cells of the row that starts so: in the per-run table ("runs") or in the per-method one ("methods")."""
    methods, runs = text.split("### Every run")
    (line,) = [line for line in (runs if table == "runs" else methods).splitlines() if line.startswith(start)]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_per_run_figures(page):
    _, text, _ = page
    cells = row(text, "| noise (PPO) | 1 |")
    assert cells[2] == "1,638,400" and cells[3] == f"{21 * STEP:,}"  # first success
    assert cells[4] == f"{43 * STEP:,}"  # 50 %: iterations 39-43 average 0.52 (38-42: 0.44)
    s, steps = success_curve("learns"), K * STEP
    auc = sum((s[i] + s[i + 1]) / 2 * (steps[i + 1] - steps[i]) for i in range(len(K) - 1)) / (steps[-1] - steps[0])
    assert cells[5] == f"{auc:.3f}"
    assert cells[6] == "0.640"  # iterations 91-100: 1.0 and nine 0.6; iteration 90's 0.0 is outside
    assert cells[7] == f"{1_000_000 / STEP / 1000:.4f} / — / 0.1000"  # coverage at 1M (interpolated), 4M (not reached)
    assert cells[8] == "1.00 / 0.00" and cells[9] == "—" and cells[10] == "199"
    assert cells[11] == "-3.0" and cells[12] == "—" and cells[14] == "abc123"
    never = row(text, "| noise (PPO) | 2 |")
    assert never[3] == never[4] == "never (< 1,638,400)" and never[6] == "0.000"
    assert row(text, "| MIMEx | 1 |")[12] == "0.5000 / 0.1000"


def test_method_table_and_headline(page):
    tmp, text, readme = page
    noise = row(text, "| noise (PPO) | 2 |", "methods")  # the method table: 2 seeds, one never (its length: a lower bound)
    assert noise[2].startswith(f">= {(21 * STEP + 1_638_400) / 2 / 1e6:.2f} [")
    assert noise[5] == f"{0.64 / 2:.3f} [0.000, 0.640]"  # final success: the mean of 0.64 and 0, bootstrap over seeds
    assert row(text, "| MIMEx | 1 |", "methods")[2] == f"{21 * STEP / 1e6:.2f} [{21 * STEP / 1e6:.2f}, {21 * STEP / 1e6:.2f}]"
    headline = ("On sparse KukaReach from state at 1,638,400 env steps (3 runs): noise (PPO) 1/2 seeds found the goal "
                "(median first success never, median 50 % success never), final success 0.32; MIMEx 1/1 seeds found the "
                f"goal (median first success {21 * STEP:,}, median 50 % success {43 * STEP:,}), final success 0.64.")
    assert headline in text
    link = "[More in docs/results.md](docs/results.md)."
    assert readme == f"intro <!-- results-headline -->{headline} {link}<!-- /results-headline --> end\n"
    assert "value_loss" not in text and (tmp / "img" / "results_results.png").is_file()
    assert (tmp / "img" / "results_results_heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert "first 1,015,808 env steps" in text  # the heat map's snapshot: the first at or after 1M
    assert ("`python benchmark.py --scripts ppo_pixmc_mimex.py --tasks KukaReach --seeds 1 --obs-type state --sweep-dir "
            "sweeps/s --results-dir results/results`") in text and "/elsewhere" not in text  # paths as in a clone


def test_plan_file_names_the_runs_still_to_come(page, tmp_path):
    tmp, _, _ = page
    rp = import_script("benchmarks/results_page")
    folder = tmp_path / "results"
    shutil.copytree(tmp / "results", folder)
    runs = rp.load(folder)
    commands, source = rp.sweep_commands(folder, runs)  # no plan: the commands the data files record
    assert source == "from the run data" and len(commands) == 3
    assert sorted(rp.planned(commands)) == sorted(r["name"] for r in runs)
    plan = ("python benchmark.py --scripts ppo_pixmc.py ppo_pixmc_mimex.py --tasks KukaReach --seeds 1 2 3 "
            "--obs-type state --sweep-dir sweeps/s --results-dir results/results")
    (folder / "plan.txt").write_text(f"# the experiment\n\n{plan}\n")
    commands, source = rp.sweep_commands(folder, runs)
    assert commands == [plan] and source.startswith("its plan")
    missing = [name for name in rp.planned(commands) if name not in {r["name"] for r in runs}]
    assert missing == ["ppo_pixmc_mimex__KukaReach__seed2", "ppo_pixmc__KukaReach__seed3",
                       "ppo_pixmc_mimex__KukaReach__seed3"]  # seed-major, as the sweep runs them


def test_machines_listed_once_each():
    rp = import_script("benchmarks/results_page")
    runs = [{"machine": "AMD EPYC, 1 cores; Intel Xeon, 2 cores"}, {"machine": "Intel Xeon, 2 cores"}]
    assert rp.machines(runs) == "AMD EPYC, 1 core; Intel Xeon, 2 cores"
