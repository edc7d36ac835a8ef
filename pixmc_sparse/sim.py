"""Batched physics for N copies of one task: one MjModel, N MjData, stepped by a small thread pool.

`mujoco.mj_step` and the renderer release the GIL, so a pool of threads (one per core) steps and
renders disjoint shards of envs in parallel; everything else (rewards, success counters,
observations) is vectorised numpy over all envs at once. Each env owns a random generator seeded
from (seed, env index), so results do not depend on the number of threads; without a seed, the
generators start from fresh OS entropy (gymnasium's convention), so two unseeded sims differ.
"""

from __future__ import annotations

import os
import queue
import threading

import mujoco
import numpy as np

from . import tasks
from .render import make_renderer

CONTROL_DT = 1.0 / 60.0
ACTION_SCALE = 7.5
RESET_NOISE = 0.25  # q = default + 0.25 * (U[0,1) - 0.5)
DOF_VELOCITY_SCALE = 0.1
OBS_CLIP = 5.0  # the original wrapper clipped observations to [-5, 5]
ARM_CONTACT_LIMIT = 1.0  # N: contact force on an arm link that ends the episode
SCENE_VIEW = (480, 640)  # (height, width) of the third-person frames of PixMCVectorEnv.render()


class _ShardThreads:
    """One long-lived thread per shard of envs. Shard k always runs on thread k, so each thread's
    MjData and OpenGL context stay with it (an EGL context is current in one thread only)."""

    def __init__(self, n: int):
        self.jobs = [queue.SimpleQueue() for _ in range(n)]
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._loop, args=(k,), daemon=True) for k in range(n)]
        for t in self.threads:
            t.start()

    def _loop(self, k: int) -> None:
        while True:
            job = self.jobs[k].get()
            if job is None:
                return
            fn, arg = job
            try:
                fn(arg)
                self.done.put(None)
            except BaseException as err:  # handed to the caller's thread
                self.done.put(err)

    def run(self, fn, args: list) -> None:
        """fn(args[k]) on thread k for every non-empty args[k]; re-raise the first error."""
        count = 0
        for k, a in enumerate(args):
            if a is not None and len(a):
                self.jobs[k].put((fn, a))
                count += 1
        errors = [e for e in (self.done.get() for _ in range(count)) if e is not None]
        if errors:
            raise errors[0]

    def close(self) -> None:
        for q in self.jobs:
            q.put(None)
        for t in self.threads:
            t.join()


