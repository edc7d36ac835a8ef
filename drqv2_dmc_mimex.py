# DrQ-v2 (Yarats et al. 2021) + MIMEx (Lin & Jabri, NeurIPS 2023) on DeepMind Control from pixels, CleanRL style.
# Off-policy DDPG with random-shift augmentation; the MIMEx bonus is computed at sample time on the replayed
# sequence of the last T observations ending at each sampled transition (online encoder features, no grad),
# added to the batch reward (r + beta * r_i) before the critic target, and the MIMEx model trains on that batch.
# Defaults are the authors' MIMEx DMC runs (batch 1024, 1-step returns, the task's DrQ-v2 preset), so `--beta 0`
# is the paper's "noise" baseline on DMC and skips MIMEx entirely; `--preset drqv2` gives published DrQ-v2.
# --checkpoint-every N (frames) writes runs/{run_name}/checkpoint.pt, replay and envs included; --resume runs/{run_name}
# continues that run exactly, as if it had never stopped.
# Docs: docs/drqv2_dmc_mimex.md; README.md, "DeepMind Control (DrQ-v2)".
# x-axis everywhere: frames (agent steps x action repeat).
import collections
import copy
import ctypes.util
import dataclasses
import os
import random
import sys
import time
from dataclasses import dataclass
from typing import Literal, Optional

import imageio.v2 as imageio
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro
from torch.utils.tensorboard import SummaryWriter

# Headless OpenGL, chosen before dm_control imports mujoco (MuJoCo reads MUJOCO_GL once; DrQ-v2's train.py sets it
# too): the user's MUJOCO_GL is kept, else EGL (software Mesa on CPUs, the driver on GPUs), else OSMesa. If the
# library is missing, MuJoCo's GL is disabled so that the imports still work, and the first render says what to install.
GL_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}
GL_FIX = ("Install a headless OpenGL on Debian/Ubuntu with\n"
          "    sudo apt-get install -y --no-install-recommends libegl1 libopengl0 libgl1-mesa-dri"
          "    (EGL, used by default)\n"
          "or  sudo apt-get install -y --no-install-recommends libosmesa6    (then set MUJOCO_GL=osmesa)")
GL_FOUND = [backend for backend, lib in GL_LIBRARIES.items() if ctypes.util.find_library(lib)]
GL_BACKEND = os.environ.get("MUJOCO_GL") or (GL_FOUND + ["egl"])[0]
GL_MISSING = GL_BACKEND in GL_LIBRARIES and ctypes.util.find_library(GL_LIBRARIES[GL_BACKEND]) is None
os.environ["MUJOCO_GL"] = "disable" if GL_MISSING else GL_BACKEND
if GL_BACKEND in GL_LIBRARIES and not GL_MISSING:
    os.environ["PYOPENGL_PLATFORM"] = GL_BACKEND  # PyOpenGL (dm_control's renderer) must agree with MuJoCo

# isort: split
import mujoco  # noqa: E402  (after MUJOCO_GL is set, see above)
from dm_control import suite  # noqa: E402


