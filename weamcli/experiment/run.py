"""The experiment grid: methods × pre-training language sets × model sizes × seeds, one command.

A TOML config names the grid (see ``examples/demo.toml``; ``experiment.config`` reads it,
``experiment.plan`` turns it into steps); ``run_experiment`` runs them, skipping every step whose
output is complete with the same settings, so a killed run resumes where it stopped and a changed
setting re-runs what it affects. A step that fails is recorded and its dependants are skipped; the
comparison shows their cells as missing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.files import atomic_file, exclusive_lock
from weamcli.common.output_folders import check_writable
from weamcli.common.progress import Progress, quiet
from weamcli.common.run_records import append_records, make_record
from weamcli.experiment.claims import Heartbeat, claim_step, release_step
from weamcli.experiment.config import load_config
from weamcli.experiment.grid import ExperimentConfig
from weamcli.experiment.inputs import (
    STATUS_FILE,
    check_experiment_out,
    check_inputs,
    mark_experiment_out,
)
from weamcli.experiment.parallel import (
    InlineExecutor,
    Parallelism,
    StepFailure,
    WorkerPool,
    choose_parallelism,
    oversubscribed,
)
from weamcli.experiment.plan import FINGERPRINT_SCHEME, STEP_MARKER, Step, effective_values, plan_experiment
from weamcli.experiment.settings import ExperimentSettings
from weamcli.experiment.slurm import SlurmPool, slurm_parallelism

POLL_SECONDS = 2.0  # how often a process whose remaining steps run elsewhere looks again
PROCESS = f"{socket.gethostname()}:{os.getpid()}"  # who wrote a status line


@dataclass
class ExperimentResult:
    out: Path
    ran: list[str]
    skipped: list[str]
    failed: dict[str, str]
    blocked: list[str]
    comparison: Any = None  # the first table (the only one for one task and metric)
    comparisons: list[Any] = field(default_factory=list)  # one per task and metric
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of the steps run, by kind
    elsewhere: list[str] = field(default_factory=list)  # run meanwhile by other processes (claims)
    parallelism: Parallelism | None = None


StepRunner = Callable[[Step, ExperimentConfig, dict[str, Step], Callable[[str], None]], dict[str, Any]]


def run_experiment(
    config_path: str | Path,
    *,
    progress: Progress | None = None,
    runners: dict[str, StepRunner] | None = None,
    only_plan: bool = False,
    jobs: int | None = None,
    threads: int | None = None,
    share_gpus: bool | None = None,
    executor: str | None = None,
    submitit_cluster: str = "slurm",
) -> ExperimentResult:
    """Run (or resume) the grid of ``config_path``; returns what ran, was skipped, failed.

    ``jobs`` (default ``[experiment] jobs``, else chosen from the machine: see
    ``experiment.parallel``) steps run at once, each in its own process with ``threads`` (default
    ``[experiment] threads``) CPU threads and, on GPUs, a GPU of its own (``share_gpus``, default
    ``[experiment] share_gpus``: more jobs than GPUs share them); with one job every step runs in
    this process.

    Before any step: the output folder must be new or this experiment's, and every input the
    steps will read (with the runners given, the inputs of the kinds they leave to weam) must be
    there. Each step is claimed before it runs (``experiment.claims``), so further processes
    started on the same config split the remaining steps with this one and wait for the steps
    the others run; a step is never run by two at once.

    ``executor`` (default ``[experiment] executor``): ``local``, or ``slurm``: each ready step is a
    Slurm job through submitit (``experiment.slurm``; ``submitit_cluster="local"`` runs those jobs
    as subprocesses of this machine, for tests), followed from here."""
    config = load_config(config_path)
    steps = plan_experiment(config)
    say = progress or quiet
    result = ExperimentResult(config.out, [], [], {}, [])
    if only_plan:
        result.skipped = [s.key for s in steps if s.done]
        return result
    from weamcli.experiment.steps import STEP_RUNNERS

    all_runners = {**STEP_RUNNERS, **(runners or {})}
    _prepare_out(config, steps, [k for k, r in all_runners.items() if r is STEP_RUNNERS.get(k)])
    jobs = jobs if jobs is not None else config.jobs
    threads = threads if threads is not None else config.threads
    share_gpus = share_gpus if share_gpus is not None else config.share_gpus
    if executor is not None:
        ExperimentSettings(executor=executor)  # the option's own check: --executor must be one of ...
    executor = executor if executor is not None else config.executor
    plan = _parallelism(config, len(steps), executor, jobs, threads, share_gpus, custom_runners=bool(runners))
    result.parallelism = plan
    states = {s.key: s.state for s in steps}  # read once: running a step changes no other's
    to_run = sum(state != "done" for state in states.values())
    pool = _open_pool(config, plan, executor, threads, submitit_cluster, to_run=to_run)
    if pool is not None:
        say(plan.describe())
    warning = oversubscribed(plan) if executor == "local" else None
    if warning:
        say(f"warning: {warning}")
    _Scheduler(config, steps, states, all_runners, pool, plan, result, say).run()
    return result


def _prepare_out(config: ExperimentConfig, steps: list[Step], kinds: list[str]) -> None:
    """Before any step: the output folder is new or this experiment's, every input the steps of
    ``kinds`` (those weam runs) will read is there, and the folder is writable and marked."""
    check_experiment_out(config)
    check_inputs(config, steps, kinds)
    check_writable(config.out)  # before the first step, not after hours of them
    config.out.mkdir(parents=True, exist_ok=True)
    mark_experiment_out(config)


def _parallelism(
    config: ExperimentConfig,
    n_steps: int,
    executor: str,
    jobs: int | None,
    threads: int | None,
    share_gpus: bool,
    *,
    custom_runners: bool,
) -> Parallelism:
    """How many steps run at once, with how many threads each (and on which GPUs)."""
    if executor == "slurm":
        return slurm_parallelism(config.slurm, jobs, threads, n_steps)
    if custom_runners and jobs is None:
        return Parallelism(1, threads, "custom runners run in this process")  # closures do not pickle
    return choose_parallelism(jobs, threads, share_gpus)


def _open_pool(
    config: ExperimentConfig,
    plan: Parallelism,
    executor: str,
    threads: int | None,
    cluster: str,
    *,
    to_run: int,
) -> WorkerPool | SlurmPool | None:
    """Where the steps other than the comparison run: Slurm jobs, worker processes, or (None)
    this process."""
    if executor == "slurm":
        return SlurmPool(config, threads, cluster=cluster)
    if plan.jobs > 1 and to_run > 1:
        return WorkerPool(plan)
    return None


class _Scheduler:
    """One process's pass over the plan: it starts each step whose needs are met (claimed first,
    on the pool or inline), records each that ends, and waits for the steps other processes hold."""

    def __init__(
        self,
        config: ExperimentConfig,
        steps: list[Step],
        states: dict[str, str],
        runners: dict[str, StepRunner],
        pool: WorkerPool | SlurmPool | None,
        plan: Parallelism,
        result: ExperimentResult,
        say: Progress,
    ):
        self.config, self.states, self.runners = config, states, runners
        self.pool, self.plan, self.result, self.say = pool, plan, result, say
        self.by_key = {s.key: s for s in steps}
        self.numbered = {
            step.key: f"[{i}/{len(steps)}] {step.kind} {step.key}" for i, step in enumerate(steps, 1)
        }
        self.inline = InlineExecutor(say)
        self.waiting = list(steps)  # in plan order: what the plan puts first starts first
        self.running: dict[Future, tuple[Step, float]] = {}
        self.finished: set[str] = set()  # done earlier or ran now
        self.bad: set[str] = set()  # failed, or blocked by a failure
        self.elsewhere: set[str] = set()  # steps seen claimed by another live process
        self.heartbeat = Heartbeat()  # last: its thread runs until run() stops it

    def run(self) -> None:
        """Until every step is settled; interrupted, the workers are stopped and the claims freed."""
        interrupted = True
        try:
            while self.waiting or self.running:
                held_elsewhere = False
                for step in list(self.waiting):
                    started = self._start(step)
                    held_elsewhere |= started == "elsewhere"
                    if started == "inline":
                        break  # it has finished: record it before looking further
                if not self.running:
                    if held_elsewhere:
                        time.sleep(POLL_SECONDS)  # what is left waits on other processes' steps
                    elif self.waiting:  # a step needs one that is not in the plan: a planning bug
                        raise RuntimeError(f"no step can start; waiting: {[s.key for s in self.waiting]}")
                    continue
                self._collect()
            interrupted = False
        finally:
            self.heartbeat.stop()
            if self.pool is not None:
                self.pool.shutdown(interrupt=interrupted)
                self.pool.drain(self._forward)
            for step_key in list(self.heartbeat.held):  # interrupted: the steps this process held are free
                release_step(self.config.out, step_key)

    def _start(self, step: Step) -> str | None:
        """Start ``step`` if it can start now; settle it at once if it is done or blocked.
        Returns "inline" when it ran in this process, "elsewhere" when another process holds it."""
        if step.kind == "compare" and (self.running or len(self.waiting) > 1):
            return None  # the comparison reads every evaluation: it goes last
        if any(n not in self.finished and n not in self.bad for n in step.needs):
            return None
        if self._settled(step):
            return None
        executor = self.pool if self.pool is not None and step.kind != "compare" else self.inline
        if executor is self.pool and len(self.running) >= self.plan.jobs:
            return None  # every worker is busy
        prefix = self.numbered[step.key]
        mine, theirs = claim_step(self.config.out, step.key)
        if mine is None:
            if step.key not in self.elsewhere:
                self.elsewhere.add(step.key)
                owner = theirs.describe() if theirs else "another process"
                self.say(f"{prefix}: running in another process ({owner}); waiting for it")
            return "elsewhere"
        # another process ran it since this one read the states (the comparison, seconds
        # of work, is made by every process at its end, one at a time: each prints it)
        if step.kind != "compare" and step.state == "done":
            release_step(self.config.out, step.key)
            self.waiting.remove(step)
            self.result.elsewhere.append(step.key)
            self.finished.add(step.key)
            self.say(f"{prefix}: completed by another process")
            return None
        self.heartbeat.add(mine)
        self.waiting.remove(step)
        if step.key in self.elsewhere and step.kind != "compare":
            self.say(f"{prefix}: left unfinished by another process, running")
        else:
            running = "settings changed, running again" if self.states[step.key] == "changed" else "running"
            self.say(f"{prefix}: {running}")
        future = executor.submit(self.runners[step.kind], step, self.config, self.by_key)
        self.running[future] = (step, time.monotonic())
        return "inline" if executor is self.inline else None

    def _settled(self, step: Step) -> bool:
        """A step complete before this run (skipped) or needing a failed one (blocked): done with."""
        if step.kind == "compare":
            return False
        prefix = self.numbered[step.key]
        if self.states[step.key] == "done":
            self.waiting.remove(step)
            self.result.skipped.append(step.key)
            self.finished.add(step.key)
            self.say(f"{prefix}: already complete, skipped")
            return True
        blockers = [n for n in step.needs if n in self.bad]
        if blockers:
            self.waiting.remove(step)
            self.bad.add(step.key)
            self.result.blocked.append(step.key)
            self.say(f"{prefix}: skipped, needs failed step {blockers[0]}")
            _status(self.config, step, "blocked", f"needs failed step {blockers[0]}")
            return True
        return False

    def _collect(self) -> None:
        """Record the running steps that have ended (with a pool: wait a moment for one)."""
        if self.pool is not None:
            completed, _ = wait(self.running, timeout=0.5, return_when=FIRST_COMPLETED)
            self.pool.drain(self._forward)
        else:
            completed = set(self.running)
        for future in completed:
            step, started = self.running.pop(future)
            seconds = time.monotonic() - started
            try:
                info = future.result()
                if isinstance(info, StepFailure):
                    self.bad.add(step.key)
                    self.result.failed[step.key] = info.message
                    self.say(f"{self.numbered[step.key]}: FAILED: {info.message}")
                    _status(self.config, step, "failed", info.message, info.detail, seconds, extra=info.extra)
                    continue
                _finish(self.config, step, info, seconds, self.plan, self.result, self.by_key)
                self.finished.add(step.key)
            finally:  # marked (or recorded as failed) first: then others may look at it
                self.heartbeat.remove(step.key)
                release_step(self.config.out, step.key)
            if self.pool is not None:
                self.say(f"{self.numbered[step.key]}: finished in {seconds / 60:.1f} min")

    def _forward(self, key: str, message: str, done: int | None, total: int | None) -> None:
        # several steps report at once: each line and bar names its step
        if done is None:
            self.say(f"  {key}: {message}")
        else:
            self.say(f"{key}: {message}", done, total)


def _finish(
    config: ExperimentConfig,
    step: Step,
    info: dict[str, Any],
    seconds: float,
    plan: Parallelism,
    result: ExperimentResult,
    by_key: dict[str, Step],
) -> None:
    """Record a step that ran: its marker (what makes it complete), its status line and time."""
    if step.kind == "compare":
        result.comparison = info.get("comparison")
        result.comparisons = info.get("comparisons") or []
    else:
        step.out.mkdir(parents=True, exist_ok=True)
        with atomic_file(step.out / STEP_MARKER) as fh:
            json.dump(
                {
                    "step": step.key,
                    "fingerprint": step.fingerprint,
                    "scheme": FINGERPRINT_SCHEME,
                    "values": effective_values(step.settings) if step.settings else {},
                    "needs": {key: by_key[key].fingerprint for key in step.needs},
                    "settings": step.settings.to_dict() if step.settings else None,
                    "params": step.params,
                    "seconds": round(seconds, 1),
                    "jobs": plan.jobs,
                    "threads": plan.threads,
                    **{k: v for k, v in info.items() if isinstance(v, (str, int, float))},
                },
                fh,
                indent=2,
                default=str,
            )
    result.ran.append(step.key)
    result.seconds[step.kind] = result.seconds.get(step.kind, 0.0) + seconds
    _status(config, step, "done", "", seconds=seconds)


def _status(
    config: ExperimentConfig,
    step: Step,
    status: str,
    message: str,
    detail: str = "",
    seconds: float | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    metrics: dict[str, Any] = {"message": message, "detail": detail, "process": PROCESS, **(extra or {})}
    if seconds is not None:
        metrics["seconds"] = round(seconds, 1)
    record = make_record(
        "experiment",
        {"config": str(config.path), "step": step.key, "kind": step.kind, "params": step.params},
        event=status,
        metrics=metrics,
    )
    with exclusive_lock(config.out / f".{STATUS_FILE}.lock"):  # other processes append to it too
        append_records(config.out / STATUS_FILE, [record])
