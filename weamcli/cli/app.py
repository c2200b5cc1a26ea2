"""The Typer app object; each command module registers one command on it."""

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
