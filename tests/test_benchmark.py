"""benchmark.py (the sweep runner) and plot.py (figure + table of a sweep): the issue's acceptance command on the real
scripts with a tiny budget, resuming after a kill, retry and report of failed runs, the submitit path (its local
executor), bad input, and plot.py's statistics on runs with known values. Fake training scripts keep it fast."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from conftest import ROOT, import_script

TINY = ["--obs-type", "state", "--total-timesteps", "800", "--common", "--num-envs 4 --num-steps 100"]  # 2 iterations

FAKE = textwrap.dedent("""
    import json, os, sys, time
    seed = int(sys.argv[sys.argv.index("--seed") + 1])
    log = os.environ["FAKE_LOG"]
    with open(log, "a") as f:
        f.write(f"start {seed} {os.getpid()}\\n")
    with open("fake.json", "w") as f:
        json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "omp": os.environ.get("OMP_NUM_THREADS"),
                   "cores": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}, f)
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    flaky = os.path.join(os.path.dirname(log), f"flaky{seed}")
    if str(seed) in os.environ.get("FAKE_FLAKY", "").split() and not os.path.exists(flaky):
        open(flaky, "w").close()
        sys.exit(2)
    if str(seed) in os.environ.get("FAKE_FAIL", "").split():
        print(f"boom in seed {seed}", file=sys.stderr)
        sys.exit(1)
    with open(log, "a") as f:
        f.write(f"end {seed}\\n")
