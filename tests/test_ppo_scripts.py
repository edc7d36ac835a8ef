"""The PPO scripts end to end (ppo_pixmc.py and its MIMEx, ICM and RND variants): smoke runs (state and
pixels), logged tags, the diff contract, saved models, the MVP encoder loader, bad input, short-run regression,
and exact resume: a run killed (SIGKILL) after its first checkpoint and continued with --resume ends with the model
and scalars of the run that was never killed; bad resumes fail with one message and change nothing.

Regenerate the recorded regression values (after an intended change) with
    PIXMC_REGENERATE=1 python -m pytest tests/test_ppo_scripts.py -k regression
"""

import dataclasses
import difflib
import math
import pathlib
import re
import shutil

import pytest
import torch
import tyro

from conftest import (
    ROOT,
    check_regression,
    import_script,
    killed_after_first_checkpoint,
    read_scalars,
    run_and_read,
    run_inline,
    run_script,
)

pytestmark = pytest.mark.xdist_group("ppo_scripts")  # one worker runs this file: its module fixture runs once

SMALL = ["--task", "FrankaReach", "--num-envs", "4", "--num-steps", "100", "--seed", "1"]
# 4 iterations, a checkpoint after each of the first 3: the recorded values hold with them (they consume no randomness)
STATE = SMALL + ["--obs-type", "state", "--total-timesteps", "1600", "--checkpoint-every", "1"]
RECORDED_STEPS = 800  # the STATE runs' first two iterations: what test_short_run_regression records
FIRST_UPDATE = 400  # the STATE runs' first iteration, whose update's value loss is recorded
PIXELS = SMALL + ["--obs-type", "pixels", "--image-size", "48", "--capture-video", "--total-timesteps", "800"]
# ppo_pixmc's pixel run, also the pixel resume test's uninterrupted run: 3 iterations, a checkpoint after the first two
PIXELS_RESUMABLE = PIXELS[:-2] + ["--total-timesteps", "1200", "--checkpoint-every", "1", "--save-model",
                                  "--eval-episodes", "1"]
BONUS = {"ppo_pixmc_mimex": "mimex", "ppo_pixmc_icm": "icm", "ppo_pixmc_rnd": "rnd"}
SCRIPTS = ["ppo_pixmc", *BONUS]
PPO_TAGS = {"charts/episodic_return", "charts/episodic_length", "charts/success_rate", "charts/SPS",
            "charts/learning_rate", "losses/value_loss", "losses/policy_loss", "losses/entropy",
            "losses/approx_kl", "losses/clipfrac", "losses/explained_variance", "charts/termination_rate",
            "charts/coverage", "charts/episode_coverage"}
BONUS_TAGS = {"charts/intrinsic_reward", "charts/intrinsic_reward_scaled", "losses/bonus_loss"}
RECORDED = pathlib.Path(__file__).with_name("regression_values.json")


def _run(tmp_path_factory, script, args):
    cwd = tmp_path_factory.mktemp(script)
    return (cwd, *run_and_read(script, args, cwd, inline=True))  # in this process: a fresh one is tested below


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for script in SCRIPTS:
        out[(script, "state")] = _run(tmp_path_factory, script, STATE + ["--save-model", "--eval-episodes", "2"])
        out[(script, "pixels")] = _run(tmp_path_factory, script, PIXELS_RESUMABLE if script == "ppo_pixmc" else PIXELS)
    return out


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("obs", ["state", "pixels"])
def test_smoke_run_logs_every_tag_with_finite_values(runs, script, obs):
    _, _, scalars = runs[(script, obs)]
    expected = PPO_TAGS | (BONUS_TAGS if script in BONUS else set())
    assert expected <= set(scalars), expected - set(scalars)
    for tag in expected:
        assert all(math.isfinite(v) for _, v in scalars[tag]), tag
    assert len(scalars["losses/value_loss"]) >= 2  # >= 2 PPO updates (and as many bonus updates)
    if script in BONUS:
        assert len(scalars["losses/bonus_loss"]) >= 2 and all(v > 0 for _, v in scalars["charts/intrinsic_reward"])
        scaled = dict(scalars["charts/intrinsic_reward_scaled"])
        for step, raw in scalars["charts/intrinsic_reward"]:
            assert scaled[step] == pytest.approx(0.05 * raw, rel=1e-4)


