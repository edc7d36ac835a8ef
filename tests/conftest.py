import os
import pathlib
import sys

# One thread and, under pytest-xdist (pyproject.toml runs a worker per core, a file per worker), one core per worker:
# set before torch is imported, inherited by the scripts the tests run. Without it two workers' OpenMP threads thrash
# on a 2-core machine, and the recorded regression values would depend on how many cores a machine has (a thread count
# changes the order of torch's reductions, which a few PPO updates turn into percent).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
if os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw") and hasattr(os, "sched_setaffinity"):
    _cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {_cores[int(os.environ["PYTEST_XDIST_WORKER"][2:]) % len(_cores)]})

import pytest  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pixmc_sparse  # noqa: E402  (chooses the GL backend before anything imports mujoco)


@pytest.fixture
def make_envs():
    """pixmc_sparse.make that closes every env it made at the end of the test."""
    made = []

    def _make(task, **kwargs):
        envs = pixmc_sparse.make(task, **kwargs)
        made.append(envs)
        return envs

    yield _make
    for envs in made:
        envs.close()


ROOT = pathlib.Path(__file__).resolve().parents[1]


def import_script(name: str):
    """Import a top-level script (e.g. "ppo_pixmc_mimex") as a module; its training loop stays under __main__."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name: str, args: list, cwd, timeout: int = 1800):
    """Run a script in `cwd` (its runs/ and videos/ land there); returns the CompletedProcess."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def read_scalars(run_dir) -> dict:
    """{tag: [(step, value), ...]} of the TensorBoard event file(s) in run_dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _run_main(name: str, args: list, cwd, m: pytest.MonkeyPatch) -> dict:
    """Run a script's __main__ in this process with `args`, in `cwd` (its runs/ land there); its globals after it."""
    import runpy

    import torch

    m.setattr(sys, "argv", [f"{name}.py", *args])
    m.chdir(cwd)
    try:
        return runpy.run_path(str(ROOT / f"{name}.py"), run_name="__main__")
    finally:
        torch.use_deterministic_algorithms(False)  # the script's --torch-deterministic, not other tests'


def run_inline(name: str, args: list, cwd):
    """run_script's CompletedProcess from a run in this process: ~5 s less a run than a fresh interpreter, which
    imports torch (and torch.use_deterministic_algorithms torch._inductor) again. As on the command line: stdout and
    stderr are captured, an exception (the scripts' ValueError on bad input) exits 1 with its traceback on stderr."""
    import contextlib
    import io
    import subprocess
    import traceback

    out, err, code = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as m, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            _run_main(name, args, cwd, m)
        except SystemExit as exit:  # as the interpreter ends: None is 0; a message goes to stderr, exit code 1
            if isinstance(exit.code, int) or exit.code is None:
                code = exit.code or 0
            else:
                print(exit.code, file=sys.stderr)
                code = 1
        except Exception:
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess([name, *args], code, out.getvalue(), err.getvalue())


def run_and_read(name: str, args: list, cwd, inline: bool = False):
    """Run a script in `cwd` (in this process with `inline`), require success, return its run folder and
    {tag: [(step, value), ...]}."""
    res = (run_inline if inline else run_script)(name, args, cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = (pathlib.Path(cwd) / "runs").iterdir()
    return run_dir, read_scalars(run_dir)


def killed_after_first_checkpoint(script: str, args: list, cwd, line_start: str = "SPS:") -> pathlib.Path:
    """Start the run in a fresh interpreter (as on the command line), wait for the first line of its output that starts
    with `line_start` while its first checkpoint is there, then SIGKILL it, wherever the run is then. The PPO scripts
    print "SPS:" after each iteration and write a checkpoint after it: the kill lands in iteration 3 or in the
    checkpoint write after iteration 2. drqv2_dmc_mimex.py prints "frame=..., writing ..." before each checkpoint
    write: the kill lands at the second one's. Returns the run folder.

    The killed run's event files are then renamed as if made 2 s from now: a resume whose event file is made in the
    same second as the killed run's sorts by pid, and TensorBoard reads a folder's files in name order. So a script that
    makes its file without waiting for the next second fails here every time, not once in a while."""
    import signal
    import subprocess
    import time

    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")  # its lines as they are printed
    proc = subprocess.Popen([sys.executable, str(ROOT / f"{script}.py"), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, run_dir = time.time() + 600, None
    for line in proc.stdout:
        runs = list((cwd / "runs").glob("*")) if (cwd / "runs").exists() else []
        run_dir = runs[0] if runs else None
        if line.startswith(line_start) and run_dir is not None and (run_dir / "checkpoint.pt").exists():
            break
        assert time.time() < deadline
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and run_dir is not None
    assert not (run_dir / f"{script}.cleanrl_model").exists()  # it did not finish
    for path in run_dir.glob("events.out.tfevents.*"):  # events.out.tfevents.<second>.<host>.<pid>.<n>
        parts = path.name.split(".")
        parts[3] = str(int(time.time()) + 2)
        path.rename(path.with_name(".".join(parts)))
    return run_dir


def check_regression(values: dict, recorded: pathlib.Path) -> None:
    """{series: [values]} against the recorded file, within 1 % (value losses: 3 %; +1e-6 absolute). With
    PIXMC_REGENERATE=1 in the environment, (re)write the file instead and skip.

    Callers record only what a run's first updates produce. CPUs differ in the last bits (MKL and oneDNN pick other
    kernels on Intel with AVX-512/AMX than on AMD), and a few updates later PPO's clip and Adam's first,
    sign-like steps have turned those bits into percent: on the PPO smoke runs, Intel and AMD machines agreed to
    7e-4 over the first two iterations and differed by up to 11 % in the fourth; on a 2-core Intel Xeon with AMX
    (2026-12-07) the first update's value loss of ppo_pixmc came out 1.15 % off the value recorded on an AMD EPYC
    (everything else within 1 %). 3 % for the value losses stays far below what a change of the update's settings
    moves them by (25 % and more: README, Tests)."""
    import json

    import numpy as np

    if os.environ.get("PIXMC_REGENERATE"):
        recorded.write_text(json.dumps(values, indent=1) + "\n")
        pytest.skip(f"recorded values written to {recorded}")
    for series, expected in json.loads(recorded.read_text()).items():
        rtol = 0.03 if series.endswith("value_loss") else 0.01
        np.testing.assert_allclose(values[series], expected, rtol=rtol, atol=1e-6, err_msg=series)


def run_in_process(script: str, args: list, cwd, monkeypatch) -> tuple:
    """Run a script's __main__ in this process (its runs/ land in `cwd`). Returns its globals after the run and two
    functions of an optimiser: how many steps it took, and its parameters ({id(param): copy}) just before its last
    step. Adam.step is wrapped for this; everything else runs as on the command line."""
    import torch

    steps, before_last = {}, {}
    adam_step = torch.optim.Adam.step

    def counting_step(self, *a, **kw):
        steps[id(self)] = steps.get(id(self), 0) + 1
        before_last[id(self)] = {id(p): p.detach().clone() for group in self.param_groups for p in group["params"]}
        return adam_step(self, *a, **kw)

    with monkeypatch.context() as m:
        m.setattr(torch.optim.Adam, "step", counting_step)
        module_globals = _run_main(script, args, cwd, m)
    return module_globals, lambda opt: steps.get(id(opt), 0), lambda opt: before_last[id(opt)]
