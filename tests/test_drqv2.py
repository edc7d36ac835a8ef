"""drqv2_dmc_mimex.py: replay (n-step returns, frame stacking, sequences padded at episode starts, ring-buffer
wrap), augmentation, the std schedule, action scaling, the task presets, a smoke run with regression values, bad
input and missing OpenGL; exact resume: a run killed (SIGKILL) after its first checkpoint and continued with --resume
ends with the model and scalars of the run that was never killed; bad resumes fail with one message and change nothing.

Regenerate the recorded values with PIXMC_REGENERATE=1 python -m pytest tests/test_drqv2.py -k regression
"""

import ctypes.util
import dataclasses
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import tyro

from conftest import (
    ROOT,
    check_regression,
    import_script,
    killed_after_first_checkpoint,
    read_scalars,
    run_and_read,
    run_in_process,
    run_inline,
)

pytestmark = pytest.mark.xdist_group("drqv2")  # one worker runs this file: its module fixture runs once

drq = import_script("drqv2_dmc_mimex")
RECORDED = pathlib.Path(__file__).with_name("regression_values_drqv2.json")


def _buffer(capacity=64, nstep=3, seq_len=4, frame_stack=3, gamma=0.5, seed=0):
    args = dataclasses.replace(drq.Args(), buffer_size=capacity, nstep=nstep, seq_len=seq_len,
                               frame_stack=frame_stack, gamma=gamma)
    return drq.ReplayBuffer(args, (1, 2, 2), 1, seed)


def _frame(episode, t):  # a frame that says which episode and step it is
    return np.full((1, 2, 2), 10 * episode + t, np.uint8)


def _fill(rb, episodes, length, discounts=None):
    for e in range(episodes):
        rb.add_first(_frame(e, 0))
        for t in range(length):
            d = 1.0 if discounts is None else discounts[t]
            rb.add(np.array([t], np.float32), float(t + 1), d, _frame(e, t + 1))


def test_nstep_reward_and_discount_on_a_hand_made_episode():
    rb = _buffer(nstep=3, gamma=0.5)
    _fill(rb, 1, 6, discounts=[1, 1, 1, 1, 1, 0])  # rewards 1..6 after actions 0..5; the last step ends the task
    idx = np.array([0, 2, 3])
    rb.sample_idx = lambda n: idx  # the sampled slots, by hand
    obs, action, reward, discount, next_obs, _ = rb.sample(3)
    np.testing.assert_allclose(reward, [1 + 0.5 * 2 + 0.25 * 3, 3 + 0.5 * 4 + 0.25 * 5, 4 + 0.5 * 5 + 0.25 * 6])
    np.testing.assert_allclose(discount, [0.125, 0.125, 0.0])  # env discount 0 at the terminal step
    assert action[:, 0].tolist() == [0, 2, 3]
    assert obs[:, :, 0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [1, 2, 3]]  # first frame repeated at the start
    assert next_obs[:, -1, 0, 0].tolist() == [3, 5, 6]


