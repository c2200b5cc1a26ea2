"""`weam pretrain`: continual pre-training on English–xx parallel text with one registered objective
(``weamcli.pretrain.objectives``)."""

from __future__ import annotations

import os

from weamcli.pretrain.settings import PretrainSettings

from .console import console, escaped, progress_display, setup_threads, threads_option
from .options import settings_command


@settings_command("pretrain", PretrainSettings)
def pretrain_command(
    settings: PretrainSettings,
    threads: int | None = threads_option(),
) -> None:
    """Continual pre-training with one objective (--objective: WEAM's word exchange, its masked-LM
    baselines or an explicit-alignment objective); every objective sees the same pairs, steps and
    seeds, and differs only in the loss."""
    from rich.table import Table

    from weamcli.pretrain.run import pretrain

    setup_threads(threads)
    with progress_display() as progress:
        result = pretrain(settings, progress=progress)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    table = Table(
        title=escaped(
            f"weam pretrain: {result.method}, en–{','.join(result.langs)}, {result.steps} steps "
            f"({result.epochs:.2f} epochs), {result.pairs:,} pairs"
        )
    )
    table.add_column("loss")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    for name, (first, last) in result.losses.items():
        if first is not None and last is not None:
            table.add_row(f"L_{name}", f"{first:.4f}", f"{last:.4f}")
    console.print(table)
    console.print(f"model: {escaped(result.out_dir)}", highlight=False)
