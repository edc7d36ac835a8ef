"""The ICM and RND modules of ppo_pixmc_icm.py / ppo_pixmc_rnd.py, and the Burda-style bonus normaliser."""

import numpy as np
import torch

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


def test_rnd_error_falls_on_a_repeated_batch_but_not_on_fresh_inputs():
    torch.manual_seed(0)
    rnd = rnd_script.RND(12, rnd_script.Args())
    assert not any(p.requires_grad for p in rnd.target.parameters())
    repeated = torch.randn(64, 12)
    with torch.no_grad():
        start, _ = rnd(repeated)
    opt = torch.optim.Adam([p for p in rnd.parameters() if p.requires_grad], lr=1e-3)
    _train(rnd, opt, (repeated,), 300)
    with torch.no_grad():
        end, _ = rnd(repeated)
        fresh, _ = rnd(torch.randn(64, 12) * 1.5)
    assert end.mean() < 0.1 * start.mean()
    assert fresh.mean() > 5 * end.mean()


def test_normaliser_matches_a_reference_computation():
    torch.manual_seed(0)
    num_steps, num_envs, gamma = 16, 3, 0.9
    rollouts = [torch.rand(num_steps, num_envs) * (k + 1) for k in range(3)]
    norm = icm_script.IntrinsicReturnNormalizer(num_envs, gamma, "cpu")
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
    assert rnd_script.IntrinsicReturnNormalizer.__call__.__doc__ == icm_script.IntrinsicReturnNormalizer.__call__.__doc__
