"""How much of the world a run has visited: cells of a fixed grid that the hand (and the object) entered.

The hand point is the one Reach is scored on: the midpoint of the Franka finger points, the Kuka index fingertip
point. The grid is the same for every task and robot: 5 cm cubes over x in [-0.1, 1.9], y in [-1, 1], z in [0, 1.4]
(m; the robot's base stands at (1, 0, 0) facing -x, the table top is at z = 0.4), which holds every point the arms can
reach; a point outside counts in the nearest edge cell. The object is the cube (Pick, Move: its centre, same grid) or
the drawer (Cabinet: its opening in 2 cm bins from 0 to 0.4 m); Reach has none.

Counted: every state an env is in after a reset or a step (the last state of an episode included). `counts` are
visits since the envs were made, summed over envs; `fraction()` is the share of cells visited at least once by any
env; `episode_cells()` the distinct cells of each env's current episode.
"""

from __future__ import annotations

import numpy as np

CELL = 0.05  # m
LOW = np.array([-0.1, -1.0, 0.0])
HIGH = np.array([1.9, 1.0, 1.4])
GRID = tuple(int(round(n)) for n in (HIGH - LOW) / CELL)  # (40, 40, 28) cells in x, y, z
_LAST, _STRIDES = np.array(GRID) - 1, np.array([GRID[1] * GRID[2], GRID[2], 1])
OPENING_BIN = 0.02  # m
OPENING_BINS = 20  # 0 .. 0.4 m (a fully open drawer)


def grid_cells(points: np.ndarray) -> np.ndarray:
    """Flat grid index of each point (N, 3) -> (N,) int64 (row-major over GRID)."""
    ijk = np.clip(((points - LOW) * (1 / CELL)).astype(np.int64), 0, _LAST)  # truncation = floor: clipped at 0 after
    return ijk @ _STRIDES


def opening_cells(opening: np.ndarray) -> np.ndarray:
    """Bin of each drawer opening (N,) in metres -> (N,) int64."""
    return np.clip(np.floor(opening / OPENING_BIN).astype(np.int64), 0, OPENING_BINS - 1)


class Coverage:
    """Visit counts of N envs over named parts ("hand", and "object" where the task has one).

    visit(cells, envs)  env i (of all, or of `envs`) is in cell cells[part][i] now: call after resets and steps
    end(envs)           those envs' episodes ended: their distinct-cell counts, then forget those episodes
    fraction()          {part: share of the part's cells visited since the start}
    counts              {part: int64 array of visits per cell (GRID for hand and cube, (OPENING_BINS,) for a drawer)}
    """

    def __init__(self, num_envs: int, shapes: dict):
        self.shapes = dict(shapes)
        self.counts = {part: np.zeros(shape, np.int64) for part, shape in self.shapes.items()}
        self._seen = {part: np.zeros((num_envs, int(np.prod(shape))), bool) for part, shape in self.shapes.items()}
        self._episode = {part: np.zeros(num_envs, np.int64) for part in self.shapes}
        self._rows = np.arange(num_envs)

    def visit(self, cells: dict, envs=None) -> None:
        """cells: {part: (N,) cell index of every env}, or of `envs` only where given."""
        rows = self._rows if envs is None else np.asarray(envs, dtype=np.int64)
        for part, idx in cells.items():
            np.add.at(self.counts[part].reshape(-1), idx, 1)
            self._episode[part][rows] += ~self._seen[part][rows, idx]
            self._seen[part][rows, idx] = True

    def episode_cells(self) -> dict:
        return {part: n.copy() for part, n in self._episode.items()}

    def end(self, envs=None) -> dict:
        """Distinct cells of each env's episode (N,) (valid for `envs`, default all), and a fresh episode for them."""
        envs = self._rows if envs is None else envs
        out = self.episode_cells()
        if len(envs) == 0:
            return out
        for part in self.shapes:
            self._seen[part][envs] = False
            self._episode[part][envs] = 0
        return out

    def get_state(self) -> dict:
        """The counts and each env's cells of its current episode (as index lists: small where the grid is large)."""
        return {"counts": {part: c.copy() for part, c in self.counts.items()},
                "episode": {part: [np.flatnonzero(row) for row in seen] for part, seen in self._seen.items()}}

    def set_state(self, state: dict) -> None:
        for part, counts in state["counts"].items():
            self.counts[part][...] = counts
            self._seen[part][...] = False
            for row, cells in zip(self._seen[part], state["episode"][part]):
                row[cells] = True
            self._episode[part] = self._seen[part].sum(axis=1).astype(np.int64)

    def fraction(self) -> dict:
        return {part: float(np.count_nonzero(c)) / c.size for part, c in self.counts.items()}
