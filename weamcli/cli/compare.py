"""`weam compare`: accuracy and Δ against a baseline with paired bootstrap CIs, as a rich table,
Markdown, CSV and plots."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..comparison import (
    Cell,
    Comparison,
    compare_results,
    default_out_dir,
    delta_text,
    pct,
    write_comparison,
)
from . import app
from .console import command, console, say, stdout_is_terminal


def _cell_text(cell: Cell) -> Text:
    if cell.status == "missing":
        return Text("missing", style="dim italic")
    text = Text(pct(cell.accuracy) + ("*" if cell.partial else ""))
    if cell.status == "baseline":
        return text
    if cell.status == "no-baseline":
        return text.append("  no baseline", style="dim")
    style = {1: "bold green", -1: "bold red", 0: "dim"}[cell.sign]
    mark = {1: "▲", -1: "▼", 0: " "}[cell.sign]
    return text.append(f"  {mark} {delta_text(cell)}", style=style)


def render_table(comparison: Comparison) -> Table:
    c = comparison
    table = Table(
        title=f"{c.task} ({c.split}): accuracy % and Δ vs {c.baseline} (points, 95% paired bootstrap CI)",
        title_justify="left",
        show_lines=False,
    )
    table.add_column("lang", style="bold", no_wrap=True, min_width=max(len(r.label) for r in c.rows))
    for col in c.columns:
        header = col.name if col.reference is not None else f"{col.name} (baseline)"
        seeds = f"{len(col.seeds)} seed{'s' if len(col.seeds) != 1 else ''}"
        if col.reference:
            seeds += f", vs {col.reference}"
        # Cells may wrap (accuracy above Δ) when the terminal is too narrow for one line each.
        table.add_column(f"{header}\n[dim]{seeds}[/]", justify="right", min_width=len("88.8*"))
    for row in c.rows:
        if row.kind == "mean":
            table.add_section()
        label = Text(row.label, style="bold" if row.kind != "lang" else "")
        table.add_row(label, *(_cell_text(c.cell(row.label, col.name)) for col in c.columns))
    return table


@app.command("compare")
@command
def compare_command(
    results: list[Path] = typer.Argument(
        ..., help="results*.jsonl files from `weam evaluate`, or folders searched for them."
    ),
    baseline: str = typer.Option(
        ...,
        "--baseline",
        "-b",
        help="Model label or method to measure Δ against (e5-small, mbert, tlm, ...).",
    ),
    task: str = typer.Option(None, "--task", help="Task to compare (needed when the results hold several)."),
    split: str = typer.Option(None, "--split", help="Split to compare (default: test)."),
    by: str = typer.Option("model", "--by", help="Columns: 'model' (each model label) or 'method'."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples per confidence interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap's random draws."),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Output folder for table.md/csv, plots, run.jsonl (default: compare/ in the first folder "
        "given, or beside the first results file given).",
    ),
) -> None:
    """Compare models against a baseline: accuracy and Δ per language with 95% paired bootstrap CIs.

    ▲/▼ mark differences whose interval excludes 0. Writes table.md, table.csv, plots, run.jsonl.
    """
    comparison = compare_results(
        results, baseline, task=task, split=split, by=by, n_boot=bootstrap, seed=seed
    )
    out_dir = out if out is not None else default_out_dir(results)
    say(f"compared {len(comparison.columns)} columns on {comparison.task}, {bootstrap} bootstrap resamples")
    written = write_comparison(comparison, out_dir)
    print_comparison(comparison, written)


def print_comparison(comparison: Comparison, written: dict[str, Path]) -> None:
    """The table, its legend and notes on stdout; the written files on stderr."""
    # Piped into a file there is no terminal width to respect: print every cell on one line.
    out_console = console
    if not stdout_is_terminal():
        out_console = Console(width=max(console.width, 16 + 30 * len(comparison.columns)), highlight=False)
    out_console.print(render_table(comparison))
    console.print("[dim]▲/▼: 95% CI excludes 0.[/]")
    for note in comparison.notes:
        console.print(f"[dim]note:[/] {note}", highlight=False, soft_wrap=True)
    say("wrote " + ", ".join(str(p) for p in written.values()))