""")


def benchmark(args, cwd, env=None, timeout=300):
    """benchmark.py in cwd; its data files go to cwd/results unless args say where (never into the repository)."""
    args = args if "--results-dir" in args else [*args, "--results-dir", str(pathlib.Path(cwd) / "results")]
    return subprocess.run([sys.executable, str(ROOT / "benchmark.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def plot(args, cwd, timeout=120):
    return subprocess.run([sys.executable, str(ROOT / "plot.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def fake(tmp_path):
    """A fake training script, the log it appends 'start SEED PID' / 'end SEED' to, and the env it reads."""
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    log = tmp_path / "fake.log"
    log.touch()
    env = dict(os.environ, FAKE_LOG=str(log))
    return script, log, env


def starts(log, seed):
    return sum(line.startswith(f"start {seed} ") for line in log.read_text().splitlines())


def test_sweep_of_real_scripts_then_plot(tmp_path):
    """The issue's acceptance command (tiny budget): 4 runs in 2 workers, each in its own folder; plot.py draws them;
    the same command again runs nothing."""
    sweep = tmp_path / "sweep"
    command = ["--scripts", "ppo_pixmc.py", "ppo_pixmc_mimex.py", "--tasks", "FrankaReach", "--seeds", "1", "2",
               *TINY, "--workers", "2", "--sweep-dir", str(sweep)]
    result = benchmark(command, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4/4 done, 0 failed" in result.stdout and "ETA" in result.stdout
    names = {f"{s}__FrankaReach__seed{seed}" for s in ("ppo_pixmc", "ppo_pixmc_mimex") for seed in (1, 2)}
    assert {p.name for p in sweep.iterdir() if p.is_dir()} == names
    for name in names:
        run_dir = sweep / name
        assert (run_dir / "finished.json").is_file() and "global_step=" in (run_dir / "stdout.log").read_text()
        info = json.loads((run_dir / "run.json").read_text())
        assert info["method"] == name.split("__")[0] and info["seed"] == int(name[-1])
        assert {"--no-cuda", "--num-envs", "--obs-type"} <= set(info["flags"])
        (tb,) = (run_dir / "runs").iterdir()  # the script's runs/ landed in its run folder
        assert tb.name.startswith(f"FrankaReach__{info['method']}__{info['seed']}__") and any(tb.glob("events.out.*"))
    assert not (tmp_path / "runs").exists()

    again = benchmark(command, tmp_path)
    assert again.returncode == 0 and "4 already finished, 0 to run" in again.stdout

    result = plot([str(sweep), "--out", str(tmp_path / "fig" / "fig.png"), "--intrinsic", "--rows", "charts/coverage"],
                  tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    png, svg, md = (tmp_path / "fig" / f"fig{suffix}" for suffix in (".png", ".svg", ".md"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and svg.read_text().lstrip().startswith("<?xml")
    table = md.read_text()
    assert re.search(r"\| FrankaReach \| noise \(PPO\) \| 2 \| \d\.\d\d \[", table)
    assert re.search(r"\| FrankaReach \| MIMEx \| 2 \| \d\.\d\d \[", table)
    assert re.search(r"\| MIMEx \| 1 \| 2 \| ", table)  # the over-tasks block: 1 task, 2 runs

    # each finished run's data file: the command, the commit, its scalars and coverage counts, enough without the folder
    bench = import_script("benchmark")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for name in names:
        data = bench.read_run_data(tmp_path / "results" / f"{name}.npz")
        meta, (tb,) = data["meta"], (sweep / name / "runs").iterdir()
        assert meta["flags"] == json.loads((sweep / name / "finished.json").read_text())["flags"]
        assert meta["commit"].split("+")[0] == head and meta["command"].startswith("python benchmark.py --scripts")
        scalars = bench.read_scalars(tb)
        assert set(data["scalars"]) == set(scalars) & set(bench.EXPORTED_TAGS) >= {"charts/success_rate", "charts/coverage"}
        for tag, (steps, values) in data["scalars"].items():
            assert steps.tolist() == scalars[tag][0].tolist() and values.tolist() == scalars[tag][1].tolist(), tag
        with np.load(tb / "coverage.npz") as saved:
            assert all(np.array_equal(data["coverage"][k], saved[k]) for k in saved.files)
    shutil.rmtree(sweep)  # a clean clone: only the data files
    again = benchmark(command, tmp_path)
    assert again.returncode == 0 and "4 already finished, 0 to run" in again.stdout, again.stdout
    from_data = plot([str(tmp_path / "results"), "--out", str(tmp_path / "fig2" / "fig.png"), "--intrinsic"], tmp_path)
    assert from_data.returncode == 0, from_data.stdout + from_data.stderr
    assert (tmp_path / "fig2" / "fig.md").read_text() == table


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2, reason="needs 2 cores, Linux")
def test_a_sweep_pins_its_run_to_the_cores_it_was_started_on(tmp_path, fake):
    """Started under `taskset -c LAST` (here: its affinity set before exec), a sweep pins its run to that core, not to
    core 0 where a sweep beside it would run, and its start-up line names the core."""
    script, _, env = fake
    last = os.cpu_count() - 1
    command = [sys.executable, str(ROOT / "benchmark.py"), "--scripts", str(script), "--tasks", "T", "--seeds", "1",
               "--sweep-dir", str(tmp_path / "sweep"), "--results-dir", str(tmp_path / "results")]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: os.sched_setaffinity(0, {last}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"pinned to cores {last};" in result.stdout and "taskset -c" in result.stdout
    assert json.loads((tmp_path / "sweep" / "fake__T__seed1" / "fake.json").read_text())["cores"] == [last]


def test_killed_sweep_resumes_with_the_missing_runs_only(tmp_path, fake):
    script, log, env = fake
    sweep = tmp_path / "sweep"
    command = ["--scripts", str(script), "--tasks", "T", "--seeds", "1", "2", "3", "--sweep-dir", str(sweep),
               "--results-dir", str(tmp_path / "results")]
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmark.py"), *command], cwd=tmp_path, text=True,
                            env=dict(env, FAKE_SLEEP="1.5"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while starts(log, 2) == 0 and time.time() < deadline:  # seed 1 finished, seed 2 is running
        time.sleep(0.05)
    assert (sweep / "fake__T__seed1" / "finished.json").is_file()
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130 and "interrupted: 1/3 runs finished" in output, output
    killed_pid = int(log.read_text().splitlines()[-1].split()[2])
    for _ in range(50):  # the interrupted training process went with it
        try:
            os.kill(killed_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the child {killed_pid} of the killed sweep still runs")
    assert not (sweep / "fake__T__seed2" / "finished.json").exists() and "end 2" not in log.read_text()
    finished = sweep / "fake__T__seed1" / "finished.json"
    stamp = finished.stat().st_mtime_ns, finished.read_text()
    (sweep / "fake__T__seed2" / "stale.txt").write_text("left by the killed sweep")

    result = benchmark(command, tmp_path, env=dict(env, FAKE_SLEEP="0"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 runs in" in result.stdout and "1 already finished, 2 to run" in result.stdout
    assert (finished.stat().st_mtime_ns, finished.read_text()) == stamp  # untouched
    assert starts(log, 1) == 1 and starts(log, 2) == 2 and starts(log, 3) == 1
    assert all((sweep / f"fake__T__seed{s}" / "finished.json").is_file() for s in (2, 3))
    assert not (sweep / "fake__T__seed2" / "stale.txt").exists()  # the half-written folder was cleared
    recorded = json.loads((sweep / "fake__T__seed3" / "fake.json").read_text())  # local worker: cwd, threads, flags
    assert recorded["cwd"] == str(sweep / "fake__T__seed3") and recorded["omp"] == "1"
    assert recorded["argv"] == ["--task", "T", "--seed", "3", "--no-cuda"]


CHECKPOINTING = textwrap.dedent("""
    import os, sys, time, torch
    args, log = sys.argv[1:], os.environ["FAKE_LOG"]
    if "--resume" in args:  # as the PPO scripts: continue from the run folder's checkpoint
        folder = args[args.index("--resume") + 1]
        step = torch.load(os.path.join(folder, "checkpoint.pt"), weights_only=False)["global_step"]
        with open(log, "a") as f:
            f.write(f"resume {folder} {step}\\n")
    else:
        os.makedirs("runs/fake__1")
        torch.save({"global_step": 123}, "runs/fake__1/checkpoint.pt")
        with open(log, "a") as f:
            f.write("start\\n")
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    with open(log, "a") as f:
        f.write("end\\n")