@pytest.mark.parametrize("script", SCRIPTS)
def test_coverage_is_logged_and_its_visit_counts_saved(runs, script):
    """Termination rate 0 exactly where every episode ran to the time limit (199 steps on FrankaReach); coverage grows;
    the saved visit counts hold every state: 4 envs x (1 reset + 400 steps) + one first state per ended episode
    (>= 2 per env: 400 steps hold two 199-step episodes)."""
    import numpy as np

    _, run_dir, scalars = runs[(script, "state")]
    lengths = dict(scalars["charts/episodic_length"])
    assert [rate == 0 for _, rate in scalars["charts/termination_rate"]] == [
        lengths[step] == 199 for step, _ in scalars["charts/termination_rate"]]
    shares = [v for _, v in scalars["charts/coverage"]]
    assert len(shares) == 4 and 0 < shares[0] <= shares[-1] < 1 and shares == sorted(shares)
    assert all(v >= 1 for _, v in scalars["charts/episode_coverage"])
    saved = np.load(run_dir / "coverage.npz")
    assert saved["steps"].tolist() == [1600] and set(saved.files) == {"steps", "hand"}
    assert saved["hand"][-1].sum() >= 4 * (1 + 400 + 2)
    assert np.count_nonzero(saved["hand"][-1]) / saved["hand"][-1].size == pytest.approx(shares[-1], rel=1e-6)


def test_capture_video_writes_an_egocentric_episode(runs):
    cwd, _, _ = runs[("ppo_pixmc", "pixels")]
    videos = list((cwd / "videos").rglob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


@pytest.mark.parametrize("script", SCRIPTS)
def test_saved_model_evaluates_and_corrupt_checkpoints_fail(runs, script, tmp_path):
    _, run_dir, scalars = runs[(script, "state")]
    assert len(scalars["eval/episodic_return"]) == 2
    model = run_dir / f"{script}.cleanrl_model"
    ckpt = torch.load(model, weights_only=True)
    assert set(ckpt) == {"args", "agent"} | ({BONUS[script]} if script in BONUS else set())
    res = run_inline(script, ["--eval-checkpoint", str(model), "--eval-episodes", "2"], tmp_path)
    assert res.returncode == 0 and "eval: return" in res.stdout, res.stderr[-2000:]
    bad = tmp_path / "bad.cleanrl_model"
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "bad_run").mkdir()
    res = run_inline(script, ["--eval-checkpoint", str(bad)], tmp_path / "bad_run")
    assert res.returncode != 0 and "is not a readable checkpoint" in res.stderr
    assert not (tmp_path / "bad_run" / "runs").exists()


