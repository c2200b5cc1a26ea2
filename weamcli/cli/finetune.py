"""`weam finetune`: English fine-tuning of an encoder + classification head, one model per seed."""

from __future__ import annotations

from weamcli.finetune.settings import FinetuneSettings

from .console import console, escaped, progress_display, setup_threads, threads_option
from .options import settings_command


@settings_command("finetune", FinetuneSettings)
def finetune_command(
    settings: FinetuneSettings,
    threads: int | None = threads_option(),
) -> None:
    """Fine-tune on the task's ENGLISH train split; pick the epoch by English dev accuracy only
    (word accuracy for tagging, F1 for QA)."""
    from weamcli.finetune.run import finetune

    setup_threads(threads)
    with progress_display() as progress:
        result = finetune(settings, progress=progress)
    for run in result.runs:
        note = " (kept from an earlier run)" if run.skipped else f" in {run.train_seconds:.0f} s"
        curve = f"; stopped early after {len(run.dev_history)} epochs" if run.stopped_early else ""
        if run.convergence.converged is False:
            curve += f"; {run.convergence.words(run.dev_metric)}"
        console.print(
            f"seed {run.seed}: epoch {run.selected_epoch}, English dev {run.dev_metric} "
            f"{run.dev_accuracy:.3f}{note}{curve} → {escaped(run.path)}",
            highlight=False,
        )
