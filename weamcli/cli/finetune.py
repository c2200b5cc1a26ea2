"""`weam finetune`: English fine-tuning of an encoder + classification head, one model per seed."""

from __future__ import annotations

from pathlib import Path

import typer

from weamcli.common.errors import WeamError
from weamcli.common.tasks import build_task

from .app import app
from .console import command, console, say, setup_threads


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise WeamError(f"--seeds must be integers separated by commas, got '{text}'") from None
    if not seeds:
        raise WeamError("--seeds is empty")
    return list(dict.fromkeys(seeds))


@app.command("finetune")
@command
def finetune_command(
    task: str = typer.Option(..., "--task", help="sib200, xnli, paws-x, or custom (with --train/--dev)."),
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="Preset, save_pretrained folder (e.g. a `weam pretrain` output) or hub name.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; one model per seed in OUT/seed-<n>."),
    seeds: str = typer.Option("13", "--seeds", help="Comma-separated seeds, e.g. 13,42."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Root of the task's local files."),
    train: Path | None = typer.Option(None, "--train", help="custom: English training file (TSV/CSV/JSONL)."),
    dev: Path | None = typer.Option(None, "--dev", help="custom: English dev file (model selection)."),
    text_column: str | None = typer.Option(None, "--text-column"),
    text_pair_column: str | None = typer.Option(None, "--text-pair-column"),
    label_column: str | None = typer.Option(None, "--label-column"),
    id_column: str | None = typer.Option(
        None, "--id-column", help="custom: example id column (else row number)."
    ),
    pooling: str = typer.Option("mean", "--pooling", help="mean (masked mean) or cls."),
    select: str = typer.Option("best-dev", "--select", help="best-dev (English dev accuracy) or last epoch."),
    epochs: float = typer.Option(6, "--epochs"),
    lr: float = typer.Option(3e-5, "--lr", help="Encoder learning rate."),
    head_lr: float = typer.Option(1e-3, "--head-lr", help="Classification head learning rate."),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    batch_size: int = typer.Option(16, "--batch-size"),
    max_length: int = typer.Option(128, "--max-length"),
    dropout: float = typer.Option(0.1, "--dropout", help="Dropout before the head."),
    freeze_embeddings: bool = typer.Option(
        False,
        "--freeze-embeddings",
        help="Do not update the word-embedding matrix (much cheaper for large vocabularies).",
    ),
    num_layers: int | None = typer.Option(None, "--num-layers", help="Keep only the first N encoder layers."),
    max_train_examples: int | None = typer.Option(None, "--max-train-examples", help="Quick runs."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing seed folders."),
) -> None:
    """Fine-tune on the task's ENGLISH train split; pick the epoch by English dev accuracy only."""
    from weamcli.common.models import resolve_model
    from weamcli.finetune.run import FinetuneConfig, finetune

    setup_threads(threads)
    spec = build_task(
        task, data_dir, train, dev, None, text_column, label_column, text_pair_column, id_column
    )
    if spec.name == "custom" and (train is None or dev is None):
        raise WeamError("--task custom needs --train and --dev (English) for fine-tuning")
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size), ("--max-length", max_length)):
        if value <= 0:
            raise WeamError(f"{name} must be positive, got {value}")
    config = FinetuneConfig(
        lr=lr,
        head_lr=head_lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        max_length=max_length,
        epochs=epochs,
        dropout=dropout,
        pooling=pooling,
        select=select,
        freeze_embeddings=freeze_embeddings,
        max_train_examples=max_train_examples,
    )
    ref = resolve_model(model, num_layers=num_layers, progress=say)
    result = finetune(
        ref, spec, out, seeds=parse_seeds(seeds), config=config, overwrite=overwrite, progress=say
    )
    for run in result.runs:
        note = " (kept from an earlier run)" if run.skipped else f" in {run.train_seconds:.0f} s"
        console.print(
            f"seed {run.seed}: epoch {run.selected_epoch}, English dev accuracy "
            f"{run.dev_accuracy:.3f}{note} → {run.path}",
            highlight=False,
        )
