"""`weam compare`: accuracy and Δ against a baseline with paired bootstrap CIs, as a rich table,
Markdown, CSV and plots."""

from __future__ import annotations

from pathlib import Path

import typer

from weamcli.compare.table import compare_results
from weamcli.compare.write import default_out_dir, write_comparison

from .app import app
from .console import command, say
from .tables import print_comparison


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
