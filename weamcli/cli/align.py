"""`weam align`: parallel text → word alignments, the alignment prior (lexicon) and, with --gold, AER."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from weamcli.align.settings import AlignSettings

from .console import console, err_console, escaped, say, setup_threads, threads_option
from .options import settings_command


@settings_command("align", AlignSettings)
def align_command(
    settings: AlignSettings,
    threads: int | None = threads_option("CPU threads for torch (simalign)."),
) -> None:
    """Word-align a parallel corpus (eflomal + symmetrisation, or SimAlign) into an output folder.

    Writes source.tok/target.tok, alignment.txt (Pharaoh i-j, 0-based), forward/reverse.txt,
    lexicon.tsv (the prior weam pretrain uses), align.json and run.jsonl.
    """
    from weamcli.align.run import align

    setup_threads(threads)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
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

        result = align(settings, progress=progress)
    m = result.metrics
    say(
        f"aligned {result.pairs} pairs, {result.links} links ({m['links_per_pair']}/pair) in {m['seconds']} s"
    )
    if "extra_pairs_used" in m:
        say(f"extra training pairs: {m['extra_pairs_used']} used, {m['extra_pairs_skipped']} skipped")
    if result.scores is not None:
        s = result.scores
        table = Table(title=f"alignment vs gold ({s.pairs} pairs)")
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
    console.print(f"wrote {escaped(result.out_dir)}", highlight=False)