""")


def _wait_for(log, text, seconds=120):
    deadline = time.time() + seconds
    while text not in log.read_text():
        assert time.time() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize("launcher", ["local", "submitit-local"])
def test_killed_run_with_a_checkpoint_resumes(tmp_path, fake, launcher):
    """Local: a sweep stopped while a run had a checkpoint resumes that run (--resume) instead of clearing it.
    submitit: a job interrupted as at a Slurm time limit / preemption (submitit's signal) is requeued and resumes."""
    _, log, env = fake
    script = tmp_path / "ckpt.py"
    script.write_text(CHECKPOINTING)
    sweep = tmp_path / "sweep"
    command = [sys.executable, str(ROOT / "benchmark.py"), "--scripts", str(script), "--tasks", "T", "--seeds", "1",
               "--launcher", launcher, "--sweep-dir", str(sweep), "--results-dir", str(tmp_path / "results")]
    proc = subprocess.Popen(command, cwd=tmp_path, env=dict(env, FAKE_SLEEP="60"), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _wait_for(log, "start")
    if launcher == "local":
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
        result = benchmark(command[2:], tmp_path, env=dict(env, FAKE_SLEEP="0"))
        output = result.stdout
        assert result.returncode == 0, output + result.stderr
        assert "ckpt__T__seed1: resumed at step 123 (its checkpoint)" in output
    else:
        # what a Slurm job's task gets before its time limit or a preemption: the local job's id is its controller's
        # pid, and the task (submitit's handler, then execute(), then the script) is that controller's child
        (job_log,) = (sweep / "submitit").glob("*_0_log.out")
        (task,) = _children(int(job_log.name.split("_")[0]))
        os.kill(task, signal.SIGUSR2)
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, output
        job_log = job_log.with_suffix(".err").read_text() + job_log.read_text()
        assert "Caught signal SIGUSR2" in job_log and "Requeued job" in job_log, job_log  # checkpoint() ran
        assert "FAILED" not in output and not (sweep / "ckpt__T__seed1" / "stdout.attempt1.log").exists()  # no retry
    assert log.read_text().splitlines()[-2:] == ["resume runs/fake__1 123", "end"]
    assert (sweep / "ckpt__T__seed1" / "finished.json").is_file()


def test_parked_run_resumes_on_another_machine(tmp_path, fake):
    """--park packs a live run's folder into results/unfinished/ (to commit); with the sweep folder gone (a new
    machine), the same command from the run's commit unpacks and resumes it, then deletes the parked file. A parked
    file of other flags, of another commit or not a tar is refused with the fix, and nothing is unpacked."""
    _, log, env = fake
    code = tmp_path / "code"
    code.mkdir()
    (code / "ckpt.py").write_text(CHECKPOINTING)
    git = ["git", "-C", str(code), "-c", "user.name=t", "-c", "user.email=t@t"]
    for step in (["init", "-q"], ["add", "ckpt.py"], ["commit", "-qm", "one"]):
        subprocess.run(git + step, check=True)
    sweep, results = tmp_path / "sweep", tmp_path / "results"
    command = ["--scripts", str(code / "ckpt.py"), "--tasks", "T", "--seeds", "1", "--sweep-dir", str(sweep),
               "--results-dir", str(results)]
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmark.py"), *command], cwd=tmp_path,
                            env=dict(env, FAKE_SLEEP="60", BENCHMARK_TICK="0.1"), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    _wait_for(log, "start")
    time.sleep(1.0)
    result = benchmark([*command, "--park"], tmp_path, env=env)  # while the run still trains
    parked = results / "unfinished" / "ckpt__T__seed1.tar"
    assert result.returncode == 0 and f"{parked}: at step 123" in result.stdout, result.stdout + result.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    shutil.rmtree(sweep)  # the next machine has none of it

    refused = benchmark([*command, "--common", "--lr 1"], tmp_path, env=env)
    assert refused.returncode == 1 and "was started with other flags (--task T --seed 1 --no-cuda)" in refused.stderr
    (code / "ckpt.py").write_text(CHECKPOINTING + "\n")
    subprocess.run(git + ["commit", "-qam", "two"], check=True)
    refused = benchmark(command, tmp_path, env=env)
    assert refused.returncode == 1 and "git worktree add" in refused.stderr, refused.stderr
    good = parked.read_bytes()
    parked.write_bytes(b"not a tar")
    refused = benchmark(command, tmp_path, env=env)
    assert refused.returncode == 1 and "is not a parked run" in refused.stderr, refused.stderr
    assert not sweep.exists() and "resume" not in log.read_text()

    parked.write_bytes(good)
    subprocess.run(git + ["checkout", "-q", "HEAD~1"], check=True)
    result = benchmark(command, tmp_path, env=dict(env, FAKE_SLEEP="0"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ckpt__T__seed1: resumed at step 123 (parked in {parked})" in result.stdout
    assert log.read_text().splitlines()[-2:] == ["resume runs/fake__1 123", "end"]
    assert (results / "ckpt__T__seed1.npz").is_file() and not parked.exists()
    meta = import_script("benchmark").read_run_data(results / "ckpt__T__seed1.npz")["meta"]
    first, second = meta["attempts"]  # the first attempt's time as it was when packed, live (updated every tick)
    assert (first["from_step"], second["from_step"]) == ("0", "123") and first["seconds"] >= 0.5, meta
    assert meta["seconds"] == round(first["seconds"] + second["seconds"], 1), meta


def _children(pid: int) -> list:
    """The pids of pid's child processes (Linux /proc)."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def test_failed_run_is_retried_once_and_reported(tmp_path, fake):
    script, log, env = fake
    sweep = tmp_path / "sweep"
    result = benchmark(["--scripts", str(script), "--tasks", "T", "--seeds", "1", "2", "3", "--workers", "2",
                        "--sweep-dir", str(sweep)], tmp_path, env=dict(env, FAKE_FAIL="2", FAKE_FLAKY="3"))
    assert result.returncode == 1, result.stdout + result.stderr
    failed = sweep / "fake__T__seed2"
    assert starts(log, 1) == 1 and starts(log, 2) == 2 and starts(log, 3) == 2
    assert "FAILED (exit 1), retrying once: fake__T__seed2" in result.stdout
    assert "FAILED (exit 2), retrying once: fake__T__seed3" in result.stdout
    assert "FAILED again (exit 1), giving up: fake__T__seed2" in result.stdout and "| boom in seed 2" in result.stdout
    assert f"1 of 3 runs failed twice:\n  {failed}/stderr.log" in result.stdout
    assert "boom in seed 2" in (failed / "stderr.attempt1.log").read_text() and not (failed / "finished.json").exists()
    assert (sweep / "fake__T__seed3" / "finished.json").is_file()  # the flaky run passed its retry
    assert json.loads((sweep / "fake__T__seed3" / "finished.json").read_text())["attempt"] == 2


def test_submitit_local_executor(tmp_path, fake):
    """The Slurm path up to the scheduler: one run through submitit's local executor."""
    script, log, env = fake
    sweep = tmp_path / "sweep"
    result = benchmark(["--scripts", str(script), "--tasks", "T", "--seeds", "4", "--launcher", "submitit-local",
                        "--threads", "2", "--cuda", "--sweep-dir", str(sweep)], tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = sweep / "fake__T__seed4"
    assert (run_dir / "finished.json").is_file() and starts(log, 4) == 1
    recorded = json.loads((run_dir / "fake.json").read_text())
    recorded.pop("cores")  # what the process may use: the submitit path does not pin
    assert recorded == {"argv": ["--task", "T", "--seed", "4", "--cuda"], "cwd": str(run_dir), "omp": "2"}
    assert any((sweep / "submitit").glob("*_result.pkl"))  # it went through submitit


@pytest.mark.parametrize("args, message", [
    (["--scripts", "no_such_script.py"], "unknown script 'no_such_script.py'"),
    (["--seeds"], "--seeds is empty"),
    (["--tasks", "FrankaReach", "--task-flags", "KukaPick: --total-timesteps 10"], "--task-flags 'KukaPick: "),
])
def test_bad_input_fails_fast(tmp_path, args, message):
    result = benchmark([*args, "--sweep-dir", str(tmp_path / "sweep")], tmp_path)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "sweep").exists()


def test_plot_statistics_and_bad_input(tmp_path):
    """Runs with known final values (no run.json: methods from the scripts' run names), DrQ-v2's eval return."""
    from torch.utils.tensorboard import SummaryWriter

    finals = {"drqv2_dmc_mimex": [100.0, 200.0, 300.0, 1000.0], "other_method": [50.0, 50.0]}
    for method, values in finals.items():
        for seed, final in enumerate(values, start=1):
            writer = SummaryWriter(str(tmp_path / "runs" / f"cartpole_swingup__{method}__{seed}__1000"))
            for step in range(0, 10_001, 1000):  # 0 until 5,000 frames, then the final value
                writer.add_scalar("eval/episodic_return", final if step > 5000 else 0.0, step)
            writer.close()
    unfinished = tmp_path / "runs" / "half" / "runs" / "cartpole_swingup__unfinished__1__1"
    writer = SummaryWriter(str(unfinished))
    writer.add_scalar("eval/episodic_return", 1.0, 0)
    writer.close()
    (tmp_path / "runs" / "half" / "run.json").write_text(json.dumps({"method": "unfinished", "task": "cartpole_swingup",
                                                                     "seed": 1}))
    result = plot([str(tmp_path / "runs"), "--out", "dmc.png", "--final-window", "4000", "--intrinsic"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    table = (tmp_path / "dmc.md").read_text()
    assert "skipped 1 TensorBoard folders" in result.stdout and "unfinished" not in table
    assert "| cartpole_swingup | DrQ-v2 + MIMEx | 4 | 400.0 [" in table  # the mean over seeds
    assert re.search(r"\| cartpole_swingup \| DrQ-v2 \+ MIMEx \| 4 \| 400\.0 \[[\d.]+, [\d.]+\] \| 250\.0 \[", table)  # IQM
    assert "| cartpole_swingup | other_method | 2 | 50.0 [50.0, 50.0] | 50.0 [50.0, 50.0] |" in table
    assert (tmp_path / "dmc.png").is_file() and (tmp_path / "dmc.svg").is_file()
    assert "intrinsic reward" not in (tmp_path / "dmc.svg").read_text()  # no run logged r_i: no empty row for it

    missing = plot([str(tmp_path / "no_such_sweep")], tmp_path)
    assert missing.returncode != 0 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr

    stats = import_script("plot")
    assert stats.iqm(np.array([0.0, 1, 2, 3, 4, 5, 6, 100])) == 3.5  # 2 cut from each end
    rng = np.random.default_rng(0)
    low, high = stats.stratified_bootstrap([np.array([1.0, 3.0]), np.array([10.0, 10.0])], np.mean, 500, rng)
    assert 5.5 <= low < 6.0 < high <= 6.5  # only the first task's seeds vary: 5.5 ... 6.5
    band = stats.bootstrap_band(np.array([[0.0, 1.0, np.nan], [2.0, 1.0, 4.0]]), 500, rng)
    assert band[0, 0] == 0.0 and band[1, 0] == 2.0 and band[0, 1] == band[1, 1] == 1.0 and band[0, 2] == 4.0
    assert np.allclose(stats.smooth(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1, 2, 4, 6])


def test_plot_writes_the_same_bytes_for_the_same_figure(tmp_path):
    """A regenerated figure only shows in git where its data changed: no date, no random element ids in the SVG."""
    stats = import_script("plot")
    fig, ax = stats.plt.subplots()
    ax.plot([0, 1, 2], [0.0, 0.5, 1.0])
    ax.fill_between([0, 1, 2], [0.0, 0.4, 0.9], [0.1, 0.6, 1.0], alpha=0.2)
    stats.save_figure(fig, tmp_path / "a.png", dpi=50)
    stats.save_figure(fig, tmp_path / "b.png", dpi=50)
    for suffix in (".png", ".svg"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes(), suffix
