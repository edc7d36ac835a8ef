"""The interface: construction of every task x level x obs type, spaces, seeding, autoreset, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pixmc_sparse

ORACLE_SIZES = {"FrankaReach": 27, "FrankaCabinet": 34, "FrankaPick": 34, "FrankaMove": 39,
                "KukaReach": 55, "KukaCabinet": 77, "KukaPick": 77, "KukaMove": 82}


def test_public_names():
    assert pixmc_sparse.TASKS == ("FrankaReach", "FrankaCabinet", "FrankaPick", "FrankaMove",
                                  "KukaReach", "KukaCabinet", "KukaPick", "KukaMove")
    assert pixmc_sparse.REWARD_LEVELS == ("dense", "sparse", "sparser")


@pytest.mark.parametrize("task", pixmc_sparse.TASKS)
def test_every_task_level_and_obs_type_steps(make_envs, task):
    dofs = 9 if task.startswith("Franka") else 23
    for level in pixmc_sparse.REWARD_LEVELS:
        for obs_type in ("state", "pixels"):
            envs = make_envs(task, num_envs=2, obs_type=obs_type, image_size=32, reward_level=level, seed=0,
                             num_threads=1)
            assert isinstance(envs, gym.vector.VectorEnv)
            assert envs.single_action_space.shape == (dofs,)
            obs, info = envs.reset(seed=0)
            assert obs in envs.observation_space
            expected_state = ORACLE_SIZES[task] if obs_type == "state" else 2 * dofs
            assert obs["state"].shape == (2, expected_state) and obs["state"].dtype == np.float32
            if obs_type == "pixels":
                assert obs["pixels"].shape == (2, 3, 32, 32) and obs["pixels"].dtype == np.uint8
            else:
                assert set(obs) == {"state"}
            obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert obs in envs.observation_space
            assert reward.shape == (2,) and reward.dtype == np.float32
            assert terminated.dtype == bool and truncated.dtype == bool
            assert set(info["reward_terms"]) == set(envs.reward_scales)
            np.testing.assert_allclose(sum(info["reward_terms"].values()), reward, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("task", ["FrankaPick", "KukaCabinet"])
def test_gymnasium_registration_passes_check_env(task):
    env = gym.make(f"pixmc_sparse/{task}-v0", reward_level="sparse", image_size=32)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs["pixels"].shape == (3, 32, 32) and isinstance(reward, float)
    env.close()


def test_make_vec_uses_the_batched_env():
    envs = gym.make_vec("pixmc_sparse/FrankaReach-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        obs_type="state")
    assert isinstance(envs.unwrapped, pixmc_sparse.PixMCVectorEnv) and envs.num_envs == 3
    envs.close()


# the id scheme of the README, written out here: variant -> (obs_type, reward_level)
VARIANTS = {"": ("pixels", "sparse"), "Dense": ("pixels", "dense"), "Sparser": ("pixels", "sparser"),
            "State": ("state", "sparse"), "StateDense": ("state", "dense"), "StateSparser": ("state", "sparser")}


def test_registered_ids_name_the_obs_type_and_reward_level():
    expected = {f"pixmc_sparse/{task}{variant}-v0": (task, *setting)
                for task in pixmc_sparse.TASKS for variant, setting in VARIANTS.items()}
    assert {env_id for env_id in gym.registry if env_id.startswith("pixmc_sparse/")} == set(expected)
    for env_id, (task, obs_type, level) in expected.items():
        if obs_type == "pixels" and env_id != "pixmc_sparse/KukaCabinetDense-v0":  # one pixel build: they are slow
            assert gym.spec(env_id).kwargs == {"task": task, "obs_type": obs_type, "reward_level": level}
            continue
        env = gym.make(env_id)  # no kwargs: the id alone says it all
        vec = env.unwrapped._vec
        assert (vec.task_name, vec.obs_type, vec.reward_level) == (task, obs_type, level), env_id
        obs, _ = env.reset(seed=0)
        assert obs in env.observation_space and set(obs) == ({"state"} if obs_type == "state" else {"pixels", "state"})
        env.close()


def test_variant_ids_work_with_make_vec_and_check_env():
    envs = gym.make_vec("pixmc_sparse/KukaPickStateDense-v0", num_envs=2, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, pixmc_sparse.PixMCVectorEnv) and envs.num_envs == 2
    assert (envs.unwrapped.obs_type, envs.unwrapped.reward_level) == ("state", "dense")
    envs.close()
    env = gym.make("pixmc_sparse/FrankaCabinetState-v0")
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_single_env_steps_as_a_vector_env_of_one(make_envs):
    """PixMCEnv is PixMCVectorEnv.step_without_reset on a batch of one: same states, rewards and ends as the vector
    env's step (whose autoreset keeps the last observation in final_obs)."""
    env = gym.make("pixmc_sparse/FrankaReachStateDense-v0")
    envs = make_envs("FrankaReach", num_envs=1, obs_type="state", reward_level="dense", seed=5)
    obs, _ = env.reset(seed=5)
    vobs, _ = envs.reset()
    np.testing.assert_array_equal(obs["state"], vobs["state"][0])
    rng = np.random.default_rng(0)
    for _ in range(envs.max_episode_steps):
        a = rng.uniform(-1, 1, 9).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(a)
        vobs, vreward, vterminated, vtruncated, vinfo = envs.step(a[None])
        # the vector env's float32 reward, exactly (as Python floats: NumPy 2 compares float with float32 in float32)
        assert isinstance(reward, float) and reward == float(vreward[0])
        assert (terminated, truncated) == (vterminated[0], vtruncated[0])
        assert info["reward_terms"] == {k: float(v[0]) for k, v in vinfo["reward_terms"].items()}
        assert info["success_condition"] == vinfo["success_condition"][0]
        if terminated or truncated:
            np.testing.assert_array_equal(obs["state"], vinfo["final_obs"]["state"][0])
            assert info["success"] == vinfo["success"][0]
            break
        np.testing.assert_array_equal(obs["state"], vobs["state"][0])
        assert not info["success"]
    assert terminated or truncated
    with pytest.raises(ValueError, match=r"action must have shape \(9,\)"):
        env.step(np.zeros(7))
    env.close()


