import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import pixmc_sparse  # noqa: E402  (chooses the GL backend before anything imports mujoco)


@pytest.fixture
def make_envs():
    """pixmc_sparse.make that closes every env it made at the end of the test."""
    made = []

    def _make(task, **kwargs):
        envs = pixmc_sparse.make(task, **kwargs)
        made.append(envs)
        return envs

    yield _make
    for envs in made:
        envs.close()
