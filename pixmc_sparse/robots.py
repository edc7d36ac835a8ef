"""The two PixMC robots as MJCF built in code: a Franka Panda with its parallel gripper and a
KUKA LBR iiwa 7 (scaled 0.9, as in the original) with a 16-DoF Allegro hand.

Kinematics (joint origins, axes, limits) are the numbers of the original URDFs in ir413/mvp
(`assets/urdf/franka_description/robots/franka_panda.urdf`, `assets/urdf/kuka_allegro_description/kuka_allegro.urdf`);
geometry is primitive capsules/boxes between joint origins,
which is cheap to simulate and fast to render in software. Every model is written with
`eulerseq="XYZ"` so that a body's `euler` equals the URDF `rpy` of its joint origin.

Collision bits (documented in the README): robot geoms collide with the world (table, cube,
cabinet, ground) but never with each other (contype 1 / conaffinity 2 against world 2 / 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PI = math.pi

ROBOT_COLLISION = 'contype="1" conaffinity="2"'
ROBOT_RGBA = {"franka": "0.92 0.92 0.92 1", "kuka": "0.95 0.55 0.15 1"}
DARK_RGBA = "0.15 0.15 0.15 1"
LIMIT_SOLREF = "0.0084 1"  # joint-limit stiffness: time constant 2 x the 1/240 s physics step, critically damped


@dataclass(frozen=True)
class Robot:
    """Everything the tasks need to know about one robot model."""

    name: str
    body_xml: str  # the robot's <body> tree, placed under the world body
    actuator_xml: str  # one position actuator per DoF, in action order
    sensor_xml: str  # touch sensors on the arm links (arm-collision detection)
    joint_names: tuple[str, ...]  # DoFs in action order
    lower: np.ndarray  # joint limits (rad or m)
    upper: np.ndarray
    default_q: np.ndarray  # the PixMC default pose (before the reset noise)
    speed_scale: np.ndarray  # per-DoF multiplier of the action step
    grasp_sites: tuple[str, ...]  # fingertip grasp points: Franka (left, right); Kuka (index, middle, ring, thumb)
    palm_site: str | None  # Kuka palm point (oracle observation)
    camera: str = "hand_cam"

    @property
    def num_dofs(self) -> int:
        return len(self.joint_names)


def _fmt(v) -> str:
    return " ".join(f"{x:.6g}" for x in v)


class _Builder:
    """Tiny helper that writes nested <body> XML and collects actuators and touch sensors."""

    def __init__(self, scale: float, rgba: str):
        self.scale, self.rgba = scale, rgba
        self.lines: list[str] = []
        self.actuators: list[str] = []
        self.touch: list[str] = []

    def open(self, body: str, pos=(0, 0, 0), euler=(0, 0, 0), extra: str = "") -> None:
        p = np.asarray(pos, float) * self.scale
        self.lines.append(f'<body name="{body}" pos="{_fmt(p)}" euler="{_fmt(euler)}" gravcomp="1" {extra}>')

    def close(self) -> None:
        self.lines.append("</body>")

    def joint(self, name: str, lo: float, hi: float, kp: float, kv: float, effort: float, armature: float,
              kind: str = "hinge", axis=(0, 0, 1), damping: float = 0.0) -> None:
        # stiff limits: MuJoCo's default limit (time constant 0.02 s) let light Allegro joints pass their limits by
        # 0.2 rad; 2 physics steps is the stiffest stable setting
        self.lines.append(
            f'<joint name="{name}" type="{kind}" axis="{_fmt(axis)}" range="{lo:.6g} {hi:.6g}" '
            f'limited="true" armature="{armature:g}" damping="{damping:g}" solreflimit="{LIMIT_SOLREF}"/>'
        )
        self.actuators.append(
            f'<position name="{name}" joint="{name}" kp="{kp:g}" kv="{kv:g}" ctrlrange="{lo:.6g} {hi:.6g}" '
            f'ctrllimited="true" forcerange="{-effort:g} {effort:g}" forcelimited="true"/>'
        )

    def capsule(self, a, b, radius: float, mass: float, arm_link: str | None = None, rgba: str | None = None,
                collide: bool = True) -> None:
        a = np.asarray(a, float) * self.scale
        b = np.asarray(b, float) * self.scale
        r = radius * self.scale
        if np.linalg.norm(b - a) < 1e-9:  # a zero-length segment is a sphere
            geom = f'type="sphere" size="{r:.6g}" pos="{_fmt(a)}"'
            site_geom = f'type="sphere" size="{r + 0.01:.6g}" pos="{_fmt(a)}"'
        else:
            geom = f'type="capsule" size="{r:.6g}" fromto="{_fmt(a)} {_fmt(b)}"'
            site_geom = f'type="capsule" size="{r + 0.01:.6g}" fromto="{_fmt(a)} {_fmt(b)}"'
        coll = ROBOT_COLLISION if collide else 'contype="0" conaffinity="0"'
        self.lines.append(f'<geom {geom} mass="{mass:g}" rgba="{rgba or self.rgba}" {coll}/>')
        if arm_link is not None and collide:
            site = f"touch_{arm_link}_{len(self.touch)}"
            self.lines.append(f'<site name="{site}" {site_geom} group="5"/>')
            self.touch.append(site)

    def box(self, pos, half, mass: float, rgba: str | None = None, extra: str = "") -> None:
        p = np.asarray(pos, float) * self.scale
        h = np.asarray(half, float) * self.scale
        self.lines.append(
            f'<geom type="box" size="{_fmt(h)}" pos="{_fmt(p)}" mass="{mass:g}" rgba="{rgba or self.rgba}" '
            f'{ROBOT_COLLISION} {extra}/>'
        )

    def site(self, name: str, pos) -> None:  # grasp-point offsets are *not* scaled (as in the original)
        self.lines.append(f'<site name="{name}" pos="{_fmt(pos)}" size="0.005" group="5"/>')

    def camera(self, pos, xyaxes) -> None:  # fovy: 104.9 deg = the 224-px centre crop of a 120-deg-wide 298x224 image
        self.lines.append(f'<camera name="hand_cam" pos="{_fmt(pos)}" xyaxes="{_fmt(xyaxes)}" fovy="104.9"/>')
        self.lines.append(f'<site name="hand_cam" pos="{_fmt(pos)}" size="0.005" group="5"/>')  # for IK

    def sensors(self) -> str:
        return "\n".join(f'<touch name="{s}" site="{s}"/>' for s in self.touch)


# --------------------------------------------------------------------------------------------
# Franka Panda: 7 arm joints + 2 prismatic fingers (`franka_panda.urdf`)
# --------------------------------------------------------------------------------------------
FRANKA_DEFAULT_Q = np.array([1.157, -1.066, -0.155, -2.239, -1.841, 1.003, 0.469, 0.035, 0.035])


def franka() -> Robot:
    b = _Builder(1.0, ROBOT_RGBA["franka"])
    lim = [(-2.8973, 2.8973), (-1.7628, 1.7628), (-2.8973, 2.8973), (-3.0718, -0.0698),
           (-2.8973, 2.8973), (-0.0175, 3.7525), (-2.8973, 2.8973)]
    effort = [87, 87, 87, 87, 12, 12, 12]
    # (child origin xyz, rpy) of joints 1..7, then link masses (kg) and capsule radii (m)
    origins = [((0, 0, 0.333), (0, 0, 0)), ((0, 0, 0), (-PI / 2, 0, 0)), ((0, -0.316, 0), (PI / 2, 0, 0)),
               ((0.0825, 0, 0), (PI / 2, 0, 0)), ((-0.0825, 0.384, 0), (-PI / 2, 0, 0)),
               ((0, 0, 0), (PI / 2, 0, 0)), ((0.088, 0, 0), (PI / 2, 0, 0))]
    masses = [4.97, 0.65, 3.23, 3.59, 1.23, 1.67, 0.74]
    radii = [0.06, 0.06, 0.055, 0.055, 0.05, 0.045, 0.045]
    # geometry of each link: segments in the link frame (mostly "joint origin -> next joint origin")
    segs = [
        [((0, 0, -0.19), (0, 0, 0))],  # link1: the column above the base
        [((0, 0, 0), (0, -0.316, 0))],  # link2: the upper arm
        [((0, 0, 0), (0.0825, 0, 0))],  # link3: the elbow offset
        [((0, 0, 0), (-0.0825, 0.384, 0))],  # link4: the forearm
        [((0, 0, 0), (0, 0, 0))],  # link5: wrist
        [((0, 0, 0), (0.088, 0, 0))],  # link6: wrist offset
        [((0, 0, 0), (0, 0, 0.107))],  # link7: flange
    ]
    b.lines.append('<body name="panda_link0" pos="1 0 0" quat="0 0 0 1">')  # base at (1,0,0), yawed 180 deg
    # the base sits on the floor: it never moves, so it does not collide (and cannot trigger "arm collision")
    b.capsule((0, 0, 0.03), (0, 0, 0.14), 0.07, 0.0, collide=False)
    for j in range(7):
        (xyz, rpy) = origins[j]
        b.open(f"panda_link{j + 1}", xyz, rpy)
        b.joint(f"panda_joint{j + 1}", *lim[j], kp=400, kv=80, effort=effort[j], armature=0.1)
        for a, c in segs[j]:
            b.capsule(a, c, radii[j], masses[j], arm_link=f"panda_link{j + 1}")
    # hand: fixed at the flange, rotated -45 deg about z
    b.open("panda_hand", (0, 0, 0.107), (0, 0, -PI / 4))
    b.box((0, 0, 0.03), (0.03, 0.095, 0.028), 0.73, rgba=ROBOT_RGBA["franka"])
    b.camera((0.04, 0, 0.045), (0, 1, 0, 1, 0, 0))  # views along the hand's +z, image "up" = hand +x
    for side, sign in (("left", 1), ("right", -1)):
        b.open(f"panda_{side}finger", (0, 0, 0.0584))
        # Isaac drove the fingers with stiffness 1e6 and a 200 N limit; a stiff-but-stable MuJoCo analogue
        b.joint(f"panda_finger_joint{1 if sign > 0 else 2}", 0.0, 0.04, kp=2000, kv=100, effort=40,
                armature=0.2, kind="slide", axis=(0, sign, 0))
        # pad: its inner face is the finger frame's y = 0 plane, so the gap between pads is q_left + q_right
        b.box((0, sign * 0.0095, 0.032), (0.0105, 0.0095, 0.024), 0.015, rgba=DARK_RGBA,
              extra='condim="4" friction="1.5 0.02 0.0001" solref="0.01 1" solimp="0.95 0.99 0.001"')
        b.site(f"grasp_{side}", (0, 0, 0.045))
        b.close()
    b.close()  # hand
    for _ in range(7):
        b.close()
    b.close()  # link0
    return Robot(
        name="franka",
        body_xml="\n".join(b.lines),
        actuator_xml="\n".join(b.actuators),
        sensor_xml=b.sensors(),
        joint_names=tuple([f"panda_joint{j}" for j in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]),
        lower=np.array([lo for lo, _ in lim] + [0.0, 0.0]),
        upper=np.array([hi for _, hi in lim] + [0.04, 0.04]),
        default_q=FRANKA_DEFAULT_Q.copy(),
        speed_scale=np.array([1.0] * 7 + [0.1, 0.1]),
        grasp_sites=("grasp_left", "grasp_right"),
        palm_site=None,
    )


# --------------------------------------------------------------------------------------------
# KUKA LBR iiwa 7 + Allegro hand (`kuka_allegro.urdf`), whole actor scaled 0.9
# --------------------------------------------------------------------------------------------
KUKA_SCALE = 0.9
FINGER_LIM = [(-0.5585, 0.5585), (-0.2792, 1.7278), (-0.2792, 1.7278), (-0.2792, 1.7278)]
THUMB_LIM = [(0.2792, 1.5708), (-0.3316, 1.1519), (-0.2792, 1.7278), (-0.2792, 1.7627)]
# PD gains and efforts of the hand joints in the original (per joint index 0..3)
FINGER_KP, FINGER_KV = [600, 600, 600, 1000], [15, 20, 15, 15]
THUMB_KP, THUMB_KV = [1000, 1000, 1000, 600], [30, 20, 20, 15]


HAND_LINK_MASSES = [0.005, 0.125, 0.132, 0.12]  # proximal to distal (the last one includes the fingertip)


def _hand_chain(b: _Builder, name: str, origins, ends, lims, kps, kvs, grasp) -> list[str]:
    """One Allegro finger (or the thumb): 4 links, joint k at origins[k] (pos, rpy) of its parent, a capsule from
    the joint to ends[k], and the grasp-point site on the last link. Returns the joint names."""
    for k in range(4):
        b.open(f"{name}_link_{k}", *origins[k])
        # passive damping (not capped by the 0.7 Nm actuator limit, as the PD's kv is) keeps the light finger links
        # from whipping past their limits at 30 rad/s when the arm swings; they still close in ~0.3 s
        b.joint(f"{name}_joint_{k}", *lims[k], kp=kps[k], kv=kvs[k], effort=0.7, armature=0.005, damping=0.1)
        b.capsule((0, 0, 0), ends[k], 0.012, HAND_LINK_MASSES[k], rgba="0.9 0.9 0.9 1" if k == 3 else DARK_RGBA)
    b.site(f"grasp_{name}", grasp)
    for _ in range(4):
        b.close()
    return [f"{name}_joint_{k}" for k in range(4)]


def kuka() -> Robot:
    b = _Builder(KUKA_SCALE, ROBOT_RGBA["kuka"])
    lim = [(-2.9671, 2.9671), (-2.0944, 2.0944), (-2.9671, 2.9671), (-2.0944, 2.0944),
           (-2.9671, 2.9671), (-2.0944, 2.0944), (-3.0543, 3.0543)]
    effort = [320, 320, 176, 176, 110, 40, 40]
    origins = [((0, 0, 0.15), (0, 0, 0)), ((0, 0, 0.19), (PI / 2, 0, PI)), ((0, 0.21, 0), (PI / 2, 0, PI)),
               ((0, 0, 0.19), (PI / 2, 0, 0)), ((0, 0.21, 0), (-PI / 2, PI, 0)),
               ((0, 0.0607, 0.19), (PI / 2, 0, 0)), ((0, 0.081, 0.0607), (-PI / 2, PI, 0))]
    masses = [3.45, 3.48, 4.06, 3.48, 2.16, 2.35, 3.13]
    radii = [0.07, 0.07, 0.065, 0.065, 0.06, 0.055, 0.05]
    # each link's capsule runs from its joint origin to the next joint origin (link7 to the flange)
    nxt = [o[0] for o in origins[1:]] + [(0, 0, 0.071)]
    b.lines.append('<body name="iiwa7_link_0" pos="1 0 0" quat="0 0 0 1">')
    b.capsule((0, 0, 0.03), (0, 0, 0.12), 0.1, 0.0, collide=False)  # base on the floor: never collides
    for j in range(7):
        xyz, rpy = origins[j]
        b.open(f"iiwa7_link_{j + 1}", xyz, rpy)
        b.joint(f"iiwa7_joint_{j + 1}", *lim[j], kp=400, kv=80, effort=effort[j], armature=0.1)
        b.capsule((0, 0, 0), nxt[j], radii[j], masses[j], arm_link=f"iiwa7_link_{j + 1}")
    # flange (link_ee) and the Allegro mount, both fixed
    b.open("allegro_mount", (0, 0, 0.071))
    b.camera((0.05, 0, 0.02), (0, -1, 0, -1, 0, 0))  # views along the mount's +z, image "up" = mount -x
    b.open("palm_link", (0.008219, -0.02063, 0.08086), (0, -PI / 2, PI))
    b.box((-0.045, 0.009, -0.012), (0.055, 0.05, 0.0155), 0.42, rgba=DARK_RGBA)
    b.site("palm", (0, 0, 0))
    joint_names = [f"iiwa7_joint_{j}" for j in range(1, 8)]
    for name, pos, rpy in (("index", (0.05143, -0.03632, -0.0113), (PI, -PI / 2, -0.08726)),
                           ("middle", (0.05374, 0.00878, -0.0113), (PI, -PI / 2, 0.0)),
                           ("ring", (0.05143, 0.05387, -0.0113), (PI, -PI / 2, 0.08726))):
        joint_names += _hand_chain(b, name, [(pos, rpy), ((0, 0, 0), (PI, -PI / 2, PI / 2)),
                                             ((0.054, 0, 0), (0, 0, 0)), ((0.0384, 0, 0), (0, 0, 0))],
                                   [(0, 0, 0), (0.054, 0, 0), (0.0384, 0, 0), (0.04, 0, 0)],
                                   FINGER_LIM, FINGER_KP, FINGER_KV, grasp=(0.045, 0.01, 0))
    joint_names += _hand_chain(b, "thumb", [((-0.03675, -0.00813, -0.0295), (-PI / 2, -PI / 2, 1.48349)),
                                            ((0.005, 0, 0), (PI / 2, 0, 0)), ((0, 0, 0.0554), (PI, -PI / 2, 0)),
                                            ((0.0514, 0, 0), (0, 0, 0))],
                               [(0.005, 0, 0), (0, 0, 0.0554), (0.0514, 0, 0), (0.055, 0, 0)],
                               THUMB_LIM, THUMB_KP, THUMB_KV, grasp=(0.06, 0.01, 0))
    b.close()  # palm
    b.close()  # mount
    for _ in range(7):
        b.close()
    b.close()  # link0
    lower = [lo for lo, _ in lim] + [lo for lo, _ in FINGER_LIM] * 3 + [lo for lo, _ in THUMB_LIM]
    upper = [hi for _, hi in lim] + [hi for _, hi in FINGER_LIM] * 3 + [hi for _, hi in THUMB_LIM]
    return Robot(
        name="kuka",
        body_xml="\n".join(b.lines),
        actuator_xml="\n".join(b.actuators),
        sensor_xml=b.sensors(),
        joint_names=tuple(joint_names),
        lower=np.array(lower),
        upper=np.array(upper),
        default_q=np.array([0, -0.4, 0, -1.0, 0, 1.0, 0] + [0.0] * 16),
        speed_scale=np.ones(23),
        grasp_sites=("grasp_index", "grasp_middle", "grasp_ring", "grasp_thumb"),
        palm_site="palm",
    )


ROBOTS = {"franka": franka, "kuka": kuka}
