# PPO on PixMC-Sparse as in MVP (Xiao et al. 2022) and the MIMEx authors' runs, CleanRL style.
# BONUS: + MIMEx (Lin & Jabri, NeurIPS 2023): the intrinsic reward of step t is the masked-reconstruction loss
# BONUS: of the sequence of the last T per-step features ending at t, under an online masked autoencoder;
# BONUS: PPO maximises r_e + beta * r_i. `diff ppo_pixmc.py ppo_pixmc_mimex.py` shows everything MIMEx adds.
# PPO: Gaussian policy with a state-independent log-std, SELU MLPs 256-128-64 for actor and critic, GAE with
# whole-rollout advantage normalisation, clipped objective, unclipped value loss, cosine learning-rate schedule.
# Docs: docs/{script name}.md, one page per script; paper-scale command lines: README.md, "Reproducing the paper".
import os
import random
import sys
import time
from dataclasses import dataclass
from typing import Literal, Optional

import imageio.v2 as imageio
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro
from torch.distributions.normal import Normal
from torch.utils.tensorboard import SummaryWriter

import pixmc_sparse


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment (part of the run name)"""
    seed: int = 1
    """seed of python, numpy, torch and the envs"""
    torch_deterministic: bool = True
    """if toggled, torch uses deterministic algorithms (cudnn included); off may be faster on a GPU"""
    cuda: bool = True
    """if toggled, use CUDA when it is available (falls back to the CPU)"""
    bf16: bool = False
    """if toggled, run the image encoder and the bonus model under bfloat16 autocast (not the paper's; pays off on GPUs
    and on CPUs with AVX-512 BF16 or AMX)"""
    compile: bool = False
    """if toggled, torch.compile the image encoder and the bonus model (GPUs gain more than CPUs; needs a C++
    compiler)"""
    track: bool = False
    """if toggled, also log to Weights and Biases (needs `pip install wandb`)"""
    wandb_project_name: str = "pixmc-sparse"
    """the wandb project name"""
    wandb_entity: Optional[str] = None
    """the entity (team) of the wandb project"""
    capture_video: bool = False
    """if toggled, save videos of env 0's episodes to `videos/{run_name}` (hand camera; third person with state obs)"""
    save_model: bool = False
    """if toggled, save the model to `runs/{run_name}/{exp_name}.cleanrl_model` and evaluate it"""
    eval_checkpoint: Optional[str] = None
    """path of a saved `.cleanrl_model`: evaluate it for `eval_episodes` episodes, print, exit (nothing is written)"""
    eval_episodes: int = 10
    """episodes of a deterministic (mean-action) evaluation"""
    checkpoint_every: int = 100
    """write runs/{run_name}/checkpoint.pt (all --resume needs) every this many iterations (0: never)"""
    resume: Optional[str] = None
    """a run folder (runs/{run_name}) with a checkpoint.pt: continue that run exactly, in that folder; flags left out
    take the run's values, flags given must equal them (but --checkpoint-every, --capture-video, --track)"""
    coverage_snapshots: tuple[int, ...] = (1_000_000, 4_000_000)
    """env steps after which the coverage visit counts are kept (runs/{run_name}/coverage.npz: these and the last)"""

    # Environment
    task: Literal["FrankaReach", "FrankaCabinet", "FrankaPick", "FrankaMove",
                  "KukaReach", "KukaCabinet", "KukaPick", "KukaMove"] = "KukaPick"
    """the PixMC-Sparse task"""
    obs_type: Literal["pixels", "state"] = "pixels"
    """pixels: hand-camera image + robot state; state: robot + task state (the oracle setting, no rendering)"""
    image_size: int = 84
    """side of the square hand-camera image (pixels); the paper used 224"""
    reward_level: Literal["dense", "sparse", "sparser"] = "sparse"
    """dense: PixMC; sparse: PixMC-Sparse (paper Table 2); sparser: also without the distance-to-goal term"""
    encoder: Literal["cnn", "mvp"] = "cnn"
    """image encoder: cnn (trained with PPO) or mvp (the frozen MAE ViT-S/16 of MVP; needs 224 px)"""
    encoder_checkpoint: Optional[str] = None
    """path of MVP's released ViT-S/16 checkpoint (e.g. mae_pretrain_hoi_vit_small.pth) for --encoder mvp"""

    # Algorithm specific arguments
    total_timesteps: int = 2_000_000
    """total env steps of the experiment (summed over envs)"""
    learning_rate: Optional[float] = None
    """Adam's initial learning rate; default: the authors' per task (LEARNING_RATES: 1e-3, 1.5e-3 or 5e-4; README),
    a quarter of it when the CNN learns from pixels (CNN_LEARNING_RATE_SCALE; docs/benchmarks.md)"""
    num_envs: int = 32
    """the number of parallel envs"""
    num_steps: int = 32
    """env steps per env per rollout"""
    anneal_lr: bool = True
    """if toggled, the learning rate follows a cosine schedule to 0 over the run (as MVP)"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda of the general advantage estimation"""
    num_minibatches: int = 4
    """the number of minibatches per epoch"""
    update_epochs: int = 10
    """epochs of PPO updates per rollout"""
    norm_adv: bool = True
    """if toggled, advantages are normalised over the whole rollout (as MVP; CleanRL normalises per minibatch)"""
    shuffle_minibatches: bool = False
    """if toggled, reshuffle the minibatches every epoch (CleanRL); off: MVP's fixed, contiguous blocks of steps"""
    clip_coef: float = 0.1
    """the surrogate clipping coefficient"""
    clip_vloss: bool = False
    """if toggled, the value loss is clipped as in the PPO paper (off in MVP's runs)"""
    ent_coef: float = 0.0
    """coefficient of the entropy bonus"""
    vf_coef: float = 2.0
    """coefficient of the value loss (R - V)^2 (2.0: a default hidden in MVP's code)"""
    max_grad_norm: float = 1.0
    """the maximum norm for gradient clipping"""
    target_kl: Optional[float] = None
    """stop the epochs of an update early when the approximate KL exceeds this"""
    init_action_std: float = 1.0
    """initial standard deviation of the Gaussian policy (state-independent, learned)"""

    # Bonus arguments (empty in plain PPO: ppo_pixmc_mimex.py, _icm.py and _rnd.py add their bonus flags here)
    beta: Optional[float] = None
    """coefficient of r_i (PPO maximises r_e + beta*r_i); default 0.05 on Reach, else 0.5 (the authors' commands)"""
    beta_anneal: bool = False
    """if toggled, beta decays linearly to 0 over the run"""
    seq_len: int = 5
    """T: env steps per MIMEx sequence (the last T steps up to the current one, zeros before the episode start)"""
    mask_ratio: float = 0.7
    """fraction of the sequence that is masked (time steps; feature entries with --mask-type feature)"""
    mask_type: Literal["time", "feature", "fixed"] = "time"
    """time: random time steps; feature: random feature entries; fixed: always the last steps (future prediction)"""
    n_mask: int = 1
    """K: average each sequence's loss over K independent maskings (one batched forward pass)"""
    mimex_embed_dim: int = 128
    """width of the MIMEx encoder (time masking only: feature masking has no encoder)"""
    mimex_depth: int = 4
    """Transformer blocks of the MIMEx encoder (time masking only)"""
    mimex_heads: int = 4
    """attention heads of the MIMEx encoder (time masking only)"""
    decoder_dim: int = 64
    """width of the MIMEx decoder"""
    decoder_depth: int = 1
    """Transformer blocks of the MIMEx decoder"""
    decoder_heads: int = 2
    """attention heads of the MIMEx decoder"""
    mimex_lr: float = 1e-4
    """Adam learning rate of the MIMEx model (one step per rollout, on the mean loss of all its sequences)"""

    # filled in at runtime
    batch_size: int = 0
    """the batch size (num_envs * num_steps)"""
    minibatch_size: int = 0
    """the minibatch size (batch_size // num_minibatches)"""
    num_iterations: int = 0
    """the number of rollouts + updates (total_timesteps // batch_size)"""


