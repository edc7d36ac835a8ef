"""The hand camera: the image follows the arm, shows the object when the hand faces it; GL errors are clear."""

import ctypes.util
import os
import subprocess
import sys

import imageio.v2 as imageio
import mujoco
import numpy as np
import pytest

from pixmc_sparse.render import make_renderer
from pixmc_sparse.scripted import pose_facing


def _blue(img):  # the cube is blue (0.1, 0.3, 0.9): count its pixels in a (3, H, W) image
    r, g, b = img.astype(int)
    return int(((b > 120) & (b > r + 60) & (b > g + 40)).sum())


@pytest.mark.parametrize("task", ["FrankaPick", "KukaPick"])
def test_camera_follows_the_arm_and_sees_the_cube(make_envs, task, tmp_path):
    envs = make_envs(task, num_envs=1, obs_type="pixels", image_size=84, seed=2)
    obs, _ = envs.reset(seed=2)
    start = obs["pixels"][0].copy()
    sim = envs.sim
    for _ in range(10):  # move the arm
        obs, *_ = envs.step(np.ones((1, sim.ndof)) * 0.8)
    moved = obs["pixels"][0].copy()
    assert np.abs(moved.astype(int) - start.astype(int)).mean() > 10
    hand_open = np.clip(sim.robot.default_q, sim.robot.lower, sim.robot.upper)[7:]
    sim.place(0, robot_q=np.concatenate([sim.q[0, :7], hand_open]))  # uncurl the fingers
    pose_facing(sim, 0, sim.point("cube")[0], direction="down", standoff=0.3)
    facing = sim.observation()["pixels"][0]
    pose_facing(sim, 0, sim.point("cube")[0] + [0.0, 1.0, 0.0], direction="-x", standoff=0.3)  # look away
    away = sim.observation()["pixels"][0]
    h, w = facing.shape[1:]
    centre = facing[:, h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    assert _blue(centre) > 20, "the cube should be in the middle of the image"
    assert _blue(away) == 0
    for name, img in (("reset", start), ("moved", moved), ("facing", facing), ("away", away)):
        imageio.imwrite(tmp_path / f"{task}_{name}.png", img.transpose(1, 2, 0))


def test_image_size_is_respected(make_envs):
    envs = make_envs("KukaReach", num_envs=2, obs_type="pixels", image_size=224, seed=0)
    obs, _ = envs.reset()
    assert obs["pixels"].shape == (2, 3, 224, 224)
    assert obs["pixels"].std() > 10  # not a blank frame


@pytest.mark.parametrize("size", [481, 700])
def test_images_larger_than_the_scene_files_buffer(make_envs, size):
    """The scene's offscreen buffer is 640x480; the sim grows it to fit the images (481: taller, 700: wider too)."""
    envs = make_envs("FrankaReach", num_envs=1, obs_type="pixels", image_size=size, seed=0, render_mode="rgb_array")
    obs, _ = envs.reset()
    assert obs["pixels"].shape == (1, 3, size, size)
    assert obs["pixels"].std() > 10  # not a blank frame
    assert envs.render().shape == (480, 640, 3)  # the third-person view still fits


def test_an_image_larger_than_the_buffer_is_not_an_opengl_error():
    model = mujoco.MjModel.from_xml_string('<mujoco><visual><global offwidth="64" offheight="48"/></visual></mujoco>')
    with pytest.raises(ValueError, match="does not fit the model's 48x64 offscreen buffer"):
        make_renderer(model, 49, 64)


@pytest.mark.skipif(ctypes.util.find_library("OSMesa") is not None, reason="OSMesa is installed here")
def test_missing_opengl_fails_with_the_packages_to_install():
    code = "import pixmc_sparse; pixmc_sparse.make('FrankaReach', obs_type='pixels')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, MUJOCO_GL="osmesa", PYTHONPATH=os.getcwd()), timeout=120)
    assert res.returncode != 0
    assert "RenderingUnavailable" in res.stderr and "libosmesa6" in res.stderr and "libegl1" in res.stderr
    assert "MUJOCO_GL=osmesa but libOSMesa is not installed" in res.stderr


def test_state_observations_need_no_opengl():
    code = "import pixmc_sparse; e = pixmc_sparse.make('FrankaReach', obs_type='state'); e.reset(); e.close()"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, MUJOCO_GL="osmesa", PYTHONPATH=os.getcwd()), timeout=120)
    assert res.returncode == 0, res.stderr


def test_ego_goal_is_where_the_camera_sees_the_goal(make_envs):
    """benchmarks/ego_goal_reach.py (the pixel check's control): the goal straight ahead of the camera is in view along
    its axis at the right distance; looked away from, it is out of view, and `fov` then hides it."""
    from conftest import import_script

    ego = import_script("benchmarks/ego_goal_reach")
    envs = make_envs("FrankaReach", num_envs=1, obs_type="state", seed=0)
    envs.reset(seed=0)
    sim = envs.sim
    goal = sim.point("goal")[0]
    pose_facing(sim, 0, goal, direction="down", standoff=0.3)
    seen = ego.ego_goal(sim, always=False)[0]
    assert seen[4] == 1.0 and seen[2] < -0.95, seen  # in view, on the camera's -z axis
    assert 0.2 < seen[3] < 0.4, seen
    pose_facing(sim, 0, goal + [0.0, 1.0, 0.0], direction="-x", standoff=0.3)  # look away
    assert np.all(ego.ego_goal(sim, always=False)[0] == 0.0)
    unseen = ego.ego_goal(sim, always=True)[0]
    assert unseen[4] == 0.0 and np.isclose(np.linalg.norm(unseen[:3]), 1.0) and unseen[3] > 0.3
