"""Run a sweep: scripts x tasks x seeds x extra-flag sets, one folder per run in one sweep folder (docs/sweeps.md).

    python benchmark.py --scripts ppo_pixmc.py ppo_pixmc_mimex.py --tasks FrankaReach --seeds 1 2 --obs-type state \
        --total-timesteps 300000 --extra "" "--beta 0.5" --workers 2 [--launcher slurm --slurm-partition gpu --cuda]

A run is started in `{sweep_dir}/{script}__{task}[__{extra flags}]__seed{seed}/` (its `runs/` lands there, next to its
stdout.log, stderr.log and run.json); finished.json is written there after exit code 0, and the run's data (its
scalars, the coverage visit counts, the command and the code's commit) to `{results_dir}/{the same name}.npz`, a
compact file to commit. The same command again skips finished runs and runs whose data file exists, resumes runs that
left a checkpoint (PPO scripts, --resume) and reruns the rest from scratch. A failed run is retried once, then reported
(exit code 1). On Slurm, a job that reaches its time limit or is preempted is requeued and resumes its run. A run
longer than the machine lasts is carried to the next one with --park: its folder, checkpoint included, goes to
`{results_dir}/unfinished/{name}.tar` to commit, and the same command on a clean clone resumes it from there.
"""

import json
import os
import platform
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import tyro

REPO = Path(__file__).resolve().parent
FINISHED = "finished.json"
ATTEMPTS = "attempts.json"  # in a run folder: one entry per process start (machine, start step, seconds so far)
TICK = float(os.environ.get("BENCHMARK_TICK", 60))  # seconds between updates of a live attempt's time (tests: less)
# What a run's data file keeps of its TensorBoard log: the tags that plot.py and benchmarks/results_page.py read
EXPORTED_TAGS = ("charts/success_rate", "charts/episodic_return", "charts/episodic_length", "charts/termination_rate",
                 "charts/coverage", "charts/episode_coverage", "charts/object_coverage",
                 "charts/object_episode_coverage", "charts/intrinsic_reward", "charts/intrinsic_reward_scaled",
                 "losses/entropy", "losses/approx_kl", "losses/explained_variance", "charts/SPS",
                 "eval/episodic_return")


@dataclass
class Args:
    scripts: list[str] = field(default_factory=lambda: ["ppo_pixmc.py"])
    """training scripts: names in this repository (ppo_pixmc.py, ...) or paths to .py files"""
    tasks: list[str] = field(default_factory=lambda: ["FrankaReach"])
    """tasks, passed as --task (PixMC: FrankaReach ... KukaMove; DrQ-v2: dm_control names like cartpole_swingup)"""
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    """seeds, passed as --seed"""
    extra: list[str] = field(default_factory=lambda: [""])
    """a grid axis: one run per flag set per script/task/seed, e.g. --extra "" "--beta 0.5" (part of the method and folder)"""
    common: str = ""
    """flags passed to every run as they are (not a grid axis, not in the folder name), e.g. "--num-envs 512" """
    task_flags: list[str] = field(default_factory=list)
    """flags for one task's runs, as "TASK: FLAGS", e.g. "KukaPick: --total-timesteps 65536000" (not in the folder name)"""
    obs_type: Optional[Literal["pixels", "state"]] = None
    """passed as --obs-type when set (PixMC scripts)"""
    total_timesteps: Optional[int] = None
    """passed as --total-timesteps when set (PixMC scripts; DrQ-v2 takes --total-frames through --common)"""
    reward_level: Optional[Literal["dense", "sparse", "sparser"]] = None
    """passed as --reward-level when set (PixMC scripts)"""
    cuda: bool = False
    """if toggled, the runs get --cuda (use the GPU); else --no-cuda"""
    sweep_dir: str = "sweeps/default"
    """the sweep folder: one subfolder per run, plus submitit/ (job logs) and commands.txt (every invocation)"""
    results_dir: Optional[str] = None
    """where each finished run's data file goes (default: results/{name of the sweep folder} in this repository)"""
    export_only: bool = False
    """if toggled, write the data files of finished runs that lack one, and exit (runs nothing, deletes nothing)"""
    park: bool = False
    """if toggled, pack every unfinished run that left a checkpoint (its whole folder) into
    {results_dir}/unfinished/{name}.tar, to commit, and exit (runs nothing); the same sweep command on another machine
    (from a checkout of the run's commit) unpacks it and resumes the run; the file is deleted when the run finishes"""
    launcher: Literal["local", "slurm", "submitit-local"] = "local"
    """local: worker processes here; slurm: one Slurm job per run (submitit); submitit-local: submitit's local executor"""
    workers: int = 1
    """runs at once (local); the most jobs queued or running at once (slurm, submitit-local)"""
    threads: int = 1
    """CPU threads per run: OMP/MKL/OpenBLAS (and so torch) threads; local: the cores it is pinned to; slurm: cpus"""
    pin_cores: bool = True
    """if toggled (local launcher, Linux), pin each worker to its own `threads` cores; PixMC's env then also makes
    one thread per pinned core (pixmc_sparse.make's default num_threads), as the scripts have no flag for it; cores
    are taken from those the sweep may use, first first: start a second sweep beside it under `taskset -c OTHER_CORES`"""
    slurm_partition: Optional[str] = None
    """Slurm partition (default: the cluster's)"""
    slurm_time: int = 24 * 60
    """Slurm (and submitit-local) time limit per run, minutes"""
    slurm_gpus_per_task: int = 0
    """GPUs per Slurm job (use with --cuda)"""
    dry_run: bool = False
    """if toggled, print each run's folder, state and command, and exit without running or deleting anything"""


