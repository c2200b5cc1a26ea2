"""Claims: which process runs a grid step, so that several ``weam experiment`` processes on one
output folder (on one machine, or on several sharing it) split the steps and never run one twice.

A step is claimed before it runs by creating ``OUT/.claims/<step key>.claim`` atomically
(``claim_step``); a claim whose owner is gone is taken over (``Claim.alive``). The API is three
functions and the ``Claim`` record: ``claim_step``, ``release_step``, ``inspect_step``;
``Heartbeat`` keeps a process's claims fresh.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from weamcli.common.files import exclusive_lock

CLAIMS_DIR = ".claims"
HEARTBEAT = 60.0  # seconds between touches of a running step's claim
STALE_AFTER = 600.0  # seconds without a touch after which another host's claim counts as dead


@dataclass(frozen=True)
class Claim:
    """Who runs (or ran) a step: read from its claim file."""

    step: str
    host: str
    pid: int
    process_started: float | None  # the owner's start time (seconds since boot, Linux), or None
    claimed_at: str  # ISO time the claim was made
    token: str  # unique per claim: tells this claim from a later one for the same step
    path: Path
    touched: float = 0.0  # the file's modification time: the owner's last heartbeat

    @property
    def mine(self) -> bool:
        return self.host == _host() and self.pid == os.getpid() and self.process_started == _started(self.pid)

    @property
    def alive(self) -> bool:
        """Whether the owner may still run the step; a claim whose owner is gone is taken over.

        - same host: the owner is gone when its process id no longer runs, or now belongs to
          another process (its start time differs from the one recorded);
        - another host (the process cannot be asked): when its file has not been touched for
          ``STALE_AFTER`` seconds (owners touch theirs every ``HEARTBEAT`` seconds, so only a dead
          or frozen one falls this far behind).
        """
        if self.host != _host():
            return time.time() - self.touched < STALE_AFTER
        if not _pid_runs(self.pid):
            return False
        started = _started(self.pid)
        return self.process_started is None or started is None or started == self.process_started

    def describe(self) -> str:
        return f"{self.host}:{self.pid} since {self.claimed_at}"


def claim_path(out: str | os.PathLike, step: str) -> Path:
    """The claim file of ``step`` (a step key such as ``finetune/toy/baseline-full/seed-13``)."""
    return Path(out) / CLAIMS_DIR / f"{step}.claim"


def inspect_step(out: str | os.PathLike, step: str) -> Claim | None:
    """The claim on ``step`` (its owner alive or not), or None when nobody holds one."""
    path = claim_path(out, step)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        touched = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # unreadable or damaged: counts as a claim of an unknown owner
        data, touched = {}, _mtime(path)
    return Claim(
        step=str(data.get("step", step)),
        host=str(data.get("host", "?")),
        pid=int(data.get("pid", 0) or 0),
        process_started=data.get("process_started"),
        claimed_at=str(data.get("claimed_at", "?")),
        token=str(data.get("token", "")),
        path=path,
        touched=touched,
    )


def claim_step(out: str | os.PathLike, step: str) -> tuple[Claim | None, Claim | None]:
    """Claim ``step`` for this process: ``(mine, None)`` when it is now this process's (a dead
    owner's claim is taken over), ``(None, theirs)`` when a live process holds it.

    The claim file is a small JSON record naming the host, the process id, the process's own start
    time and when the claim was made (``_create``). A process releases its claim when the step has
    finished, failed or been interrupted; while the step runs, the owner touches the file every
    ``HEARTBEAT`` seconds. Taking over happens under an exclusive lock (``OUT/.claims/.lock``), so
    two processes never both take over one dead claim."""
    path = claim_path(out, step)
    with exclusive_lock(Path(out) / CLAIMS_DIR / ".lock"):
        path.parent.mkdir(parents=True, exist_ok=True)
        held = inspect_step(out, step)
        if held is not None:
            if held.mine:
                return held, None
            if held.alive:
                return None, held
            path.unlink(missing_ok=True)  # its owner is gone: take the step over
        mine = _create(path, step)
    if mine is None:  # another process was faster (only where the lock does not reach it)
        return None, inspect_step(out, step)
    return mine, None


def release_step(out: str | os.PathLike, step: str) -> None:
    """Give up this process's claim on ``step`` (another's is left alone)."""
    held = inspect_step(out, step)
    if held is None or not held.mine:
        return
    top = Path(out) / CLAIMS_DIR
    with exclusive_lock(top / ".lock"):  # a claim being made in the same folder waits
        held.path.unlink(missing_ok=True)
        folder = held.path.parent
        while folder != top and folder.is_relative_to(top):  # leave no empty folders behind
            try:
                folder.rmdir()
            except OSError:  # not empty: another step's claim is in there
                break
            folder = folder.parent


class Heartbeat:
    """Touches the claims this process holds every ``HEARTBEAT`` seconds, from a daemon thread,
    so processes on other hosts see their owner is alive."""

    def __init__(self, interval: float = HEARTBEAT):
        self.interval = interval
        self.held: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weam-claims", daemon=True)
        self._thread.start()

    def add(self, claim: Claim) -> None:
        with self._lock:
            self.held[claim.step] = claim.path

    def remove(self, step: str) -> None:
        with self._lock:
            self.held.pop(step, None)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                paths = list(self.held.values())
            for path in paths:
                with contextlib.suppress(OSError):
                    os.utime(path)


# ------------------------------------------------------------------------------------- helpers


def _create(path: Path, step: str) -> Claim | None:
    """Make ``path`` for this process, or None if it exists. The file is made complete under a
    temporary name and then hard-linked into place, which succeeds for exactly one process (atomic
    on local file systems and NFS, and never seen half-written); where a file system has no hard
    links, ``O_CREAT | O_EXCL`` does the same."""
    token = uuid.uuid4().hex
    record = {
        "step": step,
        "host": _host(),
        "pid": os.getpid(),
        "process_started": _started(os.getpid()),
        "claimed_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "token": token,
    }
    text = json.dumps(record, indent=2) + "\n"
    tmp = path.with_name(f".{path.name}.{token}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # fails if the claim exists: exactly one process gets it
    except FileExistsError:
        return None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        try:  # a file system without hard links
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    finally:
        tmp.unlink(missing_ok=True)
    return Claim(path=path, touched=_mtime(path), **{k: v for k, v in record.items()})


def _host() -> str:
    return socket.gethostname()


def _pid_runs(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _started(pid: int) -> float | None:
    """When process ``pid`` started (clock ticks since boot, Linux), to tell it from a later
    process that reuses its id; None where the system does not say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    try:
        return float(fields[19])  # field 22 of the line: starttime
    except (IndexError, ValueError):
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
