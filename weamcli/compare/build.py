"""Comparison tables for `weam compare`: did continual pre-training help, where, and how sure are we.

Reads the JSON-lines rows written by `weam evaluate` (one row per model × task × language × seed,
with per-unit ``ids``/``predictions``/``gold``), pairs every model with a baseline unit by unit, and
puts a 95% paired bootstrap confidence interval on each difference. One table per task and metric
(accuracy; word accuracy for tagging; F1 and exact match for QA). The steps live beside: columns
(``compare.columns``), language rows and the bootstrap's design (``compare.language_rows``), mean
and group rows (``compare.group_rows``), gap and dev rows (``compare.gap_rows``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from weamcli.common.errors import WeamError
from weamcli.common.result_rows import ResultRow
from weamcli.compare.columns import ColumnSet, build_columns
from weamcli.compare.gap_rows import gap_and_dev_rows
from weamcli.compare.group_rows import group_cells, group_rows
from weamcli.compare.language_rows import (
    Cells,
    Languages,
    language_cells,
    language_rows,
    languages_of,
    mark_holm,
    unit_scores,
)
from weamcli.compare.load import find_result_files, load_results, select_rows
from weamcli.compare.table import (
    SOURCE_LANG,
    Cell,
    Column,
    Comparison,
    ModelSummary,
    TableRow,
    method_order_key,
)


def compare_results(
    paths: Sequence[str | os.PathLike],
    baseline: str,
    *,
    task: str | None = None,
    split: str | None = None,
    metric: str | None = None,
    by: str = "model",
    n_boot: int = 1000,
    seed: int = 0,
    expected_models: dict[str, str] | None = None,
) -> Comparison:
    """Load results, pair every model with the baseline and bootstrap each Δ; returns the table of
    one task and metric (``task`` is needed when the results hold several; ``metric`` defaults to
    the task's first: accuracy, or F1 for QA).

    ``expected_models`` (label -> method), from an experiment grid: a model with no rows at all
    (its training failed) still gets a column, every cell "missing", so it is never dropped."""
    files = find_result_files(paths)
    rows, task, split = select_rows(load_results(files), task, split)
    metrics = _metrics_of(rows, task)
    if metric is not None and metric not in metrics:
        raise WeamError(f"task '{task}' results have no metric '{metric}' (they have {', '.join(metrics)})")
    return _compare(
        rows, files, baseline, task, split, metric or metrics[0], by, n_boot, seed, expected_models
    )


def compare_all(
    paths: Sequence[str | os.PathLike],
    baseline: str,
    *,
    task: str | None = None,
    split: str | None = None,
    by: str = "model",
    n_boot: int = 1000,
    seed: int = 0,
    expected_models: dict[str, str] | None = None,
    expected_by_task: dict[str, dict[str, str]] | None = None,
) -> list[Comparison]:
    """One comparison per task (or only ``task``) and per metric of that task, in the order the
    tasks first appear in the results. ``expected_by_task`` (task -> label -> method) replaces
    ``expected_models`` where a grid evaluates some models on some tasks only."""
    files = find_result_files(paths)
    loaded = load_results(files)
    tasks = [task] if task is not None else list(dict.fromkeys(r.task for r in loaded))
    out = []
    for name in tasks:
        rows, name, chosen = select_rows(loaded, name, split)
        expected = expected_models if expected_by_task is None else expected_by_task.get(name, {})
        for metric in _metrics_of(rows, name):
            out.append(_compare(rows, files, baseline, name, chosen, metric, by, n_boot, seed, expected))
    return out


def _metrics_of(rows: list[ResultRow], task: str) -> tuple[str, ...]:
    kinds = {(r.kind, r.metrics) for r in rows}
    if len(kinds) > 1:
        first, other = sorted(kinds)[:2]
        where = next(r.where for r in rows if (r.kind, r.metrics) == other)
        raise WeamError(
            f"task '{task}' has rows of two kinds ({first[0]} and {other[0]}, e.g. at {where}); "
            "give each kind its own task name"
        )
    return next(iter(kinds))[1]


def _compare(
    rows: list[ResultRow],
    files: Sequence[os.PathLike],
    baseline: str,
    task: str,
    split: str,
    metric: str,
    by: str,
    n_boot: int,
    seed: int,
    expected_models: dict[str, str] | None,
) -> Comparison:
    # by and n_boot are checked by CompareSettings, where the options are defined
    unit = rows[0].unit
    cols, notes = build_columns(rows, baseline, by)
    langs = languages_of(rows)
    cells, boot, lang_notes = language_cells(cols, langs, unit_scores(rows, by, metric), n_boot, seed, unit)
    notes.extend(lang_notes)

    # Mean and resource-group rows over the zero-shot languages, then the gap and dev rows.
    table_rows = language_rows(langs)
    groups = group_rows(langs)
    mean_boot = group_cells(groups, cells, cols, boot)
    extra_rows, extra_notes = gap_and_dev_rows(cells, cols, langs, boot, mean_boot)
    groups += extra_rows
    notes.extend(extra_notes)
    notes.extend(mark_holm(cells, cols.names, langs.zero_shot, n_boot))
    notes.extend(_row_notes(cells, cols, langs, groups))

    notes.extend(_add_missing_models(cells, cols, table_rows + groups, by, expected_models))
    summary_langs = langs.zero_shot or langs.labels
    return Comparison(
        task=task,
        split=split,
        baseline=baseline,
        by=by,
        n_boot=n_boot,
        seed=seed,
        sources=[str(p) for p in files],
        columns=cols.columns,
        rows=table_rows + groups,
        cells=cells,
        models=_model_summaries(rows, summary_langs, metric),
        common_langs=_common_langs(rows, summary_langs),
        notes=notes,
        metric=metric,
        unit=unit,
    )


def _row_notes(cells: Cells, cols: ColumnSet, langs: Languages, groups: list[TableRow]) -> list[str]:
    notes = []
    if any(cells[(g.label, n)].partial for g in groups for n in cols.names):
        notes.append("* marks a mean over fewer languages than the row (some cells missing)")
    if any(langs.info[label][0] == SOURCE_LANG for label in langs.labels):
        notes.append("English (the fine-tuning language) is not part of the mean and group rows")
    return notes


def _add_missing_models(
    cells: Cells,
    cols: ColumnSet,
    rows: list[TableRow],
    by: str,
    expected_models: dict[str, str] | None,
) -> list[str]:
    """A column of "missing" cells for each expected model without results (its grid step failed),
    so no model silently drops out of the table; notes naming them."""
    notes = []
    for name, method in (expected_models or {}).items():
        if by == "model" and name not in cols.rows_of:
            cols.columns.append(Column(name=name, method=method, reference="", models=(name,), seeds=()))
            for row in rows:
                cells[(row.label, name)] = Cell(status="missing")
            notes.append(f"{name}: no results (its grid step failed or did not run)")
    return notes


def _common_langs(rows: list[ResultRow], langs: Iterable[str]) -> tuple[str, ...]:
    have: dict[str, set[str]] = {}
    for r in rows:
        have.setdefault(r.model, set()).add(r.lang)
    return tuple(label for label in langs if all(label in s for s in have.values()))


def _model_summaries(rows: list[ResultRow], langs: list[str], metric: str) -> list[ModelSummary]:
    common = set(_common_langs(rows, langs))
    out = []
    for model in sorted({r.model for r in rows}):
        mine = [r for r in rows if r.model == model]
        per_lang: dict[str, list[float]] = {}
        for r in mine:
            if r.lang in common:
                per_lang.setdefault(r.lang, []).append(r.value(metric))
        first = mine[0]
        out.append(
            ModelSummary(
                model=model,
                method=first.method,
                base_model=first.base_model,
                num_layers=first.num_layers,
                params=first.params,
                n_pretrain_langs=len(first.pretrain_langs),
                pretrain_steps=first.pretrain_steps,
                mean_accuracy=float(np.mean([np.mean(v) for v in per_lang.values()])) if per_lang else None,
            )
        )
    return sorted(out, key=lambda m: method_order_key(m.method, m.model))
