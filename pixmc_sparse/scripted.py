"""Scripted controllers (damped least-squares inverse kinematics on the arm): proof that every task
is solvable with this physics (tests/test_scripted.py), and a way to pose the robot for pictures.
Not used in training.

Each controller maps the current simulator state of every env to actions in [-1, 1] for
`envs.step`, exactly as a policy would (the action moves the joint-position target).
"""

from __future__ import annotations

import mujoco
import numpy as np

from .sim import ACTION_SCALE, CONTROL_DT, BatchedSim
from .tasks import GOAL_HEIGHT

ARM = 7  # both robots: the first 7 DoFs are the arm


def _rotation_error(current: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Axis-angle-like error that rotates `current` (3x3) towards `desired`, in world axes."""
    return 0.5 * sum(np.cross(current[:, k], desired[:, k]) for k in range(3))


def ik_delta(sim: BatchedSim, i: int, sites: tuple[str, ...], target: np.ndarray,
             rotation: np.ndarray | None = None, body: str | None = None, damping: float = 0.05,
             rotation_weight: float = 1.0, rest_gain: float = 0.0) -> np.ndarray:
    """Arm joint change (7,) that moves the mean of `sites` towards `target` and, if given, the
    orientation of `body` towards `rotation` (3x3, columns = desired body axes in world); a
    `rotation_weight` below 1 lets the position win where both cannot be met (the edge of the reach).
    `rest_gain` > 0 also pulls the joints towards the default pose in the null space of the task, which
    keeps the arm away from its joint limits on long moves."""
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
        rows.append(rotation_weight * jr[:, :ARM])
        err.append(rotation_weight * _rotation_error(d.body(body).xmat.reshape(3, 3), rotation))
    J, e = np.vstack(rows), np.concatenate(err)
    pinv = J.T @ np.linalg.inv(J @ J.T + damping**2 * np.eye(len(e)))
    rest = rest_gain * (sim.robot.default_q[:ARM] - d.qpos[:ARM])
    return pinv @ e + (np.eye(ARM) - pinv @ J) @ rest


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


class PhasedScript:
    """A controller that walks each env through numbered phases (`phase`, with a step `timer` per phase); call
    `reset(envs)` with the envs whose episodes ended so that they start again from phase 0."""

    def __init__(self, sim: BatchedSim):
        self.sim = sim
        self.phase = np.zeros(sim.num_envs, dtype=np.int64)
        self.timer = np.zeros(sim.num_envs, dtype=np.int64)

    def reset(self, envs) -> None:
        self.phase[envs] = 0
        self.timer[envs] = 0


class FrankaPickScript(PhasedScript):
    """Open, hover above the cube, descend, close, lift to the goal height (or carry to a goal)."""

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
            else:  # lift to the goal height (Pick) or the goal point (Move); high goals near the base are at the edge
                # of the reach with the hand pointing down, so position comes before orientation
                goal = sim.point("goal")[i] if "goal" in sim.site_col else np.array([cube[i, 0], cube[i, 1], GOAL_HEIGHT])
                target, fingers = goal + (grip[i] - cube[i]), 0.0
            dq = ik_delta(sim, i, sim.robot.grasp_sites, target, FRANKA_TOP_GRASP, "panda_hand",
                          rotation_weight=0.05 if p == 3 else 1.0, rest_gain=0.05)
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


# Kuka hand palm down, fingers pointing away from the robot (-x): curled fingers hook down behind the drawer handle;
# straight fingers hang beside the cube's far face, the thumb beside its near face
KUKA_PALM_DOWN = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])
KUKA_HOOK = np.zeros(16)  # Allegro targets: index/middle/ring joints 1..3 curled (0.2, 0.7, 0.7), thumb tucked
for _finger in range(3):
    KUKA_HOOK[4 * _finger + 1:4 * _finger + 4] = (0.2, 0.7, 0.7)
KUKA_HOOK[12] = 0.3  # thumb rotation at its lower limit


class CabinetScript(PhasedScript):
    """Open the top drawer. Franka: grip the handle bar between the fingers (they close vertically, as
    "around_handle" rewards) and pull. Kuka: curl index/middle/ring into a hook, lower the fingertips into
    the slot behind the bar, and pull. Both come in from in front of and above the handle first (the
    straight path from the start pose crosses the handle)."""

    def __init__(self, sim: BatchedSim):
        super().__init__(sim)
        self.franka = sim.robot.name == "franka"

    def _waypoints(self, handle: np.ndarray) -> list:
        """(target of the grasp point, hand posture, tolerance, step limit) per phase; the last one is the pull."""
        if self.franka:  # grasp point: between the finger pads; fingers 0.04 = open, 0 = closed
            return [(handle + [0.08, 0, 0], 0.04, 0.015, 200), (handle + [-0.01, 0, 0], 0.04, 0.01, 200),
                    (handle + [-0.01, 0, 0], 0.0, 0.0, 25), (handle + [0.1, 0, 0], 0.0, 0.0, 0)]
        # grasp point: the mean of the index/middle/ring fingertips; the slot's middle is 2.1 cm behind the handle point
        return [(handle + [0.12, 0, 0.10], KUKA_HOOK, 0.03, 200), (handle + [-0.021, 0, 0.07], KUKA_HOOK, 0.01, 80),
                (handle + [-0.021, 0, 0.0], KUKA_HOOK, 0.01, 60), (handle + [0.08, 0, 0], KUKA_HOOK, 0.0, 0)]

    def __call__(self) -> np.ndarray:
        sim = self.sim
        actions = np.zeros((sim.num_envs, sim.ndof))
        handle = sim.point("handle")
        grasp = sim.grasp.mean(axis=1) if self.franka else sim.grasp[:, :3].mean(axis=1)
        for i in range(sim.num_envs):
            waypoints = self._waypoints(handle[i])
            target, hand, tolerance, limit = waypoints[self.phase[i]]
            if self.phase[i] < len(waypoints) - 1:  # next phase when there, or after `limit` steps
                self.timer[i] += 1
                if np.linalg.norm(grasp[i] - target) < tolerance or self.timer[i] > limit:
                    self.phase[i] += 1
                    self.timer[i] = 0
            if self.franka:
                dq = ik_delta(sim, i, sim.robot.grasp_sites, target, LOOK[("franka", "-x")], "panda_hand")
                hand = np.full(2, hand)
            else:  # far cabinets are at the edge of the Kuka's reach: position comes before orientation
                dq = ik_delta(sim, i, sim.robot.grasp_sites[:3], target, KUKA_PALM_DOWN, "allegro_mount",
                              rotation_weight=0.1)
            actions[i, :ARM] = to_action(sim, i, sim.q[i, :ARM] + dq, slice(0, ARM))
            actions[i, ARM:] = to_action(sim, i, hand, slice(ARM, sim.ndof))
        return actions


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


# KukaPick / KukaMove: a pinch with the hand palm down (KUKA_PALM_DOWN): with the fingers flexed ~75 deg and the thumb
# swung under the palm, index, middle and ring hang beside the cube's far (-x) face and the thumb beside its near face
KUKA_TILT = np.radians(20.0)  # fingers tipped down by up to this much for cubes close to the robot (see below)
# the grip point, the cube's centre in a good pinch: halfway between the mean of the three fingertips and the thumb
# tip, i.e. the mean of these sites (the thumb counted three times), or of these columns of sim.grasp
KUKA_GRIP_SITES = ("grasp_index", "grasp_middle", "grasp_ring") + ("grasp_thumb",) * 3
KUKA_GRIP_COLUMNS = [0, 1, 2, 3, 3, 3]


def kuka_hand_q(finger_flex: float, thumb_flex: float) -> np.ndarray:
    """The 16 Allegro joint targets of the pinch: index, middle and ring with their first flexion joint at
    `finger_flex` (no abduction, straight distal joints), the thumb fully rotated under the palm (joint 0 at its
    upper limit) and bent towards the fingers by `thumb_flex` (joint 2)."""
    q = np.zeros(16)
    q[[1, 5, 9]] = finger_flex
    q[12], q[14] = np.pi / 2, thumb_flex
    return q


KUKA_HAND_OPEN = kuka_hand_q(1.3, -0.2)  # digits splayed outwards: 11 cm between the fingertips and the thumb tip
KUKA_HAND_CLOSED = kuka_hand_q(1.57, 1.0)  # past the cube's faces: the weak joints squeeze it at their 0.7 Nm limit


def kuka_grasp_rotation(cube_x: float) -> np.ndarray:
    """KUKA_PALM_DOWN, with the fingers tipped down (about world y) by 0 at x <= 0.45 rising to KUKA_TILT at x = 0.6.
    A level hand cannot reach a cube close to the robot's base (x = 0.6): its wrist would sit right above the base
    and the elbow would have to bend past its limit; tipping the fingers down lifts the wrist away."""
    tilt = KUKA_TILT * np.clip((cube_x - 0.45) / 0.15, 0.0, 1.0)
    c, s = np.cos(tilt), np.sin(tilt)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]]) @ KUKA_PALM_DOWN


class KukaPickScript(PhasedScript):
    """KukaPick / KukaMove: hover above the cube with the digits open, descend until the fingertips and the thumb
    tip straddle the cube's middle, close (the arm holds still), lift to the goal height (or carry to the goal).

    The pinch holds because the Allegro joints are torque-limited: their targets lie past the cube's faces, so each
    digit presses with its full 0.7 Nm (a few N at the fingertip; the 0.1 kg cube needs ~1 N of friction)."""

    HOVER = 0.10  # m above the cube's centre
    GRASP_DZ = -0.005  # the grip point's height from the cube's centre: contacts just below the middle
    CLOSE_STEPS = 40  # steps to let the digits close before lifting
    CARRY_ROTATION_WEIGHT = 0.1  # while carrying, position comes before orientation (far, high goals: edge of reach)

    def __init__(self, sim: BatchedSim):
        super().__init__(sim)
        self.hold = np.zeros((sim.num_envs, 3))  # the grip point's target while closing
        self.rotation = np.tile(KUKA_PALM_DOWN, (sim.num_envs, 1, 1))

    def __call__(self) -> np.ndarray:
        sim = self.sim
        actions = np.zeros((sim.num_envs, sim.ndof))
        cube = sim.point("cube")
        grip = sim.grasp[:, KUKA_GRIP_COLUMNS].mean(axis=1)
        for i in range(sim.num_envs):
            p = self.phase[i]
            hand, weight = KUKA_HAND_OPEN, 1.0
            if p <= 1:
                self.rotation[i] = kuka_grasp_rotation(cube[i, 0])
            if p == 0:  # hover with open digits
                target = cube[i] + np.array([0.0, 0.0, self.HOVER])
                if np.linalg.norm(grip[i] - target) < 0.015:
                    self.phase[i] = 1
            elif p == 1:  # descend around the cube
                target = cube[i] + np.array([0.0, 0.0, self.GRASP_DZ])
                if np.linalg.norm(grip[i] - target) < 0.01:
                    self.phase[i], self.hold[i] = 2, target
            elif p == 2:  # close, the arm still
                target, hand = self.hold[i], KUKA_HAND_CLOSED
                self.timer[i] += 1
                if self.timer[i] > self.CLOSE_STEPS:
                    self.phase[i] = 3
            else:  # lift to the goal height (Pick) or the goal point (Move)
                goal = sim.point("goal")[i] if "goal" in sim.site_col else np.array([cube[i, 0], cube[i, 1], GOAL_HEIGHT])
                target, hand, weight = goal + (grip[i] - cube[i]), KUKA_HAND_CLOSED, self.CARRY_ROTATION_WEIGHT
            dq = ik_delta(sim, i, KUKA_GRIP_SITES, target, self.rotation[i], "allegro_mount", rotation_weight=weight)
            actions[i, :ARM] = to_action(sim, i, sim.q[i, :ARM] + dq, slice(0, ARM))
            actions[i, ARM:] = to_action(sim, i, hand, slice(ARM, sim.ndof))
        return actions
