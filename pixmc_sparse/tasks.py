"""The eight PixMC-Sparse tasks: scene additions, reset ranges, reward terms, success conditions.

Reward terms are pure numpy functions of named quantities (grasp points, object, goal, drawer
opening, actions) and return *unscaled* values; a task's `scales[level]` says how each term
enters the reward at each reward level. The three levels are data, visible at a glance in
`SCALES` below:

- "dense":   the original PixMC configs;
- "sparse":  the PixMC-Sparse configs of the MIMEx paper (Table 2): the distance-to-object /
             distance-to-handle / distance-to-goal(Reach) term set to 0, plus the other changes those
             configs make (FrankaPick/Move lift bonus 4 -> 12, FrankaCabinet around-handle 1 -> 3 and
             episode length 500 -> 1000);
- "sparser": sparse, and also the distance-to-goal term removed for Cabinet, Pick and Move
             (Table 3, step 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .robots import ROBOTS, Robot

TASKS = ("FrankaReach", "FrankaCabinet", "FrankaPick", "FrankaMove",
         "KukaReach", "KukaCabinet", "KukaPick", "KukaMove")
REWARD_LEVELS = ("dense", "sparse", "sparser")

TABLE_TOP = 0.4  # z of the table surface (m)
GOAL_HEIGHT = 0.8  # Pick: absolute target height of the cube (m)
DRAWER_TRAVEL = 0.4  # Cabinet: full opening of the top drawer (m)

# ---------------------------------------------------------------------------------------------
# Reward scales per level: term -> (dense, sparse, sparser). Terms are the functions' output keys.
# ---------------------------------------------------------------------------------------------
_REACH = {"goal_dist": (0.08, 0.0, 0.0), "goal_bonus": (0.4, 0.4, 0.4), "action_penalty": (0.01, 0.01, 0.01)}
SCALES = {
    "FrankaReach": _REACH,
    "KukaReach": _REACH,
    "FrankaCabinet": {
        "handle_dist": (0.06, 0.0, 0.0), "around_handle": (1.0, 3.0, 3.0), "open_bonus": (2.0, 2.0, 2.0),
        "goal_dist": (6.0, 6.0, 0.0), "open_pose": (3.0, 3.0, 3.0), "goal_bonus": (2.0, 2.0, 2.0),
        "action_penalty": (0.01, 0.01, 0.01)},
    "KukaCabinet": {
        "finger_dist": (0.04, 0.0, 0.0), "thumb_dist": (0.08, 0.0, 0.0), "around_handle": (0.0, 0.0, 0.0),
        "open_bonus": (2.0, 2.0, 2.0), "goal_dist": (6.0, 6.0, 0.0), "open_pose": (0.0, 0.0, 0.0),
        "goal_bonus": (2.0, 2.0, 2.0), "action_penalty": (0.01, 0.01, 0.01)},
    "FrankaPick": {
        "object_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 12.0, 12.0), "goal_dist": (1.28, 1.28, 0.0),
        "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
    "KukaPick": {
        "finger_dist": (0.04, 0.0, 0.0), "thumb_dist": (0.08, 0.0, 0.0), "lift_bonus": (4.0, 4.0, 4.0),
        "goal_dist": (1.28, 1.28, 0.0), "goal_bonus": (4.0, 4.0, 4.0), "action_penalty": (0.01, 0.01, 0.01)},
}
SCALES["FrankaMove"] = SCALES["FrankaPick"]
SCALES["KukaMove"] = SCALES["KukaPick"]


# ---------------------------------------------------------------------------------------------
# Reward terms, as the original's compute_*_reward functions (ir413/mvp pixmc/tasks/<task>.py, e.g. franka_pick.py's
# compute_franka_reward). d = Euclidean distance; all inputs batched over envs.
# ---------------------------------------------------------------------------------------------
def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def _bonus(cond: np.ndarray) -> np.ndarray:
    return np.where(cond, 0.5, 0.0)


def _inverse_dist(points: np.ndarray, target: np.ndarray, offset: float, floor: float) -> np.ndarray:
    """sum over points of 1 / (offset + max(d(point, target), floor)); points (N, k, 3), target (N, 3)."""
    d = np.maximum(_dist(points, target[:, None, :]), floor)
    return (1.0 / (offset + d)).sum(axis=1)


def action_penalty(actions: np.ndarray) -> np.ndarray:
    return -np.sum(np.square(actions), axis=-1)


def reach_terms(hand, goal, actions):
    d = _dist(hand, goal)
    return {"goal_dist": 1.0 / (0.04 + d), "goal_bonus": _bonus(d <= 0.04), "action_penalty": action_penalty(actions)}


def reach_success(hand, goal):
    return _dist(hand, goal) <= 0.04


def approach_terms(robot: str, grasp, target, offset: float, floor: float):
    """Distance-to-object (Pick/Move) or distance-to-handle (Cabinet) terms.
    Franka: one term over both finger points. Kuka: index+middle+ring, and the thumb separately."""
    if robot == "franka":
        return {"object_dist": _inverse_dist(grasp, target, offset, floor)}
    return {"finger_dist": _inverse_dist(grasp[:, :3], target, offset, floor),
            "thumb_dist": _inverse_dist(grasp[:, 3:], target, offset, floor)}


def lift_terms(cube_z, cube_z0: float, lift_threshold: float, goal_d, bonus_threshold: float):
    """Lift bonus, distance-to-goal (only while lifted) and goal bonus; goal_d is the cube's distance
    to the goal height (Pick) or goal point (Move)."""
    above = (cube_z - cube_z0) > lift_threshold
    return {"lift_bonus": _bonus(above),
            "goal_dist": np.where(above, 1.0 / (0.04 + goal_d), 0.0),
            "goal_bonus": _bonus(goal_d <= bonus_threshold)}


def _carry_terms(robot, grasp, cube, goal_d, actions):
    """Pick and Move: approach the cube, lift it, bring it to the goal (`goal_d` = the cube's distance to it)."""
    terms = approach_terms(robot, grasp, cube, 0.04, 0.02 if robot == "franka" else 0.03)
    terms.update(lift_terms(cube[:, 2], cube_rest_z(robot), 0.015 if robot == "franka" else 0.02, goal_d,
                            0.04 if robot == "franka" else 0.06))
    terms["action_penalty"] = action_penalty(actions)
    return terms


def pick_terms(robot, grasp, cube, actions):
    return _carry_terms(robot, grasp, cube, np.abs(GOAL_HEIGHT - cube[:, 2]), actions)


def pick_success(cube):
    return np.abs(GOAL_HEIGHT - cube[:, 2]) <= 0.25 * (GOAL_HEIGHT - TABLE_TOP)


def move_terms(robot, grasp, cube, goal, actions):
    return _carry_terms(robot, grasp, cube, _dist(cube, goal), actions)


def move_success(robot, cube, goal):
    return _dist(cube, goal) <= (0.04 if robot == "franka" else 0.0675)


def _grip_pair(robot, grasp):
    """The two points that must close around the handle: Franka left/right fingers, Kuka index/thumb."""
    return (grasp[:, 0], grasp[:, 1]) if robot == "franka" else (grasp[:, 0], grasp[:, 3])


def _holding(robot, grasp, handle):
    """Both points of the grip pair within 4 cm of the handle."""
    upper, lower = _grip_pair(robot, grasp)
    return (_dist(upper, handle) < 0.04) & (_dist(lower, handle) < 0.04)


def cabinet_terms(robot, grasp, handle, opening, actions):
    if robot == "franka":
        terms = {"handle_dist": _inverse_dist(grasp, handle, 0.016, 0.008)}
    else:
        terms = approach_terms(robot, grasp, handle, 0.04, 0.008)
    upper, lower = _grip_pair(robot, grasp)
    around = _bonus((upper[:, 2] - handle[:, 2]) * (handle[:, 2] - lower[:, 2]) > 0)
    terms.update({
        "around_handle": around,
        "open_bonus": _bonus(opening > 0.01),
        "goal_dist": opening,  # "goal_reward" of the original: 0.4 - to_goal
        "open_pose": around * _holding(robot, grasp, handle) * opening * 2.0,
        "goal_bonus": _bonus(DRAWER_TRAVEL - opening <= 0.1),
        "action_penalty": action_penalty(actions),
    })
    return terms


def cabinet_success(robot, grasp, handle, opening):
    opened = opening >= 0.8 * DRAWER_TRAVEL
    if robot == "franka":  # drawer open >= 80 % with both finger points still at the handle
        return _holding(robot, grasp, handle) & opened
    return opened  # KukaCabinet ignores the hand (as the original)


def cube_size(robot: str) -> float:
    return 0.045 if robot == "franka" else 0.06


def cube_rest_z(robot: str) -> float:
    return TABLE_TOP + cube_size(robot) / 2


# ---------------------------------------------------------------------------------------------
# The task table
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    name: str
    robot: Robot
    kind: str  # reach | cabinet | pick | move
    episode_length: dict  # level -> episodeLength of the config (the episode ends at step length - 1)
    scales: dict  # level -> {term: scale}
    goal_init: tuple | None = None  # Reach/Move goal point
    goal_delta: tuple | None = None
    object_init: tuple = (0.5, 0.0)  # Pick/Move cube xy
    object_delta: tuple = (0.1, 0.2)
    cabinet_init: tuple = (0.05, 0.0, 0.45)
    cabinet_delta: tuple = (0.075, 0.075, 0.05)
    success_steps: int = 10  # consecutive steps the condition must hold (FrankaMove: 1, as the original)

    @property
    def fall_threshold(self) -> float:  # cube below its rest height by more than this ends the episode
        return 0.04 if self.robot.name == "franka" else 0.06

    @property
    def has_cube(self) -> bool:
        return self.kind in ("pick", "move")

    @property
    def has_goal_marker(self) -> bool:
        return self.kind in ("reach", "move")


def check_task(name: str) -> None:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")


def make_task(name: str) -> Task:
    check_task(name)
    robot_name = "franka" if name.startswith("Franka") else "kuka"
    kind = name[len(robot_name):].lower()
    robot = ROBOTS[robot_name]()
    table = SCALES[name]
    scales = {level: {t: s[i] for t, s in table.items()} for i, level in enumerate(REWARD_LEVELS)}
    length = 200 if kind == "reach" else 500
    episode_length = {lvl: length for lvl in REWARD_LEVELS}
    if name == "FrankaCabinet":
        episode_length["sparse"] = episode_length["sparser"] = 1000
    kw = {}
    if name == "FrankaReach":
        kw = dict(goal_init=(0.55, 0.0, 0.7), goal_delta=(0.2, 0.3, 0.2))
    elif name == "KukaReach":
        kw = dict(goal_init=(0.45, 0.0, 0.65), goal_delta=(0.2, 0.3, 0.2))
    elif kind == "move":
        kw = dict(goal_init=(0.5, 0.0, 0.7), goal_delta=(0.1, 0.2, 0.1))
    if name == "FrankaMove":
        kw["success_steps"] = 1
    return Task(name=name, robot=robot, kind=kind, episode_length=episode_length, scales=scales, **kw)


# ---------------------------------------------------------------------------------------------
# Scene (MJCF) of one task
# ---------------------------------------------------------------------------------------------
WORLD_COLLISION = 'contype="2" conaffinity="3"'
PHYSICS_TIMESTEP = 1.0 / 240.0
SUBSTEPS = 4  # 4 x 1/240 s = one 1/60 s control step


def _look_at(pos, target) -> str:
    pos, target = np.asarray(pos, float), np.asarray(target, float)
    fwd = (target - pos) / np.linalg.norm(target - pos)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    return " ".join(f"{v:.4f}" for v in (*right, *up))


NUM_PROPS = 4  # numProps of the original Cabinet configs: boxes standing in the top drawer


def _cabinet_xml() -> str:
    """A two-part cabinet: a static carcass (mocap body, so each env can place it) with a top drawer
    on a prismatic joint at the original's joint origin; the handle point is the drawer frame
    + (0.305, 0, 0.01), as in the original.

    The drawer front and the handle are the original's collision shapes (`sektion_cabinet_2.urdf`: drawer mesh
    front at x = 0.2732; `drawer_handle_convexdecomposition.obj`, four convex parts): two posts 4 cm wide from the
    front to x = 0.2955, and a bar x 0.296..0.312, |y| < 0.0835, z -0.003..0.021 (1.6 x 16.7 x 2.4 cm), which
    leaves a 2.3 cm deep, 8.7 cm wide slot behind the bar for fingers to hook into."""
    wood, front, metal = "0.75 0.72 0.66 1", "0.85 0.83 0.78 1", "0.3 0.3 0.32 1"

    def box(lo, hi, rgba, extra=""):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        c, h = (lo + hi) / 2, (hi - lo) / 2
        return (f'<geom type="box" pos="{c[0]:.4f} {c[1]:.4f} {c[2]:.4f}" size="{h[0]:.4f} {h[1]:.4f} {h[2]:.4f}" '
                f'rgba="{rgba}" {WORLD_COLLISION} {extra}/>')

    carcass = [
        box((-0.2, -0.25, 0.40), (0.32, 0.25, 0.42), wood),  # top
        box((-0.2, -0.25, -0.45), (0.32, 0.25, 0.235), wood),  # lower body
        box((-0.2, 0.21, 0.235), (0.32, 0.25, 0.40), wood),  # sides around the drawer
        box((-0.2, -0.25, 0.235), (0.32, -0.21, 0.40), wood),
        box((-0.2, -0.21, 0.235), (-0.16, 0.21, 0.40), wood),  # back
        box((0.32, -0.24, -0.43), (0.33, 0.24, 0.22), front),  # the lower doors' faces
    ]
    drawer = [
        box((-0.18, -0.19, -0.055), (0.2532, 0.19, -0.045), wood),  # bottom
        box((-0.18, 0.18, -0.055), (0.2532, 0.19, 0.05), wood),  # sides
        box((-0.18, -0.19, -0.055), (0.2532, -0.18, 0.05), wood),
        box((-0.19, -0.19, -0.055), (-0.18, 0.19, 0.05), wood),  # back
        box((0.2532, -0.2, -0.07), (0.2732, 0.2, 0.07), front),  # front panel
        box((0.2732, -0.0835, -0.0029), (0.2955, -0.0434, 0.0214), metal),  # handle posts
        box((0.2732, 0.0434, -0.0029), (0.2955, 0.0835, 0.0214), metal),
        box((0.2955, -0.0835, -0.0029), (0.3119, 0.0835, 0.0214), metal, 'condim="4"'),  # handle bar
    ]
    xml = ['<body name="cabinet" mocap="true" pos="0.05 0 0.45">', *carcass,
           '<body name="drawer_top" pos="0.0515 0 0.3172">',
           '<inertial pos="0.05 0 0" mass="1.5" diaginertia="0.02 0.03 0.03"/>',
           '<joint name="drawer_top_joint" type="slide" axis="1 0 0" range="0 0.4" limited="true" '
           'damping="10" armature="0.005" solreflimit="0.0084 1"/>',  # stiff limit: closed means closed
           *drawer, '<site name="handle" pos="0.305 0 0.01" size="0.005" group="5"/>', "</body>", "</body>"]
    # the props (0.08 m boxes, density 400) in a 2x2 grid spaced 0.09 m at the drawer's origin
    for k in range(NUM_PROPS):
        x, y = (-0.045 + 0.09 * (k % 2)), (-0.045 + 0.09 * (k // 2))
        xml.append(f'<body name="prop{k}" pos="{0.05 + 0.0515 + x:.4f} {y:.4f} {0.45 + 0.3172 - 0.005:.4f}">'
                   f'<freejoint name="prop{k}"/><geom type="box" size="0.04 0.04 0.04" density="400" '
                   f'rgba="0.55 0.35 0.6 1" {WORLD_COLLISION}/></body>')
    return "\n".join(xml)


def scene_xml(task: Task) -> str:
    robot = task.robot
    parts = []
    if task.kind != "cabinet":  # the Cabinet scenes have no table (as the original)
        parts.append(f'<geom name="table" type="box" pos="0.5 0 0.2" size="0.3 0.5 0.2" rgba="0.58 0.45 0.33 1" '
                     f'{WORLD_COLLISION}/>')
    if task.has_cube:
        half = cube_size(robot.name) / 2
        parts.append(f'<body name="cube" pos="{task.object_init[0]} {task.object_init[1]} {cube_rest_z(robot.name)}">'
                     f'<freejoint name="cube"/><geom type="box" size="{half} {half} {half}" rgba="0.1 0.3 0.9 1" '
                     f'mass="0.1" condim="4" friction="1 0.02 0.0001" {WORLD_COLLISION}/>'
                     f'<site name="cube" size="0.005" group="5"/></body>')
    if task.has_goal_marker:  # rendered, touches nothing (the original's separate collision group)
        g = task.goal_init
        parts.append(f'<body name="goal" mocap="true" pos="{g[0]} {g[1]} {g[2]}"><geom type="sphere" size="0.04" '
                     f'rgba="0.1 0.85 0.2 1" contype="0" conaffinity="0"/><site name="goal" size="0.005" group="5"/>'
                     f'</body>')
    if task.kind == "cabinet":
        parts.append(_cabinet_xml())
    return f"""<mujoco model="pixmc_{task.name}">
  <compiler angle="radian" eulerseq="XYZ" autolimits="true"/>
  <option timestep="{PHYSICS_TIMESTEP:.8f}" integrator="implicitfast" gravity="0 0 -9.81"/>
  <visual>
    <quality shadowsize="0" offsamples="0" numslices="12" numstacks="6"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <global offwidth="640" offheight="480"/>
  </visual>
  <worldbody>
    <light pos="0.5 0.3 2.5" dir="0 0 -1" castshadow="false" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <geom name="ground" type="plane" size="3 3 0.1" rgba="0.32 0.35 0.4 1" {WORLD_COLLISION}/>
    <camera name="scene" pos="0.35 -1.45 1.35" xyaxes="{_look_at((0.35, -1.45, 1.35), (0.6, 0.0, 0.5))}" fovy="50"/>
    {robot.body_xml}
    {chr(10).join(parts)}
  </worldbody>
  <actuator>
    {robot.actuator_xml}
  </actuator>
  <sensor>
    {robot.sensor_xml}
  </sensor>
</mujoco>
"""
