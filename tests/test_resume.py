"""Exact resume of the PPO scripts: a run killed (SIGKILL) after its first checkpoint, at a point of its choosing, then
continued with --resume, ends with the same model and the same TensorBoard scalars (SPS aside) as the run that was
never killed; bad resumes fail with one message and change nothing."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, read_scalars, run_script

BASE = ["--task", "FrankaReach", "--obs-type", "state", "--num-envs", "4", "--num-steps", "50", "--seed", "3",
        "--total-timesteps", "1600", "--checkpoint-every", "3", "--save-model", "--eval-episodes", "1"]  # 8 iterations
SCRIPTS = ["ppo_pixmc", "ppo_pixmc_mimex", "ppo_pixmc_icm", "ppo_pixmc_rnd"]


def killed_after_first_checkpoint(script: str, args: list, cwd) -> "os.PathLike":
    """Start the run, wait for its first checkpoint (after iteration 3) and for a later iteration's "SPS:" line, then
    SIGKILL it: somewhere in the iteration after that line, wherever the kill lands."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")  # its lines as they are printed
    proc = subprocess.Popen([sys.executable, str(ROOT / f"{script}.py"), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, run_dir, after = time.time() + 600, None, 0
    for line in proc.stdout:  # an "SPS:" line per iteration; the checkpoint is written after iteration 3's
        runs = list((cwd / "runs").glob("*")) if (cwd / "runs").exists() else []
        run_dir = runs[0] if runs else None
        if line.startswith("SPS:") and run_dir is not None and (run_dir / "checkpoint.pt").exists():
            after += 1
            if after == 2:  # iteration 4 or later has ended: the kill lands in the one after it
                break
        assert time.time() < deadline
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and run_dir is not None
    assert not (run_dir / f"{script}.cleanrl_model").exists()  # it did not finish
    return run_dir


def final_state(run_dir, script):
    model = torch.load(run_dir / f"{script}.cleanrl_model", weights_only=True)
    scalars = read_scalars(run_dir)
    scalars.pop("charts/SPS")
    return model, scalars


@pytest.mark.parametrize("script", SCRIPTS)
def test_killed_run_resumes_to_the_uninterrupted_runs_numbers(script, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    res = run_script(script, BASE, tmp_path / "a")
    assert res.returncode == 0, res.stderr[-2000:]
    (whole,) = (tmp_path / "a" / "runs").iterdir()
    killed = killed_after_first_checkpoint(script, BASE, tmp_path / "b")
    res = run_script(script, ["--resume", f"runs/{killed.name}", "--checkpoint-every", "2"], tmp_path / "b")
    assert res.returncode == 0, res.stderr[-2000:]
    assert 0 < res.stdout.count("SPS:") < 8  # it continued: only the iterations after the checkpoint ran
    model_a, scalars_a = final_state(whole, script)
    model_b, scalars_b = final_state(killed, script)
    assert scalars_a.keys() == scalars_b.keys()
    for tag in scalars_a:
        assert scalars_a[tag] == scalars_b[tag], tag
    for part in model_a:
        if part != "args":
            assert model_a[part].keys() == model_b[part].keys()
            for key in model_a[part]:
                assert torch.equal(model_a[part][key], model_b[part][key]), (part, key)


def test_bad_resumes_fail_clearly_and_change_nothing(tmp_path):
    assert run_script("ppo_pixmc", BASE, tmp_path).returncode == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    def refused(script, args, message):
        res = run_script(script, args, tmp_path)
        assert res.returncode != 0 and message in res.stderr and "Traceback" not in res.stderr[-300:].split("Error")[0]
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before

    resume = ["--resume", f"runs/{run_dir.name}"]
    refused("ppo_pixmc", resume + ["--seed", "4", "--num-envs", "8"], "these flags differ from the run's: --seed (run: 3")
    refused("ppo_pixmc_mimex", resume, "is not a checkpoint of ppo_pixmc_mimex.py (it is ppo_pixmc.py's)")
    refused("ppo_pixmc", ["--resume", str(tmp_path)], "no checkpoint.pt there")
    good = (run_dir / "checkpoint.pt").read_bytes()
    (run_dir / "checkpoint.pt").write_bytes(good[:len(good) // 2])
    before["checkpoint.pt"] = (run_dir / "checkpoint.pt").read_bytes()
    refused("ppo_pixmc", resume, "checkpoint.pt is unreadable")