def _rollout(envs, seed, steps):
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(123)
    states, rewards = [obs["state"].copy()], []
    for _ in range(steps):
        obs, r, te, tr, _ = envs.step(rng.uniform(-1, 1, envs.action_space.shape))
        states.append(obs["state"].copy())
        rewards.append(r)
    return np.array(states), np.array(rewards)


def test_same_seed_gives_identical_200_steps(make_envs):
    a = _rollout(make_envs("FrankaPick", num_envs=3, obs_type="state", num_threads=2), 7, 200)
    b = _rollout(make_envs("FrankaPick", num_envs=3, obs_type="state", num_threads=1), 7, 200)
    np.testing.assert_array_equal(a[0], b[0])  # also independent of the number of threads
    np.testing.assert_array_equal(a[1], b[1])


def test_make_seed_seeds_the_first_reset(make_envs):
    a = make_envs("KukaMove", num_envs=2, obs_type="state", seed=11)
    b = make_envs("KukaMove", num_envs=2, obs_type="state", seed=11)
    np.testing.assert_array_equal(a.reset()[0]["state"], b.reset()[0]["state"])


def test_make_without_seed_draws_fresh_entropy(make_envs):
    a = make_envs("KukaMove", num_envs=2, obs_type="state")
    b = make_envs("KukaMove", num_envs=2, obs_type="state")
    assert not np.array_equal(a.reset()[0]["state"], b.reset()[0]["state"])  # gymnasium: no seed, fresh entropy
    assert not np.array_equal(a.reset()[0]["state"], b.reset()[0]["state"])
    np.testing.assert_array_equal(a.reset(seed=4)[0]["state"], b.reset(seed=4)[0]["state"])  # a seed still rules


def test_single_env_keeps_gymnasiums_seeding():
    envs = [gym.make("pixmc_sparse/KukaMove-v0", obs_type="state") for _ in range(2)]
    assert not np.array_equal(*[env.reset()[0]["state"] for env in envs])
    np.testing.assert_array_equal(*[env.reset(seed=3)[0]["state"] for env in envs])
    np.testing.assert_array_equal(*[env.reset()[0]["state"] for env in envs])  # later resets follow the seed
    for env in envs:
        env.close()