@dataclass
class Run:
    name: str  # the folder name: script, task, extra flags, seed
    method: str  # script name + extra flags: how plot.py groups runs
    script: str  # absolute path
    task: str
    seed: int
    extra: str
    flags: list[str]  # the script's command line
    dir: str
    data: str  # the run's data file (results_dir / f"{name}.npz")
    command: str  # the benchmark.py command that started the sweep


def shield_flag_values(argv: list[str]) -> list[str]:
    """tyro reads any value that starts with "--" as a flag: give the values of --extra, --common and --task-flags
    (every word up to the next flag of this file) a leading space, which shlex.split drops again."""
    own = {"-h", "--help"}
    for f in fields(Args):
        own |= {"--" + f.name.replace("_", "-"), "--no-" + f.name.replace("_", "-")}
    out, in_value = [], False
    for word in argv:
        if word.split("=")[0] in own:
            in_value = word in ("--extra", "--common", "--task-flags")
            out.append(word)
        else:
            out.append(" " + word if in_value and word.startswith("-") else word)
    return out


def fail(message: str):
    raise SystemExit(f"benchmark.py: error: {message}")


def split_flags(text: str, what: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as err:
        fail(f"{what} {text!r}: {err}")


def resolve_script(name: str) -> Path:
    for path in (Path(name), REPO / name):
        if path.is_file() and path.suffix == ".py":
            return path.resolve()
    known = ", ".join(sorted(p.name for p in REPO.glob("*_*.py")))  # the training scripts
    fail(f"unknown script {name!r}: no such .py file here or in {REPO} (known: {known})")


def folder_name(words: list[str]) -> str:
    """--beta 0.5 --seq-len 3  ->  beta-0.5_seq-len-3"""
    groups = []
    for word in words:
        word = "".join(c if c.isalnum() or c in ".-" else "-" for c in word.replace("=", "-"))
        if word.startswith("-") or not groups:
            groups.append(word.lstrip("-"))
        else:
            groups[-1] += "-" + word
    return "_".join(groups)


def expand(args: Args, sweep_dir: Path, results_dir: Path, command: str = "") -> list[Run]:
    for name in ("scripts", "tasks", "seeds", "extra"):
        if not getattr(args, name):
            fail(f"--{name.replace('_', '-')} is empty: give at least one value")
    if args.workers < 1 or args.threads < 1:
        fail(f"--workers and --threads must be >= 1, got {args.workers} and {args.threads}")
    per_task = {task: [] for task in args.tasks}
    for entry in args.task_flags:
        task, sep, flags = entry.strip().partition(":")
        if not sep or task.strip() not in per_task:
            fail(f"--task-flags {entry.strip()!r}: expected 'TASK: FLAGS' with TASK one of --tasks {args.tasks}")
        per_task[task.strip()] += split_flags(flags, "--task-flags")
    common = ["--cuda" if args.cuda else "--no-cuda"]
    for name in ("obs_type", "total_timesteps", "reward_level"):
        if getattr(args, name) is not None:
            common += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    common += split_flags(args.common, "--common")
    runs = []  # seed-major order: a sweep stopped halfway has compared every method on the same first seeds
    scripts = [resolve_script(script) for script in args.scripts]
    for seed in args.seeds:
        for task in args.tasks:
            for extra in args.extra:
                words = split_flags(extra, "--extra")
                for script in scripts:
                    method = " ".join([script.stem, shlex.join(words)]).strip()
                    name = "__".join(filter(None, [script.stem, task, folder_name(words), f"seed{seed}"]))
                    flags = ["--task", task, "--seed", str(seed), *common, *per_task[task], *words]
                    runs.append(Run(name, method, str(script), task, seed, shlex.join(words), flags, str(sweep_dir / name),
                                    str(results_dir / f"{name}.npz"), command))
    names = [run.name for run in runs]
    if len(set(names)) < len(names):
        fail(f"two runs share a folder name ({sorted({n for n in names if names.count(n) > 1})[0]}): duplicate values?")
    return runs


def recorded_flags(run: Run) -> Optional[list[str]]:
    """The command line a finished run was started with (None: not finished): from its data file, else its folder."""
    if Path(run.data).is_file():
        return read_run_data(run.data)["meta"]["flags"]
    path = Path(run.dir) / FINISHED
    return json.loads(path.read_text())["flags"] if path.is_file() else None


def code_commit(script: str) -> str:
    """The commit of the git checkout that holds the script, "+dirty" if its tracked files differ from it."""
    folder = str(Path(script).parent)
    try:
        commit = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def machine_name() -> str:
    """This machine's CPU model and the cores this process may use, e.g. "AMD EPYC (family 26 model 2, AVX-512 BF16),
    2 cores": a model name alone ("AMD EPYC") can stand for CPUs several times apart in speed."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    field = {}
    for line in lines:
        key, _, value = line.partition(":")
        field.setdefault(key.strip(), value.strip())
    cpu = field.get("model name") or platform.processor() or platform.machine()
    detail = [f"family {field['cpu family']} model {field['model']}"] if "cpu family" in field and "model" in field else []
    flags = field.get("flags", "").split()
    detail += [name for flag, name in (("avx512_bf16", "AVX-512 BF16"), ("amx_bf16", "AMX")) if flag in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}{' (' + ', '.join(detail) + ')' if detail else ''}, {cores} core{'s' if cores != 1 else ''}"


def sweep_command(sweep_dir: Path) -> str:
    """The last benchmark.py command of a sweep folder's commands.txt (for runs started before run.json kept it)."""
    path = sweep_dir / "commands.txt"
    lines = path.read_text().strip().splitlines() if path.is_file() else []
    return re.sub(r"^.*?: \S*python\S* ", "python ", lines[-1]) if lines else ""


def runs_word(n: int, noun: str = "run") -> str:
    """"1 run", "2 runs" (and "1 unfinished run" ...)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def read_scalars(tb_dir: Path, tags=None) -> dict:
    """{tag: (steps int64, values float32)} of a TensorBoard folder (all tags, or those of `tags` it has)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        if tags is None or tag in tags:
            events = acc.Scalars(tag)
            out[tag] = (np.array([e.step for e in events], np.int64), np.array([e.value for e in events], np.float32))
    return out


def export_run(run: Run) -> Path:
    """Write a finished run's data file: meta (run.json + finished.json fields, the code's commit, the machine),
    the EXPORTED_TAGS of its TensorBoard log and the coverage visit counts its script saved. Atomic (temp + rename)."""
    run_dir, data = Path(run.dir), Path(run.data)
    info = json.loads((run_dir / "run.json").read_text())
    meta = dict(info, **json.loads((run_dir / FINISHED).read_text()), script=Path(info["script"]).name,
                name=run.name, commit=info.get("commit") or code_commit(info["script"]),
                command=info.get("command") or sweep_command(run_dir.parent),
                machine=machine_name(),
                exported=time.ctime())
    attempts = json.loads((run_dir / ATTEMPTS).read_text()) if (run_dir / ATTEMPTS).is_file() else []
    if attempts:  # all its attempts, on whichever machines ran them (a run folder of older code has none)
        meta.update(attempts=attempts, seconds=round(sum(a["seconds"] for a in attempts), 1),
                    machine="; ".join(dict.fromkeys(a["machine"] for a in attempts)))
    meta.pop("dir", None), meta.pop("data", None)
    arrays = {"meta": np.array(json.dumps(meta))}
    tb_dirs = sorted({p.parent for p in (run_dir / "runs").rglob("events.out.tfevents.*")})
    if tb_dirs:
        for tag, (steps, values) in read_scalars(tb_dirs[-1], EXPORTED_TAGS).items():
            arrays[f"scalars/{tag}/step"], arrays[f"scalars/{tag}/value"] = steps, values
        coverage = tb_dirs[-1] / "coverage.npz"
        if coverage.is_file():
            with np.load(coverage) as saved:
                arrays.update({f"coverage/{key}": saved[key] for key in saved.files})
    data.parent.mkdir(parents=True, exist_ok=True)
    tmp = data.with_name(data.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, data)
    return data


def read_run_data(path) -> dict:
    """A data file of export_run -> {"meta": dict, "scalars": {tag: (steps, values)}, "coverage": {key: array}}."""
    with np.load(path) as z:
        out = {"meta": json.loads(z["meta"].item()), "scalars": {}, "coverage": {}}
        for key in z.files:
            if key.startswith("scalars/") and key.endswith("/step"):
                tag = key[len("scalars/"):-len("/step")]
                out["scalars"][tag] = (z[key], z[f"scalars/{tag}/value"])
            elif key.startswith("coverage/"):
                out["coverage"][key[len("coverage/"):]] = z[key]
    return out


def find_checkpoint(run_dir: Path) -> Optional[Path]:
    """The checkpoint a killed run of a PPO script left (runs/{run_name}/checkpoint.pt), if any."""
    found = sorted((run_dir / "runs").glob("*/checkpoint.pt")) if (run_dir / "runs").is_dir() else []
    return found[-1] if found else None


def parked_file(run: Run) -> Path:
    """Where --park puts an unfinished run: next to the data files, so that it is committed with them."""
    return Path(run.data).parent / "unfinished" / f"{run.name}.tar"


def park(run: Run) -> tuple[Path, str]:
    """Pack a run's folder (run.json, logs, TensorBoard log, checkpoint) into parked_file(run), atomically. Safe while
    the run still trains: each file is packed as it was when opened (event files only grow, and a checkpoint is only
    ever replaced whole), half-written checkpoints (*.tmp) are left out, and a resume starts at the checkpoint's step
    and drops the logged points after it."""
    run_dir, path = Path(run.dir), parked_file(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        for file in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.suffix != ".tmp"):
            with open(file, "rb") as f:
                info = tar.gettarinfo(arcname=file.relative_to(run_dir).as_posix(), fileobj=f)
                tar.addfile(info, f)
    with tarfile.open(tmp) as tar:  # the step of the checkpoint packed, which the live run may have replaced since
        step = checkpoint_step(tar.extractfile(find_checkpoint(run_dir).relative_to(run_dir).as_posix()))
    os.replace(tmp, path)
    return path, step


def check_parked(run: Run, path: Path) -> None:
    """A parked run resumes only with the flags and the code it was started with (fail: what differs, and the fix)."""
    try:
        with tarfile.open(path) as tar:
            info = json.load(tar.extractfile("run.json"))
    except (OSError, tarfile.TarError, KeyError, ValueError) as err:
        fail(f"{path} is not a parked run ({type(err).__name__}: {err}); delete it to run {run.name} from scratch")
    if info.get("flags") != run.flags:
        fail(f"{path} was started with other flags ({shlex.join(info.get('flags') or [])}); run it with its own "
             f"sweep command ({info.get('command')}) or delete the file to start afresh")
    here = code_commit(run.script)
    if info.get("commit") != here:
        commit = str(info.get("commit")).split("+")[0]
        fail(f"{path} is a run of commit {info.get('commit')}, and {Path(run.script).parent} is at {here}: resume it "
             f"from a checkout of that commit, e.g. git worktree add ../wt_{commit[:7]} {commit}, and run the same "
             f"command there (or delete the file to start afresh)")


def unpark(run: Run, path: Path) -> Path:
    """Unpack a parked run into its (absent or half-written) folder; its checkpoint's path."""
    shutil.rmtree(run.dir, ignore_errors=True)
    with tarfile.open(path) as tar:
        tar.extractall(run.dir, filter="data")
    return find_checkpoint(Path(run.dir))


def checkpoint_step(path) -> str:
    """The global_step of a checkpoint (a path or an open file) as "1,234", or why it cannot be read."""
    import torch

    try:
        return f"{torch.load(path, map_location='cpu', weights_only=False)['global_step']:,}"
    except Exception as err:  # the script itself refuses it with a clear message when it resumes
        return f"? (unreadable: {type(err).__name__})"


def record_attempt(run_dir: Path, checkpoint: Optional[Path]):
    """Add this attempt to the run folder's ATTEMPTS (machine, step it starts from) and return a function that writes
    its seconds so far. The file travels with the folder (--park), so a run resumed on other machines, or after a
    lost one, adds up the time of all its attempts: its data file's seconds and machines."""
    path = run_dir / ATTEMPTS
    attempts = json.loads(path.read_text()) if path.is_file() else []
    attempts.append({"machine": machine_name(), "from_step": checkpoint_step(checkpoint) if checkpoint else "0",
                     "started": time.ctime(), "seconds": 0.0})

    def record(seconds: float) -> None:
        attempts[-1]["seconds"] = round(seconds, 1)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(attempts, indent=1))
        os.replace(tmp, path)

    record(0.0)
    return record


