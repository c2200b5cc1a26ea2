"""`weam compare`."""

from __future__ import annotations

from . import app
from .console import not_built


@app.command("compare")
def compare_command() -> None:
    """Not built yet."""
    raise not_built("compare")
