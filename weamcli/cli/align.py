"""`weam align`: parallel text → word alignments, the alignment prior (lexicon) and, with --gold, AER."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from weamcli.common.errors import WeamError

from .app import app
from .console import command, console, err_console, say, setup_threads


def _guess_lang(given: str | None, path: Path | None, side: str) -> str:
    from weamcli.common.corpus import guess_language

    if given:
        return given
    guessed = guess_language(path) if path is not None else None
    if guessed is None:
        flag = "--src-lang" if side == "source" else "--tgt-lang"
        raise WeamError(f"cannot tell the {side} language from the file name; pass {flag}")
    return guessed


@app.command("align")
@command
def align_command(
    source: Path = typer.Argument(..., help="Source-side text, or one 'src ||| tgt' file (gzip allowed)."),
    target: Path | None = typer.Argument(None, help="Target-side text, line-aligned with SOURCE."),
    src_lang: str | None = typer.Option(
        None, "--src-lang", help="Source language (guessed from a .en/.de suffix)."
    ),
    tgt_lang: str | None = typer.Option(None, "--tgt-lang", help="Target language (guessed likewise)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder [default: runs/align-SRC-TGT]."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    backend: str = typer.Option(
        "eflomal", "--backend", help="eflomal (statistical) or simalign (embeddings)."
    ),
    symmetrize: str = typer.Option(
        "grow-diag-final-and", "--symmetrize", help="grow-diag-final-and, intersect or union (eflomal)."
    ),
    segment: str = typer.Option(
        "auto", "--segment", help="auto: per-character units for zh/ja/th…; chars: always; none: keep words."
    ),
    pretokenized: bool = typer.Option(
        False, "--pretokenized", help="Input is tokenised: use its whitespace tokens."
    ),
    max_tokens: int = typer.Option(200, "--max-tokens", help="Reject a line with more units than this."),
    on_empty: str = typer.Option("keep", "--on-empty", help="Empty line: keep (empty alignment) or error."),
    extra: Path | None = typer.Option(
        None, "--extra", help="Extra eflomal training text, 'src ||| tgt' lines."
    ),
    extra_source: Path | None = typer.Option(
        None, "--extra-source", help="Extra training text, source side."
    ),
    extra_target: Path | None = typer.Option(
        None, "--extra-target", help="Extra training text, target side."
    ),
    crlf: str = typer.Option(
        "error",
        "--crlf",
        help="Windows (CRLF) line endings in any input (corpus, extra, gold): error, or strip (read as LF).",
    ),
    eflomal_length: float = typer.Option(
        1.0, "--eflomal-length", help="eflomal's relative number of iterations."
    ),
    eflomal_model: int = typer.Option(
        3, "--eflomal-model", help="eflomal model: 1 IBM1, 2 +HMM, 3 +fertility."
    ),
    eflomal_samplers: int = typer.Option(3, "--eflomal-samplers", help="eflomal's independent samplers."),
    eflomal_null_prior: float = typer.Option(
        0.2, "--eflomal-null-prior", help="eflomal's prior probability of a NULL link."
    ),
    model: str = typer.Option("e5-small", "--model", help="simalign: preset, local folder or hub name."),
    simalign_method: str = typer.Option(
        "inter", "--simalign-method", help="simalign: inter, mwmf or itermax."
    ),
    layer: int = typer.Option(8, "--layer", help="simalign: hidden layer to take embeddings from."),
    gold: Path | None = typer.Option(
        None, "--gold", help="Gold alignment file to score against (AER, P, R, F1)."
    ),
    gold_index_base: str = typer.Option(
        "auto", "--gold-index-base", help="0, 1 or auto (0 if any index is 0)."
    ),
    gold_drop_invalid: bool = typer.Option(
        False, "--gold-drop-invalid", help="Skip (and count) out-of-range gold links instead of failing."
    ),
    seed: int = typer.Option(
        1, "--seed", help="Random seed (recorded; eflomal 2.0 cannot be seeded: its links vary run to run)."
    ),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch (simalign)."),
) -> None:
    """Word-align a parallel corpus (eflomal + symmetrisation, or SimAlign) into an output folder.

    Writes source.tok/target.tok, alignment.txt (Pharaoh i-j, 0-based), forward/reverse.txt,
    lexicon.tsv (the prior weam pretrain uses), align.json and run.jsonl.
    """
    from weamcli.align.run import align_corpus

    setup_threads(threads)
    if extra is not None and (extra_source is not None or extra_target is not None):
        raise WeamError("give either --extra or --extra-source/--extra-target, not both")
    if (extra_source is None) != (extra_target is None):
        raise WeamError("--extra-source and --extra-target go together")
    src = _guess_lang(src_lang, source if target is not None else None, "source")
    tgt = _guess_lang(tgt_lang, target, "target")
    out_dir = out or Path("runs") / f"align-{src}-{tgt}"
    options = (
        {
            "eflomal_length": eflomal_length,
            "eflomal_model": eflomal_model,
            "n_samplers": eflomal_samplers,
            "null_prior": eflomal_null_prior,
        }
        if backend == "eflomal"
        else {"simalign_method": simalign_method, "layer": layer}
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = align_corpus(
            source,
            target,
            out_dir,
            source_lang=src,
            target_lang=tgt,
            backend=backend,
            symmetrize=symmetrize,
            segment=segment,
            model=model,
            seed=seed,
            overwrite=overwrite,
            progress=progress,
            pretokenized=pretokenized,
            max_tokens=max_tokens,
            empty_lines=on_empty,
            extra_source=extra if extra is not None else extra_source,
            extra_target=extra_target,
            gold=gold,
            gold_index_base=gold_index_base,
            gold_drop_invalid=gold_drop_invalid,
            crlf=crlf,
            **options,
        )
    m = result.metrics
    say(
        f"aligned {result.pairs} pairs, {result.links} links ({m['links_per_pair']}/pair) in {m['seconds']} s"
    )
    if "extra_pairs_used" in m:
        say(f"extra training pairs: {m['extra_pairs_used']} used, {m['extra_pairs_skipped']} skipped")
    if result.scores is not None:
        s = result.scores
        table = Table(title=f"{src}–{tgt} alignment vs gold ({s.pairs} pairs)")
        for col in ("AER", "precision", "recall", "F1", "links", "sure", "possible"):
            table.add_column(col, justify="right")
        table.add_row(
            f"{100 * s.aer:.1f}",
            f"{100 * s.precision:.1f}",
            f"{100 * s.recall:.1f}",
            f"{100 * s.f1:.1f}",
            str(s.predicted),
            str(s.sure),
            str(s.possible),
        )
        console.print(table)
        dropped = m["gold"].get("dropped_invalid_links", 0)
        if dropped:
            say(f"dropped {dropped} out-of-range gold link(s)")
    console.print(f"wrote {result.out_dir}")
