"""Scripted controllers (damped least-squares inverse kinematics on the arm): proof that the tasks
are solvable with this physics, and a way to pose the robot for pictures. Not used in training.

Each controller maps the current simulator state of every env to actions in [-1, 1] for
`envs.step`, exactly as a policy would (the action moves the joint-position target).
"""

from __future__ import annotations

import mujoco
import numpy as np

from .sim import ACTION_SCALE, CONTROL_DT, BatchedSim

ARM = 7  # both robots: the first 7 DoFs are the arm


def _rotation_error(current: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Axis-angle-like error that rotates `current` (3x3) towards `desired`, in world axes."""
    return 0.5 * sum(np.cross(current[:, k], desired[:, k]) for k in range(3))


def ik_delta(sim: BatchedSim, i: int, sites: tuple[str, ...], target: np.ndarray,
             rotation: np.ndarray | None = None, body: str | None = None, damping: float = 0.05) -> np.ndarray:
    """Arm joint change (7,) that moves the mean of `sites` towards `target` and, if given, the
    orientation of `body` towards `rotation` (3x3, columns = desired body axes in world)."""
    m, d = sim.model, sim.datas[i]
    jac = np.zeros((3, m.nv))
    point = np.zeros(3)
    for s in sites:
        jp = np.zeros((3, m.nv))
        mujoco.mj_jacSite(m, d, jp, None, m.site(s).id)
        jac += jp / len(sites)
        point += d.site(s).xpos / len(sites)
    rows, err = [jac[:, :ARM]], [target - point]
    if rotation is not None:
        jr = np.zeros((3, m.nv))
        mujoco.mj_jacBody(m, d, None, jr, m.body(body).id)
        rows.append(jr[:, :ARM])
        err.append(_rotation_error(d.body(body).xmat.reshape(3, 3), rotation))
    J, e = np.vstack(rows), np.concatenate(err)
    return J.T @ np.linalg.solve(J @ J.T + damping**2 * np.eye(len(e)), e)


def to_action(sim: BatchedSim, i: int, desired_q: np.ndarray, dofs: slice) -> np.ndarray:
    """The action that moves the target of `dofs` to `desired_q` as fast as the action scale allows."""
    step = sim.robot.speed_scale[dofs] * CONTROL_DT * ACTION_SCALE
    return np.clip((desired_q - sim.targets[i, dofs]) / step, -1.0, 1.0)


def reach_actions(sim: BatchedSim, gain: float = 1.0) -> np.ndarray:
    """Move the Reach hand point (Franka finger midpoint, Kuka index fingertip) onto the goal."""
    sites = sim.robot.grasp_sites if sim.robot.name == "franka" else sim.robot.grasp_sites[:1]
    actions = np.zeros((sim.num_envs, sim.ndof))
    for i in range(sim.num_envs):
        dq = ik_delta(sim, i, sites, sim.point("goal")[i])
        actions[i, :ARM] = to_action(sim, i, sim.q[i, :ARM] + gain * dq, slice(0, ARM))
    return actions


# Franka hand pointing down, fingers closing along world y: columns are the hand's x, y, z axes
FRANKA_TOP_GRASP = np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])


class FrankaPickScript:
    """Open, hover above the cube, descend, close, lift to the goal height (or carry to a goal)."""

    def __init__(self, sim: BatchedSim):
        self.sim = sim
        self.phase = np.zeros(sim.num_envs, dtype=np.int64)
        self.timer = np.zeros(sim.num_envs, dtype=np.int64)

    def reset(self, envs) -> None:
        self.phase[envs] = 0
        self.timer[envs] = 0

    def __call__(self) -> np.ndarray:
        sim = self.sim
        actions = np.zeros((sim.num_envs, sim.ndof))
        cube = sim.point("cube")
        grip = sim.grasp.mean(axis=1)
        for i in range(sim.num_envs):
            p = self.phase[i]
            above = cube[i] + np.array([0.0, 0.0, 0.10])
            at = cube[i] + np.array([0.0, 0.0, -0.006])
            if p == 0:  # hover with open fingers
                target, fingers = above, 0.04
                if np.linalg.norm(grip[i] - above) < 0.015:
                    self.phase[i] = 1
            elif p == 1:  # descend around the cube
                target, fingers = at, 0.04
                if np.linalg.norm(grip[i] - at) < 0.01:
                    self.phase[i] = 2
            elif p == 2:  # close
                target, fingers = at, 0.0
                self.timer[i] += 1
                if self.timer[i] > 25:
                    self.phase[i] = 3
            else:  # lift to the goal height (Pick) or the goal point (Move)
                goal = sim.point("goal")[i] if "goal" in sim.site_col else np.array([cube[i, 0], cube[i, 1], 0.8])
                target, fingers = goal + (grip[i] - cube[i]), 0.0
            dq = ik_delta(sim, i, sim.robot.grasp_sites, target, FRANKA_TOP_GRASP, "panda_hand")
            actions[i, :ARM] = to_action(sim, i, sim.q[i, :ARM] + dq, slice(0, ARM))
            actions[i, ARM:] = to_action(sim, i, np.full(2, fingers), slice(ARM, ARM + 2))
        return actions


# Hand orientations (columns: the hand body's x, y, z axes in world) that point the hand camera
# straight down or along -x (towards the cabinet); Franka: panda_hand, Kuka: allegro_mount.
LOOK = {
    ("franka", "down"): FRANKA_TOP_GRASP,
    ("franka", "-x"): np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    ("kuka", "down"): np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]),
    ("kuka", "-x"): np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
}
HAND_BODY = {"franka": "panda_hand", "kuka": "allegro_mount"}


def pose_facing(sim: BatchedSim, i: int, target: np.ndarray, direction: str = "down", standoff: float = 0.3,
                iterations: int = 300, sites: tuple[str, ...] = ("hand_cam",)) -> np.ndarray:
    """Kinematically place env i's arm (no physics) so that the hand camera (or the mean of `sites`)
    is `standoff` metres from `target`, looking along `direction` ("down" or "-x"). Returns the pose."""
    robot = sim.robot.name
    view = LOOK[(robot, direction)][:, 2]
    q = sim.q[i].copy()
    for _ in range(iterations):
        dq = ik_delta(sim, i, sites, np.asarray(target) - standoff * view,
                      LOOK[(robot, direction)], HAND_BODY[robot])
        q[:ARM] = np.clip(q[:ARM] + dq, sim.robot.lower[:ARM], sim.robot.upper[:ARM])
        sim.place(i, robot_q=q)
    return q
