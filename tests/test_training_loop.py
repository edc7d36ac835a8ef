"""The training loop of the PPO scripts, run in this process so its tensors can be checked: GAE with time-limit
bootstraps against a plain loop, MVP's value loss, advantage normalisation and minibatches, the authors' per-task
learning rate and beta, one bonus optimiser step per rollout whose rewards come from the model before that step, and
ICM's (s_t, a_t, s_{t+1}) pairing across an episode end."""

import copy

import pytest
import torch

from conftest import import_script, run_in_process

pytestmark = pytest.mark.xdist_group("training_loop")  # one worker runs this file: its module fixture runs once

# 2 iterations of 4 envs x 160 steps (more than the 512 samples of the old per-minibatch bonus updates);
# FrankaReach's 200-step time limit ends the episodes in the second one
ARGS = ["--task", "FrankaReach", "--obs-type", "state", "--num-envs", "4", "--num-steps", "160",
        "--total-timesteps", "1280", "--seed", "3"]
BONUS = {"ppo_pixmc_mimex": "mimex", "ppo_pixmc_icm": "icm", "ppo_pixmc_rnd": "rnd"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for script in ["ppo_pixmc", *BONUS]:
            extra = ["--mask-type", "fixed"] if script == "ppo_pixmc_mimex" else []  # masks that can be recomputed
            out[script] = run_in_process(script, ARGS + extra, tmp_path_factory.mktemp(script), monkeypatch)
    return out


def plain_gae(rewards, values, ends, final_values, value_after, gamma, lam):
    """One env's advantages as sums over the rest of each episode: A_t = sum_j (gamma lam)^(j-t) delta_j.
    ends[j]: "trunc" / "term" if the episode ended after step j, else None."""
    advantages = []
    for t in range(len(rewards)):
        total, weight = 0.0, 1.0
        for j in range(t, len(rewards)):
            if ends[j] == "term":
                next_value = 0.0
            elif ends[j] == "trunc":
                next_value = final_values[j]
            else:
                next_value = value_after if j == len(rewards) - 1 else values[j + 1]
            total += weight * (rewards[j] + gamma * next_value - values[j])
            if ends[j]:
                break
            weight *= gamma * lam
        advantages.append(total)
    return advantages


def test_gae_bootstraps_time_limits_and_not_terminations():
    ppo = import_script("ppo_pixmc")
    gamma, lam, steps = 0.9, 0.8, 6
    ends = [[None, None, "trunc", None, None, None],  # env 0: time limit after step 2
            [None, "term", None, None, None, "trunc"]]  # env 1: terminated after step 1, time limit at the end
    g = torch.Generator().manual_seed(0)
    rewards, values, finals = (torch.randn(steps, 2, generator=g) for _ in range(3))
    value_after = torch.randn(2, generator=g)
    dones = torch.zeros(steps, 2)
    final_values = torch.zeros(steps, 2)
    for env in range(2):
        for t, end in enumerate(ends[env]):
            if end and t + 1 < steps:
                dones[t + 1, env] = 1.0  # the observation of step t + 1 starts a new episode
            if end == "trunc":
                final_values[t, env] = finals[t, env]
    next_done = torch.tensor([0.0, 1.0])
    advantages, returns = ppo.compute_gae(rewards, values, dones, final_values, value_after, next_done, gamma, lam)
    for env in range(2):
        expected = plain_gae(rewards[:, env].tolist(), values[:, env].tolist(), ends[env], finals[:, env].tolist(),
                             value_after[env].item(), gamma, lam)
        torch.testing.assert_close(advantages[:, env], torch.tensor(expected), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(returns, advantages + values)


def test_value_loss_is_mvps_plain_squared_error(runs):
    g = runs["ppo_pixmc"][0]
    error = (g["newvalue"].detach() - g["b_returns"][g["mb_inds"]]) ** 2
    assert g["v_loss"].item() == pytest.approx(error.mean().item(), rel=1e-6)  # no clipping, no factor 0.5


def test_advantages_are_normalised_over_the_rollout_and_minibatches_are_mvps_fixed_blocks(runs):
    g = runs["ppo_pixmc"][0]
    assert g["b_advantages"].mean().item() == pytest.approx(0.0, abs=1e-5)
    assert g["b_advantages"].std().item() == pytest.approx(1.0, rel=1e-4)
    batch, minibatch = g["args"].batch_size, g["args"].minibatch_size
    assert g["mb_inds"].tolist() == list(range(batch - minibatch, batch))  # the last block, in order


@pytest.mark.parametrize("script", ["ppo_pixmc", *BONUS])
def test_one_bonus_step_per_rollout_and_mvps_ppo_steps(runs, script):
    g, steps, _ = runs[script]
    assert g["args"].num_iterations == 2 and g["args"].learning_rate == 1e-3  # the authors' FrankaReach value
    assert steps(g["optimizer"]) == 2 * 10 * 4  # epochs x minibatches per iteration
    if script in BONUS:
        assert steps(g[f"{BONUS[script]}_optimizer"]) == 2


def _before_last_step(module, params_before):
    before = copy.deepcopy(module)
    for p, q in zip(module.parameters(), before.parameters()):
        if id(p) in params_before:
            q.data.copy_(params_before[id(p)])
    return before


@pytest.mark.parametrize("script", list(BONUS))
def test_rollout_rewards_are_a_pass_of_the_model_before_its_step(runs, script):
    g, _, params_before = runs[script]
    name, d, batch = BONUS[script], g["feat_dim"], g["args"].batch_size
    if name == "mimex":
        inputs, rewards = (g["seqs"].view(-1, g["args"].seq_len, d),), g["intrinsic"]
    elif name == "icm":
        inputs = (g["feats_buf"].view(-1, d), g["next_feats"].view(-1, d), g["actions"].view(batch, -1))
        rewards = g["raw_intrinsic"].flatten()
    else:
        inputs, rewards = (g["feats_buf"].view(-1, d),), g["raw_intrinsic"].flatten()
    module = g[name]
    before = _before_last_step(module, params_before(g[f"{name}_optimizer"]))
    with torch.no_grad():
        torch.testing.assert_close(before(*inputs)[0], rewards, rtol=1e-5, atol=1e-7)
        after = module(*inputs)[0]
    assert not torch.allclose(after, rewards, rtol=1e-4, atol=0)  # the model did take its step afterwards


def test_icm_pairs_each_action_with_the_observation_it_led_to(runs):
    g = runs["ppo_pixmc_icm"][0]
    feats, next_feats = g["feats_buf"], g["next_feats"]
    ended = torch.cat([g["dones"][1:], g["next_done"][None]]) > 0
    assert ended.any()  # the 200-step time limit falls in this rollout
    for t in range(len(feats)):
        for env in range(feats.shape[1]):
            if ended[t, env]:  # the ended episode's last observation, not the next episode's first
                assert torch.equal(next_feats[t, env], g["final_feats"][t, env])
                assert t + 1 == len(feats) or not torch.allclose(next_feats[t, env], feats[t + 1, env])
            elif t + 1 < len(feats):
                assert torch.equal(next_feats[t, env], feats[t + 1, env])


@pytest.mark.parametrize("script", ["ppo_pixmc", *BONUS])
def test_a_cnn_learning_from_pixels_defaults_to_a_quarter_of_the_authors_learning_rate(tmp_path, monkeypatch, script):
    tiny = ["--task", "KukaPick", "--num-envs", "2", "--num-steps", "8", "--total-timesteps", "16", "--image-size", "36"]
    g = run_in_process(script, tiny, tmp_path, monkeypatch)[0]
    assert g["args"].learning_rate == 5e-4 / 4
    g = run_in_process(script, [*tiny, "--learning-rate", "5e-4"], tmp_path, monkeypatch)[0]
    assert g["args"].learning_rate == 5e-4  # a rate given on the command line is taken as given


def test_mimex_beta_and_learning_rate_default_to_the_authors_values_per_task(tmp_path, monkeypatch):
    tiny = ["--obs-type", "state", "--num-envs", "2", "--num-steps", "8", "--total-timesteps", "16"]
    g = run_in_process("ppo_pixmc_mimex", ["--task", "KukaPick", *tiny], tmp_path, monkeypatch)[0]
    assert (g["args"].beta, g["args"].learning_rate) == (0.5, 5e-4)
    g = run_in_process("ppo_pixmc_mimex", ["--task", "FrankaMove", "--beta", "0.2", *tiny], tmp_path, monkeypatch)[0]
    assert (g["args"].beta, g["args"].learning_rate) == (0.2, 1.5e-3)
