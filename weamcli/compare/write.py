"""Writing comparisons: table.md, table.csv, the plots and a run record.

One comparison (one task and metric) writes ``table.md``, ``table.csv``, ``deltas.png`` …; several
(results of several tasks, or QA's F1 and exact match) write every table into the same
``table.md`` and ``table.csv`` (which has task, metric and unit columns) and prefix each one's
plots with ``<task>-<metric>-``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file
from weamcli.common.output_folders import check_writable
from weamcli.common.run_records import RUN_RECORD, write_run_record
from weamcli.compare.render import render_csv, render_markdown
from weamcli.compare.table import GAP_ROW, Cell, Comparison


def _power(cell: Cell) -> dict[str, Any]:
    """A cell's power figures (compare.power), fractions like Δ."""
    return {
        "se": cell.se,
        "half_width": cell.half_width,
        "mde": cell.mde,
        "p_value": cell.p_value,
        "cannot_detect_1pt": None if cell.mde is None else cell.cannot_detect_one_point,
    }


def summary_metrics(comparison: Comparison) -> dict[str, Any]:
    """Mean-row figures per column, for the run record, with their power and the parts of its
    variance that ``weam experiment --plan`` turns into the seeds and units a 1-point effect needs
    (read back there, so planning needs no new bootstrap); and every row's Δ, CI, MDE, p-value and
    Holm mark under ``rows``."""
    out: dict[str, Any] = {}
    for col in comparison.columns:
        cell = comparison.cells.get(("mean", col.name))
        if cell is not None:
            out[col.name] = {
                f"mean_{comparison.metric}": cell.accuracy,
                "delta": cell.delta,
                "ci_low": cell.ci_low,
                "ci_high": cell.ci_high,
                "reference": col.reference,
                **_power(cell),
                "se_units": cell.se_units,
                "se_seeds": cell.se_seeds,
                "units_per_lang": cell.n / cell.langs if cell.langs else None,
                "seeds": cell.seeds,
                "langs": cell.langs,
            }
        gap = comparison.cells.get((GAP_ROW, col.name))
        if gap is not None and gap.accuracy is not None:
            out.setdefault(col.name, {})["gap"] = {
                "gap": gap.accuracy,
                "delta_gap": gap.delta,
                "ci_low": gap.ci_low,
                "ci_high": gap.ci_high,
                **_power(gap),
            }
        if col.convergence:
            out.setdefault(col.name, {})["not_converged"] = [
                {"model": model, "seed": seed, "last_gain": v.last_gain, "epochs": v.epochs}
                for model, seed, v in col.not_converged
            ]
        if col.reference:
            rows = {}
            for row in comparison.rows:
                one = comparison.cells.get((row.label, col.name))
                if one is not None and one.delta is not None:
                    rows[row.label] = {
                        "delta": one.delta,
                        "ci_low": one.ci_low,
                        "ci_high": one.ci_high,
                        **_power(one),
                        "holm_significant": one.holm,
                    }
            out.setdefault(col.name, {"reference": col.reference})["rows"] = rows
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


def write_comparison(
    comparison: Comparison | list[Comparison], out_dir: str | os.PathLike
) -> dict[str, Path]:
    """Write table.md, table.csv, the plots and a run.jsonl record into ``out_dir`` (replacing an
    earlier comparison there in one swap, once all is written; its run.jsonl history is carried
    over); return the paths."""
    out = Path(out_dir)
    with atomic_dir(out, overwrite=True) as tmp:
        if (out / RUN_RECORD).is_file():
            shutil.copyfile(out / RUN_RECORD, tmp / RUN_RECORD)
        written = _write_files(comparison if isinstance(comparison, list) else [comparison], tmp)
    return {k: out / p.name for k, p in written.items()}


def _write_files(many: list[Comparison], out: Path) -> dict[str, Path]:
    from weamcli.compare.plots import write_plots  # matplotlib is slow to import; only writing needs it

    written: dict[str, Path] = {}
    skipped_all: dict[str, str] = {}
    for c in many:
        prefix = f"{c.task}-{c.metric}-" if len(many) > 1 else ""
        plots, skipped = write_plots(c, out, prefix)
        written.update({prefix + k if prefix else k: p for k, p in plots.items()})
        # Skipped plots are reported as notes, so the Markdown file and the CLI both say why.
        c.notes.extend(f"plot '{name}' skipped: {why}" for name, why in skipped.items())
        skipped_all.update({prefix + name: why for name, why in skipped.items()})
    with atomic_file(out / "table.md") as fh:
        fh.write("\n".join(render_markdown(c) for c in many))
    written["markdown"] = out / "table.md"
    with atomic_file(out / "table.csv", newline="") as fh:
        fh.write(render_csv(many))
    written["csv"] = out / "table.csv"
    first, one = many[0], len(many) == 1
    write_run_record(
        out,
        "compare",
        {
            "sources": first.sources,
            "task": first.task if one else [c.task for c in many],
            "metric": first.metric if one else [c.metric for c in many],
            "unit": first.unit if one else [c.unit for c in many],
            "split": first.split,
            "baseline": first.baseline,
            "by": first.by,
            "n_boot": first.n_boot,
            "outputs": {k: p.name for k, p in written.items()},
            "plots_skipped": skipped_all,
            "notes": [n for c in many for n in c.notes],
        },
        seed=first.seed,
        metrics=summary_metrics(first) if one else {f"{c.task}/{c.metric}": summary_metrics(c) for c in many},
    )
    written["run_record"] = out / "run.jsonl"
    return written
