"""Coverage (pixmc_sparse.coverage): grid cells of hand-placed points, distinct cells per episode, visits since the
start, and what the vector env reports, checked against cells recomputed from the observations."""

import numpy as np
import pytest

from pixmc_sparse import coverage as C


def test_grid_cells_of_hand_placed_points():
    centre = C.LOW + C.CELL / 2
    points = np.array([centre, centre + [C.CELL, 0, 0], centre + [0, 0, C.CELL], C.HIGH - 1e-9, C.HIGH + 5, C.LOW - 5])
    nx, ny, nz = C.GRID
    assert C.GRID == (40, 40, 28)
    assert C.grid_cells(points).tolist() == [0, ny * nz, 1, nx * ny * nz - 1, nx * ny * nz - 1, 0]  # outside: edge
    assert C.opening_cells(np.array([-0.01, 0.0, 0.019, 0.021, 0.39, 0.5])).tolist() == [0, 0, 0, 1, 19, 19]


def test_distinct_cells_per_episode_and_visits_since_the_start():
    cov = C.Coverage(2, {"hand": (10,)})
    for cells in ([0, 5], [0, 6], [1, 6], [0, 7]):  # env 0: cells 0, 1 (0 three times); env 1: 5, 6, 7
        cov.visit({"hand": np.array(cells)})
    assert cov.episode_cells()["hand"].tolist() == [2, 3]
    assert cov.counts["hand"].tolist() == [3, 1, 0, 0, 0, 1, 2, 1, 0, 0]
    ended = cov.end([1])  # env 1's episode ends; env 0's goes on
    assert ended["hand"].tolist() == [2, 3]
    cov.visit({"hand": np.array([7])}, envs=[1])  # the next episode starts where the last one was: a new episode
    cov.visit({"hand": np.array([2, 7])})
    assert cov.episode_cells()["hand"].tolist() == [3, 1]
    assert cov.fraction()["hand"] == pytest.approx(6 / 10)  # 0, 1, 2, 5, 6, 7
    assert cov.counts["hand"].sum() == 4 * 2 + 1 + 2


def _hand(obs, ndof):  # Reach's oracle state: q, 0.1 qd, hand point, goal, goal - hand
    return obs["state"][:, 2 * ndof:2 * ndof + 3].astype(np.float64)


def test_vector_env_reports_the_cells_of_each_episode(make_envs):
    """Random actions on FrankaReach until episodes have ended: each ended episode's distinct cells and the visits
    since the start equal what the hand points in the observations (final_obs at the end) give."""
    envs = make_envs("FrankaReach", num_envs=4, obs_type="state", seed=3)
    ndof = envs.sim.ndof
    obs, _ = envs.reset(seed=3)
    episode = [{c} for c in C.grid_cells(_hand(obs, ndof))]
    visits = list(C.grid_cells(_hand(obs, ndof)))
    rng, ended = np.random.default_rng(0), 0
    for _ in range(420):
        obs, _, terminated, truncated, info = envs.step(rng.uniform(-1, 1, (4, ndof)))
        done = terminated | truncated
        last = C.grid_cells(_hand(info["final_obs"], ndof)) if done.any() else None
        now = C.grid_cells(_hand(obs, ndof))
        for i in range(4):
            if done[i]:
                episode[i].add(last[i])
                visits += [last[i], now[i]]
                assert info["episode_cells"]["hand"][i] == len(episode[i])
                episode[i], ended = {now[i]}, ended + 1
            else:
                episode[i].add(now[i])
                visits.append(now[i])
    assert ended >= 8
    assert envs.coverage.episode_cells()["hand"].tolist() == [len(e) for e in episode]
    expected = np.bincount(visits, minlength=int(np.prod(C.GRID))).reshape(C.GRID)
    np.testing.assert_array_equal(envs.coverage.counts["hand"], expected)
    assert envs.coverage.fraction()["hand"] == np.count_nonzero(expected) / expected.size
    assert "object" not in envs.coverage.counts


def test_object_cells_cube_and_drawer(make_envs):
    pick = make_envs("KukaPick", num_envs=1, obs_type="state", seed=0)
    pick.reset(seed=0)
    pick.sim.place(0, cube_pos=(0.52, 0.12, 0.5))  # hand-placed above the table: it falls, still in the same column
    pick.step(np.zeros((1, pick.sim.ndof)))
    cell = np.unravel_index(C.grid_cells(pick.sim.point("cube"))[0], C.GRID)
    assert cell[:2] == (12, 22)  # x: (0.52 + 0.1) / 0.05 = 12.4, y: (0.12 + 1) / 0.05 = 22.4
    assert pick.coverage.counts["object"][cell] >= 1 and pick.coverage.counts["object"].shape == C.GRID
    cabinet = make_envs("FrankaCabinet", num_envs=1, obs_type="state", seed=0)
    cabinet.reset(seed=0)
    cabinet.sim.place(0, opening=0.11)
    cabinet.step(np.zeros((1, cabinet.sim.ndof)))
    assert cabinet.coverage.counts["object"].shape == (C.OPENING_BINS,)
    assert cabinet.coverage.counts["object"].tolist() == [1] + [0] * 4 + [1] + [0] * 14  # closed at reset, then 0.11
