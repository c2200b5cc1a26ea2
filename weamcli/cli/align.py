"""`weam align`."""

from __future__ import annotations

from . import app
from .console import not_built


@app.command("align")
def align_command() -> None:
    """Not built yet."""
    raise not_built("align")
