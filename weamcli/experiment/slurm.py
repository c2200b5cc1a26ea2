"""Grid steps as Slurm jobs through submitit (``weam experiment --executor slurm``).

The main process (``weam experiment`` on a login node) plans the grid, claims each step whose needs
are done (``experiment.claims``), submits it as one Slurm job and follows the jobs; align,
pretrain, finetune and evaluate run inside the jobs, each with the resources of ``[slurm]``; the
comparison runs in the main process at the end. The markers stay the truth: a step is complete
only once the main process has written its marker from the result its job returned, with the
step's fingerprint, whatever the scheduler says.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file
from weamcli.experiment.parallel import Parallelism, StepFailure, run_step
from weamcli.experiment.settings import SlurmSettings

SLURM_DIR = "slurm"  # in OUT: submitit's folder (logs, pickles) and the job records
JOBS_DIR = "jobs"
INSTALL_HINT = "pip install 'weam[slurm]'"
RESULT_GRACE_S = {"slurm": 30.0, "local": 2.0}  # an ended job's result file may lag (NFS)
LOG_TAIL_LINES = 20


def load_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise WeamError(f"the slurm executor needs submitit, an optional extra: {INSTALL_HINT}") from None
    return submitit


def job_record_path(out: Path, step_key: str) -> Path:
    return out / SLURM_DIR / JOBS_DIR / f"{step_key}.json"


def job_parameters(settings: SlurmSettings, threads: int | None) -> dict[str, Any]:
    """``[slurm]`` as submitit AutoExecutor parameters (``slurm_*`` ones apply only on Slurm)."""
    params: dict[str, Any] = {
        "timeout_min": settings.time_min,
        "gpus_per_node": settings.gpus_per_job,
        "cpus_per_task": settings.cpus_per_job,
        "mem_gb": settings.mem_gb,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_additional_parameters": settings.additional_parameters(),
        "slurm_setup": list(settings.setup),
        "local_setup": list(settings.setup),
    }
    if settings.partition:
        params["slurm_partition"] = settings.partition
    if settings.account:
        params["slurm_account"] = settings.account
    return params


def slurm_parallelism(
    settings: SlurmSettings, jobs: int | None, threads: int | None, steps: int
) -> Parallelism:
    """How many Slurm jobs may be queued or running at once (``jobs``; default: no limit of
    weam's, the scheduler queues them) and the torch threads of each (default its CPUs)."""
    resources = [
        f"{settings.gpus_per_job} GPU(s)",
        f"{settings.cpus_per_job} CPUs",
        f"{settings.mem_gb:g} GB",
    ]
    resources.append(f"{settings.time_min} min")
    if settings.partition:
        resources.insert(0, f"partition {settings.partition}")
    return Parallelism(
        jobs or steps,
        threads or settings.cpus_per_job,
        "Slurm jobs of " + ", ".join(resources),
        kind="slurm",
    )


class StepJob:
    """What one Slurm job runs: one grid step, as a worker of the local pool would (plain values
    back, a failure as a StepFailure). Checkpointable: on Slurm's signal before the time limit, or
    at preemption, submitit requeues the job with the same id and it runs its step again, which
    resumes from the step's own checkpoint (pre-training from its last saved step; the other steps
    are short and start over)."""

    def __init__(
        self, runner: Callable[..., dict[str, Any]], step: Any, config: Any, steps: Any, threads: int
    ):
        self.runner, self.step, self.config, self.steps, self.threads = runner, step, config, steps, threads

    def __call__(self) -> Any:
        started = time.monotonic()
        os.environ["OMP_NUM_THREADS"] = str(self.threads)  # the cores the job asked for, no more
        import torch

        torch.set_num_threads(self.threads)

        def say(message: str, done: int | None = None, total: int | None = None, /) -> None:
            if done is None or done == total:  # the job's log wants lines, not every bar update
                print(message if done is None else f"{message}: {done}/{total}", flush=True)

        info = run_step(self.runner, self.step, self.config, self.steps, say)
        if isinstance(info, StepFailure):
            return info
        from submitit import JobEnvironment

        env = JobEnvironment()
        plain = {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}
        return {
            **plain,
            "slurm_job": str(env.job_id),
            "host": env.hostname,
            "seconds_in_job": round(time.monotonic() - started, 1),
        }

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Requeue the same step (submitit calls this on the time-limit or preemption signal)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(StepJob(self.runner, self.step, self.config, self.steps, self.threads))


@dataclass
class _Followed:
    step: Any
    job: Any
    future: Future
    state: str = ""
    ended_at: float | None = None  # when the job was first seen ended without a result


class SlurmPool:
    """Submits steps as Slurm jobs and follows them, with the local pool's interface (``submit``
    returns a Future; ``drain`` polls the jobs, resolves the futures of ended ones and forwards
    progress lines; ``shutdown`` leaves running jobs running). ``cluster``: submitit's executor,
    ``slurm``, or ``local`` (each job a subprocess of this machine: the tests).

    Job records: ``OUT/slurm/jobs/<step key>.json`` names the step's latest job (its id, the step's
    fingerprint, when it was submitted). A main process started again (after Ctrl-C, a logout, a
    crash) follows the live jobs it finds there instead of submitting them twice, and takes the
    result of a job that finished meanwhile; a job of other settings is cancelled, a failed one
    submitted again (``_reattach``). Logs and submitit's pickles are in ``OUT/slurm``."""

    def __init__(self, config: Any, threads: int | None, *, cluster: str = "slurm"):
        submitit = load_submitit()
        self.out = config.out
        self.cluster = cluster
        self.folder = config.out / SLURM_DIR
        self.threads = threads or config.slurm.cpus_per_job
        self.executor = submitit.AutoExecutor(folder=self.folder, cluster=cluster)
        self.executor.update_parameters(**job_parameters(config.slurm, self.threads))
        self.followed: dict[str, _Followed] = {}
        self.messages: list[tuple[str, str]] = []

    # ------------------------------------------------------------------------------- submitting

    def submit(self, runner: Callable[..., Any], step: Any, config: Any, steps: Any) -> Future:
        future: Future = Future()
        job = self._reattach(step)
        if job is None:
            self.executor.update_parameters(name=f"weam:{step.key}")
            job = self.executor.submit(StepJob(runner, step, config, steps, self.threads))
            self._record(step, job)
            self._say(step.key, f"submitted as Slurm job {job.job_id} (log {job.paths.stderr})")
        self.followed[step.key] = _Followed(step, job, future)
        return future

    def _record(self, step: Any, job: Any) -> None:
        path = job_record_path(self.out, step.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "step": step.key,
            "job_id": str(job.job_id),
            "fingerprint": step.fingerprint,
            "cluster": self.cluster,
            "submitted": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "log": str(job.paths.stderr),
        }
        with atomic_file(path) as fh:
            json.dump(record, fh, indent=2)

    def _reattach(self, step: Any) -> Any:
        """The step's recorded job when it is still this step's to follow: live (pending, running,
        requeued) or finished with a result, with the step's current fingerprint. Else None."""
        path = job_record_path(self.out, step.key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self._say(step.key, f"unreadable job record {path}: submitting the step again")
            return None
        if record.get("cluster") != self.cluster or not record.get("job_id"):
            return None
        job = self._job(str(record["job_id"]))
        live = self._live(job, ask=True)
        if record.get("fingerprint") != step.fingerprint:
            if live:
                job.cancel(check=False)
                self._say(
                    step.key, f"cancelled Slurm job {job.job_id}: it runs earlier settings of this step"
                )
            return None
        if live:
            self._say(step.key, f"following Slurm job {job.job_id}, submitted {record.get('submitted')}")
            return job
        if job.paths.result_pickle.exists() and not isinstance(_outcome(job), StepFailure):
            self._say(step.key, f"Slurm job {job.job_id} finished while no weam experiment followed it")
            return job
        self._say(step.key, f"Slurm job {job.job_id} of an earlier run did not succeed: submitting again")
        return None

    def _job(self, job_id: str) -> Any:
        import submitit

        cls = submitit.SlurmJob if self.cluster == "slurm" else submitit.LocalJob
        return cls(folder=self.folder, job_id=job_id)

    def _live(self, job: Any, *, ask: bool = False) -> bool:
        """Whether the job may still run; ``ask``: query Slurm now (else submitit's watcher
        asks at its own pace, from every few seconds to every few minutes for long jobs)."""
        if self.cluster == "slurm":
            return not job.done(force_check=ask)
        process = getattr(job, "_process", None)
        if process is not None:
            return process.poll() is None
        return _local_controller_runs(int(job.job_id))  # a job an earlier process started

    # ------------------------------------------------------------------------------- following

    def drain(self, forward: Callable[..., None]) -> None:
        """Look at every followed job: say its state changes, resolve the futures of ended ones
        (the step's info, or a StepFailure naming the job, its log and last error line)."""
        for key, item in list(self.followed.items()):
            live = self._live(item.job)
            state = _state(item.job, live)
            if state != item.state and live:
                self._say(key, f"Slurm job {item.job.job_id}: {state.lower()}")
            item.state = state
            if live:
                continue
            if not item.job.paths.result_pickle.exists():
                item.ended_at = item.ended_at or time.monotonic()
                if time.monotonic() - item.ended_at < RESULT_GRACE_S.get(self.cluster, 2.0):
                    continue  # the result file may not be visible here yet
            del self.followed[key]
            item.future.set_result(self._result(item))
        messages, self.messages = self.messages, []
        for key, message in messages:
            forward(key, message, None, None)

    def _result(self, item: _Followed) -> Any:
        job = item.job
        log = Path(job.paths.stderr)
        outcome = _outcome(job) if job.paths.result_pickle.exists() else None
        extra = {"slurm_job": str(job.job_id), "log": str(log)}
        if isinstance(outcome, dict):
            self._say(item.step.key, f"Slurm job {job.job_id} finished")
            return outcome
        last = last_error_line(log)
        extra["last_error"] = last
        if isinstance(outcome, StepFailure):  # the step itself failed inside the job
            return replace(outcome, extra={**outcome.extra, **extra})
        if isinstance(outcome, _JobError):
            message, detail = f"Slurm job {job.job_id} failed: {last}", outcome.text
        else:
            state = item.state or "ended"
            message = f"Slurm job {job.job_id} ended without a result ({state.lower()}): {last}"
            detail = log_tail(log)
        return StepFailure(f"{message} (log {log})", detail, extra)

    def _say(self, key: str, message: str) -> None:
        self.messages.append((key, message))

    def shutdown(self, *, interrupt: bool = False) -> None:
        """Stop following; the jobs keep running (a later ``weam experiment`` follows them again)."""
        if interrupt and self.followed:
            ids = ", ".join(str(item.job.job_id) for item in self.followed.values())
            for key, item in self.followed.items():
                self._say(key, f"Slurm job {item.job.job_id} keeps running")
            self.messages.append(
                ("slurm", f"jobs {ids} keep running; run weam experiment again to follow them")
            )
        self.followed.clear()


@dataclass(frozen=True)
class _JobError:
    text: str  # submitit's error report: the traceback the job raised


def _outcome(job: Any) -> Any:
    """The job's returned value, or a _JobError when it raised (or could not finish)."""
    try:
        return job.result()
    except Exception as exc:  # submitit's FailedJobError / UncompletedJobError carry the traceback
        return _JobError(str(exc))


def _state(job: Any, live: bool) -> str:
    try:
        state = str(job.state)
    except Exception:  # the scheduler could not be asked this time
        state = "UNKNOWN"
    if state.startswith("NO PROCESS"):  # a local job an earlier process started
        state = "RUNNING" if live else "FINISHED"
    return state


def _local_controller_runs(pid: int) -> bool:
    """Whether ``pid`` is a running submitit local controller (a job's id in the local executor)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"submitit.local._local" in cmdline


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def last_error_line(log: Path) -> str:
    """The last line of a job's error log that is not submitit's own bookkeeping."""
    for line in reversed(log_tail(log, 200).splitlines()):
        text = line.strip()
        if text and not text.startswith("submitit INFO") and not text.startswith("submitit WARNING"):
            return text
    return "(no error line in the log)"