def default_num_threads(num_envs: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        cores = os.cpu_count() or 1
    return max(1, min(cores, num_envs))


class BatchedSim:
    """N envs of one task. Arrays are (N, ...) numpy; `step` returns raw per-env results and the
    vector env adds the gymnasium face."""

    def __init__(self, task: tasks.Task, num_envs: int, obs_type: str, image_size: int, reward_level: str,
                 num_threads: int | None = None):
        self.task, self.num_envs, self.obs_type, self.image_size = task, num_envs, obs_type, image_size
        self.scales = task.scales[reward_level]
        self.max_steps = task.episode_length[reward_level] - 1  # the original resets at progress >= length - 1
        robot = self.robot = task.robot
        m = self.model = mujoco.MjModel.from_xml_string(tasks.scene_xml(task))
        # MuJoCo renders offscreen into a framebuffer of the model's size (the scene's <global offwidth offheight>);
        # grow it to fit both the hand-camera images and the third-person frames, or the renderer refuses them
        m.vis.global_.offheight = max(m.vis.global_.offheight, image_size, SCENE_VIEW[0])
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, image_size, SCENE_VIEW[1])
        self.datas = [mujoco.MjData(m) for _ in range(num_envs)]
        self.ndof = robot.num_dofs
        qadr = [int(m.jnt_qposadr[m.joint(j).id]) for j in robot.joint_names]
        dadr = [int(m.jnt_dofadr[m.joint(j).id]) for j in robot.joint_names]
        assert qadr == list(range(self.ndof)) and dadr == list(range(self.ndof)), "robot joints must come first"
        # sites read every step, in a fixed order: grasp points, [palm], [cube], [goal], [handle]
        names = list(robot.grasp_sites) + ([robot.palm_site] if robot.palm_site else [])
        names += ["cube"] * task.has_cube + ["goal"] * task.has_goal_marker + ["handle"] * (task.kind == "cabinet")
        self.site_ids = np.array([m.site(s).id for s in names])
        self.site_col = {s: k for k, s in enumerate(names)}
        self.ngrasp = len(robot.grasp_sites)
        self.cam_id = m.camera(robot.camera).id
        if task.has_cube:
            self.cube_qadr = int(m.jnt_qposadr[m.joint("cube").id])
            self.cube_dadr = int(m.jnt_dofadr[m.joint("cube").id])
            self.cube_z0 = tasks.cube_rest_z(robot.name)
        if task.has_goal_marker:
            self.goal_mocap = int(m.body_mocapid[m.body("goal").id])
        if task.kind == "cabinet":
            self.cab_mocap = int(m.body_mocapid[m.body("cabinet").id])
            self.drawer_qadr = int(m.jnt_qposadr[m.joint("drawer_top_joint").id])
            self.prop_qadr = [int(m.jnt_qposadr[m.joint(f"prop{k}").id]) for k in range(tasks.NUM_PROPS)]
            self.prop_pos0 = np.array([m.qpos0[a:a + 3] for a in self.prop_qadr])
        n = num_envs
        self.q = np.zeros((n, self.ndof))
        self.qd = np.zeros((n, self.ndof))
        self.sites = np.zeros((n, len(names), 3))
        self.touch = np.zeros((n, m.nsensordata))
        self.opening = np.zeros(n)
        self.targets = np.zeros((n, self.ndof))
        self.elapsed = np.zeros(n, dtype=np.int64)
        self.counter = np.zeros(n, dtype=np.int64)
        self.seed(None)  # fresh entropy; PixMCVectorEnv.reset(seed=...) reseeds
        self.pixels = np.zeros((n, image_size, image_size, 3), np.uint8) if obs_type == "pixels" else None
        # threads: one shard of envs each; a renderer per thread (GL contexts are per thread)
        self.num_threads = min(num_threads or default_num_threads(n), n)
        self.shards = np.array_split(np.arange(n), self.num_threads)
        self.owner = np.concatenate([np.full(len(s), k) for k, s in enumerate(self.shards)])
        self.workers = _ShardThreads(self.num_threads) if self.num_threads > 1 else None
        self._local = threading.local()
        if self.pixels is not None:  # build the renderers now: fail fast if OpenGL does not work
            self._map(lambda _: self._renderer(), np.arange(n))

    # ------------------------------------------------------------------ per-env work (threads)
    def _renderer(self):
        r = getattr(self._local, "renderer", None)
        if r is None:
            r = self._local.renderer = make_renderer(self.model, self.image_size, self.image_size)
        return r

    def _gather(self, i: int) -> None:
        d = self.datas[i]
        self.q[i] = d.qpos[:self.ndof]
        self.qd[i] = d.qvel[:self.ndof]
        self.sites[i] = d.site_xpos[self.site_ids]
        self.touch[i] = d.sensordata
        if self.task.kind == "cabinet":
            self.opening[i] = d.qpos[self.drawer_qadr]

    def _render(self, i: int) -> None:
        r = self._renderer()
        r.update_scene(self.datas[i], camera=self.cam_id)
        r.render(out=self.pixels[i])

    def _step_shard(self, shard) -> None:
        m = self.model
        for i in shard:
            d = self.datas[i]
            d.ctrl[:] = self.targets[i]
            mujoco.mj_step(m, d, tasks.SUBSTEPS)
            mujoco.mj_kinematics(m, d)  # positions of the state we report (mj_step leaves them one substep old)
            self._gather(i)
            if self.pixels is not None:
                mujoco.mj_camlight(m, d)  # the camera follows the hand
                self._render(i)

    def _map(self, fn, envs) -> None:
        """fn(part) for the envs of each shard, on that shard's thread."""
        envs = np.asarray(envs, dtype=np.int64)
        if self.workers is None:
            fn(envs)
        else:
            self.workers.run(fn, [envs[self.owner[envs] == k] for k in range(self.num_threads)])

    # ------------------------------------------------------------------ resets
    def seed(self, seed: int | None) -> None:
        """New per-env generators: env i draws from (seed, i); without a seed, from (fresh OS entropy, i)."""
        base = np.random.SeedSequence().entropy if seed is None else seed
        self.rngs = [np.random.default_rng([base, i]) for i in range(self.num_envs)]

    def _reset_one(self, i: int) -> None:
        task, robot, rng, m, d = self.task, self.robot, self.rngs[i], self.model, self.datas[i]
        mujoco.mj_resetData(m, d)
        q = np.clip(robot.default_q + RESET_NOISE * (rng.random(self.ndof) - 0.5), robot.lower, robot.upper)
        d.qpos[:self.ndof] = q
        d.ctrl[:] = q
        self.targets[i] = q
        if task.has_cube:
            xy = np.asarray(task.object_init) + rng.uniform(-1, 1, 2) * np.asarray(task.object_delta)
            d.qpos[self.cube_qadr:self.cube_qadr + 7] = [xy[0], xy[1], self.cube_z0, 1, 0, 0, 0]
        if task.has_goal_marker:
            d.mocap_pos[self.goal_mocap] = np.asarray(task.goal_init) + rng.uniform(-1, 1, 3) * np.asarray(task.goal_delta)
        if task.kind == "cabinet":
            off = rng.uniform(-1, 1, 3) * np.asarray(task.cabinet_delta)
            d.mocap_pos[self.cab_mocap] = np.asarray(task.cabinet_init) + off
            for a, p0 in zip(self.prop_qadr, self.prop_pos0):
                d.qpos[a:a + 7] = [*(p0 + off), 1, 0, 0, 0]
        mujoco.mj_forward(m, d)
        self.elapsed[i] = 0
        self.counter[i] = 0

    def _reset_shard(self, shard) -> None:
        for i in shard:
            self._reset_one(i)
            self._gather(i)
            if self.pixels is not None:
                self._render(i)

    def reset(self, envs=None) -> None:
        self._map(self._reset_shard, np.arange(self.num_envs) if envs is None else envs)

    def place(self, i: int, robot_q=None, cube_pos=None, goal_pos=None, opening=None) -> None:
        """Put env i into a hand-made state (tests, scripted demos): joint positions (targets follow),
        cube position, goal point, drawer opening. Refreshes the gathered arrays and the image."""
        d = self.datas[i]
        if robot_q is not None:
            d.qpos[:self.ndof] = robot_q
            d.qvel[:self.ndof] = 0
            self.targets[i] = robot_q
            d.ctrl[:] = robot_q
        if cube_pos is not None:
            d.qpos[self.cube_qadr:self.cube_qadr + 7] = [*cube_pos, 1, 0, 0, 0]
            d.qvel[self.cube_dadr:self.cube_dadr + 6] = 0
        if goal_pos is not None:
            d.mocap_pos[self.goal_mocap] = goal_pos
        if opening is not None:
            d.qpos[self.drawer_qadr] = opening
        mujoco.mj_forward(self.model, d)
        self._gather(i)
        if self.pixels is not None:
            self._render(i)

    # ------------------------------------------------------------------ state (checkpoints)
    STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION  # everything mj_step reads: exact continuation

    def get_state(self) -> dict:
        """Copies of everything the next steps depend on: each env's MuJoCo integration state (positions, velocities,
        controls, warm-starts, mocap bodies: the goal and cabinet placements), joint targets, step and success counters,
        random generator, and what was read off the last step (the arrays the rewards and observations use, images)."""
        m, spec = self.model, self.STATE_SPEC
        physics = np.empty((self.num_envs, mujoco.mj_stateSize(m, spec)))
        for i, d in enumerate(self.datas):
            mujoco.mj_getState(m, d, physics[i], spec)
        state = {"physics": physics, "rngs": [rng.bit_generator.state for rng in self.rngs]}
        for name in ("targets", "elapsed", "counter", "q", "qd", "sites", "touch", "opening", "pixels"):
            value = getattr(self, name)
            state[name] = None if value is None else value.copy()
        return state

    def set_state(self, state: dict) -> None:
        """The inverse of get_state, on a sim of the same task, number of envs and observation settings."""
        m, spec = self.model, self.STATE_SPEC
        physics = np.asarray(state["physics"])
        if physics.shape != (self.num_envs, mujoco.mj_stateSize(m, spec)) or len(state["rngs"]) != self.num_envs:
            raise ValueError(f"the state is of {physics.shape[0]} envs with {physics.shape[-1]} physics values each; this "
                             f"sim has {self.num_envs} envs with {mujoco.mj_stateSize(m, spec)} (another task or size?)")
        for name in ("targets", "elapsed", "counter", "q", "qd", "sites", "touch", "opening", "pixels"):
            value = getattr(self, name)
            if (value is None) != (state[name] is None) or (value is not None and value.shape != state[name].shape):
                raise ValueError(f"the state's {name!r} does not fit this sim (other observation settings?)")
            if value is not None:
                setattr(self, name, np.array(state[name], dtype=value.dtype))
        for i, d in enumerate(self.datas):
            mujoco.mj_setState(m, d, physics[i], spec)
            mujoco.mj_forward(m, d)  # derived quantities (positions for rendering) of the restored state
        for rng, rng_state in zip(self.rngs, state["rngs"]):
            rng.bit_generator.state = rng_state

    # ------------------------------------------------------------------ stepping
    def apply_actions(self, actions: np.ndarray) -> None:
        """target <- clamp(target + speed * dt * a * 7.5, limits): a moves the target, not the joint."""
        r = self.robot
        self.targets = np.clip(self.targets + r.speed_scale * CONTROL_DT * actions * ACTION_SCALE, r.lower, r.upper)

    def physics(self) -> None:
        self._map(self._step_shard, np.arange(self.num_envs))
        self.elapsed += 1

    def close(self) -> None:
        """Free the renderers (each in the thread that owns its GL context) and stop the threads."""
        if self.workers is not None:
            self._map(lambda _: self._free_renderer(), np.arange(self.num_envs))
            self.workers.close()
            self.workers = None
        self._free_renderer()

    def _free_renderer(self) -> None:
        r = getattr(self._local, "renderer", None)
        if r is not None:
            r.close()
            self._local.renderer = None

    # ------------------------------------------------------------------ task quantities
    def point(self, name: str) -> np.ndarray:
        return self.sites[:, self.site_col[name]]

    @property
    def grasp(self) -> np.ndarray:
        return self.sites[:, :self.ngrasp]

    def goal_in_camera(self) -> np.ndarray:
        """(num_envs, 3): the goal minus the hand camera's position, in the camera's axes (it looks along its -z)."""
        out = np.empty((self.num_envs, 3))
        for i, d in enumerate(self.datas):
            mujoco.mj_camlight(self.model, d)  # the camera's pose from the current kinematics (state envs don't render)
            out[i] = d.cam_xmat[self.cam_id].reshape(3, 3).T @ (d.mocap_pos[self.goal_mocap] - d.cam_xpos[self.cam_id])
        return out

    def hand(self) -> np.ndarray:
        """Reach's hand point: midpoint of the Franka finger points, the Kuka index fingertip point."""
        return self.grasp.mean(axis=1) if self.robot.name == "franka" else self.grasp[:, 0]

    def raw_terms(self, actions: np.ndarray) -> dict:
        kind, rname = self.task.kind, self.robot.name
        if kind == "reach":
            return tasks.reach_terms(self.hand(), self.point("goal"), actions)
        if kind == "pick":
            return tasks.pick_terms(rname, self.grasp, self.point("cube"), actions)
        if kind == "move":
            return tasks.move_terms(rname, self.grasp, self.point("cube"), self.point("goal"), actions)
        return tasks.cabinet_terms(rname, self.grasp, self.point("handle"), self.opening, actions)

    def success_condition(self) -> np.ndarray:
        kind, rname = self.task.kind, self.robot.name
        if kind == "reach":
            return tasks.reach_success(self.hand(), self.point("goal"))
        if kind == "pick":
            return tasks.pick_success(self.point("cube"))
        if kind == "move":
            return tasks.move_success(rname, self.point("cube"), self.point("goal"))
        return tasks.cabinet_success(rname, self.grasp, self.point("handle"), self.opening)

    def update_counter(self, cond: np.ndarray) -> None:
        """+1 while the condition holds; a break before `success_steps` starts the count again."""
        k = self.task.success_steps
        self.counter = np.where(cond, self.counter + 1, np.where(self.counter >= k, self.counter, 0))

    @property
    def succeeded(self) -> np.ndarray:
        return self.counter >= self.task.success_steps

    def arm_collision(self) -> np.ndarray:
        return (self.touch > ARM_CONTACT_LIMIT).any(axis=1)

    def cube_fell(self) -> np.ndarray:
        if not self.task.has_cube:
            return np.zeros(self.num_envs, bool)
        return (self.cube_z0 - self.point("cube")[:, 2]) > self.task.fall_threshold

    # ------------------------------------------------------------------ observations
    def robot_state(self) -> np.ndarray:
        r = self.robot
        q = 2.0 * (self.q - r.lower) / (r.upper - r.lower) - 1.0
        return np.concatenate([q, DOF_VELOCITY_SCALE * self.qd], axis=1)

    def task_state(self) -> np.ndarray:
        """The oracle observation after the robot state, in the layout of the original's compute_oracle_obs
        (ir413/mvp pixmc/tasks/<task>.py, obs_type "oracle"): Reach: hand, goal, goal - hand; Pick/Move/Cabinet: the
        grasp points (Kuka: palm first), the cube or handle, [Move: the goal], target - each grasp point, then
        Cabinet: travel left to full opening, Pick: height left to the goal, Move: goal - cube."""
        kind, g = self.task.kind, self.grasp
        n = self.num_envs
        if kind == "reach":
            h, goal = self.hand(), self.point("goal")
            parts = [h, goal, goal - h]
        else:
            target = self.point("handle") if kind == "cabinet" else self.point("cube")
            points = g if self.robot.name == "franka" else np.concatenate([self.point("palm")[:, None], g], axis=1)
            parts = [points.reshape(n, -1), target]
            if kind == "move":
                parts.append(self.point("goal"))
            parts.append((target[:, None] - g).reshape(n, -1))
            if kind == "cabinet":
                parts.append((tasks.DRAWER_TRAVEL - self.opening)[:, None])
            elif kind == "pick":
                parts.append((tasks.GOAL_HEIGHT - target[:, 2])[:, None])
            else:
                parts.append(self.point("goal") - target)
        return np.concatenate(parts, axis=1)

    def observation(self) -> dict:
        state = self.robot_state()
        if self.obs_type == "state":
            state = np.concatenate([state, self.task_state()], axis=1)
        obs = {"state": np.clip(state, -OBS_CLIP, OBS_CLIP).astype(np.float32)}
        if self.pixels is not None:
            obs["pixels"] = self.pixels.transpose(0, 3, 1, 2).copy()  # a copy: resets must not change it
        return obs
