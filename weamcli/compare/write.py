"""Writing a comparison: table.md, table.csv, the plots and a run record."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file, check_writable
from weamcli.common.run_records import RUN_RECORD, write_run_record
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


TABLE_FILES = ("table.md", "table.csv", RUN_RECORD)


def _written_by_compare(name: str) -> bool:
    """A name weam compare writes (tables, record, plots; hidden: temporary files)."""
    return name in TABLE_FILES or name.endswith(".png") or name.startswith(".")


def check_out_dir(out: Path, *, overwrite: bool) -> None:
    """Refuse, before any work, a folder holding an earlier comparison (without ``overwrite``) or
    other files (always: replacing the folder would delete them), or one that cannot be written."""
    check_writable(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise WeamError("exists and is not a folder", out)
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if not _written_by_compare(n)]
    if foreign:
        raise WeamError(
            f"holds files weam compare did not write (e.g. {foreign[0]}); choose another --out", out
        )
    if names and not overwrite:
        raise WeamError("holds an earlier comparison (pass --overwrite to replace it)", out)


def write_comparison(comparison: Comparison, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write table.md, table.csv, the plots and a run.jsonl record into ``out_dir`` (replacing an
    earlier comparison there in one swap, once all is written; its run.jsonl history is carried
    over); return the paths."""
    out = Path(out_dir)
    with atomic_dir(out, overwrite=True) as tmp:
        if (out / RUN_RECORD).is_file():
            shutil.copyfile(out / RUN_RECORD, tmp / RUN_RECORD)
        written = _write_files(comparison, tmp)
    return {k: out / p.name for k, p in written.items()}


def _write_files(comparison: Comparison, out: Path) -> dict[str, Path]:
    from weamcli.compare.plots import write_plots  # matplotlib is slow to import; only writing needs it

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
