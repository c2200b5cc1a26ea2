"""`weam finetune`: English fine-tuning of an encoder + classification head, one model per seed."""

from __future__ import annotations

import typer

from weamcli.finetune.settings import FinetuneSettings

from .console import console, say, setup_threads
from .options import settings_command


@settings_command("finetune", FinetuneSettings)
def finetune_command(
    settings: FinetuneSettings,
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
) -> None:
    """Fine-tune on the task's ENGLISH train split; pick the epoch by English dev accuracy only."""
    from weamcli.finetune.run import finetune

    setup_threads(threads)
    result = finetune(settings, progress=say)
    for run in result.runs:
        note = " (kept from an earlier run)" if run.skipped else f" in {run.train_seconds:.0f} s"
        console.print(
            f"seed {run.seed}: epoch {run.selected_epoch}, English dev accuracy "
            f"{run.dev_accuracy:.3f}{note} → {run.path}",
            highlight=False,
        )
