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

from weamcli.common.errors import WeamError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def say(message: str) -> None:
    """A progress line on stderr (stdout stays for results)."""
    err_console.print(f"[dim]weam:[/] {message}", highlight=False, soft_wrap=True)


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