# The authors' learning rate per task (configs/train/*SparsePixels.yaml of ToruOwO/mimex; the dense configs agree)
LEARNING_RATES = {"FrankaReach": 1e-3, "FrankaCabinet": 1e-3, "FrankaPick": 1e-3, "FrankaMove": 1.5e-3,
                  "KukaReach": 1.5e-3, "KukaCabinet": 5e-4, "KukaPick": 5e-4, "KukaMove": 5e-4}
# The authors set LEARNING_RATES for MVP's frozen ViT. A CNN trained through both PPO losses moves the policy
# ~15 times as far per update at those rates (docs/benchmarks.md); a quarter of them brings it back to scale.
CNN_LEARNING_RATE_SCALE = 0.25


COVERAGE_PREFIX = {"hand": "", "object": "object_"}  # charts/coverage, charts/object_coverage, ...


def check_args(args: Args) -> None:
    """Fail before any training starts, with one clear message per mistake."""
    for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs", "eval_episodes"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.obs_type == "pixels" and args.encoder == "cnn" and args.image_size < 36:
        raise ValueError("--image-size must be >= 36 for the CNN encoder (8x8/4, 4x4/2, 3x3/1 convs), "
                         f"got {args.image_size}")
    if args.encoder == "mvp" and args.obs_type == "pixels":
        if args.encoder_checkpoint is None:
            raise ValueError("--encoder mvp needs --encoder-checkpoint PATH: MVP's released ViT-S/16 file "
                             "(e.g. mae_pretrain_hoi_vit_small.pth, see README); nothing is downloaded")
        if args.image_size != 224:
            raise ValueError(f"--encoder mvp needs --image-size 224 (the ViT's input), got {args.image_size}")
    # BONUS: MIMEx's flags
    if not 0.0 < args.mask_ratio < 1.0:
        raise ValueError(f"--mask-ratio must be in (0, 1), got {args.mask_ratio}")
    if args.seq_len < 1 or (args.seq_len < 2 and args.mask_type != "feature"):
        raise ValueError(f"--seq-len must be >= 1 (>= 2 unless --mask-type feature), got {args.seq_len}")
    if args.n_mask < 1:
        raise ValueError(f"--n-mask must be >= 1, got {args.n_mask}")


