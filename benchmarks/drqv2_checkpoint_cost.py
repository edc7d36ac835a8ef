"""What a drqv2_dmc_mimex.py checkpoint costs with a full replay. Fills a replay buffer of the default size
(--buffer-size 100,000 agent steps) with random uint8 84x84 frames through the script's own ReplayBuffer, builds the
default models (DrQ-v2 + MIMEx, Adam moments filled), writes the checkpoint with the script's save_atomic as its loop
does (twice: the second replaces the first), and prints the file's size, the write time and how far the process's
peak memory (VmHWM, reset before each write) rose above what it held before the write; then reads it back as --resume
does (load_resume's memory-mapped torch.load, the replay copied into a fresh buffer) and prints that time.

    python benchmarks/drqv2_checkpoint_cost.py                      # the defaults: 100,000 steps, 84 px
    python benchmarks/drqv2_checkpoint_cost.py --buffer-size 1000000 --dir /scratch    # DrQ-v2's 1M (~21 GB)

Measured alone on 2 AMD EPYC cores (virtio disk): 2.32 GB (2.12 GB of replay, 19.8M parameters with their Adam
moments), written in 10-11 s, peak memory +0.00 GB (the replay goes to the file from its own arrays), read back in
1.1 s. With --as-numpy --buffer-size 10000 (torch.save of the numpy arrays themselves, which pickles copies): peak
memory +1.34 GB for 0.21 GB of replay, a 0.52 GB file instead of 0.42 GB, written in 5.4 s instead of 1.9 s.
Needs the replay's memory once more for the read-back's fresh buffer (~2.1 GB at the default) and the file's size on
disk in --dir (default: a temporary folder in the current one, removed at the end). Run it alone: the write time is
the disk's and the page cache's as much as the CPU's.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import random
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def status_kb(field: str) -> int:
    """A line of /proc/self/status in kB: VmRSS (resident now), VmHWM (the peak since the last reset)."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> bool:
    """Set VmHWM back to the current RSS (Linux: 5 > /proc/self/clear_refs); False where that is not allowed."""
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buffer-size", type=int, default=None, help="agent steps (default: the script's, 100,000)")
    parser.add_argument("--image-size", type=int, default=84)
    parser.add_argument("--task", default="cartpole_swingup_sparse")
    parser.add_argument("--dir", default=None, help="where to write the checkpoint (default: a temp folder in .)")
    parser.add_argument("--as-numpy", action="store_true",
                        help="write the replay's numpy arrays themselves, not the script's tensor views: what that costs")
    opts = parser.parse_args()

    import drqv2_dmc_mimex as drq  # its training loop stays under __main__
    overrides = {"task": opts.task, "image_size": opts.image_size}
    if opts.buffer_size is not None:
        overrides["buffer_size"] = opts.buffer_size
    args = drq.resolve_args(drq.Args(**overrides))
    torch.manual_seed(args.seed)

    env, eval_env = drq.DMCEnv(args, args.seed), drq.DMCEnv(args, args.seed + 100_000)
    _, frame = env.reset()
    eval_env.reset()
    act_dim = env.act_dim
    rb = drq.ReplayBuffer(args, frame.shape, act_dim, args.seed)
    rng = np.random.default_rng(0)
    start, episode = time.perf_counter(), 500  # DrQ-v2's 1000-frame episodes at action repeat 2
    while rb.size < rb.capacity:  # every slot written once
        frames = rng.integers(0, 256, (episode + 1, *frame.shape), dtype=np.uint8)
        rb.add_first(frames[0])
        for t in range(1, min(episode + 1, rb.capacity - rb.size + 1)):
            rb.add(rng.uniform(-1, 1, act_dim).astype(np.float32), float(rng.random()), 1.0, frames[t])
    print(f"replay: {rb.size:,} agent steps of {frame.shape} uint8 frames, "
          f"{sum(getattr(rb, a).nbytes for a in rb.ARRAYS) / 1e9:.2f} GB in memory, "
          f"filled in {time.perf_counter() - start:.0f} s")

    encoder = drq.Encoder(3 * args.frame_stack, args.image_size, args.bf16)
    models = {"encoder": encoder, "actor": drq.Actor(encoder.repr_dim, act_dim, args),
              "critic": drq.Critic(encoder.repr_dim, act_dim, args),
              "critic_target": drq.Critic(encoder.repr_dim, act_dim, args)}
    optimizers = {name: torch.optim.Adam(models[name].parameters(), lr=args.learning_rate)
                  for name in ("encoder", "actor", "critic")}
    if args.beta > 0:
        models["mimex"] = drq.MIMEx(encoder.repr_dim, args)
        optimizers["mimex"] = torch.optim.Adam(models["mimex"].parameters(), lr=args.mimex_lr)
    for name, optimizer in optimizers.items():  # one step on zero gradients: Adam's moments exist, as in a run
        for p in models[name].parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
    params = sum(p.numel() for m in models.values() for p in m.parameters())
    print(f"models: {', '.join(models)}: {params / 1e6:.1f}M parameters (Adam: 2 moments each but the target's)")

    # the checkpoint as the script's loop builds it (the counters and RNG states are a few bytes)
    checkpoint = {
        "format": drq.CHECKPOINT_FORMAT, "script": "drqv2_dmc_mimex.py", "args": vars(args),
        "step": 1000, "frames": 2000, "updates": 0, "episode_return": 0.0, "episode_steps": 0, "seconds": 0.0,
        "eval_seconds": 0.0, "models": {name: model.state_dict() for name, model in models.items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in optimizers.items()},
        "replay": rb.state_dict(), "env": env.get_state(), "eval_env": eval_env.get_state(),
        "rng": {"actions": np.random.default_rng(0).bit_generator.state, "python": random.getstate(),
                "numpy": np.random.get_state(), "torch": torch.get_rng_state(), "cuda": []}}

    if opts.as_numpy:
        checkpoint["replay"]["arrays"] = {name: getattr(rb, name)[:rb.size] for name in rb.ARRAYS}
    with tempfile.TemporaryDirectory(dir=opts.dir or ".") as folder:
        path = os.path.join(folder, "checkpoint.pt")
        for attempt in ("first write", "second write (replaces the first)"):
            rss_before, peak_ok = status_kb("VmRSS"), reset_peak()
            start = time.perf_counter()
            drq.save_atomic(checkpoint, path)
            seconds = time.perf_counter() - start
            rise = status_kb("VmHWM") - rss_before
            peak = f"peak memory +{rise / 1e6:.2f} GB above the {rss_before / 1e6:.2f} GB held" if peak_ok else \
                "peak memory not measured (/proc/self/clear_refs not writable)"
            print(f"{attempt}: {os.path.getsize(path) / 1e9:.2f} GB in {seconds:.1f} s "
                  f"({os.path.getsize(path) / 1e9 / seconds:.2f} GB/s); {peak}")

        del checkpoint
        if opts.as_numpy:
            return  # --resume reads the tensor views only
        start = time.perf_counter()
        resumed = drq.load_resume(dataclasses.replace(args, resume=folder), [])
        fresh = drq.ReplayBuffer(args, frame.shape, act_dim, args.seed)
        fresh.load_state_dict(resumed.pop("replay"))
        seconds = time.perf_counter() - start
        assert all(np.array_equal(getattr(fresh, a), getattr(rb, a)) for a in rb.ARRAYS)
        print(f"read back as --resume does (memory-mapped, the replay copied into a fresh buffer): {seconds:.1f} s")
        del resumed, fresh


if __name__ == "__main__":
    sys.exit(main())
