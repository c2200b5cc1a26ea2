"""Running grid steps side by side: each in its own process with its share of the CPU threads.

Small encoders scale poorly across threads (a second thread buys less than a second step running
beside the first), and most of a grid's steps are independent (every baseline fine-tune, the
pre-training runs of different methods, every seed). So the grid runs up to ``jobs`` steps at once,
each in a fresh process with its share of the cores, or a GPU of its own (``choose_parallelism``).
A worker returns plain values (a failure as its message and traceback), so nothing unpicklable
crosses processes.
"""

from __future__ import annotations

import os
import queue as queue_module
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from weamcli.common.errors import WeamError

AUTO_MAX_JOBS = 4  # past this, a job's 1/jobs of the cores is a slow critical path (pre-training)


@dataclass(frozen=True)
class Parallelism:
    jobs: int  # steps run at once
    threads: int | None  # CPU threads per step (None: torch's own choice, one job only)
    reason: str  # how it was chosen, for the log and the run records
    gpus: tuple[str, ...] = ()  # each worker's CUDA_VISIBLE_DEVICES, one per job (none: not set)
    kind: str = "local"  # local workers, or slurm jobs (experiment.slurm)

    def describe(self) -> str:
        """The pool in words, for the log."""
        if self.kind == "slurm":
            return (
                f"submitting each ready step as a Slurm job ({self.reason}; at most {self.jobs} at once, "
                f"{self.threads} torch thread(s) each) and following the jobs from here"
            )
        each = f"{self.threads} CPU thread(s) each"
        if self.gpus:
            shared = len(set(self.gpus)) < len(self.gpus)
            each += f", {'GPUs shared' if shared else 'one GPU each'} ({', '.join(self.gpus)})"
        return f"running up to {self.jobs} steps at once, {each} ({self.reason})"


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    """The CUDA GPUs this process sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpu_present() -> bool:
    return gpu_count() > 0


def gpu_ids() -> list[str]:
    """The GPUs this process sees, as a worker's ``CUDA_VISIBLE_DEVICES`` names them: the entries of
    this process's own ``CUDA_VISIBLE_DEVICES`` when it is set (indices or UUIDs), else 0..n-1."""
    count = gpu_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        names = [x.strip() for x in visible.split(",") if x.strip()]
        if len(names) >= count:
            return names[:count]
    return [str(i) for i in range(count)]