def make_envs(args: Args, num_envs: int, seed: int):
    return pixmc_sparse.make(args.task, num_envs=num_envs, obs_type=args.obs_type, image_size=args.image_size,
                             reward_level=args.reward_level, seed=seed,
                             render_mode="rgb_array" if args.capture_video and args.obs_type == "state" else None)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Block(nn.Module):
    """Pre-norm Transformer block in timm's layout (norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.mlp.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(b, n, d)
        x = x + self.attn.proj(y)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class CNNEncoder(nn.Module):
    """The Nature-DQN conv stack on the hand-camera image, trained end-to-end with PPO."""

    def __init__(self, image_size: int, out_dim: int = 256):
        super().__init__()
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(3, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 3, image_size, image_size)).shape[1]
        self.fc = nn.Sequential(layer_init(nn.Linear(flat, out_dim)), nn.ReLU())
        self.head = nn.Identity()  # what the policy applies to the features (MVP: the ViT's final LayerNorm)
        self.out_dim, self.trainable = out_dim, True

    def forward(self, pixels):
        return self.fc(self.conv(pixels.float() / 255.0))


class MVPEncoder(nn.Module):
    """MVP's ViT-S/16 (timm layout; 12 heads, as MVP's vit_s16 builds it) on 224x224 images. The per-step feature is
    the CLS token after the last block, before the final LayerNorm (384-d; frozen, cached in the rollout; MIMEx's
    input). MVP's freeze() leaves that LayerNorm out: it is `head`, trained with the policy, which sees
    head(feature)."""

    def __init__(self, dim: int = 384, depth: int = 12, heads: int = 12):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 16, stride=16)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + 14 * 14, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.head = nn.LayerNorm(dim, eps=1e-6)  # the checkpoint's "norm"
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.out_dim, self.trainable = dim, False

    @torch.no_grad()
    def forward(self, pixels):
        x = self.patch_embed.proj((pixels.float() / 255.0 - self.mean) / self.std).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return x[:, 0]


def load_mvp_encoder(path: str) -> MVPEncoder:
    """MVP's released checkpoint: a torch.save dict whose "model" entry is a timm ViT state dict
    (MAE decoder keys, if present, are ignored). Anything else fails with what was expected."""
    encoder = MVPEncoder()
    expected = {k.replace("head.", "norm."): v.shape for k, v in encoder.state_dict().items()
                if k not in ("mean", "std")}
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"--encoder-checkpoint {path!r} is not a readable torch checkpoint ({err}); expected "
                         "MVP's ViT-S/16 file (e.g. mae_pretrain_hoi_vit_small.pth)") from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"--encoder-checkpoint {path!r}: expected a dict with a 'model' state dict")
    missing = sorted(k for k in expected if k not in state)
    wrong = sorted(k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k]))
    if missing or wrong:
        raise ValueError(f"--encoder-checkpoint {path!r} is not a ViT-S/16 (patch 16, width 384, depth 12): "
                         f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, wrong shape {wrong[:5]}")
    encoder.load_state_dict({k.replace("norm.", "head."): state[k] for k in expected}, strict=False)
    encoder.requires_grad_(False).head.requires_grad_(True)  # as MVP: all frozen but the final LayerNorm
    return encoder.eval()


def mlp(in_dim: int, out_dim: int, out_std: float) -> nn.Sequential:
    """SELU MLP 256-128-64 as MVP builds it: orthogonal weights (gain sqrt(2), out_std on the last layer), PyTorch's
    default biases."""
    def linear(n_in, n_out, gain):
        layer = nn.Linear(n_in, n_out)
        nn.init.orthogonal_(layer.weight, gain)
        return layer

    return nn.Sequential(linear(in_dim, 256, np.sqrt(2)), nn.SELU(), linear(256, 128, np.sqrt(2)), nn.SELU(),
                         linear(128, 64, np.sqrt(2)), nn.SELU(), linear(64, out_dim, out_std))


class Agent(nn.Module):
    """Pixels: the encoder's head(image features) -> Linear 128, robot state -> Linear 128, concatenated; state: the
    oracle vector.
    Actor and critic are separate SELU MLPs on that input; the log-std does not depend on the state."""

    def __init__(self, envs, args: Args, encoder: Optional[nn.Module]):
        super().__init__()
        state_dim = envs.single_observation_space["state"].shape[0]
        self.encoder, self.bf16 = encoder, args.bf16
        if encoder is not None:  # PyTorch's default init, as MVP
            self.obs_proj = nn.Linear(encoder.out_dim, 128)
            self.state_proj = nn.Linear(state_dim, 128)
        in_dim = 256 if encoder is not None else state_dim
        act_dim = envs.single_action_space.shape[0]
        self.critic = mlp(in_dim, 1, 1.0)
        self.actor_mean = mlp(in_dim, act_dim, 0.01)
        self.actor_logstd = nn.Parameter(torch.full((1, act_dim), float(np.log(args.init_action_std))))

    def features(self, obs):
        """Per-step features: the image encoder's output (pixels; float32, also under --bf16) or the oracle state."""
        if self.encoder is None:
            return obs["state"]
        with torch.autocast(obs["pixels"].device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.encoder(obs["pixels"]).float()

    def trunk(self, feats, obs):
        if self.encoder is None:
            return feats
        return torch.cat([self.obs_proj(self.encoder.head(feats)), self.state_proj(obs["state"])], dim=1)

    def get_value(self, feats, obs):
        return self.critic(self.trunk(feats, obs))

    def get_action_and_value(self, feats, obs, action=None):
        x = self.trunk(feats, obs)
        mean = self.actor_mean(x)
        probs = Normal(mean, self.actor_logstd.expand_as(mean).exp())
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)


