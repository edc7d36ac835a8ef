"""The MIMEx pieces of ppo_pixmc_mimex.py: masking, padding at episode starts, the masked-only loss,
K-mask averaging, and that novel sequences earn more intrinsic reward than repeated ones."""

import dataclasses
from fractions import Fraction

import pytest
import torch

from conftest import import_script

mimex_script = import_script("ppo_pixmc_mimex")


def make(input_dim=6, **overrides):
    torch.manual_seed(0)
    args = dataclasses.replace(mimex_script.Args(), **overrides)
    return mimex_script.MIMEx(input_dim, args)


@pytest.mark.parametrize("t", [2, 3, 4, 5, 6, 10])
@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.7, 0.9])
def test_time_mask_keeps_int_t_times_one_minus_ratio(t, ratio):
    model = make(seq_len=t, mask_ratio=ratio)
    mask, shuffle = model.sample_mask(64, t, 6, torch.Generator().manual_seed(1))
    keep = max(1, int(t * (1 - Fraction(str(ratio)))))  # exact arithmetic
    assert mask.shape == (64, t)
    assert torch.all(mask.sum(1) == t - keep)  # every sequence: exactly t - keep masked steps
    assert len({tuple(row.tolist()) for row in mask}) > 1 or t - keep == 0  # positions differ between sequences
    assert torch.equal(torch.gather(mask, 1, shuffle[:, :keep]), torch.zeros(64, keep))  # kept = first in shuffle


def test_paper_default_keeps_one_of_five():
    model = make(seq_len=5, mask_ratio=0.7)
    assert model.num_keep(5) == 1


def test_fixed_mask_hides_the_last_steps():
    model = make(seq_len=5, mask_ratio=0.5, mask_type="fixed")
    mask, _ = model.sample_mask(3, 5, 6)
    assert mask.tolist() == [[0, 0, 1, 1, 1]] * 3  # keep int(5 * 0.5) = 2, predict the future 3


def test_feature_mask_counts_entries():
    model = make(seq_len=5, mask_ratio=0.9, mask_type="feature")
    mask, shuffle = model.sample_mask(8, 5, 6, torch.Generator().manual_seed(0))
    assert shuffle is None and mask.shape == (8, 5, 6)
    assert torch.all(mask.sum((1, 2)) == 27)  # keep int(30 * (1 - 0.9)) = 3 entries


def test_history_is_zero_padded_at_episode_starts():
    push = mimex_script.MIMEx.push
    history = torch.zeros(2, 3, 1)
    new_episode = torch.tensor([True, True])  # the first step of both envs' episodes
    seqs = []
    for step in range(5):
        feats = torch.tensor([[step + 1.0], [10.0 * (step + 1)]])
        history = push(history, feats, new_episode)
        seqs.append(history[:, :, 0].clone())
        new_episode = torch.tensor([step == 1, False])  # env 0's next episode starts at step 2
    # step 0 of an episode holds only that step, zeros before it (index t = the last position)
    assert seqs[0].tolist() == [[0, 0, 1], [0, 0, 10]]
    assert seqs[1].tolist() == [[0, 1, 2], [0, 10, 20]]
    assert seqs[2].tolist() == [[0, 0, 3], [10, 20, 30]]  # env 0 started again: nothing from before
    assert seqs[4].tolist() == [[3, 4, 5], [30, 40, 50]]


def test_loss_counts_masked_entries_only():
    mse = mimex_script.MIMEx.masked_mse
    target = torch.zeros(1, 4, 2)
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    visible_wrong = target.clone()
    visible_wrong[0, [0, 3]] = 5.0  # errors on visible steps only
    assert mse(visible_wrong, target, mask).item() == 0.0
    masked_wrong = target.clone()
    masked_wrong[0, 1] = torch.tensor([1.0, 3.0])  # step 1: mean error (1 + 9) / 2 = 5; step 2: 0
    assert mse(masked_wrong, target, mask).item() == pytest.approx(2.5)
    fmask = torch.zeros(1, 4, 2)
    fmask[0, 1, 1] = 1.0
    assert mse(masked_wrong, target, fmask).item() == pytest.approx(9.0)


@pytest.mark.parametrize("mask_type", ["time", "feature"])
def test_n_mask_average_equals_mean_of_single_masks(mask_type):
    model = make(mask_type=mask_type, mask_ratio=0.7 if mask_type == "time" else 0.9)
    seqs = torch.randn(7, 5, 6)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        batched = model(seqs, n_mask=4, generator=g)
        g.manual_seed(3)
        singles = torch.stack([model(seqs, n_mask=1, generator=g) for _ in range(4)])
    assert batched.shape == (7,)
    torch.testing.assert_close(batched, singles.mean(0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(singles[0], singles[1])  # the maskings really differ


def test_novel_sequences_earn_more_than_repeated_ones():
    model = make(input_dim=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(5)
    seen = torch.randn(32, 5, 8)
    for _ in range(300):  # the agent keeps visiting the same sequences
        loss = model(seen, n_mask=2)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    novel = torch.randn(32, 5, 8)
    with torch.no_grad():
        r_seen, r_novel = model(seen, n_mask=8), model(novel, n_mask=8)
    assert r_novel.mean() > 3 * r_seen.mean()
    assert (r_novel > r_seen.median()).float().mean() > 0.9
