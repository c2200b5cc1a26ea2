"""``weam``: the command line. One thin module per command, each parsing its options into its
stage's settings object and calling that stage's one core function."""

from __future__ import annotations

from . import align, compare, evaluate, experiment, finetune, pretrain  # noqa: F401  (registers the commands)
from .app import app


def main() -> None:
    app()