def sincos_embedding(length: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sin-cos positional embedding (1, 1 + length, dim), sin on the even and cos on the odd channels (the
    authors' PositionalEncoding); row 0, the CLS token's, is zeros."""
    omega = 1.0 / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * omega[None]
    emb = torch.zeros(1 + length, dim, dtype=torch.float64)
    emb[1:, 0::2], emb[1:, 1::2] = torch.sin(angles), torch.cos(angles)
    return emb.float()[None]


class MIMEx(nn.Module):
    """Masked input modeling over time (Lin & Jabri, NeurIPS 2023): an MAE on the sequence of the last T per-step
    features. `forward(seqs)` returns each sequence's masked-reconstruction loss, which is its intrinsic reward, and
    the mean of those losses; it trains nothing (the optimiser step is in the main loop).
    Time masking (time, fixed) is the authors' BERT: Linear + positions, a CLS token, an encoder on the kept steps,
    a decoder with mask tokens where the masked steps were. Feature masking is their `mask_all` model: Linear to the
    decoder width + positions, a CLS token and the decoder blocks only, on the input with its masked entries zeroed."""

    def __init__(self, input_dim: int, args: Args):
        super().__init__()
        t, dd = args.seq_len, args.decoder_dim
        self.seq_len, self.mask_ratio, self.mask_type = t, args.mask_ratio, args.mask_type
        d = dd if args.mask_type == "feature" else args.mimex_embed_dim
        self.embed = nn.Linear(input_dim, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("pos_embed", sincos_embedding(t, d))
        if args.mask_type != "feature":  # the encoder of the kept steps; the decoder's input side
            self.blocks = nn.ModuleList([Block(d, args.mimex_heads) for _ in range(args.mimex_depth)])
            self.norm = nn.LayerNorm(d, eps=1e-6)
            self.decoder_embed = nn.Linear(d, dd)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
            self.register_buffer("decoder_pos_embed", sincos_embedding(t, dd))
        self.decoder_blocks = nn.ModuleList([Block(dd, args.decoder_heads) for _ in range(args.decoder_depth)])
        self.decoder_norm = nn.LayerNorm(dd, eps=1e-6)
        self.decoder_pred = nn.Linear(dd, input_dim)
        for module in self.modules():  # the authors' init: xavier-uniform weights, zero biases, tokens N(0, 0.02)
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for name, token in self.named_parameters():
            if name.endswith("_token"):
                nn.init.normal_(token, std=0.02)

    @staticmethod
    def push(history, feats, new_episode):
        """Shift each env's (T, D) history by one step and append this step's features. At an episode
        start the past is zeros, so a sequence never crosses an episode boundary."""
        history = history * (1.0 - new_episode.float())[:, None, None]
        return torch.cat([history[:, 1:], feats[:, None]], dim=1)

    def num_keep(self, n: int) -> int:
        """Visible entries out of n: int(n * (1 - mask_ratio)), at least 1 (the 1e-9 guards float rounding)."""
        return max(1, int(n * (1.0 - self.mask_ratio) + 1e-9))

    def mask_steps(self, rows: int, t: int, generator=None, device=None):
        """Time masking: ids_shuffle (rows, t) lists the kept steps first (random order; "fixed" keeps the first steps
        and masks the last ones: future prediction), ids_restore undoes that order; mask (rows, t) is 1 where masked."""
        if self.mask_type == "fixed":
            ids_shuffle = torch.arange(t, device=device).expand(rows, t)
        else:
            ids_shuffle = torch.rand(rows, t, generator=generator, device=device).argsort(1)
        ids_restore = ids_shuffle.argsort(1)
        mask = torch.ones(rows, t, device=device)
        mask[:, :self.num_keep(t)] = 0.0
        return torch.gather(mask, 1, ids_restore), ids_shuffle, ids_restore

    def mask_features(self, rows: int, t: int, dim: int, generator=None, device=None):
        """Feature masking: mask (rows, t, dim) is 1 on all but num_keep(t * dim) random entries of each sequence."""
        noise = torch.rand(rows, t * dim, generator=generator, device=device)
        mask = torch.ones_like(noise).scatter_(1, noise.argsort(1)[:, :self.num_keep(t * dim)], 0.0)
        return mask.view(rows, t, dim)

    def predict(self, x, generator=None):
        """Reconstruct x (B, T, D) from a random masking of it; returns the reconstruction and the mask."""
        rows, t, dim = x.shape
        cls = self.cls_token.expand(rows, -1, -1)  # its positional embedding is zero
        if self.mask_type == "feature":  # every step is a token, its masked entries zeroed; decoder blocks only
            mask = self.mask_features(rows, t, dim, generator, x.device)
            h = torch.cat([cls, self.embed(x * (1.0 - mask)) + self.pos_embed[:, 1:]], dim=1)
        else:  # the encoder sees the kept steps only; the decoder gets mask tokens where the others were
            mask, ids_shuffle, ids_restore = self.mask_steps(rows, t, generator, x.device)
            ids_keep = ids_shuffle[:, :self.num_keep(t)]
            kept = torch.gather(x, 1, ids_keep[:, :, None].expand(-1, -1, dim))
            h = torch.cat([cls, self.embed(kept) + self.pos_embed[0, 1:][ids_keep]], dim=1)
            for block in self.blocks:
                h = block(h)
            h = self.decoder_embed(self.norm(h))
            steps = torch.cat([h[:, 1:], self.mask_token.expand(rows, t - ids_keep.shape[1], -1)], dim=1)
            steps = torch.gather(steps, 1, ids_restore[:, :, None].expand(-1, -1, steps.shape[2]))  # in time order
            h = torch.cat([h[:, :1], steps], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            h = block(h)
        return self.decoder_pred(self.decoder_norm(h))[:, 1:], mask

    @staticmethod
    def masked_mse(pred, target, mask):
        """Per-sequence squared error averaged over the masked entries only (visible ones cost nothing)."""
        err = (pred - target) ** 2
        if mask.dim() == 2:  # whole time steps: mean over features, then over masked steps
            return (err.mean(2) * mask).sum(1) / mask.sum(1)
        return (err * mask).sum((1, 2)) / mask.sum((1, 2))

    def forward(self, seqs, n_mask: int = 1, generator=None):
        """seqs (B, T, D) -> (intrinsic reward (B,), loss): each sequence's masked-reconstruction loss averaged over
        `n_mask` independent maskings in one batched pass (masking k of sequence b is row k * B + b), detached; and
        the mean of the same losses, to step the optimiser on."""
        x = seqs.repeat(n_mask, 1, 1)
        pred, mask = self.predict(x, generator)
        loss = self.masked_mse(pred, x, mask).view(n_mask, len(seqs)).mean(0)
        return loss.detach(), loss.mean()


def to_torch(obs, device):
    return {k: torch.as_tensor(v, device=device) for k, v in obs.items()}


CHECKPOINT_FORMAT = "pixmc-ppo-checkpoint-1"
RESUME_MAY_CHANGE = {"checkpoint_every", "capture_video", "resume", "track", "wandb_project_name", "wandb_entity"}


def load_resume(args: Args, argv: list) -> dict:
    """--resume RUN_DIR: read its checkpoint.pt and take the run's flags into args (all of them but --resume and those
    of RESUME_MAY_CHANGE given in argv). Refused, before anything is written, if the file is missing, unreadable or
    another script's, or if a flag given in argv differs from the run's."""
    path = os.path.join(args.resume, "checkpoint.pt")
    if not os.path.isfile(path):
        raise ValueError(f"--resume {args.resume!r}: no checkpoint.pt there "
                         "(a run writes it with --checkpoint-every N)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)  # our own file: numpy arrays, RNG states
    except Exception as err:
        raise ValueError(f"--resume {args.resume!r}: checkpoint.pt is unreadable ({type(err).__name__}: {err}); "
                         "nothing was changed: start the run afresh") from None
    script = os.path.basename(__file__)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or ckpt.get("script") != script:
        found = ckpt.get("script", "an unknown writer") if isinstance(ckpt, dict) else "an unknown writer"
        raise ValueError(f"--resume {args.resume!r}: checkpoint.pt is not a checkpoint of {script} (it is {found}'s)")
    given = {word[2:].split("=")[0].replace("-", "_").removeprefix("no_") for word in argv if word.startswith("--")}
    differ = [k for k in vars(args)
              if k in given and k not in RESUME_MAY_CHANGE and getattr(args, k) != ckpt["args"].get(k)]
    if differ:
        raise ValueError("--resume: these flags differ from the run's: " + ", ".join(
            f"--{k.replace('_', '-')} (run: {ckpt['args'].get(k)!r}, given: {getattr(args, k)!r})" for k in differ)
            + "; leave them out to take the run's values, or start a new run")
    for k, value in ckpt["args"].items():
        if k != "resume" and not (k in RESUME_MAY_CHANGE and k in given):
            setattr(args, k, value)
    return ckpt


def save_atomic(state: dict, path: str) -> None:
    """torch.save to a temp file, then rename: a kill during the write leaves the previous file whole."""
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_checkpoint(path: str) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"--eval-checkpoint {path!r} is not a readable checkpoint of these scripts ({err}); "
                         "save one with --save-model") from None
    if not isinstance(ckpt, dict) or not {"args", "agent"} <= set(ckpt):
        raise ValueError(f"--eval-checkpoint {path!r}: expected a dict with 'args' and 'agent' (from --save-model)")
    return ckpt


def evaluate(agent: Agent, args: Args, device, episodes: int, seed: int):
    """Deterministic (mean-action) episodes; returns their extrinsic returns and successes."""
    envs = make_envs(args, min(episodes, args.num_envs), seed)
    obs, _ = envs.reset(seed=seed)
    ep_ret, returns, successes = np.zeros(envs.num_envs), [], []
    while len(returns) < episodes:
        with torch.no_grad():
            o = to_torch(obs, device)
            mean = agent.actor_mean(agent.trunk(agent.features(o), o))
        obs, reward, terminated, truncated, info = envs.step(mean.cpu().numpy())
        ep_ret += reward
        for i in np.flatnonzero(terminated | truncated):
            returns.append(ep_ret[i])
            successes.append(bool(info["success"][i]))
            ep_ret[i] = 0.0
    envs.close()
    return returns[:episodes], successes[:episodes]


def make_encoder(args: Args) -> Optional[nn.Module]:
    """The image encoder of --obs-type pixels; None with the oracle state."""
    if args.obs_type != "pixels":
        return None
    return load_mvp_encoder(args.encoder_checkpoint) if args.encoder == "mvp" else CNNEncoder(args.image_size)


def evaluate_checkpoint(args: Args) -> None:
    """--eval-checkpoint: rebuild the saved run's envs and policy, run `eval_episodes` deterministic episodes and
    print their mean return and success rate."""
    ckpt = load_checkpoint(args.eval_checkpoint)
    for key in ("task", "obs_type", "image_size", "reward_level", "encoder", "encoder_checkpoint"):
        setattr(args, key, ckpt["args"][key])
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    envs = make_envs(args, 1, args.seed)
    agent = Agent(envs, args, make_encoder(args)).to(device)
    envs.close()
    try:
        agent.load_state_dict(ckpt["agent"])
    except RuntimeError as err:
        raise ValueError(f"--eval-checkpoint {args.eval_checkpoint!r} does not fit this script's model: "
                         f"{err}") from None
    returns, successes = evaluate(agent, args, device, args.eval_episodes, args.seed)
    print(f"eval: return {np.mean(returns):.2f} +- {np.std(returns):.2f}, success rate {np.mean(successes):.2f}")


def compute_gae(rewards, values, dones, final_values, next_value, next_done, gamma: float, gae_lambda: float):
    """Advantages and returns of a rollout (num_steps, num_envs). dones[t] = 1 where the observation of step t starts
    an episode; final_values[t] = V(the episode's last observation) where step t ended it at the time limit, else 0:
    a truncated episode bootstraps from it, a terminated one from nothing. next_value/next_done: after the rollout."""
    advantages = torch.zeros_like(rewards)
    lastgaelam = 0
    for t in reversed(range(len(rewards))):
        if t == len(rewards) - 1:
            nextnonterminal = 1.0 - next_done
            nextvalues = next_value
        else:
            nextnonterminal = 1.0 - dones[t + 1]
            nextvalues = values[t + 1]
        delta = rewards[t] + gamma * (nextvalues * nextnonterminal + final_values[t]) - values[t]
        advantages[t] = lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
    return advantages, advantages + values


if __name__ == "__main__":
    args = tyro.cli(Args)
    resumed = load_resume(args, sys.argv[1:]) if args.resume else None  # the run's flags, models and carry-over
    args.batch_size = int(args.num_envs * args.num_steps)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    args.num_iterations = args.total_timesteps // args.batch_size
    if args.learning_rate is None:
        trains_cnn = args.obs_type == "pixels" and args.encoder == "cnn"
        args.learning_rate = LEARNING_RATES[args.task] * (CNN_LEARNING_RATE_SCALE if trains_cnn else 1.0)
    if args.beta is None:  # BONUS: the authors' value
        args.beta = 0.05 if args.task.endswith("Reach") else 0.5  # BONUS:
    check_args(args)
    if args.eval_checkpoint:  # evaluate a saved model and stop
        evaluate_checkpoint(args)
        raise SystemExit(0)
    run_name = f"{args.task}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = args.resume.rstrip("/") if resumed else f"runs/{run_name}"
    run_name = os.path.basename(run_dir)

    # seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.use_deterministic_algorithms(args.torch_deterministic, warn_only=True)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    # env setup and models (a missing OpenGL or a bad MVP checkpoint fails here, before anything is written)
    envs = make_envs(args, args.num_envs, args.seed)
    encoder = make_encoder(args)
    agent = Agent(envs, args, encoder).to(device)
    if args.compile and encoder is not None:
        encoder.compile()  # in place: the state dict keeps its keys
    # Adam with eps 1e-8 (MVP's); a frozen encoder's parameters stay out
    optimizer = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=args.learning_rate)

    # logging: the run folder is the first thing written
    if args.track:
        import wandb

        wandb.init(project=args.wandb_project_name, entity=args.wandb_entity, sync_tensorboard=True,
                   config=vars(args), name=run_name, monitor_gym=False, save_code=True)
    # resumed: TensorBoard drops what the killed run logged after its checkpoint (purge_step). It reads a folder's event
    # files in name order, and a name starts with the second the file was made, then the pid: a file made in the killed
    # run's second could sort before the killed run's and lose to it, so wait for the next second
    if resumed:
        made = [int(name.split(".")[3]) for name in os.listdir(run_dir) if name.startswith("events.out.tfevents.")]
        while time.time() < max(made, default=0) + 1:
            time.sleep(0.05)
    writer = SummaryWriter(run_dir, purge_step=resumed["global_step"] + 1 if resumed else None)
    if not resumed:
        writer.add_text("hyperparameters",
                        "|param|value|\n|-|-|\n%s" % "\n".join(f"|{k}|{v}|" for k, v in vars(args).items()))

    # storage (the images stay uint8; frozen-encoder features are cached, as MVP did)
    obs_space = envs.single_observation_space
    obs_buf = {k: torch.zeros((args.num_steps, args.num_envs) + obs_space[k].shape,
                              dtype=torch.uint8 if k == "pixels" else torch.float32, device=device) for k in obs_space}
    feat_dim = encoder.out_dim if encoder is not None else obs_space["state"].shape[0]
    feats_buf = torch.zeros((args.num_steps, args.num_envs, feat_dim), device=device)
    # BONUS: the MIMEx model and its optimiser; the rollout's sequences and each env's last T features
    mimex = MIMEx(feat_dim, args).to(device)
    if args.compile:
        mimex.compile()
    mimex_optimizer = torch.optim.Adam(mimex.parameters(), lr=args.mimex_lr)
    seqs = torch.zeros((args.num_steps, args.num_envs, args.seq_len, feat_dim), device=device)
    history = torch.zeros((args.num_envs, args.seq_len, feat_dim), device=device)  # the last T features per env
    actions = torch.zeros((args.num_steps, args.num_envs) + envs.single_action_space.shape, device=device)
    logprobs = torch.zeros((args.num_steps, args.num_envs), device=device)
    rewards = torch.zeros((args.num_steps, args.num_envs), device=device)
    dones = torch.zeros((args.num_steps, args.num_envs), device=device)
    values = torch.zeros((args.num_steps, args.num_envs), device=device)
    final_values = torch.zeros((args.num_steps, args.num_envs), device=device)

    # start the game
    global_step = 0
    start_time = time.time()
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = to_torch(next_obs, device)
    next_done = torch.zeros(args.num_envs, device=device)
    ep_return, ep_length = np.zeros(args.num_envs), np.zeros(args.num_envs, dtype=np.int64)
    video_frames, video_episode = [], 0
    coverage_steps, coverage_counts = [], {part: [] for part in envs.coverage.counts}  # where the hand (object) went
    start_iteration = 1
    if resumed:  # continue where the checkpoint left the run: models, envs, carry-over, then the RNGs
        start_iteration, global_step = resumed["iteration"] + 1, resumed["global_step"]
        start_time = time.time() - resumed["seconds"]
        agent.load_state_dict(resumed["agent"])
        optimizer.load_state_dict(resumed["optimizer"])
        envs.set_state(resumed["envs"])
        carry = resumed["carry"]
        next_obs, next_done = to_torch(carry["next_obs"], device), carry["next_done"].to(device)
        ep_return, ep_length, video_episode = carry["ep_return"], carry["ep_length"], carry["video_episode"]
        coverage_steps, coverage_counts = carry["coverage_steps"], carry["coverage_counts"]
        # BONUS: the MIMEx model, its optimiser and each env's last T features
        mimex.load_state_dict(resumed["bonus"]["model"])
        mimex_optimizer.load_state_dict(resumed["bonus"]["optimizer"])
        history = resumed["bonus"]["history"].to(device)
        random.setstate(resumed["rng"]["python"])
        np.random.set_state(resumed["rng"]["numpy"])
        torch.set_rng_state(resumed["rng"]["torch"])
        if torch.cuda.is_available() and resumed["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(resumed["rng"]["cuda"])

    for iteration in range(start_iteration, args.num_iterations + 1):
        finished = {"return": [], "length": [], "success": [], "terminated": [], "cells": {}}

        for step in range(0, args.num_steps):
            global_step += args.num_envs
            for k in obs_buf:
                obs_buf[k][step] = next_obs[k]
            dones[step] = next_done

            with torch.no_grad():
                feats = agent.features(next_obs)
                action, logprob, _, value = agent.get_action_and_value(feats, next_obs)
            feats_buf[step] = feats
            history = MIMEx.push(history, feats, next_done)  # BONUS:
            seqs[step] = history  # BONUS:
            values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            obs_np, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            done = np.logical_or(terminations, truncations)
            rewards[step] = torch.as_tensor(reward, device=device)
            final_values[step] = 0.0
            if truncations.any():  # time limit: GAE bootstraps from the value of the episode's last observation
                final = to_torch(infos["final_obs"], device)
                with torch.no_grad():
                    final_value = agent.get_value(agent.features(final), final).flatten()
                final_values[step] = final_value * torch.as_tensor(truncations, device=device)
            if args.capture_video:
                frame = obs_np["pixels"][0].transpose(1, 2, 0) if args.obs_type == "pixels" else envs.render()
                video_frames.append(frame)
            next_obs, next_done = to_torch(obs_np, device), torch.as_tensor(done, dtype=torch.float32, device=device)

            ep_return += reward
            ep_length += 1
            for i in np.flatnonzero(done):
                finished["return"].append(ep_return[i])
                finished["length"].append(ep_length[i])
                finished["success"].append(float(infos["success"][i]))
                finished["terminated"].append(float(terminations[i]))  # collision or fall, not the time limit
                for part, cells in infos["episode_cells"].items():  # distinct grid cells of the episode
                    finished["cells"].setdefault(part, []).append(cells[i])
                ep_return[i], ep_length[i] = 0.0, 0
            if args.capture_video and done[0]:
                if round(video_episode ** (1 / 3)) ** 3 == video_episode or video_episode % 1000 == 0:
                    os.makedirs(f"videos/{run_name}", exist_ok=True)
                    imageio.mimsave(f"videos/{run_name}/episode-{video_episode}.mp4", video_frames, fps=30)
                video_frames, video_episode = [], video_episode + 1

        if finished["return"]:
            print(f"global_step={global_step}, episodic_return={np.mean(finished['return']):.2f}, "
                  f"success_rate={np.mean(finished['success']):.2f}")
            writer.add_scalar("charts/episodic_return", np.mean(finished["return"]), global_step)
            writer.add_scalar("charts/episodic_length", np.mean(finished["length"]), global_step)
            writer.add_scalar("charts/success_rate", np.mean(finished["success"]), global_step)
            writer.add_scalar("charts/termination_rate", np.mean(finished["terminated"]), global_step)
            for part, cells in finished["cells"].items():
                writer.add_scalar(f"charts/{COVERAGE_PREFIX[part]}episode_coverage", np.mean(cells), global_step)
        for part, share in envs.coverage.fraction().items():  # share of the grid's cells visited since the start
            writer.add_scalar(f"charts/{COVERAGE_PREFIX[part]}coverage", share, global_step)
        if any(global_step - args.batch_size < mark <= global_step for mark in args.coverage_snapshots):
            coverage_steps.append(global_step)
            for part, counts in envs.coverage.counts.items():
                coverage_counts[part].append(counts.astype(np.uint32))

        # BONUS: one MIMEx pass over all the rollout's sequences: each step's intrinsic reward is its sequence's loss
        # BONUS: under the model before this rollout's update; then one optimiser step on their mean (the authors')
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            intrinsic, bonus_loss = mimex(seqs.view(-1, args.seq_len, feat_dim), args.n_mask)
        intrinsic = intrinsic.float()
        mimex_optimizer.zero_grad()
        bonus_loss.backward()
        mimex_optimizer.step()
        beta = args.beta * (1.0 - (iteration - 1) / args.num_iterations) if args.beta_anneal else args.beta
        rewards += beta * intrinsic.view(args.num_steps, args.num_envs)

        # bootstrap value if not done
        with torch.no_grad():
            next_value = agent.get_value(agent.features(next_obs), next_obs).flatten()
            advantages, returns = compute_gae(rewards, values, dones, final_values, next_value, next_done,
                                              args.gamma, args.gae_lambda)
            if args.norm_adv:  # over the whole rollout, after the returns are taken (MVP)
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        # flatten the batch
        b_obs = {k: v.reshape((-1,) + v.shape[2:]) for k, v in obs_buf.items()}
        b_feats = feats_buf.reshape(-1, feat_dim)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + envs.single_action_space.shape)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # Optimizing the policy and value network
        b_inds = np.arange(args.batch_size)  # in order: minibatch k = steps k*T/M to (k+1)*T/M of every env (MVP)
        clipfracs = []
        for epoch in range(args.update_epochs):
            if args.anneal_lr:  # cosine schedule to 0 over the run, stepped every epoch (MVP)
                progress = (iteration - 1 + epoch / args.update_epochs) / args.num_iterations
                optimizer.param_groups[0]["lr"] = args.learning_rate * 0.5 * (1 + np.cos(np.pi * progress))
            if args.shuffle_minibatches:
                np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start:start + args.minibatch_size]
                mb_obs = {k: v[mb_inds] for k, v in b_obs.items()}
                mb_feats = agent.features(mb_obs) if encoder is not None and encoder.trainable else b_feats[mb_inds]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(mb_feats, mb_obs, b_actions[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                with torch.no_grad():
                    # calculate approx_kl http://joschu.net/blog/kl-approx.html
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]

                mb_advantages = b_advantages[mb_inds]

                # Policy loss
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                # Value loss: MVP's plain squared error, without CleanRL's factor 0.5
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds],
                                                                -args.clip_coef, args.clip_coef)
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values.cpu().numpy(), b_returns.cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
        writer.add_scalar("losses/value_loss", v_loss.item(), global_step)
        writer.add_scalar("losses/policy_loss", pg_loss.item(), global_step)
        writer.add_scalar("losses/entropy", entropy_loss.item(), global_step)
        writer.add_scalar("losses/old_approx_kl", old_approx_kl.item(), global_step)
        writer.add_scalar("losses/approx_kl", approx_kl.item(), global_step)
        writer.add_scalar("losses/clipfrac", np.mean(clipfracs), global_step)
        writer.add_scalar("losses/explained_variance", explained_var, global_step)
        # BONUS: the rollout's mean r_i (raw, and as PPO got it) and the loss the bonus model stepped on
        writer.add_scalar("charts/intrinsic_reward", intrinsic.mean().item(), global_step)
        writer.add_scalar("charts/intrinsic_reward_scaled", beta * intrinsic.mean().item(), global_step)
        writer.add_scalar("losses/bonus_loss", bonus_loss.item(), global_step)
        print("SPS:", int(global_step / (time.time() - start_time)))
        writer.add_scalar("charts/SPS", int(global_step / (time.time() - start_time)), global_step)

        if args.checkpoint_every and iteration % args.checkpoint_every == 0 and iteration < args.num_iterations:
            writer.flush()  # what is logged up to here is on disk before the checkpoint says so
            checkpoint = {
                "format": CHECKPOINT_FORMAT, "script": os.path.basename(__file__), "args": vars(args),
                "iteration": iteration, "global_step": global_step, "seconds": time.time() - start_time,
                "agent": agent.state_dict(), "optimizer": optimizer.state_dict(), "envs": envs.get_state(),
                "carry": {"next_obs": {k: v.cpu() for k, v in next_obs.items()}, "next_done": next_done.cpu(),
                          "ep_return": ep_return, "ep_length": ep_length, "video_episode": video_episode,
                          "coverage_steps": coverage_steps, "coverage_counts": coverage_counts},
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}
            # BONUS: the MIMEx model, its optimiser and each env's last T features
            checkpoint["bonus"] = {"model": mimex.state_dict(), "optimizer": mimex_optimizer.state_dict(),
                                   "history": history.cpu()}
            save_atomic(checkpoint, f"{run_dir}/checkpoint.pt")

    coverage_steps.append(global_step)  # the visit counts at the snapshots and at the end, for heat maps
    for part, counts in envs.coverage.counts.items():
        coverage_counts[part].append(counts.astype(np.uint32))
    with open(f"{run_dir}/coverage.npz", "wb") as f:
        np.savez_compressed(f, steps=np.array(coverage_steps), **{p: np.stack(c) for p, c in coverage_counts.items()})

    if args.save_model:
        model_path = f"{run_dir}/{args.exp_name}.cleanrl_model"
        state = {"args": vars(args), "agent": agent.state_dict()}
        state["mimex"] = mimex.state_dict()  # BONUS:
        torch.save(state, model_path + ".tmp")
        os.replace(model_path + ".tmp", model_path)  # never leave a half-written checkpoint
        print(f"model saved to {model_path}")
        returns, _ = evaluate(agent, args, device, args.eval_episodes, args.seed + 1)
        for k, r in enumerate(returns):
            writer.add_scalar("eval/episodic_return", r, k)

    envs.close()
    writer.close()
