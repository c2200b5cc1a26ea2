"""Writing a comparison: table.md, table.csv, the plots and a run record."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weamcli.common.files import atomic_file
from weamcli.common.run_records import write_run_record
from weamcli.compare.render import render_csv, render_markdown
from weamcli.compare.table import Comparison


def summary_metrics(comparison: Comparison) -> dict[str, Any]:
    """Mean-row figures per column, for the run record."""
    out: dict[str, Any] = {}
    for col in comparison.columns:
        cell = comparison.cells.get(("mean", col.name))
        if cell is not None:
            out[col.name] = {
                "mean_accuracy": cell.accuracy,
                "delta": cell.delta,
                "ci_low": cell.ci_low,
                "ci_high": cell.ci_high,
                "reference": col.reference,
            }
    return out


def default_out_dir(paths: Sequence[str | os.PathLike]) -> Path:
    """``compare/`` inside the first folder given, or beside the first results file given."""
    first = Path(paths[0])
    return (first if first.is_dir() else first.parent) / "compare"


def write_comparison(comparison: Comparison, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write table.md, table.csv, the plots and a run.jsonl record into ``out_dir``; return the paths."""
    from weamcli.compare.plots import write_plots  # matplotlib is slow to import; only writing needs it

    out = Path(out_dir)
    written: dict[str, Path] = {}
    plots, skipped = write_plots(comparison, out)
    written.update(plots)
    # Skipped plots are reported as notes, so the Markdown file and the CLI both say why.
    comparison.notes.extend(f"plot '{name}' skipped: {why}" for name, why in skipped.items())
    with atomic_file(out / "table.md") as fh:
        fh.write(render_markdown(comparison))
    written["markdown"] = out / "table.md"
    with atomic_file(out / "table.csv", newline="") as fh:
        fh.write(render_csv(comparison))
    written["csv"] = out / "table.csv"
    write_run_record(
        out,
        "compare",
        {
            "sources": comparison.sources,
            "task": comparison.task,
            "split": comparison.split,
            "baseline": comparison.baseline,
            "by": comparison.by,
            "n_boot": comparison.n_boot,
            "outputs": {k: p.name for k, p in written.items()},
            "plots_skipped": skipped,
            "notes": comparison.notes,
        },
        seed=comparison.seed,
        metrics=summary_metrics(comparison),
    )
    written["run_record"] = out / "run.jsonl"
    return written
