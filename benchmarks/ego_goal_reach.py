"""The pixel check's control (#18 item 5): Reach from state, with the goal given as a perfect hand camera would give it.

A pixel policy of `ppo_pixmc.py` sees the robot state and the hand-camera image, so all it can know of the Reach goal
is where the image shows it: a direction in the camera's frame and a distance, and only while it is in view. This runs
`ppo_pixmc.py --obs-type state` with the oracle's task state (hand, goal, goal - hand) replaced by exactly that: the
unit direction from the camera to the goal in the camera's axes, the distance, and an in-view flag (the goal's centre
within the camera's square field of view; occlusion ignored). With `--goal-view fov` direction and distance are zeros
while the goal is out of view; with `--goal-view always` they are always given. Everything else is `ppo_pixmc.py`
unchanged (its flags pass through). If this learns, memoryless PPO can solve Reach from what the image holds, and a
pixel run that does not learn is held back by learning to see, not by what it is shown.

    python benchmark.py --scripts benchmarks/ego_goal_reach.py --tasks FrankaReach --seeds 1 --obs-type state \
        --reward-level dense --total-timesteps 1000000 --extra "--goal-view fov" "--goal-view always"
"""
import os
import runpy
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import pixmc_sparse.sim as sim  # noqa: E402


def ego_goal(s: sim.BatchedSim, always: bool) -> np.ndarray:
    """(num_envs, 5): unit direction camera -> goal in the camera's axes, distance, in view (0/1); all zeros for an env
    whose goal is out of view unless `always`."""
    rel = s.goal_in_camera()
    depth = -rel[:, 2]  # MuJoCo cameras look along their -z
    half = np.deg2rad(s.model.cam_fovy[s.cam_id]) / 2  # MuJoCo's fovy is in degrees; the image is square
    seen = (depth > 0) & (np.abs(np.arctan2(rel[:, :2], depth[:, None])).max(axis=1) < half)
    dist = np.linalg.norm(rel, axis=1, keepdims=True)
    out = np.concatenate([rel / dist, dist, seen[:, None]], axis=1)
    if not always:
        out[~seen] = 0.0
    return out


def main() -> None:
    argv = sys.argv[1:]
    if "--goal-view" not in argv or argv.index("--goal-view") + 1 >= len(argv):
        raise SystemExit("ego_goal_reach.py: give --goal-view fov or --goal-view always (then ppo_pixmc.py's flags)")
    k = argv.index("--goal-view")
    view = argv[k + 1]
    if view not in ("fov", "always"):
        raise SystemExit(f"ego_goal_reach.py: --goal-view must be fov or always, got {view!r}")
    rest = argv[:k] + argv[k + 2:]
    if "--obs-type" not in rest or rest[rest.index("--obs-type") + 1] != "state":
        raise SystemExit("ego_goal_reach.py: needs --obs-type state (it replaces the state's task part)")
    task = rest[rest.index("--task") + 1] if "--task" in rest else "KukaPick"
    if not task.endswith("Reach"):
        raise SystemExit(f"ego_goal_reach.py: Reach tasks only (FrankaReach, KukaReach), got --task {task}")

    robot_and_task = sim.BatchedSim.observation

    def observation(self) -> dict:
        obs = robot_and_task(self)
        if self.obs_type == "state":
            robot = obs["state"][:, :2 * self.ndof]  # joint positions and velocities, as a pixel policy has them
            obs["state"] = np.concatenate([robot, ego_goal(self, view == "always")], axis=1).astype(np.float32)
        return obs

    sim.BatchedSim.observation = observation
    sys.argv = [os.path.join(ROOT, "ppo_pixmc.py"), *rest]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