@pytest.mark.parametrize("script", list(BONUS))
def test_diff_shows_only_the_bonus_block_class_and_bonus_lines(script):
    """`diff ppo_pixmc.py <variant>.py` is a patch that only adds: bonus flags in the Args block, the bonus
    class(es) right before `to_torch`, and lines marked `# BONUS:`: each added block either opens with a `# BONUS:`
    comment line (which covers the block) or carries the tag on every line."""
    base = (ROOT / "ppo_pixmc.py").read_text().splitlines()
    variant = (ROOT / f"{script}.py").read_text().splitlines()
    args_start = next(i for i, line in enumerate(variant) if line.startswith("    # Bonus arguments"))
    allowed = set(range(args_start, variant.index("    # filled in at runtime")))
    classes_at = base.index("def to_torch(obs, device):")
    matcher = difflib.SequenceMatcher(a=base, b=variant, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert tag == "insert", f"ppo_pixmc.py lines {i1 + 1}-{i2} were changed or removed: {base[i1:i2]}"
        if i1 == classes_at:  # the block of new definitions before to_torch
            assert variant[j1].startswith(("class ", "def ")), variant[j1]
            continue
        first = next(line for line in variant[j1:j2] if line.strip())
        if first.lstrip().startswith("# BONUS:"):  # a block that opens with a BONUS comment: the tag covers it all
            continue
        for j in range(j1, j2):
            line = variant[j]
            assert j in allowed or "# BONUS:" in line or not line.strip(), f"unmarked {script} line {j + 1}: {line}"


@pytest.mark.parametrize("overrides, message", [
    ({"mask_ratio": 1.0}, "--mask-ratio must be in (0, 1)"),
    ({"mask_ratio": 0.0}, "--mask-ratio must be in (0, 1)"),
    ({"seq_len": 0}, "--seq-len must be >= 1"),
    ({"seq_len": 1}, ">= 2 unless --mask-type feature"),
    ({"n_mask": 0}, "--n-mask must be >= 1"),
    ({"num_envs": 0}, "--num-envs must be >= 1"),
    ({"encoder": "mvp", "image_size": 224}, "--encoder mvp needs --encoder-checkpoint PATH"),
    ({"encoder": "mvp", "encoder_checkpoint": "x.pth"}, "--encoder mvp needs --image-size 224"),
    ({"image_size": 32}, "--image-size must be >= 36 for the CNN encoder"),
])
def test_check_args_names_each_mistake(overrides, message):
    mimex = import_script("ppo_pixmc_mimex")
    with pytest.raises(ValueError, match=re.escape(message)):
        mimex.check_args(dataclasses.replace(mimex.Args(), **overrides))
    mimex.check_args(mimex.Args())  # the defaults pass


@pytest.mark.parametrize("argv", [["--task", "KukaPik"], ["--encoder", "vit"]])
def test_the_parser_refuses_unknown_choices(argv, capsys):
    mimex = import_script("ppo_pixmc_mimex")
    with pytest.raises(SystemExit):
        tyro.cli(mimex.Args, args=argv)
    assert "invalid choice" in capsys.readouterr().err.replace("\n", " ")


def test_bad_input_fails_before_anything_is_written(tmp_path):
    """End to end, once: a missing MVP checkpoint stops the script with its message and no run folder."""
    res = run_inline("ppo_pixmc_mimex", ["--encoder", "mvp", "--image-size", "224", "--encoder-checkpoint", "missing.pth"],
                     tmp_path)
    assert res.returncode != 0 and "not a readable torch checkpoint" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_mvp_encoder_loads_the_released_layout_and_rejects_others(tmp_path):
    ppo = import_script("ppo_pixmc")
    torch.manual_seed(0)
    state = {k.replace("head.", "norm."): torch.randn(v.shape) * 0.02
             for k, v in ppo.MVPEncoder().state_dict().items() if k not in ("mean", "std")}
    state["norm.weight"], state["norm.bias"] = torch.ones(384), torch.zeros(384)
    state["decoder_embed.weight"] = torch.zeros(3)  # MAE decoder keys are ignored
    good = tmp_path / "mae_pretrain_hoi_vit_small.pth"
    torch.save({"model": state}, good)
    encoder = ppo.load_mvp_encoder(str(good))
    assert encoder.blocks[0].heads == 12  # MVP's vit_s16 (timm's ViT-S has 6)
    feats = encoder(torch.randint(0, 255, (2, 3, 224, 224), dtype=torch.uint8))
    assert feats.shape == (2, 384)
    trainable = {name for name, p in encoder.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}  # MVP's freeze() leaves the final LayerNorm out
    # the feature is the CLS token before that LayerNorm (MIMEx's input); the policy applies it: head(feature)
    assert feats.std(1).max() < 0.5
    torch.testing.assert_close(encoder.head(feats).std(1, unbiased=False), torch.ones(2), rtol=1e-3, atol=0)
    del state["blocks.11.mlp.fc2.weight"]
    state["pos_embed"] = torch.zeros(1, 50, 384)
    bad = tmp_path / "vit_b.pth"
    torch.save({"model": state}, bad)
    with pytest.raises(ValueError, match=r"missing \['blocks.11.mlp.fc2.weight'\], wrong shape \['pos_embed'\]"):
        ppo.load_mvp_encoder(str(bad))


def recorded_series(script: str, scalars: dict) -> dict:
    """What test_short_run_regression records of a STATE run: episodic returns and intrinsic-reward means over the
    first two iterations (800 steps: one PPO update and one round of bonus updates in), and the first update's value
    loss, which moves with the update's settings (benchmarks/regression_sensitivity.py: the learning rate, the clip,
    the epochs, gamma); the returns alone hardly do. Later iterations are not recorded: they amplify CPU-dependent
    last bits (see check_regression)."""
    values = {}
    for tag in ["charts/episodic_return"] + (["charts/intrinsic_reward"] if script in BONUS else []):
        values[f"{script} {tag}"] = [v for step, v in scalars[tag] if step <= RECORDED_STEPS]
    values[f"{script} losses/value_loss"] = [v for step, v in scalars["losses/value_loss"] if step <= FIRST_UPDATE]
    return values


def test_short_run_regression(runs):
    """Fixed-seed state-obs runs (the STATE command above) reproduce their recorded series (recorded_series)."""
    values = {}
    for script in SCRIPTS:
        values.update(recorded_series(script, runs[(script, "state")][2]))
    assert all(values.values()), values  # each series holds at least one value
    check_regression(values, RECORDED)


def final_state(run_dir, script):
    model = torch.load(run_dir / f"{script}.cleanrl_model", weights_only=True)
    scalars = read_scalars(run_dir)
    scalars.pop("charts/SPS")
    return model, scalars


RESUMABLE = {"state": STATE + ["--save-model", "--eval-episodes", "2"], "pixels": PIXELS_RESUMABLE}  # as the fixture's


@pytest.mark.parametrize("script, obs", [(script, "state") for script in SCRIPTS] + [("ppo_pixmc", "pixels")])
def test_killed_run_resumes_to_the_uninterrupted_runs_numbers(runs, script, obs, tmp_path):
    """SIGKILL after the first checkpoint, then --resume: the same final model and every TensorBoard scalar but SPS as
    the fixture's run that was never killed (same seed, same machine). The killed run is a fresh process, as a user
    starts one; the fixture's ran in this process: so this also shows that a run repeats exactly (the CNN's
    initialisation, the envs and the sampling of a pixel run included), and a resume carries the CNN, its optimiser
    state and the rendered observation over."""
    _, whole, _ = runs[(script, obs)]
    killed = killed_after_first_checkpoint(script, RESUMABLE[obs], tmp_path)
    res = run_inline(script, ["--resume", f"runs/{killed.name}", "--checkpoint-every", "2"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 0 < res.stdout.count("SPS:") < 4  # it continued: only the iterations after the checkpoint ran
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


def test_bad_resumes_fail_clearly_and_change_nothing(runs, tmp_path):
    run_dir = tmp_path / "runs" / runs[("ppo_pixmc", "state")][1].name
    shutil.copytree(runs[("ppo_pixmc", "state")][1], run_dir)  # a copy: the fixture's run stays as it is
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    def refused(script, args, message):
        res = run_inline(script, args, tmp_path)
        assert res.returncode != 0 and message in res.stderr, res.stderr[-2000:]
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before

    resume = ["--resume", f"runs/{run_dir.name}"]
    refused("ppo_pixmc", resume + ["--seed", "4", "--num-envs", "4"], "these flags differ from the run's: --seed (run: 1")
    refused("ppo_pixmc_mimex", resume, "is not a checkpoint of ppo_pixmc_mimex.py (it is ppo_pixmc.py's)")
    refused("ppo_pixmc", ["--resume", str(tmp_path)], "no checkpoint.pt there")
    good = (run_dir / "checkpoint.pt").read_bytes()
    (run_dir / "checkpoint.pt").write_bytes(good[:len(good) // 2])
    before["checkpoint.pt"] = (run_dir / "checkpoint.pt").read_bytes()
    refused("ppo_pixmc", resume, "checkpoint.pt is unreadable")


def test_update_kl_tool_tells_what_moves_the_policy(tmp_path):
    """benchmarks/ppo_update_kl.py (the pixel check's evidence): from a state run's checkpoint, whose actor and critic
    share no layer, the value loss alone leaves the policy exactly where it was and detaching the critic's input
    changes nothing; from a pixel run's, where the encoder and projections are shared, the value loss alone moves it."""
    tool = import_script("benchmarks/ppo_update_kl")
    tiny = ["--task", "FrankaReach", "--num-envs", "2", "--num-steps", "50", "--total-timesteps", "200",
            "--update-epochs", "2", "--checkpoint-every", "1", "--seed", "1", "--learning-rate", "1e-3"]  # the authors'
    for obs_type, variants in (("state", ["as run", "value loss only", "critic on detached features"]),
                               ("pixels", ["as run", "value loss only"])):
        (tmp_path / obs_type).mkdir()
        result = run_script("ppo_pixmc", tiny + ["--obs-type", obs_type, "--image-size", "36"], tmp_path / obs_type)
        assert result.returncode == 0, result.stderr
        (path,) = (tmp_path / obs_type / "runs").glob("*/checkpoint.pt")
        step, rows = tool.measure(str(path), variants)
        assert step == 100 and all(len(r) == 2 for r in rows.values())
        assert rows["as run"][-1][0] > 1e-6
        if obs_type == "state":
            assert rows["value loss only"][-1][0] == 0.0
            assert rows["critic on detached features"] == rows["as run"]
        else:
            assert rows["value loss only"][-1][0] > 1e-6
