"""The MIMEx pieces of ppo_pixmc_mimex.py: masking, padding at episode starts, the masked-only loss,
K-mask averaging, and that novel sequences earn more intrinsic reward than repeated ones."""

import dataclasses
import math
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
    mask, ids_shuffle, ids_restore = model.mask_steps(64, t, torch.Generator().manual_seed(1))
    keep = max(1, int(t * (1 - Fraction(str(ratio)))))  # exact arithmetic
    assert mask.shape == (64, t)
    assert torch.all(mask.sum(1) == t - keep)  # every sequence: exactly t - keep masked steps
    assert len({tuple(row.tolist()) for row in mask}) > 1 or t - keep == 0  # positions differ between sequences
    assert torch.equal(torch.gather(mask, 1, ids_shuffle[:, :keep]), torch.zeros(64, keep))  # kept = first in shuffle
    assert torch.equal(torch.gather(ids_shuffle, 1, ids_restore), torch.arange(t).expand(64, t))  # restore inverts it


def test_paper_default_keeps_one_of_five():
    model = make(seq_len=5, mask_ratio=0.7)
    assert model.num_keep(5) == 1


def test_fixed_mask_hides_the_last_steps():
    model = make(seq_len=5, mask_ratio=0.5, mask_type="fixed")
    mask, _, _ = model.mask_steps(3, 5)
    assert mask.tolist() == [[0, 0, 1, 1, 1]] * 3  # keep int(5 * 0.5) = 2, predict the future 3


def test_feature_mask_counts_entries():
    model = make(seq_len=5, mask_ratio=0.9, mask_type="feature")
    mask = model.mask_features(8, 5, 6, torch.Generator().manual_seed(0))
    assert mask.shape == (8, 5, 6)
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
        batched, loss = model(seqs, n_mask=4, generator=g)
        g.manual_seed(3)
        singles = torch.stack([model(seqs, n_mask=1, generator=g)[0] for _ in range(4)])
    assert batched.shape == (7,) and loss.item() == pytest.approx(batched.mean().item())
    torch.testing.assert_close(batched, singles.mean(0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(singles[0], singles[1])  # the maskings really differ


def test_novel_sequences_earn_more_than_repeated_ones():
    model = make(input_dim=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(5)
    seen = torch.randn(16, 5, 8)
    for _ in range(500):  # the agent keeps visiting the same sequences (xavier init: a plateau of ~300 steps first)
        _, loss = model(seen, n_mask=2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    novel = torch.randn(16, 5, 8)
    with torch.no_grad():
        (r_seen, _), (r_novel, _) = model(seen, n_mask=8), model(novel, n_mask=8)
    assert r_novel.mean() > 3 * r_seen.mean()
    assert (r_novel > r_seen.median()).float().mean() > 0.9


def test_time_masking_model_is_the_authors_bert_and_feature_masking_their_mask_all_model():
    """time/fixed: Linear to 128, 4 blocks x 4 heads, decoder Linear to 64, 1 block x 2 heads (bert.py's BERT);
    feature: Linear to the decoder width 64 and the decoder blocks only, no encoder and no mask token (its MAE)."""
    bert, mae = make(input_dim=6), make(input_dim=6, mask_type="feature", mask_ratio=0.9)
    assert bert.embed.weight.shape == (128, 6) and len(bert.blocks) == 4 and bert.blocks[0].heads == 4
    assert bert.decoder_embed.weight.shape == (64, 128) and bert.mask_token.shape == (1, 1, 64)
    assert mae.embed.weight.shape == (64, 6) and mae.cls_token.shape == (1, 1, 64) and mae.pos_embed.shape == (1, 6, 64)
    assert not any(hasattr(mae, name) for name in ("blocks", "norm", "decoder_embed", "mask_token"))
    for model in (bert, mae):
        assert len(model.decoder_blocks) == 1 and model.decoder_blocks[0].heads == 2
        assert model.decoder_pred.weight.shape == (6, 64)
        pred, mask = model.predict(torch.randn(3, 5, 6))
        assert pred.shape == (3, 5, 6) and mask.shape == ((3, 5) if model is bert else (3, 5, 6))


def test_initialisation_is_the_authors():
    """xavier-uniform weights, zero biases (bert.py's _init_weights), tokens N(0, 0.02)."""
    model = make(input_dim=384)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            fan_out, fan_in = module.weight.shape
            bound = (6 / (fan_in + fan_out)) ** 0.5
            assert module.weight.abs().max() <= bound and module.weight.abs().max() > 0.9 * bound, name
            assert module.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.1), name
            assert torch.all(module.bias == 0), name
    assert model.cls_token.std().item() == pytest.approx(0.02, rel=0.3)
    assert model.mask_token.std().item() == pytest.approx(0.02, rel=0.3)


def test_positional_embedding_is_the_authors_interleaved_sin_cos():
    """bert.py's PositionalEncoding: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...); the CLS row is 0."""
    emb = mimex_script.sincos_embedding(5, 8)[0]
    assert emb.shape == (6, 8) and torch.all(emb[0] == 0)
    for p in range(5):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert emb[1 + p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert emb[1 + p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_drqv2_carries_the_same_mimex_model():
    """drqv2_dmc_mimex.py has its own copy of the model (one file per algorithm); the copy must stay this one."""
    import ast

    from conftest import ROOT

    def definitions(script):
        source = (ROOT / f"{script}.py").read_text()
        return {node.name: ast.get_source_segment(source, node) for node in ast.parse(source).body
                if isinstance(node, (ast.ClassDef, ast.FunctionDef))}

    ppo, drq = definitions("ppo_pixmc_mimex"), definitions("drqv2_dmc_mimex")
    for name in ("Block", "sincos_embedding", "MIMEx"):
        assert ppo[name] == drq[name], f"{name} differs between ppo_pixmc_mimex.py and drqv2_dmc_mimex.py"