def test_sampling_stays_inside_episodes_after_the_ring_wraps():
    rb = _buffer(capacity=40, nstep=3, seq_len=4)
    _fill(rb, 9, 7)  # 9 episodes x 8 frames = 72 frames through a 40-slot ring
    for _ in range(20):
        obs, _, _, _, next_obs, idx = rb.sample(16)
        episode = obs[:, -1, 0, 0] // 10
        assert np.all(obs[:, :, 0, 0] // 10 == episode[:, None])  # stacked frames from one episode
        assert np.all(next_obs[:, -1, 0, 0] == obs[:, -1, 0, 0] + 3)  # n steps later, same episode
        assert np.all(episode >= 9 - 40 // 8 - 1)  # only stored episodes
        steps = obs[:, :, 0, 0] % 10
        assert np.all(np.diff(steps, axis=1) >= 0)


def test_sequences_are_zero_pixels_before_the_episode_start():
    """As the authors' replay (seq_type pad2): positions before the episode start are all-zero observations, which
    the encoder then sees like any other (their features are the encoder's output for a black image, not zeros)."""
    rb = _buffer(seq_len=4)
    _fill(rb, 2, 6)  # slots 0-6: episode 0 (frames 0-6), slots 7-13: episode 1 (frames 10-16)
    seq = rb.sequence(np.array([8, 7, 10]), 4)
    assert seq.shape == (3, 4, 3, 2, 2)  # (B, T, frame_stack x channels, H, W)
    newest = seq[:, :, -1, 0, 0]  # newest frame of each position's stacked observation
    assert newest.tolist() == [[0, 0, 10, 11], [0, 0, 0, 10], [10, 11, 12, 13]]  # nothing from episode 0
    assert not seq[0, :2].any() and not seq[1, :3].any()  # padding: every pixel of every stacked frame is 0
    assert (seq[1, 3] == 10).all()  # the episode's first observation: its first frame stacked 3 times


def test_random_shift_moves_at_most_four_pixels_and_keeps_the_shape():
    torch.manual_seed(0)
    x = torch.zeros(64, 3, 84, 84)
    x[:, :, 40, 40] = 1.0  # one bright pixel
    y = drq.RandomShiftsAug(pad=4)(x)
    assert y.shape == x.shape
    pos = torch.stack([torch.nonzero(y[i, 0] > 0.5)[0] for i in range(64)])
    shift = pos - 40
    assert shift.abs().max() <= 4 and len({tuple(s.tolist()) for s in shift}) > 10
    torch.testing.assert_close(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # an integer shift: the pixel moves whole


def test_random_shift_equals_drqv2_grid_sample_formulation():
    """The gather equals DrQ-v2's replicate-pad + bilinear grid_sample at the same integer shifts."""
    x = torch.rand(8, 9, 84, 84) * 255
    torch.manual_seed(3)
    y = drq.RandomShiftsAug(pad=4)(x)
    torch.manual_seed(3)
    shift = torch.randint(0, 9, size=(8, 2)).float()[:, None, None, :]  # the same draw: (dx, dy) in pixels
    padded = F.pad(x, (4, 4, 4, 4), mode="replicate")
    eps = 1.0 / 92
    arange = torch.linspace(-1.0 + eps, 1.0 - eps, 92)[:84]
    base = torch.stack([arange[None].expand(84, 84), arange[:, None].expand(84, 84)], dim=2)[None]
    ref = F.grid_sample(padded, base + shift * 2.0 / 92, padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(y, ref, atol=0.02, rtol=0)  # float rounding of the sampling grid only
    assert not torch.equal(y, x)


def test_policy_actions_are_scaled_to_the_task_action_bounds():
    """quadruped's bounds are not [-1, 1] (-1..1, -1..1.1, -0.8..0.8 per leg): the policy's +1 / -1 / 0 reach the
    physics as the spec's maximum / minimum / midpoint, as DrQ-v2's action_scale.Wrapper(env, -1, 1) maps them."""
    env = drq.DMCEnv(drq.Args(task="quadruped_walk"), seed=0)
    env.render = lambda: np.zeros((3, 84, 84), np.uint8)  # the physics is what counts here
    spec = env.env.action_spec()
    assert spec.maximum.max() == pytest.approx(1.1) and spec.maximum.min() == pytest.approx(0.8)
    env.reset()
    for policy_action, physics_action in ((1.0, spec.maximum), (-1.0, spec.minimum),
                                          (0.0, (spec.minimum + spec.maximum) / 2)):
        env.step(np.full(env.act_dim, policy_action, np.float32))
        np.testing.assert_allclose(env.env.physics.data.ctrl, physics_action, rtol=0, atol=1e-12)


@pytest.mark.parametrize("task, preset, expected", [
    ("cartpole_swingup_sparse", "mimex", (3_100_000, 500_000, 1024, 1)),  # medium in DrQ-v2's and the authors' yamls
    ("cartpole_swingup", "mimex", (1_100_000, 100_000, 1024, 1)),  # easy
    ("quadruped_run", "mimex", (3_100_000, 500_000, 1024, 1)),
    ("cup_catch", "drqv2", (1_100_000, 100_000, 256, 3)),
    ("finger_turn_hard", "drqv2", (3_100_000, 500_000, 256, 3)),
    ("walker_walk", "drqv2", (1_100_000, 100_000, 512, 1)),  # DrQ-v2's walker yamls
    ("humanoid_run", "drqv2", (30_100_000, 2_000_000, 256, 3)),  # hard
    ("point_mass_easy", "drqv2", (3_100_000, 500_000, 256, 3)),  # no DrQ-v2 yaml: medium
])
def test_presets_follow_the_task(task, preset, expected):
    """Frames and std schedule from the task's DrQ-v2 preset; batch and n-step from --preset."""
    args = drq.resolve_args(drq.Args(task=task, preset=preset))
    assert (args.total_frames, args.std_schedule_steps, args.batch_size, args.nstep) == expected
    assert (args.learning_rate, args.feature_dim) == ((8e-5, 100) if task.startswith("humanoid") else (1e-4, 50))


def test_defaults_are_the_authors_mimex_dmc_runs():
    """mimex-dmc/cfgs/config.yaml: batch 1024 and 1-step returns for every arm, so `--beta 0` is the paper's noise
    arm; cartpole_swingup_sparse inherits medium (3.1M frames, std over 500k agent steps)."""
    args = drq.resolve_args(tyro.cli(drq.Args, args=[]))
    assert (args.task, args.beta, args.seq_len, args.mask_ratio) == ("cartpole_swingup_sparse", 0.05, 5, 0.7)
    assert (args.batch_size, args.nstep, args.total_frames, args.std_schedule_steps) == (1024, 1, 3_100_000, 500_000)
    assert (args.learning_rate, args.feature_dim, args.action_repeat, args.frame_stack) == (1e-4, 50, 2, 3)


def test_explicit_flags_override_the_preset():
    cli = ["--total-frames", "1000", "--std-schedule-steps", "7", "--batch-size", "32", "--nstep", "3",
           "--learning-rate", "3e-4", "--feature-dim", "64"]
    args = drq.resolve_args(tyro.cli(drq.Args, args=cli))
    assert (args.total_frames, args.std_schedule_steps, args.batch_size, args.nstep) == (1000, 7, 32, 3)
    assert (args.learning_rate, args.feature_dim) == (3e-4, 64)
    args = drq.resolve_args(tyro.cli(drq.Args, args=["--preset", "drqv2", "--nstep", "5"]))  # published DrQ-v2
    assert (args.batch_size, args.nstep, args.total_frames) == (256, 5, 3_100_000)


def test_std_schedule_end_points():
    assert drq.linear_schedule(1.0, 0.1, 100_000, 0) == 1.0
    assert drq.linear_schedule(1.0, 0.1, 100_000, 50_000) == pytest.approx(0.55)
    assert drq.linear_schedule(1.0, 0.1, 100_000, 100_000) == pytest.approx(0.1)
    assert drq.linear_schedule(1.0, 0.1, 100_000, 10**7) == pytest.approx(0.1)


# One episode of 125 agent steps, an update after each from the 13th (112 updates: logged at the 1st and the 101st);
# 48 px frames: the encoder and the trunks are a quarter of the 84 px ones (half the run time of 84 px, action repeat 4).
# A checkpoint at 456 frames (57 agent steps played, 45 updates done) and at 912, after the losses logged at 904: the
# regression values hold with them (checkpoints consume no randomness).
SMOKE = ["--task", "cartpole_swingup_sparse", "--total-frames", "1000", "--action-repeat", "8", "--update-every", "1",
         "--image-size", "48", "--num-seed-frames", "100", "--num-expl-steps", "50", "--batch-size", "8",
         "--buffer-size", "1000", "--eval-episodes", "1", "--eval-every-frames", "100000", "--fast-render", "--seed", "1",
         "--save-model", "--checkpoint-every", "456"]
TAGS = {"charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/updates_per_second",
        "charts/stddev", "eval/episodic_return", "losses/critic_loss", "losses/actor_loss", "losses/critic_q1",
        "losses/critic_q2", "losses/critic_target_q"}
BONUS_TAGS = {"charts/intrinsic_reward", "charts/intrinsic_reward_scaled", "losses/bonus_loss"}
# Plain DrQ-v2 on smaller networks and frames (a run in 60 % of the time): the resume tests kill and resume it.
PLAIN = SMOKE + ["--beta", "0", "--hidden-dim", "256", "--image-size", "36"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The MIMEx smoke run in this process (it also keeps what the critic-Q test needs) and the plain one (PLAIN).
    In-process: every Adam's parameters before each of its steps, and the loop's tensors when it logs critic_q1."""
    from torch.utils.tensorboard import SummaryWriter

    before_step, at_log = {}, []
    adam_step, add_scalar = torch.optim.Adam.step, SummaryWriter.add_scalar

    def keeping_step(self, *a, **kw):
        params = {id(p): p.detach().clone() for group in self.param_groups for p in group["params"]}
        before_step.setdefault(id(self), []).append(params)
        return adam_step(self, *a, **kw)

    def keeping_add_scalar(self, tag, value, step=None, *a, **kw):
        if tag == "losses/critic_q1":
            loop = sys._getframe(1).f_locals
            at_log.append({k: loop[k] for k in ("updates", "q1", "q2", "target_q", "h_obs", "b_actions")})
        return add_scalar(self, tag, value, step, *a, **kw)

    cwd = tmp_path_factory.mktemp("mimex")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(torch.optim.Adam, "step", keeping_step)
        m.setattr(SummaryWriter, "add_scalar", keeping_add_scalar)
        loop, _, _ = run_in_process("drqv2_dmc_mimex", SMOKE, cwd, m)
    (run_dir,) = (cwd / "runs").iterdir()
    out = {"mimex": (run_dir, read_scalars(run_dir)), "in_process": (loop, before_step, at_log)}
    out["plain"] = run_and_read("drqv2_dmc_mimex", PLAIN, tmp_path_factory.mktemp("plain"), inline=True)
    return out


def test_smoke_run_updates_and_logs(smoke):
    run_dir, scalars = smoke["mimex"]
    assert TAGS | BONUS_TAGS <= set(scalars), (TAGS | BONUS_TAGS) - set(scalars)
    for tag in TAGS | BONUS_TAGS:
        assert all(math.isfinite(v) for _, v in scalars[tag]), tag
    assert len(scalars["losses/critic_loss"]) >= 2 and len(scalars["losses/bonus_loss"]) >= 2  # every 100 updates
    assert all(step % 8 == 0 and step <= 1000 for step, _ in scalars["losses/critic_loss"])  # x-axis: frames
    assert [step for step, _ in scalars["eval/episodic_return"]] == [0, 1000]  # at the start and at the end
    assert set(torch.load(run_dir / "drqv2_dmc_mimex.cleanrl_model", weights_only=True)) == {
        "args", "encoder", "actor", "critic", "mimex"}


def test_logged_critic_q_is_the_critics_q_of_the_replayed_actions(smoke):
    """losses/critic_q1, critic_q2: the critic's mean Q of the batch's replayed actions (not the actor update's Q of
    the policy's actions), under the parameters it had before that update's step; critic_target_q: the TD target."""
    loop, before_step, at_log = smoke["in_process"]
    critic, scalars = loop["critic"], smoke["mimex"][1]
    assert [log["updates"] for log in at_log] == [1, 101] and len(scalars["losses/critic_q1"]) == 2
    for log, (_, q1_logged), (_, q2_logged), (_, target_logged) in zip(
            at_log, scalars["losses/critic_q1"], scalars["losses/critic_q2"], scalars["losses/critic_target_q"]):
        params = before_step[id(loop["critic_optimizer"])][log["updates"] - 1]
        with torch.no_grad():
            for p in critic.parameters():
                p.copy_(params[id(p)])
            q1, q2 = critic(log["h_obs"], log["b_actions"])
        assert torch.equal(q1, log["q1"]) and torch.equal(q2, log["q2"])
        assert q1_logged == pytest.approx(q1.mean().item(), rel=1e-6, abs=1e-8)
        assert q2_logged == pytest.approx(q2.mean().item(), rel=1e-6, abs=1e-8)
        assert target_logged == pytest.approx(log["target_q"].mean().item(), rel=1e-6, abs=1e-8)


def test_the_file_runs_alone_without_pixmc_sparse(tmp_path):
    """Copied into an empty folder (no pixmc_sparse next to it), the file imports and parses its flags."""
    (tmp_path / "drqv2_dmc_mimex.py").write_text((ROOT / "drqv2_dmc_mimex.py").read_text())
    res = subprocess.run([sys.executable, "drqv2_dmc_mimex.py", "--help"], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=300)
    assert res.returncode == 0 and "--total-frames" in res.stdout, res.stderr


def test_beta_zero_is_plain_drqv2(smoke):
    run_dir, scalars = smoke["plain"]
    assert TAGS <= set(scalars) and not BONUS_TAGS & set(scalars)
    assert "mimex" not in torch.load(run_dir / "drqv2_dmc_mimex.cleanrl_model", weights_only=True)


def test_short_run_regression(smoke):
    """The SMOKE run's intrinsic rewards and its first critic loss reproduce their recorded values. Later critic
    losses are ~1e-6 (sparse reward, Q near 0): differences of near-equal numbers that CPUs don't reproduce."""
    scalars = smoke["mimex"][1]
    values = {"charts/intrinsic_reward": [v for _, v in scalars["charts/intrinsic_reward"]],
              "losses/critic_loss": [v for _, v in scalars["losses/critic_loss"]][:1]}
    check_regression(values, RECORDED)


def differences(a, b, path="") -> list:
    """Where two checkpoints (nested dicts, lists, tensors, arrays, numbers) differ: a list of paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}/{i}")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [path]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return [] if np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype else [path]
    return [] if type(a) is type(b) and a == b else [path]


def test_killed_run_resumes_to_the_uninterrupted_runs_numbers(smoke, tmp_path):
    """SIGKILL after the first checkpoint, at the first "frame=" line once it is there: the one that announces the
    second checkpoint (912), after the losses logged at 904 went to disk: the resumed run must drop them (purge_step).
    Sharing a core with this process, the run is killed there, before that write; elsewhere in or after it. A kill
    inside the write leaves a partial checkpoint.pt.tmp: one is put there. Then --resume in this process: the same
    final model, every TensorBoard scalar but the wall-clock ones and the same last checkpoint (replay, envs,
    optimisers, RNGs) as the fixture's plain run that was never killed (same seed, same machine)."""
    whole = smoke["plain"][0]
    killed = killed_after_first_checkpoint("drqv2_dmc_mimex", PLAIN, tmp_path, line_start="frame=")
    good = (killed / "checkpoint.pt").read_bytes()
    (killed / "checkpoint.pt.tmp").write_bytes(good[:len(good) // 2])
    res = run_inline("drqv2_dmc_mimex", ["--resume", f"runs/{killed.name}"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "frame=0," not in res.stdout and "frame=1000, eval_return" in res.stdout  # it went on from a checkpoint
    scalars_a, scalars_b = read_scalars(whole), read_scalars(killed)
    for tag in ("charts/SPS", "charts/updates_per_second"):  # wall clock
        scalars_a.pop(tag), scalars_b.pop(tag)
    assert scalars_a.keys() == scalars_b.keys()
    for tag in scalars_a:
        assert scalars_a[tag] == scalars_b[tag], tag
    model_a, model_b = (torch.load(d / "drqv2_dmc_mimex.cleanrl_model", weights_only=True) for d in (whole, killed))
    for part in ("encoder", "actor", "critic"):
        assert model_a[part].keys() == model_b[part].keys()
        for key in model_a[part]:
            assert torch.equal(model_a[part][key], model_b[part][key]), (part, key)
    ckpt_a, ckpt_b = (torch.load(d / "checkpoint.pt", weights_only=False) for d in (whole, killed))
    assert ckpt_a["frames"] == 912
    for ckpt in (ckpt_a, ckpt_b):
        del ckpt["seconds"], ckpt["eval_seconds"], ckpt["args"]["resume"]  # wall clock; the resumed run's flag
    assert not differences(ckpt_a, ckpt_b), differences(ckpt_a, ckpt_b)


def test_bad_resumes_fail_clearly_and_change_nothing(smoke, tmp_path):
    run_dir = tmp_path / "runs" / smoke["plain"][0].name
    shutil.copytree(smoke["plain"][0], run_dir)  # a copy: the fixture's run stays as it is
    ppo_dir, other_dir = tmp_path / "runs" / "ppo_run", tmp_path / "runs" / "other_run"
    ppo_dir.mkdir(), other_dir.mkdir()
    torch.save({"format": import_script("ppo_pixmc").CHECKPOINT_FORMAT, "script": "ppo_pixmc.py", "args": {}},
               ppo_dir / "checkpoint.pt")  # what the checks read of a PPO script's checkpoint
    shutil.copy(run_dir / "drqv2_dmc_mimex.cleanrl_model", other_dir / "checkpoint.pt")  # a torch file, not ours

    def refused(args, message):
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        res = run_inline("drqv2_dmc_mimex", args, tmp_path)
        assert res.returncode != 0 and message in res.stderr, res.stderr[-2000:]
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    resume = ["--resume", f"runs/{run_dir.name}"]
    refused(resume + ["--seed", "4", "--batch-size", "8", "--nstep", "3"], "these flags differ from the run's: "
            "--seed (run: 1, given: 4), --nstep (run: 1, given: 3); leave them out")  # --batch-size 8 is the run's
    refused(["--resume", "runs/ppo_run"], "is not a checkpoint of drqv2_dmc_mimex.py (it is ppo_pixmc.py's)")
    refused(["--resume", "runs/other_run"], "is not a checkpoint of drqv2_dmc_mimex.py (it is an unknown writer's)")
    refused(["--resume", str(tmp_path)], "no checkpoint.pt there")
    good = (run_dir / "checkpoint.pt").read_bytes()
    (run_dir / "checkpoint.pt").write_bytes(good[:len(good) // 2])
    refused(resume, "checkpoint.pt is unreadable")


def test_env_state_continues_exactly():
    """set_state(get_state()) after a reset (a new episode: new terrain, new MuJoCo state, the task's generator moved
    on) gives the same next steps, rewards, frames and state. quadruped_escape: contacts (MuJoCo's derived quantities
    are recomputed after mj_setState, by physics.forward), and its terrain, a model field, also in the renderer."""
    env = drq.DMCEnv(drq.resolve_args(drq.Args(task="quadruped_escape", image_size=36, fast_render=True)), seed=1)
    rng = np.random.default_rng(0)
    env.reset()
    for _ in range(10):
        env.step(rng.uniform(-1.0, 1.0, env.act_dim))
    state, actions = env.get_state(), rng.uniform(-1.0, 1.0, (8, env.act_dim))
    steps = [env.step(action) for action in actions]
    after = env.get_state()
    env.reset()
    env.set_state(state)
    for action, (obs, reward, discount, done, _) in zip(actions, steps):
        obs_b, reward_b, discount_b, done_b, _ = env.step(action)
        assert np.array_equal(obs_b, obs) and (reward_b, discount_b, done_b) == (reward, discount, done)
    assert differences(env.get_state(), after) == []


@pytest.mark.parametrize("overrides, message", [
    ({"task": "cartpole_swingup_sprase"}, "unknown --task 'cartpole_swingup_sprase'; dm_control suite tasks:"),
    ({"mask_ratio": 1.5}, "--mask-ratio must be in (0, 1)"),
    ({"seq_len": 0}, "--seq-len must be >= 1"),
    ({"n_mask": 0}, "--n-mask must be >= 1"),
    ({"total_frames": 0}, "--total-frames must be >= 1"),
    ({"task": "lqr_lqr_2_1"}, "--task lqr_lqr_2_1: its action bounds are ±1e10"),
])
def test_check_args_names_each_mistake(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        drq.check_args(drq.resolve_args(dataclasses.replace(drq.Args(), **overrides)))
    drq.check_args(drq.resolve_args(drq.Args()))  # the defaults pass


def test_bad_input_fails_before_anything_is_written(tmp_path):
    res = run_inline("drqv2_dmc_mimex", ["--task", "cartpole_swingup_sprase"], tmp_path)
    assert res.returncode != 0 and "unknown --task" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "runs").exists()


def test_task_names_follow_drqv2():
    assert drq.split_task("cup_catch") == ("ball_in_cup", "catch")
    assert drq.split_task("point_mass_easy") == ("point_mass", "easy")
    assert drq.split_task("quadruped_run") == ("quadruped", "run")


@pytest.mark.skipif(ctypes.util.find_library("OSMesa") is not None, reason="OSMesa is installed here")
def test_missing_opengl_names_the_packages_to_install(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "drqv2_dmc_mimex.py"), "--total-frames", "10"], cwd=tmp_path,
                         env=dict(os.environ, MUJOCO_GL="osmesa", PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "RenderingUnavailable" in res.stderr and "libegl1 libopengl0 libgl1-mesa-dri" in res.stderr
    assert not (tmp_path / "runs").exists()
