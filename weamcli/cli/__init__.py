"""``weam``: the Typer app. Each command lives in its own module and calls one core function."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="weam",
    help=(
        "WEAM (Word-Exchange Aligning Model): continual pre-training of multilingual encoders on "
        "parallel text with word alignments as the prior, English fine-tuning, and zero-shot "
        "evaluation per language.\n\n"
        "Typical run: weam align → weam pretrain → weam finetune → weam evaluate → weam compare. "
        "Models are given as a preset (mbert, xlmr, e5-small, tiny), a local save_pretrained "
        "folder, or a Hugging Face hub name."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Importing the modules registers their commands on ``app``.
from . import align, compare, evaluate, experiment, finetune, pretrain  # noqa: E402,F401


def main() -> None:
    app()
