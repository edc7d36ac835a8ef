"""The wiring of the training loop, against what the env really did: each script runs in this process with its env
recorded (every observation, action, reward, end and final observation) and with the parameters before every Adam
step kept, so the value bootstraps, GAE's inputs, the bonus rewards and MIMEx's sequences can be recomputed from
scratch. Also: the vector env's partial autoreset, the reward scale table, and plot.py's bootstrap against a loop."""

import copy

import numpy as np
import pytest
import torch
from test_training_loop import plain_gae  # the one plain-loop GAE of the tests

import pixmc_sparse
from conftest import import_script, run_in_process

pytestmark = pytest.mark.xdist_group("wiring")  # one worker runs this file: its module fixture runs once

NUM_ENVS, NUM_STEPS, ITERATIONS = 4, 100, 2
# FrankaReach ends an episode at its 199th step: call 198, step 98 of the second (last) rollout
ARGS = ["--task", "FrankaReach", "--obs-type", "state", "--num-envs", str(NUM_ENVS), "--num-steps", str(NUM_STEPS),
        "--total-timesteps", str(NUM_ENVS * NUM_STEPS * ITERATIONS), "--seed", "5"]
# the episode ends, by design: the sim reports an arm collision (a termination) for the envs FORCED[env step call] and
# for no other (random actions hit the arm often; that would make the layout depend on the policy's draws). Env 1 on
# the last step of the first rollout and in the middle of the last; env 2 at the time-limit step, where envs 0 and 3
# are truncated; env 0 again on the last step of the last rollout, one step into its next episode
FORCED = {99: [1], 149: [1], 198: [2], 199: [0]}
LAST = NUM_STEPS * (ITERATIONS - 1)  # the first env step call of the last rollout
BETA = 0.3  # not any script's default
BONUS = {"ppo_pixmc_mimex": "mimex", "ppo_pixmc_icm": "icm", "ppo_pixmc_rnd": "rnd"}


def recording_make(record: dict, forced: dict):
    """pixmc_sparse.make whose envs log into `record` and report an arm collision for the envs forced[call] only."""
    make = pixmc_sparse.make

    def _make(*args, **kwargs):
        envs = make(*args, **kwargs)
        if record:  # only the training envs (the first made) are recorded
            return envs
        record.update(obs=[], actions=[], rewards=[], terminated=[], truncated=[], final_obs=[])
        reset, step = envs.reset, envs.step

        def forced_collision():
            hit = np.zeros(envs.num_envs, bool)
            hit[forced.get(len(record["actions"]) - 1, [])] = True
            return hit

        def recorded_reset(**kw):
            obs, info = reset(**kw)
            record["obs"].append(obs["state"].copy())
            return obs, info

        def recorded_step(actions):
            record["actions"].append(np.array(actions, copy=True))
            obs, reward, terminated, truncated, info = step(actions)
            record["obs"].append(obs["state"].copy())
            record["rewards"].append(reward.copy())
            record["terminated"].append(terminated.copy())
            record["truncated"].append(truncated.copy())
            record["final_obs"].append(info["final_obs"]["state"].copy() if "final_obs" in info else None)
            return obs, reward, terminated, truncated, info

        envs.reset, envs.step, envs.sim.arm_collision = recorded_reset, recorded_step, forced_collision
        return envs

    return _make


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """run(script, *extra) -> (the script's globals, env record, {id(optimizer): [params before each step]}),
    each run once per module."""
    done = {}

    def _run(script, *extra):
        if (script, extra) not in done:
            record, snapshots = {}, {}
            adam_step = torch.optim.Adam.step

            def snapshot_step(self, *a, **kw):
                params = {id(p): p.detach().clone() for group in self.param_groups for p in group["params"]}
                snapshots.setdefault(id(self), []).append(params)
                return adam_step(self, *a, **kw)

            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # tiny matrices: threads only wait for each other on shared cores (4x faster)
            try:
                with pytest.MonkeyPatch.context() as monkeypatch:
                    monkeypatch.setattr(pixmc_sparse, "make", recording_make(record, FORCED))
                    monkeypatch.setattr(torch.optim.Adam, "step", snapshot_step)
                    g = run_in_process(script, ARGS + list(extra), tmp_path_factory.mktemp(script), monkeypatch)[0]
            finally:
                torch.set_num_threads(threads)
            record = {k: v if k == "final_obs" else np.stack(v) for k, v in record.items()}
            assert len(record["actions"]) == NUM_STEPS * ITERATIONS
            done[script, extra] = g, record, snapshots
        return done[script, extra]

    return _run