def execute(run: Run, attempt: int, threads: int, cpus: Optional[list[int]] = None, children: Optional[set] = None) -> int:
    """Run one attempt of a run, in a worker thread (local) or a submitit job; write the marker after exit code 0.
    Where the run left a checkpoint (killed, timed out, preempted), the attempt continues it with --resume. The
    training process is in `children` while it runs (the local launcher's, to stop them). No module-level state
    here: a submitit job pickles this function by value when it requeues itself, and a running process cannot be."""
    run_dir = Path(run.dir)
    checkpoint = find_checkpoint(run_dir)
    if attempt > 1:  # keep the failed attempt's logs; without a checkpoint, start the TensorBoard logs afresh
        for stream in ("stdout", "stderr"):
            if (run_dir / f"{stream}.log").exists():
                os.replace(run_dir / f"{stream}.log", run_dir / f"{stream}.attempt{attempt - 1}.log")
        if checkpoint is None:
            shutil.rmtree(run_dir / "runs", ignore_errors=True)
    flags = run.flags + (["--resume", str(checkpoint.parent.relative_to(run_dir))] if checkpoint else [])
    run_dir.mkdir(parents=True, exist_ok=True)
    # vars, not asdict: in a submitit job the class comes through cloudpickle, and asdict then finds no fields
    (run_dir / "run.json").write_text(json.dumps(dict(vars(run), commit=code_commit(run.script)), indent=1))
    n = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, PYTHONUNBUFFERED="1")
    start = time.time()
    record = record_attempt(run_dir, checkpoint)
    mode = "a" if checkpoint else "w"  # a resumed run's logs follow what the killed one printed
    with open(run_dir / "stdout.log", mode) as out, open(run_dir / "stderr.log", mode) as err:
        proc = subprocess.Popen([sys.executable, run.script, *flags], cwd=run_dir, env=env, stdout=out, stderr=err,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        if children is not None:
            children.add(proc)
        try:
            while True:
                try:
                    returncode = proc.wait(timeout=TICK)
                    break
                except subprocess.TimeoutExpired:
                    record(time.time() - start)
        except BaseException:  # interrupted (submitit's cancel sends SIGINT): take the training process along
            proc.terminate()
            proc.wait()
            raise
        finally:
            record(time.time() - start)
            if children is not None:
                children.discard(proc)
    if returncode == 0:
        marker = {"flags": run.flags, "attempt": attempt, "seconds": round(time.time() - start, 1), "finished": time.ctime()}
        (run_dir / FINISHED).write_text(json.dumps(marker, indent=1))
        export_run(run)
        parked_file(run).unlink(missing_ok=True)  # finished: the parked copy of its folder is obsolete
    return returncode


class LocalLauncher:
    """`workers` threads, each starting one training process at a time on its own cores."""

    def __init__(self, args: Args):
        self.threads, self.pool, self.slots = args.threads, ThreadPoolExecutor(args.workers), queue.Queue()
        self.children = set()  # the training processes started and not seen exiting yet
        cores = sorted(os.sched_getaffinity(0)) if args.pin_cores and hasattr(os, "sched_setaffinity") else None
        slots = [[cores[(slot * args.threads + i) % len(cores)] for i in range(args.threads)] if cores else None
                 for slot in range(args.workers)]
        for cpus in slots:
            self.slots.put(cpus)
        if cores:  # another sweep started beside this one would pin from the same first core: say so
            print(f"pinned to cores {','.join(map(str, sorted({c for cpus in slots for c in cpus})))}; to run another "
                  "sweep beside this one, start it under `taskset -c CORES` naming other cores (or give both "
                  "--no-pin-cores)", flush=True)

    def _work(self, run: Run, attempt: int) -> int:
        cpus = self.slots.get()
        try:
            return execute(run, attempt, self.threads, cpus, self.children)
        finally:
            self.slots.put(cpus)

    def submit(self, run: Run, attempt: int):
        return self.pool.submit(self._work, run, attempt)

    def poll(self, future) -> tuple[Optional[int], str]:
        if not future.done():
            return None, ""
        if future.exception() is not None:
            return -1, f"; {type(future.exception()).__name__}: {future.exception()}"
        return future.result(), ""

    def stop(self, futures) -> None:
        for proc in list(self.children):
            proc.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


class RunJob:
    """What a submitit job runs: one attempt of a run (execute). At a Slurm time limit or a preemption submitit calls
    checkpoint(), which requeues the same job; the requeued job finds the run's checkpoint and resumes it."""

    def __call__(self, run: Run, attempt: int, threads: int) -> int:
        return execute(run, attempt, threads)

    def checkpoint(self, run: Run, attempt: int, threads: int):
        import submitit

        return submitit.helpers.DelayedSubmission(RunJob(), run, attempt, threads)


class SubmititLauncher:
    """One submitit job per run attempt: Slurm, or submitit's local executor (same path up to the scheduler)."""

    def __init__(self, args: Args, sweep_dir: Path):
        import submitit

        cluster = "slurm" if args.launcher == "slurm" else "local"
        self.executor = submitit.AutoExecutor(folder=sweep_dir / "submitit", cluster=cluster)
        self.executor.update_parameters(name=f"benchmark-{sweep_dir.name}", timeout_min=args.slurm_time, nodes=1,
                                        tasks_per_node=1, cpus_per_task=args.threads,
                                        slurm_partition=args.slurm_partition,
                                        slurm_gpus_per_task=args.slurm_gpus_per_task or None)
        self.threads = args.threads

    def submit(self, run: Run, attempt: int):
        return self.executor.submit(RunJob(), run, attempt, self.threads)

    def poll(self, job) -> tuple[Optional[int], str]:
        if not job.done():
            return None, ""
        try:
            return job.result(), ""
        except Exception as err:  # the job itself failed: time limit, preemption, node failure
            return -1, f"; {type(err).__name__}, submitit log: {job.paths.stderr}"

    def stop(self, jobs) -> None:
        for job in jobs:
            job.cancel(check=False)


def stderr_tail(run: Run, lines: int = 5) -> str:
    path = Path(run.dir) / "stderr.log"
    tail = path.read_text(errors="replace").splitlines()[-lines:] if path.is_file() else []
    return f"stderr: {path}\n" + "".join(f"    | {line}\n" for line in tail)


def duration(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if seconds < 86400 else f"{seconds / 86400:.1f} days"


def main() -> int:
    args = tyro.cli(Args, args=shield_flag_values(sys.argv[1:]), description=__doc__.split("\n")[0])
    sweep_dir = Path(args.sweep_dir).resolve()
    results_dir = Path(args.results_dir).resolve() if args.results_dir else REPO / "results" / sweep_dir.name
    command = shlex.join(["python", "benchmark.py", *sys.argv[1:]])
    runs = expand(args, sweep_dir, results_dir, command)
    todo, device = [], ("--cuda", "--no-cuda")  # a finished run counts whichever device it ran on
    for run in runs:
        flags = recorded_flags(run)
        if flags is None:
            todo.append(run)
        elif [f for f in flags if f not in device] != [f for f in run.flags if f not in device]:
            fail(f"{run.dir} finished with other flags ({shlex.join(flags)}); use another --sweep-dir for other settings")
    if args.dry_run:
        for run in runs:
            state = ("finished" if run not in todo else "to resume from its parked file" if parked_file(run).is_file()
                     and find_checkpoint(Path(run.dir)) is None else "to run")
            print(f"{run.name} [{state}]: python {run.script} {shlex.join(run.flags)}")
        return 0
    exported = [export_run(run) for run in runs if run not in todo and not Path(run.data).is_file()]
    if exported or args.export_only:  # finished before this file wrote data files, or by an older version of it
        print(f"wrote {len(exported)} data files to {results_dir}" + "".join(f"\n  {path}" for path in exported))
    if args.export_only:
        return 0
    if args.park:
        parked = [park(run) for run in todo if find_checkpoint(Path(run.dir))]
        left = len(todo) - len(parked)
        print(f"parked {runs_word(len(parked), 'unfinished run')}"
              f"{f' ({left} had no checkpoint)' if left else ''}; commit the files, "
              "and run the sweep's command from a checkout of their commit to resume them"
              + "".join(f"\n  {path}: at step {step}" for path, step in parked))
        return 0
    parked = {run.name: parked_file(run) for run in todo
              if find_checkpoint(Path(run.dir)) is None and parked_file(run).is_file()}
    for run in todo:  # all checked before anything is unpacked
        if run.name in parked:
            check_parked(run, parked[run.name])
    for run in runs:
        if run not in todo and parked_file(run).is_file():
            parked_file(run).unlink()
            print(f"{run.name} has finished: deleted its parked copy {parked_file(run)}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / "commands.txt", "a") as log:
        log.write(f"{time.ctime()}: {shlex.join([sys.executable, *sys.argv])}\n")
    for run in todo:  # a folder without the marker is what an interrupted sweep left: resume it, or start afresh
        checkpoint = find_checkpoint(Path(run.dir))
        if run.name in parked:
            checkpoint = unpark(run, parked[run.name])
            print(f"{run.name}: resumed at step {checkpoint_step(checkpoint)} (parked in {parked[run.name]})", flush=True)
        elif checkpoint is None:
            shutil.rmtree(run.dir, ignore_errors=True)
        else:
            print(f"{run.name}: resumed at step {checkpoint_step(checkpoint)} (its checkpoint)", flush=True)
    total, done, failed = len(runs), len(runs) - len(todo), []
    print(f"{runs_word(total)} in {sweep_dir}: {done} already finished, {len(todo)} to run ({args.launcher}, "
          f"{args.workers} at once)", flush=True)

    launcher = LocalLauncher(args) if args.launcher == "local" else SubmititLauncher(args, sweep_dir)
    pending, active, seconds, start = deque((run, 1) for run in todo), {}, [], time.time()
    previous_handler = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM: stop like Ctrl-C
    try:
        while pending or active:
            while pending and len(active) < args.workers:
                run, attempt = pending.popleft()
                active[launcher.submit(run, attempt)] = (run, attempt, time.time())
            changed = False
            for handle in list(active):
                returncode, note = launcher.poll(handle)
                if returncode is None:
                    continue
                run, attempt, started = active.pop(handle)
                changed = True
                if returncode == 0:
                    done += 1
                    seconds.append(time.time() - started)
                elif attempt == 1:
                    print(f"FAILED (exit {returncode}{note}), retrying once: {run.name}\n{stderr_tail(run)}", end="")
                    pending.append((run, 2))
                else:
                    failed.append(run)
                    print(f"FAILED again (exit {returncode}{note}), giving up: {run.name}\n{stderr_tail(run)}", end="")
            if changed:
                left = len(pending) + len(active)
                eta = duration(sum(seconds) / len(seconds) * left / args.workers) if seconds and left else "?"
                print(f"[{duration(time.time() - start)}] {done}/{total} done, {len(failed)} failed, {len(active)} running,"
                      f" {len(pending)} queued; ETA {eta if left else '0'}", flush=True)
            time.sleep(0.2 if args.launcher == "local" else 2.0)
    except KeyboardInterrupt:
        launcher.stop(list(active))
        print(f"interrupted: {done}/{total} runs finished; run the same command again to resume", flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    if failed:
        print(f"{len(failed)} of {total} runs failed twice:\n" + "".join(f"  {run.dir}/stderr.log\n" for run in failed))
        return 1
    print(f"all {runs_word(total)} finished: {sweep_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