def choose_parallelism(jobs: int | None, threads: int | None, share_gpus: bool = False) -> Parallelism:
    """Steps at once and threads per step from what the user gave (None: choose).

    Default on GPUs: one job per GPU, each worker on its own GPU (``CUDA_VISIBLE_DEVICES`` set in
    the worker before torch starts); more ``jobs`` than GPUs is a WeamError unless ``share_gpus``
    (then round robin). On a CPU: one job per core up to ``AUTO_MAX_JOBS``, each with an equal
    share of the cores, so ``jobs × threads`` is no more than the cores (``oversubscribed``). A
    given ``threads`` fixes the share, so jobs = cores // threads."""
    cores = cpu_cores()
    gpus = gpu_ids()
    if gpus:
        return _on_gpus(gpus, jobs, threads, share_gpus, cores)
    if jobs is None:
        if threads is not None:
            jobs = max(1, min(AUTO_MAX_JOBS, cores // threads))
            return Parallelism(jobs, threads, f"{cores} CPU cores at {threads} thread(s) a job")
        jobs = max(1, min(AUTO_MAX_JOBS, cores))
        return Parallelism(jobs, max(1, cores // jobs), f"{cores} CPU cores")
    if threads is None:
        threads = max(1, cores // jobs) if jobs > 1 else None
    return Parallelism(jobs, threads, "as given")


def _on_gpus(
    gpus: list[str], jobs: int | None, threads: int | None, share_gpus: bool, cores: int
) -> Parallelism:
    reason = "as given"
    if jobs is None:
        jobs, reason = len(gpus), f"one job per GPU ({len(gpus)})"
    elif jobs > len(gpus) and not share_gpus:
        raise WeamError(
            f"{jobs} jobs on {len(gpus)} GPU(s): each job needs a GPU of its own; run at most "
            f"{len(gpus)} jobs, or let jobs share GPUs (--share-gpus, [experiment] share_gpus = true)"
        )
    if threads is None and jobs > 1:
        threads = max(1, cores // jobs)
    # one job runs in this process, on whatever GPU it sees; workers each take one, round robin
    assigned = tuple(gpus[i % len(gpus)] for i in range(jobs)) if jobs > 1 else ()
    return Parallelism(jobs, threads, reason, assigned)


def oversubscribed(plan: Parallelism) -> str | None:
    """A warning when jobs × threads exceeds the cores (None when it does not): more threads than
    cores costs far more than it gives (figures in bench/NOTES.md)."""
    cores = cpu_cores()
    if plan.threads is not None and plan.jobs * plan.threads > cores and not gpu_present():
        return (
            f"{plan.jobs} jobs × {plan.threads} threads on {cores} CPU cores: threads will wait on each "
            "other (measured up to 10× slower); lower jobs or threads"
        )
    return None


# ---------------------------------------------------------------------------- worker side

_progress_queue: Any = None
_step_key = ""
_gpu: str | None = None  # this worker's CUDA_VISIBLE_DEVICES (None: not assigned)


def _init_worker(progress_queue: Any, threads: int | None, gpu_queue: Any = None) -> None:
    global _progress_queue, _gpu
    _progress_queue = progress_queue
    if gpu_queue is not None:
        # first of all: CUDA reads the variable when torch first touches it, in this process
        _gpu = gpu_queue.get()
        os.environ["CUDA_VISIBLE_DEVICES"] = _gpu
    if threads:
        # before torch starts its thread pools: OpenMP reads the variable once
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)


def _report(message: str, done: int | None = None, total: int | None = None, /) -> None:
    _progress_queue.put((_step_key, message, done, total))


@dataclass(frozen=True)
class StepFailure:
    message: str  # one line for the log and the comparison's notes
    detail: str  # the traceback, for experiment-status.jsonl
    extra: dict[str, Any] = field(default_factory=dict)  # more for the status line (a Slurm job's log)


def run_step(runner: Callable[..., dict[str, Any]], step: Any, config: Any, steps: Any, say: Any) -> Any:
    """The runner's info, or a StepFailure."""
    try:
        return runner(step, config, steps, say)
    except Exception as exc:  # a failed cell must not stop the grid; KeyboardInterrupt does
        message = str(exc) if isinstance(exc, WeamError) else f"{type(exc).__name__}: {exc}"
        return StepFailure(message, traceback.format_exc(limit=6))


def run_in_worker(runner: Callable[..., dict[str, Any]], step: Any, config: Any, steps: Any) -> Any:
    """One step in a worker process; only plain values go back."""
    global _step_key
    _step_key = step.key
    info = run_step(runner, step, config, steps, _report)
    if isinstance(info, StepFailure):
        return info
    if _gpu is not None:
        info = {**info, "gpu": _gpu}  # into the step's marker: which GPU made it
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}


# ---------------------------------------------------------------------------- main side


class InlineExecutor:
    """Runs a step at once in this process (one job, or the comparison), submitted like the pool's."""

    def __init__(self, say: Any):
        self.say = say

    def submit(self, runner: Callable[..., Any], step: Any, config: Any, steps: Any) -> Future:
        future: Future = Future()
        future.set_result(run_step(runner, step, config, steps, self.say))
        return future


class WorkerPool:
    """``jobs`` worker processes (spawned: a forked torch can deadlock) and the queue their progress
    reports go through (``drain`` hands them to the main process, which renders them); with
    ``plan.gpus`` each worker takes one of them as it starts (a worker lives for the whole run, so
    it keeps its GPU)."""

    def __init__(self, plan: Parallelism):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.queue = context.Queue()
        gpu_queue = None
        if plan.gpus:
            gpu_queue = context.Queue()
            for gpu in plan.gpus:
                gpu_queue.put(gpu)
        self.pool = ProcessPoolExecutor(
            max_workers=plan.jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.queue, plan.threads, gpu_queue),
        )

    def submit(self, runner: Callable[..., Any], step: Any, config: Any, steps: Any) -> Future:
        return self.pool.submit(run_in_worker, runner, step, config, steps)

    def drain(self, forward: Callable[..., None]) -> None:
        """Hand every queued progress report to ``forward(step_key, message, done, total)``."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue_module.Empty:
                return
            forward(*item)

    def shutdown(self, *, interrupt: bool = False) -> None:
        """Stop the workers; ``interrupt``: first stop their steps the way Ctrl-C does (a `kill` of
        the main process reaches only it), so what they were writing is cleaned up."""
        if interrupt:
            import multiprocessing
            import signal

            for child in multiprocessing.active_children():
                try:
                    os.kill(child.pid, signal.SIGINT)
                except (ProcessLookupError, TypeError):
                    pass
        self.pool.shutdown(wait=True, cancel_futures=True)
