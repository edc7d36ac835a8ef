"""The gymnasium faces of the batched simulation: a VectorEnv (what the training scripts use) and a
single Env (what `gymnasium.make("pixmc_sparse/KukaPick-v0")` returns).

Autoreset is SAME_STEP: when an episode ends, `step` resets that env at once and returns the
first observation of the next episode; the last observation of the ended episode is in
`info["final_obs"]` (same structure as the observation, rows valid where `info["_final_obs"]`).
`step_without_reset` is the same step without the autoreset (the single env is built on it).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from . import coverage, tasks
from .sim import OBS_CLIP, SCENE_VIEW, BatchedSim

OBS_TYPES = ("pixels", "state")
MIN_IMAGE_SIZE = 16


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def check_seed(seed) -> None:
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")


def check_args(task: str, num_envs: int, obs_type: str, image_size: int, reward_level: str,
               num_threads: int | None = None, seed: int | None = None) -> None:
    """Fail fast, with the valid choices in the message."""
    tasks.check_task(task)
    if reward_level not in tasks.REWARD_LEVELS:
        raise ValueError(f"unknown reward_level {reward_level!r}; choose one of: {', '.join(tasks.REWARD_LEVELS)}")
    if obs_type not in OBS_TYPES:
        raise ValueError(f"unknown obs_type {obs_type!r}; choose one of: {', '.join(OBS_TYPES)}")
    if not _is_int(num_envs) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    if not _is_int(image_size) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be an integer >= {MIN_IMAGE_SIZE} (pixels), got {image_size!r}")
    if num_threads is not None and (not _is_int(num_threads) or num_threads < 1):
        raise ValueError(f"num_threads must be None (one per available core) or an integer >= 1, got {num_threads!r}")
    check_seed(seed)


def _single_obs_space(sim: BatchedSim) -> spaces.Dict:
    sim_state = sim.observation()["state"]
    state = spaces.Box(-OBS_CLIP, OBS_CLIP, shape=sim_state.shape[1:], dtype=np.float32)
    if sim.obs_type == "state":
        return spaces.Dict({"state": state})
    s = sim.image_size
    return spaces.Dict({"pixels": spaces.Box(0, 255, shape=(3, s, s), dtype=np.uint8), "state": state})


def _check_actions(actions, shape) -> np.ndarray:
    a = np.asarray(actions, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"actions must have shape {shape} (num_envs, action_dim), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("actions contain NaN or inf; PixMC actions must be finite values in [-1, 1]")
    return np.clip(a, -1.0, 1.0)  # the original wrapper clipped actions to [-1, 1]


class PixMCVectorEnv(gym.vector.VectorEnv):
    """N envs of one PixMC-Sparse task, stepped in-process by a thread pool.

    info keys of `step`:
      reward_terms      {term: float32 (N,)} each term's contribution to the reward (scale x value;
                        terms dropped at this reward level are 0); they sum to the reward
      success           bool (N,) the outcome of episodes that ended this step (valid where `_success`)
      success_condition bool (N,) whether the task's success condition holds this step
      final_obs         last observation of episodes that ended this step (valid where `_final_obs`)
      episode_cells     {part: int64 (N,)} distinct coverage cells of the episodes that ended this step (valid where
                        `_success`): "hand", and "object" for tasks with a cube or drawer (see `coverage`)

    `coverage` (a pixmc_sparse.coverage.Coverage) counts the cells every env has visited since it was made.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(self, task: str, num_envs: int = 1, obs_type: str = "pixels", image_size: int = 84,
                 reward_level: str = "sparse", seed: int | None = None, num_threads: int | None = None,
                 render_mode: str | None = None):
        check_args(task, num_envs, obs_type, image_size, reward_level, num_threads, seed)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.task_name, self.reward_level, self.obs_type = task, reward_level, obs_type
        # without a seed the per-env generators start from fresh entropy; with one, the first reset() reseeds them
        self.sim = BatchedSim(tasks.make_task(task), int(num_envs), obs_type, int(image_size), reward_level,
                              None if num_threads is None else int(num_threads))
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self._seed = seed
        self._viewer = None
        self.reward_scales = dict(self.sim.scales)
        self.max_episode_steps = self.sim.max_steps
        self.sim.reset()
        shapes = {"hand": coverage.GRID}
        if self.sim.task.has_cube or self.sim.task.kind == "cabinet":
            shapes["object"] = coverage.GRID if self.sim.task.has_cube else (coverage.OPENING_BINS,)
        self.coverage = coverage.Coverage(self.num_envs, shapes)
        self.single_observation_space = _single_obs_space(self.sim)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Box(-1.0, 1.0, shape=(self.sim.ndof,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.closed = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every env. A seed reseeds the per-env generators (env i draws from (seed, i));
        without one, the first reset uses the `seed` given to `make`, and later resets (or all of them,
        if `make` had no seed either) continue the generators, which started from fresh entropy."""
        check_seed(seed)
        if seed is None and self._seed is not None:
            seed, self._seed = self._seed, None
        if seed is not None:
            self.sim.seed(seed)
            self.action_space.seed(seed)
        self.sim.reset()
        self.coverage.end()
        self.coverage.visit(self._cells())
        return self.sim.observation(), {"success_condition": self.sim.success_condition()}

    def _cells(self, envs=None) -> dict:
        """The coverage cells each env (of all, or of `envs`) is in now."""
        sim = self.sim
        rows = slice(None) if envs is None else envs
        cells = {"hand": coverage.grid_cells(sim.hand()[rows])}
        if sim.task.has_cube:
            cells["object"] = coverage.grid_cells(sim.point("cube")[rows])
        elif sim.task.kind == "cabinet":
            cells["object"] = coverage.opening_cells(sim.opening[rows])
        return cells

    def step_without_reset(self, actions):
        """`step` without the autoreset: move the targets, step the physics, score the new state. Returns
        (obs, reward, terminated, truncated, info) as `step` does, except that envs whose episode ended are not
        reset (and info has no `final_obs`): as with a gymnasium Env, call `reset` before stepping them again."""
        actions = _check_actions(actions, (self.num_envs, self.sim.ndof))
        sim = self.sim
        sim.apply_actions(actions)
        sim.physics()
        raw = sim.raw_terms(actions)
        terms = {k: (self.reward_scales[k] * v).astype(np.float32) for k, v in raw.items()}
        reward = np.sum([t.astype(np.float64) for t in terms.values()], axis=0).astype(np.float32)
        cond = sim.success_condition()
        sim.update_counter(cond)
        terminated = sim.arm_collision() | sim.cube_fell()
        truncated = (sim.elapsed >= sim.max_steps) & ~terminated
        done = terminated | truncated
        self.coverage.visit(self._cells())
        info = {"reward_terms": terms, "success_condition": cond, "success": sim.succeeded & done,
                "_success": done.copy(), "episode_cells": self.coverage.end(np.flatnonzero(done))}
        return sim.observation(), reward, terminated, truncated, info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.step_without_reset(actions)
        done = terminated | truncated
        if done.any():  # SAME_STEP autoreset: keep the last observation, reset, observe again
            info["final_obs"], info["_final_obs"] = obs, done.copy()
            self.sim.reset(np.flatnonzero(done))
            self.coverage.visit(self._cells(np.flatnonzero(done)), np.flatnonzero(done))
            obs = self.sim.observation()
        return obs, reward, terminated, truncated, info

    def get_state(self) -> dict:
        """The whole state of the N envs, to continue exactly where they are (checkpoints): the physics, placements,
        counters and random generators of every env (BatchedSim.get_state), the coverage counts, and the seed the
        first reset has not used yet. Plain numpy arrays, lists and dicts: `torch.save` / `pickle` take it."""
        return {"task": self.task_name, "sim": self.sim.get_state(), "coverage": self.coverage.get_state(),
                "pending_seed": self._seed}

    def set_state(self, state: dict) -> None:
        """Continue from `get_state()` of an env made with the same task and arguments; anything else is refused."""
        if not isinstance(state, dict) or not {"task", "sim", "coverage"} <= set(state):
            raise ValueError("not a state of PixMCVectorEnv.get_state()")
        if state["task"] != self.task_name:
            raise ValueError(f"the state is of task {state['task']!r}, this env runs {self.task_name!r}")
        self.sim.set_state(state["sim"])
        self.coverage.set_state(state["coverage"])
        self._seed = state["pending_seed"]

    def render(self):
        """A third-person view of env 0 (for videos), 480x640 RGB."""
        if self.render_mode != "rgb_array":
            return None
        if self._viewer is None:
            from .render import make_renderer

            self._viewer = make_renderer(self.sim.model, *SCENE_VIEW)
        self._viewer.update_scene(self.sim.datas[0], camera="scene")
        return self._viewer.render()

    def close_extras(self, **kwargs):
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
        self.sim.close()


class PixMCEnv(gym.Env):
    """One env (no batch axis, no autoreset) for `gymnasium.make("pixmc_sparse/<Task>-v0")`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(self, task: str = "FrankaReach", obs_type: str = "pixels", image_size: int = 84,
                 reward_level: str = "sparse", render_mode: str | None = None):
        self._vec = PixMCVectorEnv(task, 1, obs_type, image_size, reward_level, num_threads=1, render_mode=render_mode)
        self.observation_space = self._vec.single_observation_space
        self.action_space = self._vec.single_action_space
        self.render_mode = render_mode
        self.reward_scales = self._vec.reward_scales

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:  # draw the env's generator from gymnasium's np_random, so reset() stays reproducible
            seed = int(self.np_random.integers(2**31))
        obs, info = self._vec.reset(seed=seed)
        return {k: v[0] for k, v in obs.items()}, {"success_condition": bool(info["success_condition"][0])}

    def step(self, action):
        action = np.asarray(action)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} (action_dim,), got {action.shape}")
        obs, reward, terminated, truncated, vec_info = self._vec.step_without_reset(action[None])  # a batch of one
        info = {"reward_terms": {k: float(v[0]) for k, v in vec_info["reward_terms"].items()},
                "success_condition": bool(vec_info["success_condition"][0]), "success": bool(vec_info["success"][0])}
        return {k: v[0] for k, v in obs.items()}, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self):
        return self._vec.render()

    def close(self):
        self._vec.close()

