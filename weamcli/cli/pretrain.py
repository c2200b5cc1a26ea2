"""`weam pretrain`."""

from __future__ import annotations

from . import app
from .console import not_built


@app.command("pretrain")
def pretrain_command() -> None:
    """Not built yet."""
    raise not_built("pretrain")
