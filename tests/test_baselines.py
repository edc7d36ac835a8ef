"""The ICM and RND modules of ppo_pixmc_icm.py / ppo_pixmc_rnd.py as the authors' icm.py / rnd.py build them, ICM's
(s_t, a_t, s_{t+1}) pairing at episode ends, and the Burda-style bonus normaliser of both scripts."""

import numpy as np
import pytest
import torch
from torch import nn

from conftest import import_script

icm_script = import_script("ppo_pixmc_icm")
rnd_script = import_script("ppo_pixmc_rnd")


def _toy_transitions(n, feat_dim=12, act_dim=3, seed=0):
    """s_{t+1} = s_t + B a_t: the action is recoverable from (s_t, s_{t+1})."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(act_dim, feat_dim, generator=torch.Generator().manual_seed(99))
    s = torch.randn(n, feat_dim, generator=g)
    a = torch.rand(n, act_dim, generator=g) * 2 - 1
    return s, s + a @ mixing, a


def _train(module, optimizer, batches, steps):
    for _ in range(steps):
        _, loss = module(*batches)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _shapes(net):
    return [(type(m).__name__, tuple(m.weight.shape) if isinstance(m, nn.Linear) else None) for m in net]


def test_icm_networks_are_the_authors():
    """phi = one Linear to 288; inverse (576 -> 256 -> actions) and forward (288 + actions -> 256 -> 288) MLPs."""
    icm = icm_script.ICM(20, 3, icm_script.Args())
    assert isinstance(icm.phi, nn.Linear) and icm.phi.weight.shape == (288, 20)
    assert _shapes(icm.inverse_model) == [("Linear", (256, 576)), ("ReLU", None), ("Linear", (3, 256))]
    assert _shapes(icm.forward_model) == [("Linear", (256, 291)), ("ReLU", None), ("Linear", (288, 256))]


def test_icm_phi_learns_from_the_inverse_loss_only():
    """The forward model reads detached phi (its own optimiser in the authors' code): phi's gradient from the summed
    loss equals its gradient from the inverse loss alone, and the forward model's parameters get a gradient."""
    torch.manual_seed(0)
    icm = icm_script.ICM(12, 3, icm_script.Args())
    s, s_next, a = _toy_transitions(32)
    _, loss = icm(s, s_next, a)
    loss.backward()
    phi_grad = icm.phi.weight.grad.clone()
    assert icm.forward_model[0].weight.grad.abs().sum() > 0
    icm.zero_grad()
    ((icm.inverse_model(torch.cat([icm.phi(s), icm.phi(s_next)], 1)) - a) ** 2).mean().backward()
    torch.testing.assert_close(icm.phi.weight.grad, phi_grad)


def test_icm_inverse_model_recovers_actions():
    torch.manual_seed(0)
    icm = icm_script.ICM(12, 3, icm_script.Args())
    s, s_next, a = _toy_transitions(512)
    with torch.no_grad():
        before = ((icm.inverse_model(torch.cat([icm.phi(s), icm.phi(s_next)], 1)) - a) ** 2).mean()
    _train(icm, torch.optim.Adam(icm.parameters(), lr=1e-3), (s, s_next, a), 400)
    s2, s2_next, a2 = _toy_transitions(256, seed=1)  # held-out transitions of the same dynamics
    with torch.no_grad():
        predicted = icm.inverse_model(torch.cat([icm.phi(s2), icm.phi(s2_next)], 1))
    assert ((predicted - a2) ** 2).mean() < 0.1 * before
    assert np.corrcoef(predicted.flatten(), a2.flatten())[0, 1] > 0.9


def test_icm_forward_error_is_lower_on_seen_transitions():
    torch.manual_seed(0)
    icm = icm_script.ICM(12, 3, icm_script.Args())
    seen = _toy_transitions(64)
    _train(icm, torch.optim.Adam(icm.parameters(), lr=1e-3), seen, 300)
    g = torch.Generator().manual_seed(7)
    unseen = (torch.randn(64, 12, generator=g), torch.randn(64, 12, generator=g), torch.rand(64, 3, generator=g) * 2 - 1)
    with torch.no_grad():
        bonus_seen, _ = icm(*seen)
        bonus_unseen, _ = icm(*unseen)
    assert bonus_unseen.mean() > 3 * bonus_seen.mean()


def test_next_features_pair_each_action_with_the_observation_it_led_to():
    """Env 0's episode ends after step 1 (its last observation: 9), env 1's after the rollout's last step (8)."""
    feats = torch.tensor([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]])[:, :, None]  # (steps, envs, 1)
    final = torch.zeros_like(feats)
    final[1, 0], final[3, 1] = 9.0, 8.0
    ended = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 1]])
    after = torch.tensor([[4.0], [20.0]])  # the observations after the rollout (env 1's: a new episode's first)
    paired = icm_script.pair_next_features(feats, final, ended, after)
    assert paired[:, :, 0].T.tolist() == [[1, 9, 3, 4], [11, 12, 13, 8]]


