"""Joint limits hold, and the cabinet handle is the original's shape."""

import mujoco
import numpy as np

from pixmc_sparse.scripted import ARM


def _limit_violation(sim) -> np.ndarray:
    """How far each env's joints are past their limits (rad or m), the worst joint per env."""
    return np.maximum(sim.robot.lower - sim.q, sim.q - sim.robot.upper).max(axis=1)


def test_allegro_fingers_stay_within_their_limits(make_envs):
    """Random finger actions on a still arm: before stiff limits and passive finger damping, fingers passed their
    limits by 0.066 rad (0.19 rad with the arm swinging too) and left [-1, 1] in the observation."""
    envs = make_envs("KukaReach", num_envs=8, obs_type="state", seed=0, num_threads=1)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        actions = rng.uniform(-1, 1, (8, 23))
        actions[:, :ARM] = 0
        obs, *_ = envs.step(actions)
        worst = max(worst, _limit_violation(envs.sim).max())
    assert worst < 0.005
    assert np.abs(obs["state"][:, :23]).max() <= 1.005  # normalised joint positions


def test_limits_hold_under_random_actions(make_envs):
    """Random actions on the whole robot, arm crashing into the cabinet included: a finger pressed between the arm
    and the cabinet may pass its limit a little (contacts and limits are both soft constraints), the drawer is not
    pushed in more than 2.5 mm (before: 0.2 rad and 5.8 mm)."""
    envs = make_envs("KukaCabinet", num_envs=16, obs_type="state", seed=0, num_threads=1)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    worst, drawer = 0.0, 0.0
    for _ in range(300):
        envs.step(rng.uniform(-1, 1, (16, 23)))
        worst = max(worst, _limit_violation(envs.sim).max())
        drawer = min(drawer, envs.sim.opening.min())
    assert worst < 0.1
    assert drawer > -0.0025


def test_handle_has_the_originals_slot_behind_the_bar(make_envs):
    """sektion_cabinet_2.urdf's handle collision (drawer_handle_convexdecomposition.obj): posts and a bar that
    leave a slot 2.3 cm deep and 8.7 cm wide between the drawer front and the bar, at the height of the bar. A
    probe ray cast from above into the slot reaches the bar's bottom height; one over the bar stops on its top."""
    envs = make_envs("KukaCabinet", num_envs=1, obs_type="state", seed=0, num_threads=1)
    envs.reset(seed=0)
    sim = envs.sim
    m, d = sim.model, sim.datas[0]
    handle = sim.point("handle")[0]  # drawer frame (0.305, 0, 0.01): inside the bar, whose top is at z 0.0214
    geomid = np.zeros(1, np.int32)

    def drop(dx: float, dy: float = 0.0) -> float:
        """Distance a ray travels straight down from 10 cm above the handle point, offset by (dx, dy)."""
        start = handle + np.array([dx, dy, 0.10])
        return mujoco.mj_ray(m, d, start, np.array([0.0, 0.0, -1.0]), None, 1, -1, geomid)

    bar_top = 0.10 - (0.0214 - 0.01)
    assert abs(drop(0.0) - bar_top) < 1e-3  # over the bar: stops on its top
    for dx in (-0.030, -0.021, -0.012):  # the slot spans x 0.2732..0.2955 in the drawer frame (handle at 0.305)
        assert drop(dx) > bar_top + 0.02  # falls past the bar's bottom, into the slot
    assert abs(drop(-0.021, 0.06) - bar_top) < 1e-3  # over a post: stops on it