def model_at(module, optimizer, snapshots, iteration: int, last_iteration: int):
    """A copy of `module` with the parameters it had in rollout `iteration` (1-based): before that iteration's first
    step of `optimizer`."""
    steps = snapshots[id(optimizer)]
    assert len(steps) % last_iteration == 0
    params = steps[(iteration - 1) * (len(steps) // last_iteration)]
    copied = copy.deepcopy(module)
    for p, q in zip(module.parameters(), copied.parameters()):
        if id(p) in params:
            q.data.copy_(params[id(p)])
    return copied


def ends_of(record):
    """(calls, envs) "term" / "trunc" / None: how each env step call ended each env's episode."""
    return np.where(record["terminated"], "term", np.where(record["truncated"], "trunc", None))


def last_rollout_obs(record):
    """The observation each step of the last rollout acted on (num_steps, num_envs, D), and the one after it."""
    obs = torch.as_tensor(record["obs"])
    return obs[LAST:LAST + NUM_STEPS], obs[LAST + NUM_STEPS]


def next_states(record):
    """s_{t+1} of every call: the next observation, or the ended episode's last one where the call ended it."""
    nxt = record["obs"][1:].copy()
    for k, final in enumerate(record["final_obs"]):
        if final is not None:
            ended = record["terminated"][k] | record["truncated"][k]
            nxt[k, ended] = final[ended]
    return torch.as_tensor(nxt)


def test_the_runs_end_episodes_where_forced_and_at_the_time_limit(run):
    """The setting of the loop tests: terminations where forced (one on a rollout's last step), truncations at 199."""
    ends = ends_of(run("ppo_pixmc")[1])
    assert [(k, e, ends[k, e]) for k, e in zip(*np.nonzero(ends != None))] == [  # noqa: E711
        (99, 1, "term"), (149, 1, "term"), (198, 0, "trunc"), (198, 2, "term"), (198, 3, "trunc"), (199, 0, "term")]


def test_final_values_are_the_value_of_the_truncated_episodes_last_observation_only(run):
    """final_values: V(final obs) of the rollout's policy where the time limit ended an episode, 0 everywhere else."""
    g, record, snapshots = run("ppo_pixmc")
    agent = model_at(g["agent"], g["optimizer"], snapshots, ITERATIONS, ITERATIONS)
    ends = ends_of(record)[LAST:]
    final_values = g["final_values"]
    assert torch.equal(final_values != 0, torch.as_tensor(ends == "trunc"))
    for t, env in zip(*np.nonzero(ends == "trunc")):
        final = {"state": torch.as_tensor(record["final_obs"][LAST + t])}
        with torch.no_grad():
            expected = agent.get_value(agent.features(final), final).flatten()[env]
        torch.testing.assert_close(final_values[t, env], expected)
        start = {"state": torch.as_tensor(record["obs"][LAST + t + 1])}  # the next episode's first observation
        with torch.no_grad():
            assert not torch.isclose(agent.get_value(start["state"], start).flatten()[env], expected)


def test_gae_gets_the_rollouts_rewards_values_ends_and_returns_are_taken_before_normalisation(run):
    """GAE's inputs as the env produced them, returns = un-normalised advantages + values, advantages normalised."""
    g, record, snapshots = run("ppo_pixmc")
    args = g["args"]
    agent = model_at(g["agent"], g["optimizer"], snapshots, ITERATIONS, ITERATIONS)
    obs, obs_after = last_rollout_obs(record)
    with torch.no_grad():
        values = agent.get_value(obs.view(-1, obs.shape[-1]), None).view(NUM_STEPS, NUM_ENVS)
        value_after = agent.get_value(obs_after, None).flatten()
    torch.testing.assert_close(g["values"], values)
    rewards = torch.as_tensor(record["rewards"][LAST:])
    assert torch.equal(g["rewards"], rewards)
    ends = ends_of(record)[LAST:]
    finals = g["final_values"]  # pinned by the test above
    raw_advantages = g["returns"] - g["values"]
    for env in range(NUM_ENVS):
        expected = plain_gae(rewards[:, env].tolist(), values[:, env].tolist(), list(ends[:, env]), finals[:, env].tolist(),
                             value_after[env].item(), args.gamma, args.gae_lambda)
        torch.testing.assert_close(raw_advantages[:, env], torch.tensor(expected), rtol=1e-5, atol=1e-5)
    normalised = (raw_advantages - raw_advantages.mean()) / (raw_advantages.std() + 1e-8)
    torch.testing.assert_close(g["advantages"], normalised, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(g["advantages"], raw_advantages, rtol=0.1)


def mimex_sequences(record, seq_len: int):
    """(calls, envs, T, D): each call's last T observations of the same episode, zeros before its start."""
    obs = record["obs"][:-1]
    ended = record["terminated"] | record["truncated"]
    starts = np.concatenate([np.ones((1, obs.shape[1]), bool), ended[:-1]])  # obs k starts an episode
    seqs = np.zeros(obs.shape[:2] + (seq_len,) + obs.shape[2:], np.float32)
    for env in range(obs.shape[1]):
        start = 0
        for k in range(len(obs)):
            start = k if starts[k, env] else start
            for back in range(min(seq_len, k - start + 1)):
                seqs[k, env, seq_len - 1 - back] = obs[k - back, env]
    return torch.as_tensor(seqs)


def intrinsic_rewards(script, g, record, snapshots, iteration):
    """Each step's r_i in rollout `iteration` (num_steps, num_envs), from the bonus model as it was in that rollout
    and inputs built from the env record, one (step, env) after the other."""
    name = BONUS[script]
    model = model_at(g[name], g[f"{name}_optimizer"], snapshots, iteration, ITERATIONS)
    calls = slice((iteration - 1) * NUM_STEPS, iteration * NUM_STEPS)
    if name == "mimex":
        inputs = (mimex_sequences(record, g["args"].seq_len)[calls],)
    elif name == "icm":
        inputs = (torch.as_tensor(record["obs"][calls]), next_states(record)[calls],
                  torch.as_tensor(record["actions"][calls]))
    else:
        inputs = (torch.as_tensor(record["obs"][calls]),)
    with torch.no_grad():  # in env-major order, unlike the script's step-major batch
        out = model(*(x.transpose(0, 1).reshape(NUM_ENVS * NUM_STEPS, *x.shape[2:]) for x in inputs))[0]
    return out.view(NUM_ENVS, NUM_STEPS).T


def plain_normalised(raw_rollouts, gamma):
    """The last rollout's r_i divided by the std of every discounted intrinsic return so far (each env along its own
    time axis), pooled with the normaliser's prior (mean 0, variance 1, count 1e-4)."""
    raw = torch.cat(raw_rollouts).double()
    discounted, running = [], torch.zeros(raw.shape[1], dtype=torch.float64)
    for r in raw:
        running = running * gamma + r
        discounted.append(running)
    x, prior = torch.stack(discounted).flatten(), 1e-4
    mean = x.sum() / (prior + len(x))
    var = (prior * 1.0 + prior * mean**2 + ((x - mean) ** 2).sum()) / (prior + len(x))
    return (raw_rollouts[-1].double() / torch.sqrt(var + 1e-8)).float()


BONUS_RUNS = [("ppo_pixmc_mimex", ("--mask-type", "fixed")), ("ppo_pixmc_icm", ()), ("ppo_pixmc_icm", ("--normalize-bonus",)),
              ("ppo_pixmc_rnd", ()), ("ppo_pixmc_rnd", ("--normalize-bonus",))]


@pytest.mark.parametrize("script, extra", BONUS_RUNS)
def test_gae_sees_extrinsic_plus_beta_times_intrinsic_per_step_and_env(run, script, extra):
    """The rewards GAE gets: the env's r_e + beta * r_i of the same (step, env), r_i normalised with --normalize-bonus."""
    g, record, snapshots = run(script, "--beta", str(BETA), *extra)
    assert g["args"].beta == BETA
    raw = [intrinsic_rewards(script, g, record, snapshots, i) for i in range(1, ITERATIONS + 1)]
    r_i = plain_normalised(raw, g["args"].gamma) if "--normalize-bonus" in extra else raw[-1]
    if "--normalize-bonus" in extra:
        assert not torch.allclose(r_i, raw[-1], rtol=0.01)
    r_e = torch.as_tensor(record["rewards"][LAST:])
    assert (BETA * r_i).abs().max() > 1e-3 * r_e.abs().max()  # a visible part of the reward
    torch.testing.assert_close(g["rewards"], r_e + BETA * r_i, rtol=1e-5, atol=1e-6)
    # and GAE ran on exactly those rewards
    gae = import_script(script).compute_gae
    _, returns = gae(g["rewards"], g["values"], g["dones"], g["final_values"], g["next_value"], g["next_done"],
                     g["args"].gamma, g["args"].gae_lambda)
    torch.testing.assert_close(g["returns"], returns, rtol=0, atol=0)


def test_mimex_sequences_are_the_episodes_last_features_with_zeros_before_its_start(run):
    """seqs[t, e]: env e's features of steps t-T+1..t, the last being step t's, zeros before the episode's start."""
    g, record, _ = run("ppo_pixmc_mimex", "--beta", str(BETA), "--mask-type", "fixed")
    seqs, seq_len = g["seqs"], g["args"].seq_len
    assert seqs.shape == (NUM_STEPS, NUM_ENVS, seq_len, record["obs"].shape[-1])
    obs, _ = last_rollout_obs(record)
    assert torch.equal(seqs[:, :, -1], obs) and torch.equal(seqs[:, :, -1], g["feats_buf"])
    expected = mimex_sequences(record, seq_len)[LAST:]
    assert torch.equal(seqs, expected)
    # what that covers: episodes that started in this rollout (zeros first), and sequences reaching into the one before
    padded = (seqs[:, :, 0] == 0).all(-1)
    assert padded.any() and not padded.all() and (seqs[:, :, -1] != 0).any(-1).all()
    assert any(torch.equal(seqs[0, env, :-1], torch.as_tensor(record["obs"][LAST - seq_len + 1:LAST, env]))
               for env in range(NUM_ENVS))


def test_mimex_fixed_mask_hides_the_masked_steps_from_the_encoder_but_scores_them(run):
    """--mask-type fixed: the last steps are masked; their inputs change the loss (reward), never the prediction."""
    g, _, _ = run("ppo_pixmc_mimex", "--beta", str(BETA), "--mask-type", "fixed")
    mimex, seq_len = g["mimex"], g["args"].seq_len
    x = g["seqs"].reshape(-1, seq_len, g["feat_dim"])[::7]
    keep = mimex.num_keep(seq_len)
    changed = x.clone()
    changed[:, keep:] = torch.randn_like(changed[:, keep:])
    with torch.no_grad():
        pred, mask = mimex.predict(x)
        pred_changed, mask_changed = mimex.predict(changed)
        loss, loss_changed = mimex(x)[0], mimex(changed)[0]
    assert mask.tolist() == mask_changed.tolist() == [[0.0] * keep + [1.0] * (seq_len - keep)] * len(x)
    assert torch.equal(pred, pred_changed)
    assert (loss != loss_changed).all()
    moved = x.clone()
    moved[:, :keep] += 1.0  # the visible steps do reach the prediction
    with torch.no_grad():
        assert not torch.allclose(mimex.predict(moved)[0][:, keep:], pred[:, keep:])


def test_partial_autoreset_resets_only_the_ended_env_and_a_latched_success_does_not_leak(make_envs):
    """One env's episode end resets that env only (elapsed, success counter, state); the others step on untouched."""
    envs = make_envs("FrankaReach", num_envs=3, obs_type="state", seed=0)
    twin = make_envs("FrankaReach", num_envs=3, obs_type="state", seed=0)  # the same steps, without the autoreset
    for e in (envs, twin):
        e.reset(seed=0)
    rng = np.random.default_rng(0)
    zero = np.zeros((3, 9))

    def both(actions, autoreset=False):
        out = envs.step(actions) if autoreset else envs.step_without_reset(actions)
        return out, twin.step_without_reset(actions)

    for _ in range(5):
        both(rng.uniform(-1, 1, (3, 9)))
    for e in (envs, twin):  # envs 0 and 1 hold still with the goal at the hand: their success counters run
        for i in (0, 1):
            e.sim.place(i, robot_q=e.sim.q[i].copy())
            e.sim.place(i, goal_pos=e.sim.hand()[i].copy())
    for k in range(12):
        actions = zero.copy()
        actions[2] = rng.uniform(-1, 1, 9)
        both(actions)
        if k == 6:
            for e in (envs, twin):
                e.sim.counter[1] = 0  # env 1 below success_steps: counting, not latched
    assert envs.sim.counter.tolist()[:2] == [12, 5] and envs.sim.succeeded.tolist()[:2] == [True, False]
    for e in (envs, twin):
        e.sim.elapsed[0] = e.max_episode_steps - 1  # env 0's time limit is next
    elapsed_before = envs.sim.elapsed.copy()

    actions = rng.uniform(-1, 1, (3, 9)) * 0.01
    (obs, _, te, tr, info), (twin_obs, *_, twin_info) = both(actions, autoreset=True)
    assert tr.tolist() == [True, False, False] and not te.any()
    assert info["_final_obs"].tolist() == [True, False, False] and info["success"].tolist() == [True, False, False]
    assert np.array_equal(info["final_obs"]["state"][0], twin_obs["state"][0])  # the ended episode's last state
    # the others: exactly the steps of the twin that was never reset
    assert np.array_equal(obs["state"][1:], twin_obs["state"][1:])
    assert envs.sim.elapsed.tolist()[1:] == twin.sim.elapsed.tolist()[1:] == (elapsed_before[1:] + 1).tolist()
    assert envs.sim.counter.tolist()[1:] == twin.sim.counter.tolist()[1:] == [6, 0]
    for i in (1, 2):
        assert np.array_equal(envs.sim.datas[i].qpos, twin.sim.datas[i].qpos)
        assert np.array_equal(envs.sim.datas[i].qvel, twin.sim.datas[i].qvel)
    # env 0: a fresh episode, the twin's reset of env 0 alone
    assert envs.sim.elapsed[0] == 0 and envs.sim.counter[0] == 0
    twin.sim.reset([0])
    assert np.array_equal(obs["state"], twin.sim.observation()["state"])
    assert not np.array_equal(obs["state"][0], info["final_obs"]["state"][0])

    # the next episode of env 0 ends without reaching its goal: no success carried over from the last one
    for _ in range(3):
        (_, _, _, _, info), _ = both(zero, autoreset=True)
        assert not info["success_condition"][0]
    for e in (envs, twin):
        e.sim.elapsed[0] = e.max_episode_steps - 1
    (_, _, _, tr, info), _ = both(zero, autoreset=True)
    assert tr[0] and not info["success"][0] and info["_success"][0]


# paper Tables 2 and 3 (the authors' dense and XSparse task configs; sparser: sparse without distance-to-goal),
# term -> (dense, sparse, sparser)
EXPECTED_SCALES = {
    "FrankaReach": {"goal_dist": (0.08, 0.0, 0.0), "goal_bonus": (0.4, 0.4, 0.4), "action_penalty": (0.01, 0.01, 0.01)},
    "KukaReach": {"goal_dist": (0.08, 0.0, 0.0), "goal_bonus": (0.4, 0.4, 0.4), "action_penalty": (0.01, 0.01, 0.01)},
    "FrankaCabinet": {"handle_dist": (0.06, 0.0, 0.0), "around_handle": (1.0, 3.0, 3.0), "open_bonus": (2.0, 2.0, 2.0),
                      "goal_dist": (6.0, 6.0, 0.0), "open_pose": (3.0, 3.0, 3.0), "goal_bonus": (2.0, 2.0, 2.0),
                      "action_penalty": (0.01, 0.01, 0.01)},
    "KukaCabinet": {"finger_dist": (0.04, 0.0, 0.0), "thumb_dist": (0.08, 0.0, 0.0), "around_handle": (0.0, 0.0, 0.0),
                    "open_bonus": (2.0, 2.0, 2.0), "goal_dist": (6.0, 6.0, 0.0), "open_pose": (0.0, 0.0, 0.0),
                    "goal_bonus": (2.0, 2.0, 2.0), "action_penalty": (0.01, 0.01, 0.01)},
    "FrankaPick": {"object_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 12.0, 12.0), "goal_dist": (1.28, 1.28, 0.0),
                   "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
    "KukaPick": {"finger_dist": (0.04, 0.0, 0.0), "thumb_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 4.0, 4.0),
                 "goal_dist": (1.28, 1.28, 0.0), "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
    "FrankaMove": {"object_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 12.0, 12.0), "goal_dist": (1.28, 1.28, 0.0),
                   "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
    "KukaMove": {"finger_dist": (0.04, 0.0, 0.0), "thumb_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 4.0, 4.0),
                 "goal_dist": (1.28, 1.28, 0.0), "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
}


def test_reward_scale_table_is_the_papers_for_every_task_and_level():
    """pixmc_sparse.tasks.SCALES and every env's reward_scales: the dense / sparse / sparser scales of Tables 2-3."""
    from pixmc_sparse import tasks

    assert tasks.REWARD_LEVELS == ("dense", "sparse", "sparser")
    assert {task: {term: tuple(s) for term, s in terms.items()} for task, terms in tasks.SCALES.items()} == EXPECTED_SCALES
    for task, terms in EXPECTED_SCALES.items():
        scales = tasks.make_task(task).scales
        for i, level in enumerate(tasks.REWARD_LEVELS):
            assert scales[level] == {term: s[i] for term, s in terms.items()}, (task, level)


SAMPLES = np.random.default_rng(7).normal(size=(5, 6)) * np.arange(1, 7)  # seeds x columns, all different
SAMPLES[1, 2] = SAMPLES[3, 4] = np.nan  # runs that do not reach a column


def test_bootstrap_band_is_a_percentile_loop_over_resampled_seeds():
    """plot.bootstrap_band: per column, the 2.5/97.5 percentiles of the nan-mean over seeds drawn with replacement."""
    plot = import_script("plot")
    n = 300
    band = plot.bootstrap_band(SAMPLES, n, np.random.default_rng(3))
    picks = np.random.default_rng(3).integers(0, len(SAMPLES), (n, len(SAMPLES)))  # the same draws
    seeds, columns = SAMPLES.shape
    expected = np.zeros((2, columns))
    for c in range(columns):
        means = []
        for draw in picks:
            values = [SAMPLES[s, c] for s in draw if not np.isnan(SAMPLES[s, c])]
            if values:  # else no drawn seed reaches this column: no mean
                means.append(sum(values) / len(values))
        expected[:, c] = np.percentile(means, [2.5, 97.5])
    assert np.array_equal(band, expected)
    assert (band[1] - band[0] > 0).all()


@pytest.mark.parametrize("statistic", ["mean", "iqm"])
def test_stratified_bootstrap_is_a_percentile_loop_over_within_group_resamples(statistic):
    """plot.stratified_bootstrap: the 2.5/97.5 percentiles of statistic(all groups, each resampled within itself)."""
    plot = import_script("plot")
    stat = np.mean if statistic == "mean" else plot.iqm
    data = np.random.default_rng(11).normal(size=12) * 3
    groups = [data[:3], data[3:8], data[8:]]
    n = 400
    low, high = plot.stratified_bootstrap(groups, stat, n, np.random.default_rng(5))
    rng, stats = np.random.default_rng(5), []
    for _ in range(n):
        scores = []
        for group in groups:  # one draw of len(group) indices per group, in order
            scores += [group[i] for i in rng.integers(0, len(group), len(group))]
        stats.append(stat(np.array(scores)))
    assert (low, high) == tuple(np.percentile(stats, [2.5, 97.5]))
    assert low < high