def test_rnd_networks_are_the_authors():
    """Target and predictor: Linear-ReLU-Linear-ReLU-Linear (256, 256, 288), orthogonal weights with gain sqrt(2)
    (W W^T = 2 I on the smaller side), zero biases; the target is frozen."""
    rnd = rnd_script.RND(20, rnd_script.Args())
    for net in (rnd.target, rnd.predictor):
        assert _shapes(net) == [("Linear", (256, 20)), ("ReLU", None), ("Linear", (256, 256)), ("ReLU", None),
                                ("Linear", (288, 256))]
        for layer in net[::2]:
            w = layer.weight.detach()
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            torch.testing.assert_close(gram, 2.0 * torch.eye(len(gram)), atol=1e-4, rtol=0)
            assert torch.all(layer.bias == 0)
    assert not any(p.requires_grad for p in rnd.target.parameters())
    assert all(p.requires_grad for p in rnd.predictor.parameters())


def test_rnd_error_falls_on_a_repeated_batch_but_not_on_fresh_inputs():
    torch.manual_seed(0)
    rnd = rnd_script.RND(12, rnd_script.Args())
    repeated = torch.randn(64, 12)
    with torch.no_grad():
        start, _ = rnd(repeated)
    _train(rnd, torch.optim.Adam(rnd.predictor.parameters(), lr=1e-3), (repeated,), 300)
    with torch.no_grad():
        end, _ = rnd(repeated)
        fresh, _ = rnd(torch.randn(64, 12) * 1.5)
    assert end.mean() < 0.1 * start.mean()
    assert fresh.mean() > 5 * end.mean()


@pytest.mark.parametrize("script", [icm_script, rnd_script], ids=["icm", "rnd"])
def test_normaliser_matches_a_reference_computation(script):
    torch.manual_seed(0)
    num_steps, num_envs, gamma = 16, 3, 0.9
    rollouts = [torch.rand(num_steps, num_envs) * (k + 1) for k in range(3)]
    norm = script.IntrinsicReturnNormalizer(num_envs, gamma, "cpu")
    # reference: discounted returns along each env's own time axis, carried across rollouts;
    # the variance of all of them so far (plus the 1e-4 prior count at variance 1)
    ret, seen = np.zeros(num_envs), []
    for r in rollouts:
        out = norm(r)
        for row in r.numpy():
            ret = ret * gamma + row
            seen.append(ret.copy())
        x = np.concatenate(seen)
        n, prior = x.size, 1e-4
        mean = x.mean() * n / (n + prior)
        var = (prior * 1.0 + n * x.var() + (x.mean() ** 2) * prior * n / (n + prior)) / (n + prior)
        np.testing.assert_allclose(norm.count, n + prior)
        np.testing.assert_allclose(norm.mean.item(), mean, rtol=1e-5)
        np.testing.assert_allclose(norm.var.item(), var, rtol=1e-4)
        np.testing.assert_allclose(out.numpy(), r.numpy() / np.sqrt(var + 1e-8), rtol=1e-4)
