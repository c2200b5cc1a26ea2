"""The transfer-gap and English dev rows of a comparison, and the not-converged notes.

The gap row is English minus the zero-shot mean (XTREME's cross-lingual transfer gap); its Δgap
uses the same paired bootstrap: the English draws minus the mean row's draws, seeds drawn once for
both. The dev row is the selected epoch's English dev score, what model selection saw."""

from __future__ import annotations

import numpy as np

from weamcli.compare.columns import ColumnSet
from weamcli.compare.group_rows import MeanBoot
from weamcli.compare.language_rows import Boots, Cells, Languages, delta_spread
from weamcli.compare.table import DEV_ROW, GAP_ROW, NOT_CONVERGED_MARK, Cell, Column, TableRow


def gap_and_dev_rows(
    cells: Cells, cols: ColumnSet, langs: Languages, boot: Boots, mean_boot: dict[str, MeanBoot]
) -> tuple[list[TableRow], list[str]]:
    """The gap row (with one English row and zero-shot languages) and the dev row (for fine-tuned
    columns), their cells filled in; notes on both, on what is missing and on fine-tunes that had
    not converged."""
    rows: list[TableRow] = []
    notes: list[str] = []
    have_zero_shot = bool(langs.zero_shot)
    fine_tuned = any(c.convergence for c in cols.columns)
    if len(langs.english) == 1 and have_zero_shot:
        rows.append(TableRow(label=GAP_ROW, kind="gap"))
        _gap_cells(cells, cols, langs.english[0], boot, mean_boot)
        notes.append(
            f"{GAP_ROW}: English minus the zero-shot mean (the cross-lingual transfer gap; smaller is "
            "better); "
            "its Δ below 0 means the model closes the gap. A method that lifts English and zero-shot alike "
            "has Δgap ≈ 0: read Δ on the mean and Δgap together."
        )
    elif have_zero_shot and fine_tuned:
        notes.append("no English test row: the transfer gap needs the fine-tuning language evaluated too")
    if fine_tuned:
        rows.append(TableRow(label=DEV_ROW, kind="dev"))
        _dev_cells(cells, cols)
        notes.append(
            f"{DEV_ROW}: the selected epoch's English dev score (what model selection saw), mean over seeds"
        )
    notes.extend(_not_converged_notes(cols.columns))
    return rows, notes


def _gap_cells(cells: Cells, cols: ColumnSet, en: str, boot: Boots, mean_boot: dict[str, MeanBoot]) -> None:
    for n in cols.names:
        en_cell, mean_cell = cells[(en, n)], cells[("mean", n)]
        if en_cell.accuracy is None or mean_cell.accuracy is None:
            cells[(GAP_ROW, n)] = Cell(status="missing")
            continue
        gap = en_cell.accuracy - mean_cell.accuracy
        ref = cols.references[n]
        if ref is None or (n, ref, en) not in boot or n not in mean_boot:
            status = "baseline" if ref is None else "no-baseline"
            cells[(GAP_ROW, n)] = Cell(status=status, accuracy=gap, partial=mean_cell.partial)
            continue
        en_delta, *en_draws, n_en = boot[(n, ref, en)]
        mean_delta, *mean_draws, partial = mean_boot[n]
        diff = [a - b for a, b in zip(en_draws, mean_draws, strict=True)]
        cells[(GAP_ROW, n)] = Cell(
            status="ok",
            accuracy=gap,
            delta=en_delta - mean_delta,
            n=n_en + mean_cell.n,
            seeds=len(cols.replicates[n]),
            langs=mean_cell.langs,
            partial=partial,
            **delta_spread(*diff, max(len(cols.replicates[n]), len(cols.replicates[ref])) > 1),
        )


def _dev_cells(cells: Cells, cols: ColumnSet) -> None:
    for col in cols.columns:
        runs = {(r.model, r.seed): r for r in cols.rows_of.get(col.name, [])}
        scores = [r.dev_score for r in runs.values() if r.dev_score is not None]
        cells[(DEV_ROW, col.name)] = (
            Cell(status="info", accuracy=float(np.mean(scores)), seeds=len(scores))
            if scores
            else Cell(status="missing")
        )


def _not_converged_notes(columns: list[Column]) -> list[str]:
    return [
        f"{NOT_CONVERGED_MARK} {model} seed {seed_} NOT CONVERGED: {verdict.describe()}; its "
        "zero-shot scores partly measure how fast it fine-tunes (raise --epochs or use --patience)"
        for col in columns
        for model, seed_, verdict in col.not_converged
    ]