class RenderingUnavailable(RuntimeError):
    """No working headless OpenGL for dm_control's offscreen renderer."""


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment (part of the run name)"""
    seed: int = 1
    """seed of python, numpy, torch, the replay sampler and the envs"""
    torch_deterministic: bool = True
    """if toggled, torch uses deterministic algorithms (cudnn included); off may be faster on a GPU"""
    cuda: bool = True
    """if toggled, use CUDA when it is available (falls back to the CPU)"""
    track: bool = False
    """if toggled, also log to Weights and Biases (needs `pip install wandb`)"""
    wandb_project_name: str = "pixmc-sparse"
    """the wandb project name"""
    wandb_entity: Optional[str] = None
    """the entity (team) of the wandb project"""
    capture_video: bool = False
    """if toggled, save the first episode of every evaluation to `videos/{run_name}`"""
    save_model: bool = False
    """if toggled, save encoder, actor, critic (and MIMEx) to `runs/{run_name}/{exp_name}.cleanrl_model`"""
    checkpoint_every: int = 10_000
    """write runs/{run_name}/checkpoint.pt (all --resume needs, the replay included) every this many frames (0: never);
    10k (DrQ-v2's evaluation interval): 20-60 min of a batch-256 run on 2 CPU cores; a full default replay is 2.3 GB"""
    resume: Optional[str] = None
    """a run folder (runs/{run_name}) with a checkpoint.pt: continue that run exactly, in that folder; flags left out
    take the run's values, flags given must equal them (but --checkpoint-every, --capture-video, --track)"""

    # Environment
    task: str = "cartpole_swingup_sparse"
    """a dm_control suite task as `domain_task` (e.g. acrobot_swingup, finger_turn_hard, quadruped_run;
    cup = ball_in_cup)"""
    action_repeat: int = 2
    """frames per agent step (the action is repeated)"""
    frame_stack: int = 3
    """frames stacked in an observation"""
    image_size: int = 84
    """side of the square camera image (pixels)"""
    fast_render: bool = False
    """if toggled, render without shadows, reflections and skybox (~6x faster on a CPU; not the published look)"""

    # Algorithm specific arguments (None: the task's preset, filled in by `resolve_args`)
    preset: Literal["mimex", "drqv2"] = "mimex"
    """defaults of --batch-size and --nstep: mimex = the authors' MIMEx DMC runs, every arm (batch 1024, 1-step
    returns); drqv2 = published DrQ-v2 (batch 256, 3-step returns; walker: 512, 1-step)"""
    total_frames: Optional[int] = None
    """total frames of the experiment (None: the task's DrQ-v2 preset: easy 1.1M, medium 3.1M, hard 30.1M)"""
    buffer_size: int = 100_000
    """replay capacity in agent steps; each 84x84 frame is stored once as uint8 (~21 KB): 100,000 ~ 2.1 GB
    (DrQ-v2: 1M)"""
    batch_size: Optional[int] = None
    """transitions per update (None: 1024 with --preset mimex; 256 with --preset drqv2, walker 512)"""
    nstep: Optional[int] = None
    """n of the n-step return (None: 1 with --preset mimex; 3 with --preset drqv2, walker 1)"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.01
    """Polyak coefficient of the target critic"""
    learning_rate: Optional[float] = None
    """learning rate of the encoder, actor and critic (Adam) (None: 1e-4; humanoid 8e-5, as DrQ-v2's configs)"""
    feature_dim: Optional[int] = None
    """output of the actor and critic trunks (Linear -> LayerNorm -> Tanh) (None: 50; humanoid 100, as DrQ-v2's)"""
    hidden_dim: int = 1024
    """hidden width of the actor and critic MLPs"""
    bf16: bool = False
    """if toggled, run the conv encoder in bf16 autocast, channels-last (4-5x faster with AMX/AVX-512 BF16;
    not the paper's)"""
    update_every: int = 2
    """agent steps between updates"""
    num_seed_frames: int = 4000
    """frames before the first update"""
    num_expl_steps: int = 2000
    """agent steps with uniformly random actions at the start"""
    std_start: float = 1.0
    """exploration std at agent step 0"""
    std_end: float = 0.1
    """exploration std after `std_schedule_steps`"""
    std_schedule_steps: Optional[int] = None
    """agent steps of the linear std schedule (None: the task's DrQ-v2 preset: easy 100k, medium 500k, hard 2M)"""
    std_clip: float = 0.3
    """clip of the target policy's noise"""
    eval_every_frames: int = 10_000
    """frames between evaluations (plus one at the end of training)"""
    eval_episodes: int = 10
    """episodes per evaluation (mean action)"""

    # MIMEx arguments (names as in ppo_pixmc_mimex.py)
    beta: float = 0.05
    """coefficient of the intrinsic reward: the critic learns r + beta * r_i; 0 = plain DrQ-v2 (no MIMEx at all)"""
    beta_anneal: bool = False
    """if toggled, beta decays linearly to 0 over the run"""
    seq_len: int = 5
    """T: agent steps per MIMEx sequence (the last T steps up to the sampled one; all-zero pixels before the
    episode start)"""
    mask_ratio: float = 0.7
    """fraction of the sequence that is masked (time steps; feature entries with --mask-type feature)"""
    mask_type: Literal["time", "feature", "fixed"] = "time"
    """time: random time steps; feature: random feature entries; fixed: always the last steps (future prediction)"""
    n_mask: int = 1
    """K: average each sequence's loss over K independent maskings (one batched forward pass)"""
    mimex_embed_dim: int = 128
    """width of the MIMEx encoder"""
    mimex_depth: int = 4
    """Transformer blocks of the MIMEx encoder"""
    mimex_heads: int = 4
    """attention heads of the MIMEx encoder"""
    decoder_dim: int = 64
    """width of the MIMEx decoder"""
    decoder_depth: int = 1
    """Transformer blocks of the MIMEx decoder"""
    decoder_heads: int = 2
    """attention heads of the MIMEx decoder"""
    mimex_lr: float = 1e-4
    """Adam learning rate of the MIMEx model (it trains on every sampled batch)"""


def split_task(task: str):
    """`domain_task` -> (domain, task); `cup` means `ball_in_cup`; domains may contain `_` (point_mass, ball_in_cup)."""
    full = task.replace("cup_", "ball_in_cup_", 1) if task.startswith("cup_") else task
    for domain, name in suite.ALL_TASKS:
        if full == f"{domain}_{name}":
            return domain, name
    tasks = ", ".join(sorted(f"{d}_{t}" for d, t in suite.ALL_TASKS))
    raise ValueError(f"unknown --task {task!r}; dm_control suite tasks: {tasks}")


# DrQ-v2's task presets (facebookresearch/drqv2 cfgs/task/{easy,medium,hard}.yaml): frames of training and agent
# steps of the linear exploration-std schedule. Each task's yaml inherits one of them; the MIMEx authors' task yamls
# (mimex-dmc/cfgs/task/) inherit medium, as DrQ-v2's do for the same tasks. Tasks DrQ-v2 has no yaml for: medium.
LEVELS = {"easy": (1_100_000, 100_000), "medium": (3_100_000, 500_000), "hard": (30_100_000, 2_000_000)}
EASY_TASKS = {"ball_in_cup_catch", "cartpole_balance", "cartpole_balance_sparse", "cartpole_swingup", "finger_spin",
              "hopper_stand", "pendulum_swingup", "walker_stand", "walker_walk"}
HARD_TASKS = {"humanoid_run", "humanoid_stand", "humanoid_walk"}


def task_level(task: str) -> str:
    """easy, medium or hard: the DrQ-v2 preset of a task."""
    full = "_".join(split_task(task))
    return "easy" if full in EASY_TASKS else "hard" if full in HARD_TASKS else "medium"


def resolve_args(args: Args) -> Args:
    """Fill every field left at None with the task's preset; explicit flags win.
    --preset mimex: mimex-dmc/cfgs/config.yaml (batch_size 1024, nstep 1, for every arm: no_expl, expl, icm, rnd).
    --preset drqv2: drqv2 cfgs/config.yaml (256, 3) and cfgs/task/walker_*.yaml (512, 1).
    Both: cfgs/task/humanoid_*.yaml (lr 8e-5, feature_dim 100; the MIMEx authors ran no humanoid task)."""
    domain, _ = split_task(args.task)
    total_frames, std_schedule_steps = LEVELS[task_level(args.task)]
    if args.preset == "mimex":
        batch_size, nstep = 1024, 1
    else:
        batch_size, nstep = (512, 1) if domain == "walker" else (256, 3)
    learning_rate, feature_dim = (8e-5, 100) if domain == "humanoid" else (1e-4, 50)
    preset = dict(total_frames=total_frames, std_schedule_steps=std_schedule_steps, batch_size=batch_size, nstep=nstep,
                  learning_rate=learning_rate, feature_dim=feature_dim)
    return dataclasses.replace(args, **{name: value for name, value in preset.items() if getattr(args, name) is None})


def check_args(args: Args) -> None:
    """Fail before any training starts, with one clear message per mistake (on resolved args)."""
    if split_task(args.task)[0] == "lqr":
        raise ValueError(f"--task {args.task}: its action bounds are ±1e10 (unbounded), so scaling the policy's "
                         "[-1, 1] to them (as DrQ-v2 does) would send ±1e10 to the physics")
    for name in ("action_repeat", "frame_stack", "batch_size", "nstep", "update_every", "eval_episodes", "n_mask",
                 "total_frames", "std_schedule_steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0.0 < args.mask_ratio < 1.0:
        raise ValueError(f"--mask-ratio must be in (0, 1), got {args.mask_ratio}")
    if args.seq_len < 1 or (args.seq_len < 2 and args.mask_type != "feature"):
        raise ValueError(f"--seq-len must be >= 1 (>= 2 unless --mask-type feature), got {args.seq_len}")
    if args.buffer_size < args.batch_size + args.nstep + args.seq_len:
        raise ValueError(f"--buffer-size must exceed batch size + nstep + seq len, got {args.buffer_size}")
    if args.image_size < 36:
        raise ValueError(f"--image-size must be >= 36 for the encoder, got {args.image_size}")


class DMCEnv:
    """A dm_control task from pixels: the policy's action in [-1, 1] mapped affinely to the task's action bounds (as
    DrQ-v2's `action_scale.Wrapper(env, -1, 1)`; quadruped's are -1..1, -1..1.1 and -0.8..0.8 per leg, all others
    but lqr's [-1, 1]) and repeated `action_repeat` times (rewards summed), the camera image (camera 2 for
    quadruped, else 0) as uint8 (3, H, W), the last `frame_stack` frames stacked (the first frame repeated after a
    reset). Episodes end at dm_control's time limit (1000 frames)."""

    def __init__(self, args: Args, seed: int):
        domain, name = split_task(args.task)
        self.env = suite.load(domain, name, task_kwargs={"random": seed})
        self.camera = 2 if domain == "quadruped" else 0
        self.args = args
        self.flags = {"shadow": False, "reflection": False, "skybox": False} if args.fast_render else None
        self.frames = collections.deque(maxlen=args.frame_stack)
        spec = self.env.action_spec()
        self.act_dim, self.act_low, self.act_high = spec.shape[0], spec.minimum, spec.maximum

    def render(self) -> np.ndarray:
        if GL_MISSING:
            raise RenderingUnavailable(f"MuJoCo cannot render offscreen: MUJOCO_GL={GL_BACKEND} but "
                                       f"lib{GL_LIBRARIES[GL_BACKEND]} is not installed.\n{GL_FIX}")
        try:
            img = self.env.physics.render(self.args.image_size, self.args.image_size, camera_id=self.camera,
                                          render_flag_overrides=self.flags)
        except Exception as err:  # no DRI driver, a bad MUJOCO_GL, ...
            backend = os.environ.get("MUJOCO_GL")
            raise RenderingUnavailable(f"dm_control cannot render offscreen with MUJOCO_GL={backend}: "
                                       f"{type(err).__name__}: {err}\n{GL_FIX}") from None
        return np.ascontiguousarray(img.transpose(2, 0, 1))

    def reset(self):
        self.env.reset()
        frame = self.render()
        for _ in range(self.args.frame_stack):
            self.frames.append(frame)
        return np.concatenate(self.frames), frame

    def step(self, action):
        """action in [-1, 1] -> stacked obs, summed reward, discount of the last frame (1 inside an episode),
        episode over, new frame."""
        action = self.act_low + (np.asarray(action, np.float64) + 1.0) / 2.0 * (self.act_high - self.act_low)
        reward = 0.0
        for _ in range(self.args.action_repeat):
            ts = self.env.step(action)
            reward += ts.reward or 0.0
            if ts.last():
                break
        frame = self.render()
        self.frames.append(frame)
        return np.concatenate(self.frames), reward, ts.discount, ts.last(), frame

    # The model fields dm_control's tasks set at each episode start: the targets of finger, fish, reacher, swimmer,
    # manipulator and stacker, point_mass's wrap directions, quadruped escape's terrain (MuJoCo's state holds none).
    EPISODE_MODEL_FIELDS = ("body_pos", "body_quat", "geom_pos", "geom_size", "site_pos", "site_size", "light_pos",
                            "wrap_prm", "hfield_data")

    def get_state(self) -> dict:
        """What continuing this env exactly needs: MuJoCo's integration state (time, positions, velocities,
        activations, controls, the constraint solver's warm start, ...), the model fields above, the task's
        generator, dm_control's step counters and the frame stack."""
        physics = self.env.physics
        return {"physics": physics.get_state(int(mujoco.mjtState.mjSTATE_INTEGRATION)),
                "model": {name: getattr(physics.model, name).copy() for name in self.EPISODE_MODEL_FIELDS},
                "task_random": self.env.task.random.get_state(),
                "step_count": self.env._step_count, "reset_next_step": self.env._reset_next_step,
                "frames": list(self.frames)}

    def set_state(self, state: dict) -> None:
        """Put the env where `get_state` found it, so that its next steps are those it would have taken."""
        physics = self.env.physics
        for name, value in state["model"].items():
            getattr(physics.model, name)[...] = value
        physics.set_state(state["physics"], int(mujoco.mjtState.mjSTATE_INTEGRATION))
        physics.forward()  # what a step leaves computed from the state (positions, contacts, ...), the next uses
        if physics.model.nhfield:  # the renderer keeps its own copy of height fields: upload the restored terrain
            with physics.contexts.gl.make_current() as ctx:
                for hfield in range(physics.model.nhfield):
                    ctx.call(mujoco.mjr_uploadHField, physics.model.ptr, physics.contexts.mujoco.ptr, hfield)
        self.env.task.random.set_state(state["task_random"])
        self.env._step_count, self.env._reset_next_step = state["step_count"], state["reset_next_step"]
        self.frames.extend(state["frames"])


class ReplayBuffer:
    """Agent steps in a ring buffer, each frame stored once (uint8); observations are re-stacked at sampling.
    Slot i holds the frame seen at step i of its episode (`t[i]`), the action taken there, and the reward and
    discount that followed. Sampling is uniform over transitions whose n-step future lies in the same episode,
    with its own seeded numpy generator."""

    def __init__(self, args: Args, frame_shape, act_dim: int, seed: int):
        c = self.capacity = args.buffer_size
        self.frames = np.zeros((c, *frame_shape), np.uint8)
        self.actions = np.zeros((c, act_dim), np.float32)
        self.rewards = np.zeros(c, np.float32)
        self.discounts = np.ones(c, np.float32)
        self.t = np.zeros(c, np.int64)  # step within the episode (0 = the frame after a reset)
        self.has_next = np.zeros(c, bool)  # slot i's action was taken and step i + 1 is stored
        self.frame_stack, self.nstep, self.gamma, self.seq_len = args.frame_stack, args.nstep, args.gamma, args.seq_len
        self.pos, self.size = 0, 0
        self.rng = np.random.default_rng(seed)

    def _write_frame(self, frame, t: int) -> None:
        self.frames[self.pos], self.t[self.pos], self.has_next[self.pos] = frame, t, False
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_first(self, frame) -> None:
        """The first frame of an episode."""
        self._write_frame(frame, 0)

    def add(self, action, reward: float, discount: float, next_frame) -> None:
        """The action taken at the newest step, what followed, and the next frame."""
        prev = (self.pos - 1) % self.capacity
        self.actions[prev], self.rewards[prev] = action, reward
        self.discounts[prev], self.has_next[prev] = discount, True
        self._write_frame(next_frame, self.t[prev] + 1)

    def _age(self, idx):
        """Slots after the oldest stored one (frames older than that were overwritten)."""
        oldest = self.pos if self.size == self.capacity else 0
        return (idx - oldest) % self.capacity

    def stacked(self, idx):
        """Observations at slots idx (B,) -> (B, frame_stack * 3, H, W); before the episode start the first frame."""
        back = np.minimum(np.arange(self.frame_stack - 1, -1, -1)[None], self.t[idx][:, None])
        frames = self.frames[(idx[:, None] - back) % self.capacity]  # (B, stack, 3, H, W)
        return frames.reshape(len(idx), -1, *frames.shape[3:])

    ARRAYS = ("frames", "actions", "rewards", "discounts", "t", "has_next")

    def state_dict(self) -> dict:
        """The stored slots as tensors that share the buffer's memory (torch.save writes them as they are, frames
        uint8; numpy arrays would be pickled through copies), the ring's position and the sampler's generator."""
        return {"arrays": {name: torch.from_numpy(getattr(self, name)[:self.size]) for name in self.ARRAYS},
                "pos": self.pos, "size": self.size, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        for name, array in state["arrays"].items():
            getattr(self, name)[:state["size"]] = array.numpy()
        self.pos, self.size = state["pos"], state["size"]
        self.rng.bit_generator.state = state["rng"]

    def sample_idx(self, batch_size: int):
        back = self.frame_stack - 1 + self.seq_len - 1
        out = np.empty(0, np.int64)
        while len(out) < batch_size:
            idx = self.rng.integers(0, self.size, 2 * batch_size)
            ahead = (idx[:, None] + np.arange(self.nstep)[None]) % self.capacity
            ok = self.has_next[ahead].all(1) & (self._age(idx) + self.nstep < self.size)
            ok &= self._age(idx) >= np.minimum(self.t[idx], back)  # the frames it stacks are still stored
            out = np.concatenate([out, idx[ok]])
        return out[:batch_size]

    def sample(self, batch_size: int):
        """obs, action, n-step reward, n-step discount, next obs (numpy), and the sampled slots."""
        idx = self.sample_idx(batch_size)
        reward, discount = np.zeros(batch_size, np.float32), np.ones(batch_size, np.float32)
        for k in range(self.nstep):
            j = (idx + k) % self.capacity
            reward += discount * self.rewards[j]
            discount *= self.discounts[j] * self.gamma
        nxt = (idx + self.nstep) % self.capacity
        return self.stacked(idx), self.actions[idx], reward, discount, self.stacked(nxt), idx

    def sequence(self, idx, seq_len: int):
        """The observations of the last seq_len steps ending at slots idx: (B, seq_len, C, H, W), all-zero pixels at the
        positions before the episode start (the authors' `pad2`: zero observations, encoded like the others)."""
        k = np.arange(seq_len - 1, -1, -1)[None]  # position p holds step t - (seq_len - 1 - p)
        slots = (idx[:, None] - np.minimum(k, self.t[idx][:, None])) % self.capacity
        obs = self.stacked(slots.reshape(-1)).reshape(len(idx), seq_len, -1, *self.frames.shape[2:])
        obs[k > self.t[idx][:, None]] = 0
        return obs


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    mix = np.clip(step / duration, 0.0, 1.0)
    return (1.0 - mix) * start + mix * end


class RandomShiftsAug(nn.Module):
    """DrQ's augmentation: replicate-pad by `pad` pixels and crop back at a random integer offset per sample.
    DrQ-v2 writes it as bilinear `grid_sample` at integer offsets; this gathers the same pixels directly
    (equal up to float rounding, ~5x faster on a CPU), clamping indices instead of padding."""

    def __init__(self, pad: int = 4):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        n, c, h, w = x.shape
        shift = torch.randint(0, 2 * self.pad + 1, size=(n, 2), device=x.device) - self.pad  # (dx, dy) per sample
        pixels = torch.arange(h, device=x.device)
        rows = (shift[:, 1:] + pixels).clamp(0, h - 1)  # (n, h): replicate padding = clamped indices
        cols = (shift[:, :1] + pixels).clamp(0, w - 1)
        index = (rows[:, :, None] * w + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
        return x.flatten(2).gather(2, index).view(n, c, h, w)


class TruncatedNormal(torch.distributions.Normal):
    """Normal noise clipped to [-clip, clip], the action kept inside (-1, 1) with a straight-through clamp."""

    def sample(self, clip: Optional[float] = None, sample_shape=torch.Size()):
        eps = torch.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device) * self.scale
        if clip is not None:
            eps = eps.clamp(-clip, clip)
        x = self.loc + eps
        clamped = x.clamp(-1.0 + 1e-6, 1.0 - 1e-6)
        return x - x.detach() + clamped.detach()


def weight_init(m):
    if isinstance(m, nn.Linear):
        nn.init.orthogonal_(m.weight.data)
        nn.init.zeros_(m.bias.data)
    elif isinstance(m, nn.Conv2d):
        nn.init.orthogonal_(m.weight.data, nn.init.calculate_gain("relu"))
        nn.init.zeros_(m.bias.data)


class Encoder(nn.Module):
    """4 conv layers, 32 channels, 3x3, strides 2,1,1,1 (84 px -> 32 x 35 x 35 = 39,200 features)."""

    def __init__(self, in_channels: int, image_size: int, bf16: bool = False):
        super().__init__()
        self.bf16 = bf16
        self.convnet = nn.Sequential(nn.Conv2d(in_channels, 32, 3, stride=2), nn.ReLU(),
                                     nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
                                     nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(),
                                     nn.Conv2d(32, 32, 3, stride=1), nn.ReLU(), nn.Flatten())
        self.repr_dim = 32 * ((image_size - 3) // 2 + 1 - 6) ** 2
        self.apply(weight_init)
        if bf16:
            self.to(memory_format=torch.channels_last)

    def forward(self, obs):
        """obs: pixel values 0-255 (uint8 or float), (B, C, H, W) -> (B, repr_dim) float32."""
        if not self.bf16:
            return self.convnet(obs / 255.0 - 0.5)
        x = obs.contiguous(memory_format=torch.channels_last).to(torch.bfloat16) / 255.0 - 0.5
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.convnet(x).float()


class Actor(nn.Module):
    def __init__(self, repr_dim: int, act_dim: int, args: Args):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, args.feature_dim), nn.LayerNorm(args.feature_dim), nn.Tanh())
        self.policy = nn.Sequential(nn.Linear(args.feature_dim, args.hidden_dim), nn.ReLU(),
                                    nn.Linear(args.hidden_dim, args.hidden_dim), nn.ReLU(),
                                    nn.Linear(args.hidden_dim, act_dim))
        self.apply(weight_init)

    def forward(self, h, std: float):
        mu = torch.tanh(self.policy(self.trunk(h)))
        return TruncatedNormal(mu, torch.ones_like(mu) * std)


class Critic(nn.Module):
    def __init__(self, repr_dim: int, act_dim: int, args: Args):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, args.feature_dim), nn.LayerNorm(args.feature_dim), nn.Tanh())

        def q():
            return nn.Sequential(nn.Linear(args.feature_dim + act_dim, args.hidden_dim), nn.ReLU(),
                                 nn.Linear(args.hidden_dim, args.hidden_dim), nn.ReLU(), nn.Linear(args.hidden_dim, 1))

        self.q1, self.q2 = q(), q()
        self.apply(weight_init)

    def forward(self, h, action):
        x = torch.cat([self.trunk(h), action], dim=-1)
        return self.q1(x), self.q2(x)


class Block(nn.Module):
    """Pre-norm Transformer block in timm's layout (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.mlp.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(b, n, d)
        x = x + self.attn.proj(y)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


def sincos_embedding(length: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sin-cos positional embedding (1, 1 + length, dim), sin on the even and cos on the odd channels (the
    authors' PositionalEncoding); row 0, the CLS token's, is zeros."""
    omega = 1.0 / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * omega[None]
    emb = torch.zeros(1 + length, dim, dtype=torch.float64)
    emb[1:, 0::2], emb[1:, 1::2] = torch.sin(angles), torch.cos(angles)
    return emb.float()[None]


class MIMEx(nn.Module):
    """Masked input modeling over time (Lin & Jabri, NeurIPS 2023): an MAE on the sequence of the last T per-step
    features. `forward(seqs)` returns each sequence's masked-reconstruction loss, which is its intrinsic reward, and
    the mean of those losses; it trains nothing (the optimiser step is in the main loop).
    Time masking (time, fixed) is the authors' BERT: Linear + positions, a CLS token, an encoder on the kept steps,
    a decoder with mask tokens where the masked steps were. Feature masking is their `mask_all` model: Linear to the
    decoder width + positions, a CLS token and the decoder blocks only, on the input with its masked entries zeroed."""

    def __init__(self, input_dim: int, args: Args):
        super().__init__()
        t, dd = args.seq_len, args.decoder_dim
        self.seq_len, self.mask_ratio, self.mask_type = t, args.mask_ratio, args.mask_type
        d = dd if args.mask_type == "feature" else args.mimex_embed_dim
        self.embed = nn.Linear(input_dim, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("pos_embed", sincos_embedding(t, d))
        if args.mask_type != "feature":  # the encoder of the kept steps; the decoder's input side
            self.blocks = nn.ModuleList([Block(d, args.mimex_heads) for _ in range(args.mimex_depth)])
            self.norm = nn.LayerNorm(d, eps=1e-6)
            self.decoder_embed = nn.Linear(d, dd)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
            self.register_buffer("decoder_pos_embed", sincos_embedding(t, dd))
        self.decoder_blocks = nn.ModuleList([Block(dd, args.decoder_heads) for _ in range(args.decoder_depth)])
        self.decoder_norm = nn.LayerNorm(dd, eps=1e-6)
        self.decoder_pred = nn.Linear(dd, input_dim)
        for module in self.modules():  # the authors' init: xavier-uniform weights, zero biases, tokens N(0, 0.02)
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for name, token in self.named_parameters():
            if name.endswith("_token"):
                nn.init.normal_(token, std=0.02)

    @staticmethod
    def push(history, feats, new_episode):
        """Shift each env's (T, D) history by one step and append this step's features. At an episode
        start the past is zeros, so a sequence never crosses an episode boundary."""
        history = history * (1.0 - new_episode.float())[:, None, None]
        return torch.cat([history[:, 1:], feats[:, None]], dim=1)

    def num_keep(self, n: int) -> int:
        """Visible entries out of n: int(n * (1 - mask_ratio)), at least 1 (the 1e-9 guards float rounding)."""
        return max(1, int(n * (1.0 - self.mask_ratio) + 1e-9))

    def mask_steps(self, rows: int, t: int, generator=None, device=None):
        """Time masking: ids_shuffle (rows, t) lists the kept steps first (random order; "fixed" keeps the first steps
        and masks the last ones: future prediction), ids_restore undoes that order; mask (rows, t) is 1 where masked."""
        if self.mask_type == "fixed":
            ids_shuffle = torch.arange(t, device=device).expand(rows, t)
        else:
            ids_shuffle = torch.rand(rows, t, generator=generator, device=device).argsort(1)
        ids_restore = ids_shuffle.argsort(1)
        mask = torch.ones(rows, t, device=device)
        mask[:, :self.num_keep(t)] = 0.0
        return torch.gather(mask, 1, ids_restore), ids_shuffle, ids_restore

    def mask_features(self, rows: int, t: int, dim: int, generator=None, device=None):
        """Feature masking: mask (rows, t, dim) is 1 on all but num_keep(t * dim) random entries of each sequence."""
        noise = torch.rand(rows, t * dim, generator=generator, device=device)
        mask = torch.ones_like(noise).scatter_(1, noise.argsort(1)[:, :self.num_keep(t * dim)], 0.0)
        return mask.view(rows, t, dim)

    def predict(self, x, generator=None):
        """Reconstruct x (B, T, D) from a random masking of it; returns the reconstruction and the mask."""
        rows, t, dim = x.shape
        cls = self.cls_token.expand(rows, -1, -1)  # its positional embedding is zero
        if self.mask_type == "feature":  # every step is a token, its masked entries zeroed; decoder blocks only
            mask = self.mask_features(rows, t, dim, generator, x.device)
            h = torch.cat([cls, self.embed(x * (1.0 - mask)) + self.pos_embed[:, 1:]], dim=1)
        else:  # the encoder sees the kept steps only; the decoder gets mask tokens where the others were
            mask, ids_shuffle, ids_restore = self.mask_steps(rows, t, generator, x.device)
            ids_keep = ids_shuffle[:, :self.num_keep(t)]
            kept = torch.gather(x, 1, ids_keep[:, :, None].expand(-1, -1, dim))
            h = torch.cat([cls, self.embed(kept) + self.pos_embed[0, 1:][ids_keep]], dim=1)
            for block in self.blocks:
                h = block(h)
            h = self.decoder_embed(self.norm(h))
            steps = torch.cat([h[:, 1:], self.mask_token.expand(rows, t - ids_keep.shape[1], -1)], dim=1)
            steps = torch.gather(steps, 1, ids_restore[:, :, None].expand(-1, -1, steps.shape[2]))  # in time order
            h = torch.cat([h[:, :1], steps], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            h = block(h)
        return self.decoder_pred(self.decoder_norm(h))[:, 1:], mask

    @staticmethod
    def masked_mse(pred, target, mask):
        """Per-sequence squared error averaged over the masked entries only (visible ones cost nothing)."""
        err = (pred - target) ** 2
        if mask.dim() == 2:  # whole time steps: mean over features, then over masked steps
            return (err.mean(2) * mask).sum(1) / mask.sum(1)
        return (err * mask).sum((1, 2)) / mask.sum((1, 2))

    def forward(self, seqs, n_mask: int = 1, generator=None):
        """seqs (B, T, D) -> (intrinsic reward (B,), loss): each sequence's masked-reconstruction loss averaged over
        `n_mask` independent maskings in one batched pass (masking k of sequence b is row k * B + b), detached; and
        the mean of the same losses, to step the optimiser on."""
        x = seqs.repeat(n_mask, 1, 1)
        pred, mask = self.predict(x, generator)
        loss = self.masked_mse(pred, x, mask).view(n_mask, len(seqs)).mean(0)
        return loss.detach(), loss.mean()


def evaluate(env: DMCEnv, policy, episodes: int, video_path: Optional[str] = None):
    """Whole episodes of `policy` (stacked observation -> action in [-1, 1]); returns their returns (and writes the
    first one's frames as a video). Training evaluates the actor's mean action; benchmarks/drqv2_random_policy.py
    passes uniformly random actions."""
    returns = []
    for episode in range(episodes):
        obs, frame = env.reset()
        frames, total, done = [frame], 0.0, False
        while not done:
            obs, reward, _, done, frame = env.step(policy(obs))
            total += reward
            frames.append(frame)
        returns.append(total)
        if video_path is not None and episode == 0:
            imageio.mimsave(video_path, [f.transpose(1, 2, 0) for f in frames], fps=30)
    return returns


CHECKPOINT_FORMAT = "drqv2-dmc-checkpoint-1"
RESUME_MAY_CHANGE = {"checkpoint_every", "capture_video", "resume", "track", "wandb_project_name", "wandb_entity"}


def load_resume(args: Args, argv: list) -> dict:
    """--resume RUN_DIR: read its checkpoint.pt and take the run's flags into args (all of them but --resume and those
    of RESUME_MAY_CHANGE given in argv). Refused, before anything is written, if the file is missing, unreadable or
    another script's, or if a flag given in argv differs from the run's. The file is memory-mapped: the replay is
    read once, into the buffer (ReplayBuffer.load_state_dict); all else is copied out of the mapping here."""
    path = os.path.join(args.resume, "checkpoint.pt")
    if not os.path.isfile(path):
        raise ValueError(f"--resume {args.resume!r}: no checkpoint.pt there "
                         "(a run writes it with --checkpoint-every N)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)  # our own file: RNG states, ...
    except Exception as err:
        raise ValueError(f"--resume {args.resume!r}: checkpoint.pt is unreadable ({type(err).__name__}: {err}); "
                         "nothing was changed: start the run afresh") from None
    script = os.path.basename(__file__)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or ckpt.get("script") != script:
        found = ckpt.get("script", "an unknown writer") if isinstance(ckpt, dict) else "an unknown writer"
        raise ValueError(f"--resume {args.resume!r}: checkpoint.pt is not a checkpoint of {script} (it is {found}'s)")
    given = {word[2:].split("=")[0].replace("-", "_").removeprefix("no_") for word in argv if word.startswith("--")}
    differ = [k for k in vars(args)
              if k in given and k not in RESUME_MAY_CHANGE and getattr(args, k) != ckpt["args"].get(k)]
    if differ:
        raise ValueError("--resume: these flags differ from the run's: " + ", ".join(
            f"--{k.replace('_', '-')} (run: {ckpt['args'].get(k)!r}, given: {getattr(args, k)!r})" for k in differ)
            + "; leave them out to take the run's values, or start a new run")
    for k, value in ckpt["args"].items():
        if k != "resume" and not (k in RESUME_MAY_CHANGE and k in given):
            setattr(args, k, value)
    return {k: value if k == "replay" else copy.deepcopy(value) for k, value in ckpt.items()}


def save_atomic(state: dict, path: str) -> None:
    """torch.save to a temp file, then rename: a kill during the write leaves the previous file whole."""
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    args = tyro.cli(Args)
    resumed = load_resume(args, sys.argv[1:]) if args.resume else None  # the run's flags, models, replay and envs
    args = resolve_args(args)  # fields left at None: the task's preset
    check_args(args)
    run_name = f"{args.task}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = args.resume.rstrip("/") if resumed else f"runs/{run_name}"
    run_name = os.path.basename(run_dir)

    # seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.use_deterministic_algorithms(args.torch_deterministic, warn_only=True)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    action_rng = np.random.default_rng(args.seed)

    # env setup (renders a first frame: a missing OpenGL fails here, before anything is written)
    env, eval_env = DMCEnv(args, args.seed), DMCEnv(args, args.seed + 100_000)
    obs, frame = env.reset()
    act_dim = env.act_dim

    if args.track:
        import wandb

        wandb.init(project=args.wandb_project_name, entity=args.wandb_entity, sync_tensorboard=True,
                   config=vars(args), name=run_name, monitor_gym=False, save_code=True)
    # resumed: TensorBoard drops what the killed run logged after its checkpoint (purge_step). It reads a folder's event
    # files in name order, and a name starts with the second the file was made, then the pid: a file made in the killed
    # run's second could sort before the killed run's and lose to it, so wait for the next second
    if resumed:
        made = [int(name.split(".")[3]) for name in os.listdir(run_dir) if name.startswith("events.out.tfevents.")]
        while time.time() < max(made, default=0) + 1:
            time.sleep(0.05)
    writer = SummaryWriter(run_dir, purge_step=resumed["frames"] + 1 if resumed else None)
    if not resumed:
        writer.add_text("hyperparameters",
                        "|param|value|\n|-|-|\n%s" % "\n".join(f"|{k}|{v}|" for k, v in vars(args).items()))

    encoder = Encoder(3 * args.frame_stack, args.image_size, args.bf16).to(device)
    actor = Actor(encoder.repr_dim, act_dim, args).to(device)
    critic = Critic(encoder.repr_dim, act_dim, args).to(device)
    critic_target = Critic(encoder.repr_dim, act_dim, args).to(device)
    critic_target.load_state_dict(critic.state_dict())
    encoder_optimizer = torch.optim.Adam(encoder.parameters(), lr=args.learning_rate)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.learning_rate)
    aug = RandomShiftsAug(pad=4)

    def mean_action(obs):
        """The evaluation policy: the actor's mean action, no noise."""
        with torch.no_grad():
            return actor(encoder(torch.as_tensor(obs[None], device=device)), 1.0).mean.cpu().numpy()[0]

    use_mimex = args.beta > 0
    models = {"encoder": encoder, "actor": actor, "critic": critic, "critic_target": critic_target}
    optimizers = {"encoder": encoder_optimizer, "actor": actor_optimizer, "critic": critic_optimizer}
    if use_mimex:
        mimex = MIMEx(encoder.repr_dim, args).to(device)
        mimex_optimizer = torch.optim.Adam(mimex.parameters(), lr=args.mimex_lr)
        models["mimex"], optimizers["mimex"] = mimex, mimex_optimizer
    rb = ReplayBuffer(args, frame.shape, act_dim, args.seed)
    rb.add_first(frame)

    num_steps = args.total_frames // args.action_repeat
    eval_every = max(1, args.eval_every_frames // args.action_repeat)
    episode_return, episode_steps, updates = 0.0, 0, 0
    start_time, eval_time = time.time(), 0.0  # SPS excludes the time spent evaluating
    frames_done = 0  # frames played so far (agent steps x action repeat): the x-axis of every curve
    start_step = 0
    if resumed:  # continue where the checkpoint left the run: counters, models, replay, envs, then the RNGs
        start_step, frames_done, updates = resumed["step"], resumed["frames"], resumed["updates"]
        episode_return, episode_steps = resumed["episode_return"], resumed["episode_steps"]
        start_time, eval_time = time.time() - resumed["seconds"], resumed["eval_seconds"]
        for name, model in models.items():
            model.load_state_dict(resumed["models"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(resumed["optimizers"][name])
        rb.load_state_dict(resumed.pop("replay"))  # copied into the buffer; then the file's mapping is let go
        env.set_state(resumed["env"])
        eval_env.set_state(resumed["eval_env"])
        obs = np.concatenate(env.frames)
        action_rng.bit_generator.state = resumed["rng"]["actions"]
        random.setstate(resumed["rng"]["python"])
        np.random.set_state(resumed["rng"]["numpy"])
        torch.set_rng_state(resumed["rng"]["torch"])
        if torch.cuda.is_available() and resumed["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(resumed["rng"]["cuda"])
        del resumed  # all of it is in place: its copies go
    for step in range(start_step, num_steps + 1):
        # evaluate (and once more at the end), but not at a resumed run's first step: done before its checkpoint
        if (step % eval_every == 0 or step == num_steps) and not (start_step > 0 and step == start_step):
            eval_start, video = time.time(), None
            if args.capture_video:
                os.makedirs(f"videos/{run_name}", exist_ok=True)
                video = f"videos/{run_name}/eval-{frames_done}.mp4"
            returns = evaluate(eval_env, mean_action, args.eval_episodes, video)
            print(f"frame={frames_done}, eval_return={np.mean(returns):.1f}")
            writer.add_scalar("eval/episodic_return", np.mean(returns), frames_done)
            eval_time += time.time() - eval_start
        if step == num_steps:
            break

        # checkpoint, at the first step of every `checkpoint_every` frames: after the step's evaluation, so everything
        # logged so far is at frames <= frames_done and all that follows at later frames (the resumed run's purge_step)
        every = args.checkpoint_every
        if every and step > start_step and frames_done // every > (frames_done - args.action_repeat) // every:
            checkpoint = {
                "format": CHECKPOINT_FORMAT, "script": os.path.basename(__file__), "args": vars(args),
                "step": step, "frames": frames_done, "updates": updates, "episode_return": episode_return,
                "episode_steps": episode_steps, "seconds": time.time() - start_time, "eval_seconds": eval_time,
                "models": {name: model.state_dict() for name, model in models.items()},
                "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
                "replay": rb.state_dict(), "env": env.get_state(), "eval_env": eval_env.get_state(),
                "rng": {"actions": action_rng.bit_generator.state, "python": random.getstate(),
                        "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}
            writer.flush()  # what is logged up to here is on disk before the checkpoint says so
            print(f"frame={frames_done}, writing {run_dir}/checkpoint.pt")
            save_atomic(checkpoint, f"{run_dir}/checkpoint.pt")

        # act: uniform random at first, then the actor with scheduled exploration noise
        std = linear_schedule(args.std_start, args.std_end, args.std_schedule_steps, step)
        if step < args.num_expl_steps:
            action = action_rng.uniform(-1.0, 1.0, act_dim).astype(np.float32)
        else:
            with torch.no_grad():
                dist = actor(encoder(torch.as_tensor(obs[None], device=device)), std)
                action = dist.sample(clip=None).cpu().numpy()[0]
        obs, reward, discount, done, frame = env.step(action)
        rb.add(action, reward, discount, frame)
        episode_return += reward
        episode_steps += 1
        frames_done += args.action_repeat
        if done:
            print(f"frame={frames_done}, episodic_return={episode_return:.1f}")
            writer.add_scalar("charts/episodic_return", episode_return, frames_done)
            writer.add_scalar("charts/episodic_length", episode_steps * args.action_repeat, frames_done)
            train_time = time.time() - start_time - eval_time
            writer.add_scalar("charts/SPS", int(frames_done / train_time), frames_done)  # frames per second
            writer.add_scalar("charts/updates_per_second", updates / train_time, frames_done)
            writer.add_scalar("charts/stddev", std, frames_done)
            obs, frame = env.reset()
            rb.add_first(frame)
            episode_return, episode_steps = 0.0, 0

        if frames_done < args.num_seed_frames or step % args.update_every != 0:
            continue

        # sample a batch (numpy -> torch)
        b_obs, b_actions, b_rewards, b_discounts, b_next_obs, idx = rb.sample(args.batch_size)
        b_obs, b_next_obs = (torch.as_tensor(x, device=device) for x in (b_obs, b_next_obs))  # uint8 pixels
        b_actions = torch.as_tensor(b_actions, device=device)
        b_rewards = torch.as_tensor(b_rewards, device=device)[:, None]
        b_discounts = torch.as_tensor(b_discounts, device=device)[:, None]

        if use_mimex:
            # MIMEx: the sequence of the last T observations ending at each sampled step (all-zero pixels before the
            # episode start, as the authors pad), encoded by the online encoder (augmented, no grad; one random shift
            # per sequence): the padding's features are the encoder's output for a black observation, not zeros
            seq = rb.sequence(idx, args.seq_len)
            n, t, c, h, w = seq.shape
            seq = torch.as_tensor(seq, device=device).view(n, t * c, h, w)
            with torch.no_grad():
                seq_feats = encoder(aug(seq).view(n * t, c, h, w)).view(n, t, -1)
            intrinsic, bonus_loss = mimex(seq_feats, args.n_mask)
            mimex_optimizer.zero_grad()
            bonus_loss.backward()
            mimex_optimizer.step()
            beta = args.beta * (1.0 - step / num_steps) if args.beta_anneal else args.beta
            b_rewards = b_rewards + beta * intrinsic[:, None]

        # critic (the encoder learns through the critic loss only)
        h_obs = encoder(aug(b_obs))
        with torch.no_grad():
            h_next = encoder(aug(b_next_obs))
            next_action = actor(h_next, std).sample(clip=args.std_clip)
            target_q1, target_q2 = critic_target(h_next, next_action)
            target_q = b_rewards + b_discounts * torch.min(target_q1, target_q2)
        q1, q2 = critic(h_obs, b_actions)
        critic_loss = F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q)
        encoder_optimizer.zero_grad()
        critic_optimizer.zero_grad()
        critic_loss.backward()
        critic_optimizer.step()
        encoder_optimizer.step()

        # actor (on detached features)
        dist = actor(h_obs.detach(), std)
        actor_q1, actor_q2 = critic(h_obs.detach(), dist.sample(clip=args.std_clip))  # Q of the policy's actions
        actor_loss = -torch.min(actor_q1, actor_q2).mean()
        actor_optimizer.zero_grad()
        actor_loss.backward(inputs=list(actor.parameters()))  # the critic's grads would be discarded anyway
        actor_optimizer.step()

        # target critic: Polyak averaging
        with torch.no_grad():
            for param, target_param in zip(critic.parameters(), critic_target.parameters()):
                target_param.lerp_(param, args.tau)
        updates += 1

        if updates % 100 == 1:
            writer.add_scalar("losses/critic_loss", critic_loss.item(), frames_done)
            writer.add_scalar("losses/critic_q1", q1.mean().item(), frames_done)  # the critic's Q of replayed actions
            writer.add_scalar("losses/critic_q2", q2.mean().item(), frames_done)
            writer.add_scalar("losses/critic_target_q", target_q.mean().item(), frames_done)
            writer.add_scalar("losses/actor_loss", actor_loss.item(), frames_done)
            if use_mimex:
                writer.add_scalar("charts/intrinsic_reward", intrinsic.mean().item(), frames_done)
                writer.add_scalar("charts/intrinsic_reward_scaled", beta * intrinsic.mean().item(), frames_done)
                writer.add_scalar("losses/bonus_loss", bonus_loss.item(), frames_done)

    if args.save_model:
        model_path = f"{run_dir}/{args.exp_name}.cleanrl_model"
        state = {"args": vars(args), "encoder": encoder.state_dict(), "actor": actor.state_dict(),
                 "critic": critic.state_dict()}
        if use_mimex:
            state["mimex"] = mimex.state_dict()
        torch.save(state, model_path + ".tmp")
        os.replace(model_path + ".tmp", model_path)  # never leave a half-written checkpoint
        print(f"model saved to {model_path}")
    writer.close()
