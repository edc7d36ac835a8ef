"""ppo_pixmc.py and ppo_pixmc_mimex.py end to end: smoke runs (state and pixels), logged tags, the
diff contract, checkpoints, the MVP encoder loader, bad input, and a short-run regression.

Regenerate the recorded regression values (after an intended change) with
    PIXMC_REGENERATE=1 python -m pytest tests/test_ppo_scripts.py -k regression
"""

import difflib
import json
import math
import os
import pathlib

import numpy as np
import pytest
import torch

from conftest import ROOT, import_script, read_scalars, run_script

SMALL = ["--task", "FrankaReach", "--num-envs", "4", "--num-steps", "100", "--seed", "1"]
STATE = SMALL + ["--obs-type", "state", "--total-timesteps", "1600"]  # 4 iterations; episodes end at 199, 398
PIXELS = SMALL + ["--obs-type", "pixels", "--image-size", "48", "--total-timesteps", "800", "--capture-video"]
MIMEX = ["--mimex-batch-size", "200"]  # 2 MIMEx updates per iteration
PPO_TAGS = {"charts/episodic_return", "charts/episodic_length", "charts/success_rate", "charts/SPS",
            "charts/learning_rate", "losses/value_loss", "losses/policy_loss", "losses/entropy",
            "losses/approx_kl", "losses/clipfrac", "losses/explained_variance"}
BONUS_TAGS = {"charts/intrinsic_reward", "charts/intrinsic_reward_scaled", "losses/bonus_loss"}
RECORDED = pathlib.Path(__file__).with_name("regression_values.json")