def test_different_seeds_give_different_initial_states_within_ranges(make_envs):
    envs = make_envs("FrankaMove", num_envs=16, obs_type="state")
    sim, robot = envs.sim, envs.sim.robot
    starts = []
    for seed in (0, 1):
        envs.reset(seed=seed)
        starts.append(sim.q.copy())
        lo = np.maximum(robot.default_q - 0.125, robot.lower) - 1e-3
        hi = np.minimum(robot.default_q + 0.125, robot.upper) + 1e-3
        assert np.all((sim.q >= lo) & (sim.q <= hi))
        cube, goal = sim.point("cube"), sim.point("goal")
        assert np.all(np.abs(cube[:, 0] - 0.5) <= 0.1) and np.all(np.abs(cube[:, 1]) <= 0.2)
        np.testing.assert_allclose(cube[:, 2], 0.4225, atol=1e-3)
        assert np.all(np.abs(goal - [0.5, 0.0, 0.7]) <= [0.1, 0.2, 0.1])
        assert len(np.unique(cube[:, 0])) == 16  # envs differ from each other
    assert not np.allclose(starts[0], starts[1])


def test_cabinet_reset_ranges(make_envs):
    envs = make_envs("KukaCabinet", num_envs=8, obs_type="state")
    envs.reset(seed=0)
    sim = envs.sim
    cab = np.array([d.mocap_pos[sim.cab_mocap] for d in sim.datas])
    assert np.all(np.abs(cab - [0.05, 0.0, 0.45]) <= [0.075, 0.075, 0.05])
    np.testing.assert_allclose(sim.opening, 0.0, atol=1e-6)
    # the handle point is the drawer origin + (0.305, 0, 0.01), the drawer at (0.0515, 0, 0.3172) on the cabinet
    np.testing.assert_allclose(sim.point("handle"), cab + [0.0515 + 0.305, 0, 0.3172 + 0.01], atol=1e-6)


def test_same_step_autoreset_returns_final_obs(make_envs):
    envs = make_envs("FrankaReach", num_envs=2, obs_type="state", seed=0)
    twin = make_envs("FrankaReach", num_envs=2, obs_type="state", seed=0)  # the same steps without the autoreset
    obs, _ = envs.reset(seed=0)
    twin.reset(seed=0)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    steps = 0
    while True:
        obs, r, te, tr, info = envs.step(np.zeros((2, 9)))
        twin_obs, *_ = twin.step_without_reset(np.zeros((2, 9)))
        steps += 1
        if tr.any():
            break
        assert np.array_equal(obs["state"], twin_obs["state"])
    assert steps == 199  # episodeLength 200: the original resets at progress >= length - 1
    assert info["_final_obs"].all() and not te.any()
    assert np.array_equal(info["final_obs"]["state"], twin_obs["state"])  # the ended episode's last observation
    twin.sim.reset()
    assert np.array_equal(obs["state"], twin.sim.observation()["state"])  # the next episode's start
    assert not np.allclose(obs["state"], info["final_obs"]["state"])
    assert np.all(envs.sim.elapsed == 0)


def test_episode_lengths_per_level():
    def steps(task, level):
        envs = pixmc_sparse.make(task, obs_type="state", reward_level=level)
        n = envs.max_episode_steps
        envs.close()
        return n

    assert steps("FrankaReach", "sparse") == 199 and steps("KukaPick", "dense") == 499
    assert steps("FrankaCabinet", "dense") == 499 and steps("FrankaCabinet", "sparse") == 999


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="KukaPik"), "choose one of: FrankaReach, FrankaCabinet, FrankaPick, FrankaMove, KukaReach"),
    (dict(task="KukaPick", reward_level="medium"), "choose one of: dense, sparse, sparser"),
    (dict(task="KukaPick", obs_type="rgb"), "choose one of: pixels, state"),
    (dict(task="KukaPick", num_envs=0), "num_envs must be an integer >= 1"),
    (dict(task="KukaPick", image_size=8), "image_size must be an integer >= 16"),
    (dict(task="KukaPick", num_threads=0), "num_threads must be None .* or an integer >= 1, got 0"),
    (dict(task="KukaPick", num_threads=-1), "num_threads must be None .* or an integer >= 1, got -1"),
    (dict(task="KukaPick", num_threads=2.0), "num_threads must be None .* or an integer >= 1, got 2.0"),
    (dict(task="KukaPick", seed=-1), "seed must be None or an integer >= 0, got -1"),
])
def test_bad_arguments_fail_fast(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pixmc_sparse.make(**kwargs)


def test_bad_actions_fail_fast(make_envs):
    envs = make_envs("FrankaReach", num_envs=2, obs_type="state", seed=0)
    envs.reset()
    with pytest.raises(ValueError, match=r"shape \(2, 9\)"):
        envs.step(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="NaN"):
        envs.step(np.full((2, 9), np.nan))
