"""PixMCVectorEnv.get_state / set_state: an env restored from a state continues exactly as the original does (every
observation, reward, end and info, through autoresets), a fresh env of the same settings is enough, and a state of
another task or size is refused."""

import pickle

import numpy as np
import pytest


def _same_steps(a, b, actions) -> int:
    """Step both with the same actions, require identical outputs; return how many episodes ended meanwhile."""
    ended = 0
    for action in actions:
        out_a, out_b = a.step(action), b.step(action)
        for x, y in zip(out_a[:4], out_b[:4]):
            for key in (x if isinstance(x, dict) else [None]):
                np.testing.assert_array_equal(x[key] if key else x, y[key] if key else y)
        info_a, info_b = out_a[4], out_b[4]
        assert info_a.keys() == info_b.keys()
        np.testing.assert_array_equal(info_a["success"], info_b["success"])
        for part in info_a["episode_cells"]:
            np.testing.assert_array_equal(info_a["episode_cells"][part], info_b["episode_cells"][part])
        if "final_obs" in info_a:
            for key in info_a["final_obs"]:
                np.testing.assert_array_equal(info_a["final_obs"][key], info_b["final_obs"][key])
        ended += int((out_a[2] | out_a[3]).sum())
    return ended


@pytest.mark.parametrize("task, obs_type, envs, before, after, min_ends", [
    ("FrankaReach", "state", 3, 100, 200, 3),  # restored mid-episode; time limit (199) and collisions after it
    ("KukaPick", "pixels", 2, 20, 20, 0),  # images, a cube
    ("FrankaCabinet", "state", 2, 30, 30, 0),  # the drawer, the cabinet's placement
])
def test_restored_env_continues_exactly(make_envs, task, obs_type, envs, before, after, min_ends):
    kw = dict(num_envs=envs, obs_type=obs_type, image_size=48, seed=7)
    original = make_envs(task, **kw)
    original.reset(seed=7)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (before + after, envs, original.sim.ndof))
    for action in actions[:before]:
        original.step(action)
    state = pickle.loads(pickle.dumps(original.get_state()))  # what a checkpoint file holds
    restored = make_envs(task, **kw)  # fresh: never reset, other generators
    restored.set_state(state)
    assert _same_steps(original, restored, actions[before:]) >= min_ends
    np.testing.assert_array_equal(original.get_state()["sim"]["physics"], restored.get_state()["sim"]["physics"])
    for part, counts in original.coverage.counts.items():
        np.testing.assert_array_equal(counts, restored.coverage.counts[part])


def test_states_of_other_envs_are_refused(make_envs):
    reach = make_envs("FrankaReach", num_envs=2, obs_type="state", seed=0)
    with pytest.raises(ValueError, match="task 'FrankaReach', this env runs 'KukaReach'"):
        make_envs("KukaReach", num_envs=2, obs_type="state").set_state(reach.get_state())
    with pytest.raises(ValueError, match="2 envs .* this sim has 3 envs"):
        make_envs("FrankaReach", num_envs=3, obs_type="state").set_state(reach.get_state())
    with pytest.raises(ValueError, match="not a state"):
        reach.set_state({"weights": 1})
