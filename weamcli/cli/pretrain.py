"""`weam pretrain`: WEAM / TLM / MLM continual pre-training on English–xx parallel text."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from weamcli.common.errors import WeamError

from .app import app
from .console import command, console, say, setup_threads


@app.command("pretrain")
@command
def pretrain_command(
    lang: str = typer.Option(
        ...,
        "--lang",
        "-l",
        help="Target language(s), comma-separated (de or de,es,zh); "
        "English is always the other side. One model is trained over all pairs.",
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Output folder: save_pretrained model + weam.json + run.jsonl; checkpoints in OUT/checkpoints.",
    ),
    alignments: str | None = typer.Option(
        None,
        "--alignments",
        "-a",
        help="`weam align` folder pattern, e.g. "
        "'runs/align-en-{lang}' ({lang}, {iso3}, {ntrex} are substituted).",
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help="Raw English file pattern (instead of "
        "--alignments); aligned here with eflomal, intersection symmetrisation.",
    ),
    target: str | None = typer.Option(
        None, "--target", help="Raw target file pattern, e.g. '.../newstest2019-ref.{ntrex}.txt'."
    ),
    model: str = typer.Option(
        "e5-small",
        "--model",
        "-m",
        help="Preset (tiny, e5-small, mbert, xlmr), save_pretrained folder or hub name.",
    ),
    num_layers: int | None = typer.Option(None, "--num-layers", help="Keep only the first N encoder layers."),
    objective: str = typer.Option(
        "weam",
        "--objective",
        help="weam (L_mp + λ·L_cp with the vector swap), "
        "tlm (L_mp on the pair), mlm (L_mp, the two sentences unpaired).",
    ),
    mask_prob: float = typer.Option(
        0.3, "--mask-prob", help="Masking probability (80% [MASK], 10% random corpus piece, 10% unchanged)."
    ),
    lam: float = typer.Option(1.0, "--lambda", help="Weight λ of L_cp (weam only)."),
    swap: str = typer.Option(
        "one-to-one",
        "--swap",
        help="Links swapped: one-to-one (both words have exactly "
        "one link) or all (a word with several partners takes its first partner).",
    ),
    subwords: str = typer.Option(
        "first-piece",
        "--subwords",
        help="first-piece (swap and score first pieces) "
        "or single-piece (only words that are one piece on both sides).",
    ),
    cp_unaligned: bool = typer.Option(
        False,
        "--cp-unaligned/--no-cp-unaligned",
        help="Also score masked pieces without a partner in L_cp (they are then counted twice).",
    ),
    cp_partner: str = typer.Option(
        "unmasked",
        "--cp-partner",
        help="unmasked: L_cp scores a masked piece only when its aligned partner is not masked "
        "(predict it from the visible translation); any: also when the partner is masked.",
    ),
    head_warmup_steps: int | None = typer.Option(
        None,
        "--head-warmup-steps",
        help="Steps of head-only MLM "
        "before training (default 200 for a model without a trained "
        "MLM head, e.g. e5-small; else 0). Cached beside OUT.",
    ),
    head_warmup_lr: float = typer.Option(
        1e-3, "--head-warmup-lr", help="Learning rate of the head warm-up (the head starts untrained)."
    ),
    trim_vocab: bool | None = typer.Option(
        None,
        "--trim-vocab/--no-trim-vocab",
        help="Train with only the "
        "corpus's pieces in the vocabulary (default: on above 100k pieces); "
        "saved at full size.",
    ),
    bf16: bool | None = typer.Option(
        None,
        "--bf16/--no-bf16",
        help="bf16 autocast (default: on where the CPU has avx512_bf16/AMX or the GPU supports bf16).",
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="Pairs per device per step."),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Gradient accumulation steps."),
    lr: float = typer.Option(5e-5, "--lr"),
    max_length: int = typer.Option(128, "--max-length", help="Pieces per pair, specials included."),
    epochs: float = typer.Option(2.0, "--epochs"),
    max_steps: int | None = typer.Option(
        None, "--max-steps", help="Stop after N optimiser steps (overrides --epochs)."
    ),
    max_pairs: int | None = typer.Option(
        None, "--max-pairs", help="Use only the first N pairs per language."
    ),
    save_steps: int = typer.Option(500, "--save-steps", help="Checkpoint every N steps (0: none)."),
    logging_steps: int = typer.Option(10, "--logging-steps"),
    seed: int = typer.Option(42, "--seed"),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue from the last checkpoint in OUT (the settings must match OUT/pretrain-config.json).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run in OUT."),
) -> None:
    """Continual pre-training with WEAM (word-exchange), TLM or MLM; baselines differ only in the loss."""
    from weamcli.pretrain.run import pretrain

    setup_threads(threads)
    for name, value in (
        ("--batch-size", batch_size),
        ("--grad-accum", grad_accum),
        ("--logging-steps", logging_steps),
    ):
        if value < 1:
            raise WeamError(f"{name} must be at least 1, got {value}")
    langs = [x.strip() for x in lang.split(",") if x.strip()]
    result = pretrain(
        langs,
        out,
        alignments=alignments,
        source=source,
        target=target,
        model=model,
        num_layers=num_layers,
        objective=objective,
        mask_prob=mask_prob,
        lam=lam,
        swap=swap,
        subwords=subwords,
        cp_unaligned=cp_unaligned,
        cp_partner=cp_partner,
        head_warmup_steps=head_warmup_steps,
        head_warmup_lr=head_warmup_lr,
        trim_vocab=trim_vocab,
        bf16=bf16,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        max_length=max_length,
        epochs=epochs,
        max_steps=max_steps,
        max_pairs=max_pairs,
        save_steps=save_steps,
        logging_steps=logging_steps,
        seed=seed,
        resume=resume,
        overwrite=overwrite,
        progress=say,
    )
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only the first process reports
    from rich.table import Table

    table = Table(
        title=f"weam pretrain: {result.method}, en–{','.join(result.langs)}, {result.steps} steps, "
        f"{result.pairs:,} pairs"
    )
    table.add_column("loss")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    for name, first, last in (
        ("L_mp", result.loss_mp_first, result.loss_mp_last),
        ("L_cp", result.loss_cp_first, result.loss_cp_last),
    ):
        if first is not None:
            table.add_row(name, f"{first:.4f}", f"{last:.4f}")
    console.print(table)
    console.print(f"model: {result.out_dir}")
