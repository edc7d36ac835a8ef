"""Scripted controllers solve FrankaReach, KukaReach and FrankaPick: the tasks are solvable with this physics."""

import numpy as np
import pytest

from pixmc_sparse.scripted import FrankaPickScript, reach_actions


def _run(envs, policy, on_done=None):
    """One full episode per env (SAME_STEP autoreset); returns each env's first episode outcome."""
    envs.reset(seed=5)
    outcome = np.full(envs.num_envs, -1)
    while (outcome < 0).any():
        _, _, te, tr, info = envs.step(policy())
        done = te | tr
        first = done & (outcome < 0)
        outcome[first] = info["success"][first]
        assert not te.any(), "the scripted controller must not collide or drop the cube"
        if on_done is not None and done.any():
            on_done(done)
    return outcome


@pytest.mark.parametrize("task", ["FrankaReach", "KukaReach"])
def test_inverse_kinematics_reaches_the_goal(make_envs, task):
    envs = make_envs(task, num_envs=4, obs_type="state", seed=5)
    assert _run(envs, lambda: reach_actions(envs.sim)).tolist() == [1, 1, 1, 1]


def test_scripted_grasp_picks_the_cube(make_envs):
    envs = make_envs("FrankaPick", num_envs=4, obs_type="state", seed=5)
    script = FrankaPickScript(envs.sim)
    assert _run(envs, script, on_done=script.reset).tolist() == [1, 1, 1, 1]
    assert np.all(envs.sim.point("cube")[:, 2] < 0.43)  # after the autoreset the cubes are back on the table


def test_zero_actions_do_not_succeed(make_envs):
    envs = make_envs("FrankaReach", num_envs=4, obs_type="state", seed=5)
    assert _run(envs, lambda: np.zeros((4, 9))).tolist() == [0, 0, 0, 0]