def _run(tmp_path_factory, script, args):
    cwd = tmp_path_factory.mktemp(script)
    res = run_script(script, args, cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = (cwd / "runs").iterdir()
    return cwd, run_dir, read_scalars(run_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {
        ("ppo_pixmc", "state"): _run(tmp_path_factory, "ppo_pixmc", STATE + ["--save-model", "--eval-episodes", "2"]),
        ("ppo_pixmc_mimex", "state"): _run(tmp_path_factory, "ppo_pixmc_mimex", STATE + MIMEX + ["--save-model",
                                                                                                "--eval-episodes", "2"]),
        ("ppo_pixmc", "pixels"): _run(tmp_path_factory, "ppo_pixmc", PIXELS),
        ("ppo_pixmc_mimex", "pixels"): _run(tmp_path_factory, "ppo_pixmc_mimex", PIXELS + MIMEX),
    }


@pytest.mark.parametrize("script", ["ppo_pixmc", "ppo_pixmc_mimex"])
@pytest.mark.parametrize("obs", ["state", "pixels"])
def test_smoke_run_logs_every_tag_with_finite_values(runs, script, obs):
    _, _, scalars = runs[(script, obs)]
    expected = PPO_TAGS | (BONUS_TAGS if script == "ppo_pixmc_mimex" else set())
    assert expected <= set(scalars), expected - set(scalars)
    for tag in expected:
        assert all(math.isfinite(v) for _, v in scalars[tag]), tag
    assert len(scalars["losses/value_loss"]) >= 2  # >= 2 PPO updates (and as many MIMEx rounds of 2 updates)
    if script == "ppo_pixmc_mimex":
        assert len(scalars["losses/bonus_loss"]) >= 2 and all(v > 0 for _, v in scalars["charts/intrinsic_reward"])
        scaled = dict(scalars["charts/intrinsic_reward_scaled"])
        assert all(v == pytest.approx(0.05 * scaled_raw, rel=1e-4) for (s, scaled_raw) in scalars["charts/intrinsic_reward"]
                   for v in [scaled[s]])


def test_capture_video_writes_an_egocentric_episode(runs):
    cwd, _, _ = runs[("ppo_pixmc", "pixels")]
    videos = list((cwd / "videos").rglob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


@pytest.mark.parametrize("script", ["ppo_pixmc", "ppo_pixmc_mimex"])
def test_saved_model_evaluates_and_corrupt_checkpoints_fail(runs, script, tmp_path):
    _, run_dir, scalars = runs[(script, "state")]
    assert len(scalars["eval/episodic_return"]) == 2
    model = run_dir / f"{script}.cleanrl_model"
    ckpt = torch.load(model, weights_only=True)
    assert ("mimex" in ckpt) == (script == "ppo_pixmc_mimex")
    res = run_script(script, ["--eval-checkpoint", str(model), "--eval-episodes", "2"], tmp_path)
    assert res.returncode == 0 and "eval: return" in res.stdout, res.stderr[-2000:]
    bad = tmp_path / "bad.cleanrl_model"
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "bad_run").mkdir()
    res = run_script(script, ["--eval-checkpoint", str(bad)], tmp_path / "bad_run")
    assert res.returncode != 0 and "is not a readable checkpoint" in res.stderr
    assert not (tmp_path / "bad_run" / "runs").exists()


def test_diff_shows_only_the_mimex_block_class_and_bonus_lines():
    base = (ROOT / "ppo_pixmc.py").read_text().splitlines()
    mimex = (ROOT / "ppo_pixmc_mimex.py").read_text().splitlines()
    allowed = set()
    start, stop = mimex.index("    # Bonus arguments"), mimex.index("    # filled in at runtime")
    allowed |= set(range(start, stop))
    start, stop = mimex.index("def sincos_embedding(length: int, dim: int) -> torch.Tensor:"), mimex.index(
        "def to_torch(obs, device):")
    allowed |= set(range(start, stop))
    matcher = difflib.SequenceMatcher(a=base, b=mimex, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert tag == "insert", f"ppo_pixmc.py lines {i1 + 1}-{i2} were changed or removed: {base[i1:i2]}"
        for j in range(j1, j2):
            line = mimex[j]
            assert j in allowed or "# BONUS:" in line or not line.strip(), f"unmarked MIMEx line {j + 1}: {line}"


@pytest.mark.parametrize("args, message", [
    (["--mask-ratio", "1.0"], "--mask-ratio must be in (0, 1)"),
    (["--mask-ratio", "0"], "--mask-ratio must be in (0, 1)"),
    (["--seq-len", "0"], "--seq-len must be >= 1"),
    (["--seq-len", "1"], ">= 2 unless --mask-type feature"),
    (["--n-mask", "0"], "--n-mask and --mimex-batch-size must be >= 1"),
    (["--task", "KukaPik"], "invalid choice"),
    (["--encoder", "vit"], "invalid choice"),
    (["--encoder", "mvp", "--image-size", "224"], "--encoder mvp needs --encoder-checkpoint PATH"),
    (["--encoder", "mvp", "--encoder-checkpoint", "x.pth"], "--encoder mvp needs --image-size 224"),
    (["--encoder", "mvp", "--image-size", "224", "--encoder-checkpoint", "missing.pth"], "not a readable torch checkpoint"),
    (["--image-size", "32"], "--image-size must be >= 36 for the CNN encoder"),
])
def test_bad_input_fails_before_training(tmp_path, args, message):
    res = run_script("ppo_pixmc_mimex", args, tmp_path)
    assert res.returncode != 0
    assert message in res.stderr + res.stdout, res.stderr[-2000:]
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_mvp_encoder_loads_the_released_layout_and_rejects_others(tmp_path):
    ppo = import_script("ppo_pixmc")
    torch.manual_seed(0)
    state = {k: torch.randn(v.shape) * 0.02 for k, v in ppo.MVPEncoder().state_dict().items() if k not in ("mean", "std")}
    state["decoder_embed.weight"] = torch.zeros(3)  # MAE decoder keys are ignored
    good = tmp_path / "mae_pretrain_hoi_vit_small.pth"
    torch.save({"model": state}, good)
    encoder = ppo.load_mvp_encoder(str(good))
    feats = encoder(torch.randint(0, 255, (2, 3, 224, 224), dtype=torch.uint8))
    assert feats.shape == (2, 384) and not any(p.requires_grad for p in encoder.parameters())
    del state["blocks.11.mlp.fc2.weight"]
    state["pos_embed"] = torch.zeros(1, 50, 384)
    bad = tmp_path / "vit_b.pth"
    torch.save({"model": state}, bad)
    with pytest.raises(ValueError, match=r"missing \['blocks.11.mlp.fc2.weight'\], wrong shape \['pos_embed'\]"):
        ppo.load_mvp_encoder(str(bad))


def _regression_values(runs):
    values = {}
    for script in ("ppo_pixmc", "ppo_pixmc_mimex"):
        scalars = runs[(script, "state")][2]
        values[script] = {tag: [v for _, v in scalars[tag]] for tag in ("charts/episodic_return",)}
        if script == "ppo_pixmc_mimex":
            values[script]["charts/intrinsic_reward"] = [v for _, v in scalars["charts/intrinsic_reward"]]
    return values


def test_short_run_regression(runs):
    """Fixed-seed state-obs runs (the STATE command above) reproduce their recorded episodic returns and
    intrinsic-reward means within 5 % (+0.05 absolute): CPUs and BLAS builds differ in the last bits."""
    values = _regression_values(runs)
    if os.environ.get("PIXMC_REGENERATE"):
        RECORDED.write_text(json.dumps(values, indent=1) + "\n")
        pytest.skip(f"recorded values written to {RECORDED}")
    recorded = json.loads(RECORDED.read_text())
    for script, tags in recorded.items():
        for tag, expected in tags.items():
            np.testing.assert_allclose(values[script][tag], expected, rtol=0.05, atol=0.05, err_msg=f"{script} {tag}")
