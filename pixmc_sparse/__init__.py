"""PixMC-Sparse on MuJoCo: the eight sparse-reward manipulation tasks of MIMEx (Lin & Jabri, 2023).

    import pixmc_sparse
    envs = pixmc_sparse.make("KukaPick", num_envs=16, obs_type="pixels", image_size=84,
                             reward_level="sparse", seed=0)
    obs, info = envs.reset(seed=0)
    obs, reward, terminated, truncated, info = envs.step(actions)  # float32 (N, act_dim) in [-1, 1]

Single envs are registered for `gymnasium.make` (and `gymnasium.make_vec`) as
"pixmc_sparse/<Task><Variant>-v0": the variant names the observation and the reward level (see ID_VARIANTS),
e.g. "pixmc_sparse/KukaPick-v0" (pixels, sparse), "pixmc_sparse/KukaPickStateDense-v0" (state, dense).
"""

from .render import choose_backend as _choose_backend

_choose_backend()  # sets MUJOCO_GL; must run before the first `import mujoco`

import gymnasium as _gym  # noqa: E402

from .render import RenderingUnavailable  # noqa: E402
from .tasks import REWARD_LEVELS, TASKS  # noqa: E402
from .vector_env import OBS_TYPES, PixMCEnv, PixMCVectorEnv  # noqa: E402

__all__ = ["TASKS", "REWARD_LEVELS", "OBS_TYPES", "ID_VARIANTS", "make", "PixMCVectorEnv", "PixMCEnv",
           "RenderingUnavailable"]


def make(task: str, num_envs: int = 1, obs_type: str = "pixels", image_size: int = 84,
         reward_level: str = "sparse", seed: int | None = None, num_threads: int | None = None,
         render_mode: str | None = None) -> PixMCVectorEnv:
    """A gymnasium VectorEnv of `num_envs` copies of `task` (SAME_STEP autoreset, numpy in and out).

    obs_type: "pixels" -> {"pixels": uint8 (N,3,H,W) hand camera, "state": robot state},
              "state"  -> {"state": robot state + task state} (the "oracle" setting).
    reward_level: "dense" (PixMC), "sparse" (PixMC-Sparse, default) or "sparser".
    seed: seeds the first reset (env i draws from (seed, i)); None: fresh entropy, every env made differs.
    num_threads: threads that step/render shards of envs (default: one per available core).
    render_mode: "rgb_array" makes `render()` return a third-person frame of env 0.
    """
    return PixMCVectorEnv(task, num_envs, obs_type, image_size, reward_level, seed, num_threads, render_mode)


# Registered ids, for trainers that take an id and no kwargs: "pixmc_sparse/<Task><Variant>-v0", the variant
# being an observation part ("" pixels, "State" oracle state) followed by a reward part ("" sparse, "Dense",
# "Sparser"), as gymnasium-robotics names its dense variants ("FetchReachDense-v4"). The other arguments of make
# pass through gymnasium.make (e.g. image_size=64).
_OBS_PARTS = {"": "pixels", "State": "state"}
_REWARD_PARTS = {"": "sparse", "Dense": "dense", "Sparser": "sparser"}
ID_VARIANTS = {o + r: {"obs_type": obs_type, "reward_level": level}
               for o, obs_type in _OBS_PARTS.items() for r, level in _REWARD_PARTS.items()}

for _task in TASKS:
    for _variant, _kwargs in ID_VARIANTS.items():
        if f"pixmc_sparse/{_task}{_variant}-v0" not in _gym.registry:
            _gym.register(
                id=f"pixmc_sparse/{_task}{_variant}-v0",
                entry_point="pixmc_sparse.vector_env:PixMCEnv",
                vector_entry_point="pixmc_sparse.vector_env:PixMCVectorEnv",
                kwargs={"task": _task, **_kwargs},
            )
