"""The CLI's edge: one-line errors instead of tracebacks, plain exit codes, and progress on stderr
(bars with an ETA on a terminal, plain lines in a log)."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from weamcli.common.errors import WeamError
from weamcli.common.files import storage_problem

F = TypeVar("F", bound=Callable[..., Any])

# no emoji codes: a path like "runs/x:100:y" must not print a 💯
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

EXIT_ERROR = 2  # bad input or environment: one line
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
EXIT_TERMINATED = 143  # `kill` (128 + SIGTERM)


def escaped(value: object) -> str:
    """A user-supplied value (a path, a model or task name, a note naming them) for a string Rich
    reads as markup: ``[/x]`` would crash the print and ``[v2]`` vanish. Every such value printed
    through Rich markup goes through here (emoji codes like ``:100:`` are off on weam's consoles)."""
    return escape(str(value))


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    # the message is plain text: paths like news[v2].de or "file:100:" must print as they are
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def say(message: str, done: int | None = None, total: int | None = None) -> None:
    """A progress line on stderr (stdout stays for results); counts, when given, follow the message."""
    if done is not None:
        message = f"{message} {done}/{total}" if total else f"{message} {done}"
    err_console.print(Text.assemble(("weam: ", "dim"), message), highlight=False, soft_wrap=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwound like Ctrl-C (temporary outputs removed) but reported as exit 143."""


_KEPT = "finished outputs are kept, nothing half-written was left"


def command(func: F) -> F:
    """Wrap a command: WeamError (and a failed write: full disk, read-only folder) becomes one red
    line and exit 2; Ctrl-C exits 130 and SIGTERM 143, quietly."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = _terminate_like_interrupt()
        try:
            return func(*args, **kwargs)
        except WeamError as exc:
            raise fail(str(exc)) from None
        except Terminated:
            raise fail(f"terminated (SIGTERM); {_KEPT}", EXIT_TERMINATED) from None
        except KeyboardInterrupt:
            raise fail(f"interrupted; {_KEPT}", EXIT_INTERRUPTED) from None
        except Exception as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            where = getattr(exc, "filename", None)
            message = f"{where}: {problem}" if where else f"writing an output failed: {problem}"
            raise fail(f"{message} ({_KEPT})") from None
        finally:
            if previous is not None:  # called in-process (tests, a notebook): `kill` works as before after
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


def _on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second kill must not cut the clean-up short
    raise Terminated


def _terminate_like_interrupt() -> Any:
    """A plain `kill` (SIGTERM) unwinds like Ctrl-C, so temporary outputs are cleaned up and
    nothing half-written is left behind. Returns the handler it replaced (None off the main thread)."""
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _on_sigterm)
    return None


def threads_option(help: str = "CPU threads for torch (default: torch's own choice).") -> Any:
    """The --threads option of the commands that run models (a process setting, not a stage's)."""
    return typer.Option(None, "--threads", help=help, metavar="N", min=1, show_default=False)


def setup_threads(threads: int | None) -> None:
    """Apply ``--threads`` (CPU threads for torch); None keeps torch's default."""
    if threads:
        import torch

        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


# ----------------------------------------------------------------------------- progress

LOG_EVERY_FRACTION = 0.1  # without a terminal: a line per tenth of a stage ...
LOG_EVERY_SECONDS = 60.0  # ... or per minute, whichever comes first


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressDisplay:
    """The CLI's renderer of the Progress protocol (``weamcli.common.progress``).

    ``display(message)`` prints a line; ``display(stage, done, total)`` drives one bar per stage
    with elapsed time and ETA on a terminal. Without a terminal (a CI log, a pipe) a stage prints a
    line when it starts, every tenth of the way or minute, and when it ends, each with its ETA."""

    def __init__(self, out: Console | None = None, *, live: bool | None = None):
        self.out = out or err_console
        self.live = self.out.is_terminal if live is None else live
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        # stage -> (start time, done at start, last line time, last line fraction)
        self._seen: dict[str, list[float]] = {}

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}", markup=False),  # stage names hold paths
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.out,
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def line(self, message: str) -> None:
        """A line of news (above the bars on a terminal)."""
        self.out.print(Text.assemble(("weam: ", "dim"), message), highlight=False, soft_wrap=True)

    def __call__(self, message: str, done: int | None = None, total: int | None = None, /) -> None:
        if done is None:
            self.line(message)
            return
        now = time.monotonic()
        first = message not in self._seen
        if first:
            self._seen[message] = [now, float(done), now, -1.0]
        start, done0, last_time, last_frac = self._seen[message]
        finished = total is not None and done >= total
        if self._bar is not None:
            if first:
                # a resumed stage starts part-way: the ETA must not count the skipped part as speed
                self._tasks[message] = self._bar.add_task(message, total=total, completed=done)
            self._bar.update(self._tasks[message], completed=done, total=total)
            if finished:
                self._bar.remove_task(self._tasks.pop(message))
                self.line(f"{message}: {done}/{total} in {_duration(now - start)}")
                del self._seen[message]
            return
        frac = done / total if total else 0.0
        due = first or finished or now - last_time >= LOG_EVERY_SECONDS
        # a line each time the stage enters a new tenth (whole tenths: no float drift)
        tenth = int(frac / LOG_EVERY_FRACTION + 1e-9)
        due = due or (total is not None and tenth > int(last_frac / LOG_EVERY_FRACTION + 1e-9))
        if not due:
            return
        self._seen[message][2:] = [now, frac]
        count = f"{done}/{total}" if total else str(done)
        if finished:
            self.line(f"{message}: {count} in {_duration(now - start)}")
            del self._seen[message]
            return
        rate = (done - done0) / (now - start) if now > start else 0.0
        eta = f", ETA {_duration((total - done) / rate)}" if total and rate > 0 else ""
        pct = f" ({100 * frac:.0f}%{eta})" if total else ""
        self.line(f"{message}: {count}{pct}")


@contextlib.contextmanager
def progress_display() -> Iterator[ProgressDisplay]:
    """The Progress a command hands its core function, for the duration of the call."""
    with ProgressDisplay() as display:
        yield display
