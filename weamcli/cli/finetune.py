"""`weam finetune`."""

from __future__ import annotations

from . import app
from .console import not_built


@app.command("finetune")
def finetune_command() -> None:
    """Not built yet."""
    raise not_built("finetune")
