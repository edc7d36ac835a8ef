"""--bf16 and --compile of the PPO scripts: what each one touches (the image encoder and the bonus model), and that
bfloat16 autocast keeps MIMEx's intrinsic rewards close to float32's. Speed is measured by benchmarks/speed_flags.py,
not here."""

import numpy as np
import pytest
import torch

from conftest import run_in_process

TINY = ["--task", "FrankaReach", "--num-envs", "4", "--num-steps", "100", "--total-timesteps", "400", "--seed", "1"]
STATE, PIXELS = TINY + ["--obs-type", "state"], TINY + ["--obs-type", "pixels", "--image-size", "48"]


@pytest.mark.parametrize("script, argv, compiled", [
    ("ppo_pixmc", PIXELS, {"CNNEncoder"}),
    ("ppo_pixmc", STATE, set()),  # no image encoder, no bonus: nothing to compile
    ("ppo_pixmc_mimex", PIXELS, {"CNNEncoder", "MIMEx"}),
    ("ppo_pixmc_icm", STATE, {"ICM"}),
    ("ppo_pixmc_rnd", STATE, {"RND"}),
])
def test_compile_compiles_the_encoder_and_the_bonus_model(script, argv, compiled, tmp_path, monkeypatch):
    """torch.compile is replaced by a recorder (compiling for real takes minutes on a CPU): nn.Module.compile hands it
    the module's call, in place, so the saved state dict keeps its keys."""
    seen = []

    def recorder(fn, *args, **kwargs):
        seen.append(type(fn.__self__).__name__)
        return fn

    monkeypatch.setattr(torch, "compile", recorder)
    run_in_process(script, argv + ["--compile"], tmp_path, monkeypatch)
    assert set(seen) == compiled and len(seen) == len(compiled)
    seen.clear()
    (tmp_path / "plain").mkdir()
    run_in_process(script, argv, tmp_path / "plain", monkeypatch)
    assert seen == []  # off by default


def test_bf16_keeps_mimex_rewards_close_to_float32(tmp_path, monkeypatch):
    """The first rollout's intrinsic rewards (the same model, the same sequences) under bfloat16 autocast: float32
    tensors within a few percent of the float32 run's."""
    rewards = {}
    for flag in ("--no-bf16", "--bf16"):
        (tmp_path / flag).mkdir()
        loop, _, _ = run_in_process("ppo_pixmc_mimex", STATE + [flag], tmp_path / flag, monkeypatch)
        rewards[flag] = loop["intrinsic"]
    assert rewards["--bf16"].dtype == torch.float32
    fp32, bf16 = rewards["--no-bf16"].numpy(), rewards["--bf16"].numpy()
    assert not np.array_equal(fp32, bf16)  # it did run in bfloat16
    np.testing.assert_allclose(bf16, fp32, rtol=0.05, atol=0.02 * np.abs(fp32).mean())
