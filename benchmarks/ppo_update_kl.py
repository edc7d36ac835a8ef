"""How far does one PPO update move the pixel policy, and which part of the loss moves it? From a checkpoint of a
`ppo_pixmc.py` run (pixels; a state run's for comparison).

    python benchmarks/ppo_update_kl.py runs/RUN/checkpoint.pt
    python benchmarks/ppo_update_kl.py runs/RUN/checkpoint.pt --variants "as run" "lr / 4"

It restores the run at its checkpoint (models, Adam's moments, envs, RNGs), collects the next rollout as the script
does, then applies that iteration's update (its epochs, minibatches and learning rate) several times from the same
start, once per variant, and prints after epochs 1, 5 and the last the exact KL divergence from the rollout's policy to
the updated one (nats; Gaussians, summed over action dimensions, averaged over the rollout's observations) and the
share of the rollout whose probability ratio left PPO's clip range. Variants:

- "as run": the script's loss (clipped policy loss + vf_coef x value loss), through everything.
- "policy loss only": the value loss left out.
- "value loss only": the policy loss left out. With a frozen policy head, whatever KL this shows is the policy moved by
  the critic's gradient through the layers the two heads share: the image encoder and the two projections.
- "critic on detached features": the critic reads the shared layers' output detached, so its gradient stays in its
  own MLP; the policy loss trains the shared layers alone.
- "lr / 4": as run, at a quarter of the run's learning rate (its schedule scaled; 2.5e-4 for a FrankaReach run at the
  authors' 1e-3).

PPO's clip bounds the change of each sample's probability only through the policy loss's gradient: a change the value
loss makes through shared layers is not clipped. About a minute per variant on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import random
import sys

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ppo_pixmc import Agent, Args, compute_gae, make_encoder, make_envs, to_torch  # noqa: E402

VARIANTS = ("as run", "policy loss only", "value loss only", "critic on detached features", "lr / 4")


def restore(path: str):
    """The run's args, agent, optimiser and envs at the checkpoint, the RNGs set as the run had them."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("script") != "ppo_pixmc.py":
        raise SystemExit(f"{path}: not a checkpoint of ppo_pixmc.py (runs/RUN/checkpoint.pt)")
    args = Args(**ckpt["args"])
    envs = make_envs(args, args.num_envs, args.seed)
    agent = Agent(envs, args, make_encoder(args))
    agent.load_state_dict(ckpt["agent"])
    optimizer = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=args.learning_rate)
    optimizer.load_state_dict(ckpt["optimizer"])
    envs.set_state(ckpt["envs"])
    random.setstate(ckpt["rng"]["python"])
    np.random.set_state(ckpt["rng"]["numpy"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    return args, ckpt, agent, optimizer, envs


@torch.no_grad()
def rollout(args: Args, agent: Agent, envs, next_obs: dict, next_done: torch.Tensor) -> dict:
    """One rollout as ppo_pixmc.py collects it (no logging), with its advantages (normalised) and returns."""
    T, N = args.num_steps, args.num_envs
    obs = {k: [] for k in next_obs}
    actions, logprobs, rewards, dones, values, final_values = [], [], [], [], [], []
    for _ in range(T):
        for k in obs:
            obs[k].append(next_obs[k])
        dones.append(next_done)
        action, logprob, _, value = agent.get_action_and_value(agent.features(next_obs), next_obs)
        obs_np, reward, terminated, truncated, info = envs.step(action.numpy())
        final = torch.zeros(N)
        if truncated.any():
            last = to_torch(info["final_obs"], "cpu")
            final = agent.get_value(agent.features(last), last).flatten() * torch.as_tensor(truncated)
        actions.append(action), logprobs.append(logprob), values.append(value.flatten())
        rewards.append(torch.as_tensor(reward, dtype=torch.float32)), final_values.append(final)
        next_obs = to_torch(obs_np, "cpu")
        next_done = torch.as_tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
    stack = torch.stack
    next_value = agent.get_value(agent.features(next_obs), next_obs).flatten()
    advantages, returns = compute_gae(stack(rewards), stack(values), stack(dones), stack(final_values), next_value,
                                      next_done, args.gamma, args.gae_lambda)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    flat = lambda x: x.reshape((T * N,) + x.shape[2:])  # noqa: E731
    return {"obs": {k: flat(stack(v)) for k, v in obs.items()}, "actions": flat(stack(actions)),
            "logprobs": flat(stack(logprobs)), "advantages": flat(advantages), "returns": flat(returns)}


@torch.no_grad()
def policy(agent: Agent, obs: dict, batch: int = 256) -> Normal:
    means = []
    for k in range(0, len(obs["state"]), batch):
        o = {key: v[k:k + batch] for key, v in obs.items()}
        means.append(agent.actor_mean(agent.trunk(agent.features(o), o)))
    mean = torch.cat(means)
    return Normal(mean, agent.actor_logstd.expand_as(mean).exp())


def update(args: Args, agent: Agent, optimizer, batch: dict, iteration: int, variant: str, old: Normal) -> list:
    """The script's update loop under one variant; [(KL, clip share)] after each epoch."""
    rows, lr_scale = [], 0.25 if variant == "lr / 4" else 1.0
    inds = np.arange(args.batch_size)
    for epoch in range(args.update_epochs):
        if args.anneal_lr:
            progress = (iteration - 1 + epoch / args.update_epochs) / args.num_iterations
            optimizer.param_groups[0]["lr"] = lr_scale * args.learning_rate * 0.5 * (1 + np.cos(np.pi * progress))
        for start in range(0, args.batch_size, args.minibatch_size):
            mb = inds[start:start + args.minibatch_size]
            obs = {k: v[mb] for k, v in batch["obs"].items()}
            x = agent.trunk(agent.features(obs), obs)
            mean = agent.actor_mean(x)
            dist = Normal(mean, agent.actor_logstd.expand_as(mean).exp())
            ratio = (dist.log_prob(batch["actions"][mb]).sum(1) - batch["logprobs"][mb]).exp()
            adv = batch["advantages"][mb]
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
            value = agent.critic(x.detach() if variant == "critic on detached features" else x).view(-1)
            v_loss = ((value - batch["returns"][mb]) ** 2).mean()
            loss = {"policy loss only": pg_loss, "value loss only": v_loss * args.vf_coef}.get(
                variant, pg_loss + v_loss * args.vf_coef)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
        new = policy(agent, batch["obs"])
        ratio = (new.log_prob(batch["actions"]).sum(1) - old.log_prob(batch["actions"]).sum(1)).exp()
        rows.append((kl_divergence(old, new).sum(1).mean().item(),
                     ((ratio - 1).abs() > args.clip_coef).float().mean().item()))
    return rows


def measure(path: str, variants=VARIANTS) -> tuple[int, dict]:
    """The checkpoint's env step and, per variant, update()'s rows, every variant from the same rollout and start."""
    args, ckpt, agent, optimizer, envs = restore(path)
    carry = ckpt["carry"]
    batch = rollout(args, agent, envs, to_torch(carry["next_obs"], "cpu"), carry["next_done"])
    envs.close()
    old = policy(agent, batch["obs"])
    start = (copy.deepcopy(agent.state_dict()), copy.deepcopy(optimizer.state_dict()))
    out = {}
    for variant in variants:
        agent.load_state_dict(start[0])
        optimizer.load_state_dict(copy.deepcopy(start[1]))  # it would take Adam's moment tensors as they are
        out[variant] = update(args, agent, optimizer, batch, ckpt["iteration"] + 1, variant, old)
    return ckpt["global_step"], out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoint.pt files of ppo_pixmc.py runs (pixels or state)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    cli = parser.parse_args()
    print("| checkpoint | env steps | variant | KL after epoch 1 | after 5 | after the last | outside the clip range, "
          "after the last |\n|---|---|---|---|---|---|---|")
    for path in cli.checkpoints:
        step, found = measure(path, cli.variants)
        for variant, rows in found.items():
            kl5 = f"{rows[4][0]:.4f}" if len(rows) >= 5 else "—"
            print(f"| {path} | {step:,} | {variant} | {rows[0][0]:.4f} | {kl5} | {rows[-1][0]:.4f} | {rows[-1][1]:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
