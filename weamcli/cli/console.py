"""The CLI's edge: one-line errors instead of tracebacks, and progress on stderr."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from weamcli.common.errors import WeamError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    # the message is plain text: paths like news[v2].de or "file:100:" must print as they are
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def say(message: str, done: int | None = None, total: int | None = None) -> None:
    """A progress line on stderr (stdout stays for results); counts, when given, follow the message."""
    if done is not None:
        message = f"{message} {done}/{total}" if total else f"{message} {done}"
    err_console.print(Text.assemble(("weam: ", "dim"), message), highlight=False, soft_wrap=True)


def command(func: F) -> F:
    """Wrap a command: WeamError becomes one red line and exit 2; Ctrl-C exits 130 quietly."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _terminate_like_interrupt()
        try:
            return func(*args, **kwargs)
        except WeamError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted; completed outputs and checkpoints are kept", 130) from None

    return wrapper  # type: ignore[return-value]


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _terminate_like_interrupt() -> None:
    """A plain `kill` (SIGTERM) unwinds like Ctrl-C, so temporary outputs are cleaned up and
    nothing half-written is left behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def setup_threads(threads: int | None) -> None:
    """Apply ``--threads`` (CPU threads for torch); None keeps torch's default."""
    if threads:
        import torch

        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
