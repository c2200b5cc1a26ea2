"""`weam evaluate`."""

from __future__ import annotations

from . import app
from .console import not_built


@app.command("evaluate")
def evaluate_command() -> None:
    """Not built yet."""
    raise not_built("evaluate")
