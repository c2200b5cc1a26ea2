"""Comparison tables for `weam compare`: did continual pre-training help, where, and how sure are we.

Reads the JSON-lines rows written by `weam evaluate` (one row per model × task × language × seed,
with per-unit ``ids``/``predictions``/``gold``), pairs every model with a baseline unit by unit, and
puts a 95% paired bootstrap confidence interval on each difference. One table per task and metric
(accuracy; word accuracy for tagging; F1 and exact match for QA).

The bootstrap (why it is built this way):
- Units are paired by (language, id): both sides are scored on the same resampled units, which
  removes the between-unit variance a paired design is meant to remove. The unit is what is
  independent: an example for classification, a sentence for tagging (its words share a context
  and are right or wrong together, so resampling words would understate the variance), a question
  for QA. A tagging metric is words right / words over the drawn sentences.
- A side evaluated with several seeds has its seeds (whole training runs) resampled too, the same
  draw for every language, because one seed is one trained model evaluated on all languages.
- Mean and resource-group rows resample examples within each language and average the
  per-language differences, so every language weighs the same whatever its test-set size.
- English (the fine-tuning language) is shown as a row but left out of the mean and group rows:
  they summarise zero-shot transfer.

Power (``compare.power``): every Δ also gets its standard error (the standard deviation of the
same bootstrap draws), the minimum detectable effect at 80% power (2.80 × SE), a two-sided
bootstrap p-value, and, for the zero-shot language rows of a column, whether Δ survives a
Holm–Bonferroni correction over those rows. Two more bootstraps on the same draws split the
variance for sample-size planning: one keeps every seed once (units only), one keeps every unit
once (seeds only).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from weamcli.common.convergence import Convergence, convergence
from weamcli.common.errors import WeamError
from weamcli.common.result_rows import ResultRow
from weamcli.compare.bootstrap import (
    bootstrap_p_value,
    bootstrap_se,
    cell_rng,
    example_weights,
    paired_draws,
    percentile_ci,
    seed_counts,
)
from weamcli.compare.load import find_result_files, load_results, select_rows
from weamcli.compare.power import ALPHA, ONE_POINT, holm, mde
from weamcli.pretrain.objectives import objective_names

SOURCE_LANG = "en"  # fine-tuning language: shown, but not part of the zero-shot means
GAP_ROW = "gap"  # English minus the zero-shot mean: XTREME's cross-lingual transfer gap
DEV_ROW = "en dev"  # the selected epoch's English dev score (model selection's own figure)
NOT_CONVERGED_MARK = "⚠"
# columns and plot lines in this order (methods it does not know come last): the baseline, then the
# registered objectives in their listing order (the masked-LM baselines, WEAM, the explicit-alignment
# objectives)
METHOD_ORDER = ("baseline", *objective_names())


@dataclass
class Cell:
    """One (row, column) of the table. The metric (``accuracy``: accuracy, word accuracy, F1 or
    exact match, whichever the comparison is about) and Δ are fractions (0.887, +0.015)."""

    # "ok", "baseline" (the reference column itself), "missing", "no-baseline", "info" (a figure
    # without a Δ: the English dev row)
    status: str
    accuracy: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0  # paired units behind Δ (summed over languages for mean rows)
    seeds: int = 0
    langs: int = 0  # languages behind a mean/group cell
    partial: bool = False  # a mean/group cell that lacks some of the row's languages
    # Power of an "ok" cell (fractions, like Δ; see compare.power):
    se: float | None = None  # standard deviation of the bootstrap draws of Δ (units and seeds)
    half_width: float | None = None  # half the 95% CI's width
    mde: float | None = None  # minimum detectable effect, 80% power, two-sided α = 0.05: 2.80 × se
    p_value: float | None = None  # two-sided bootstrap p of Δ = 0, at least 1 / n_boot
    # Δ survives Holm–Bonferroni at α = 0.05 over the column's zero-shot language rows; None for
    # rows outside that family (English, mean and group rows) and cells without Δ
    holm: bool | None = None
    se_units: float | None = None  # SE with every seed kept once: the unit-to-unit part
    se_seeds: float | None = None  # SE with every unit kept once; None: one seed per side

    @property
    def cannot_detect_one_point(self) -> bool:
        """The MDE exceeds 1 point: a true 1-point Δ would often go unseen in this row."""
        return self.mde is not None and self.mde > ONE_POINT

    @property
    def sign(self) -> int:
        """+1 / −1 when the CI lies wholly above / below 0, else 0."""
        if self.ci_low is None or self.ci_high is None:
            return 0
        if self.ci_low > 0:
            return 1
        if self.ci_high < 0:
            return -1
        return 0


@dataclass
class TableRow:
    label: str  # "de", "mean", "high-resource", "gap", "en dev" ...
    kind: str  # "lang", "mean", "group", "gap" (English − zero-shot mean) or "dev" (English dev)
    resource: str | None = None
    langs: tuple[str, ...] = ()  # the languages a mean/group row averages


@dataclass
class Column:
    name: str  # model label (or method with by="method")
    method: str
    reference: str | None  # the column Δ is measured against; None for a reference column, "" if none found
    models: tuple[str, ...]
    seeds: tuple[int | None, ...]
    # each fine-tuned run's English dev curve verdict: (model, seed, verdict); empty for probes
    convergence: tuple[tuple[str, int | None, Convergence], ...] = ()

    @property
    def not_converged(self) -> list[tuple[str, int | None, Convergence]]:
        return [run for run in self.convergence if run[2].status == "not converged"]


@dataclass
class ModelSummary:
    """One model's facts and mean accuracy over the languages every model has (for plots)."""

    model: str
    method: str
    base_model: str | None
    num_layers: int | None
    params: int | None
    n_pretrain_langs: int
    mean_accuracy: float | None
    pretrain_steps: int | None = None  # continual pre-training steps (None: not pre-trained by weam)


@dataclass
class Comparison:
    task: str
    split: str
    baseline: str
    by: str
    n_boot: int
    seed: int
    sources: list[str]
    columns: list[Column]
    rows: list[TableRow]
    cells: dict[tuple[str, str], Cell]  # (row label, column name) -> Cell
    models: list[ModelSummary]
    common_langs: tuple[str, ...]  # zero-shot languages every model has; plots average over these
    notes: list[str] = field(default_factory=list)
    metric: str = "accuracy"  # accuracy (examples or words), f1, exact_match
    unit: str = "example"  # what the bootstrap resampled: example, sentence, question

    def cell(self, row: str, column: str) -> Cell:
        return self.cells[(row, column)]

    @property
    def compared_columns(self) -> list[Column]:
        return [c for c in self.columns if c.reference is not None]


METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "exact_match": "exact match"}


def metric_name(comparison: Comparison) -> str:
    """How a table names its metric: accuracy, word accuracy (tagging), F1, exact match."""
    name = METRIC_NAMES.get(comparison.metric, comparison.metric)
    return f"word {name}" if comparison.unit == "sentence" and comparison.metric == "accuracy" else name


def method_order_key(method: str, name: str) -> tuple[int, str]:
    order = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
    return order, name


def _column_key(row: ResultRow, by: str) -> str:
    return row.model if by == "model" else row.method


def _resolve_references(
    rows: list[ResultRow], columns: dict[str, list[ResultRow]], baseline: str, by: str
) -> tuple[dict[str, str | None], list[str]]:
    """Which column each column's Δ is measured against (None marks a reference column)."""
    notes: list[str] = []
    models = sorted({r.model for r in rows})
    methods = sorted({r.method for r in rows})
    if baseline in columns:
        return {name: (None if name == baseline else baseline) for name in columns}, notes
    if by == "model" and baseline in methods:
        refs = sorted({r.model for r in rows if r.method == baseline})
        if len(refs) == 1:
            return {name: (None if name == refs[0] else refs[0]) for name in columns}, notes

        # Several baseline models (e.g. a 12- and a 6-layer one): pair each model with the
        # baseline built from the same base model at the same depth.
        def shape(name: str) -> tuple:
            first = columns[name][0]
            # a model pre-trained from a cut base records it as "e5-small-L12": the depth is
            # compared through num_layers, the base model by name alone
            base = re.sub(r"-L\d+$", "", first.base_model or "")
            return base, first.num_layers

        out: dict[str, str | None] = {}
        for name in columns:
            if name in refs:
                out[name] = None
                continue
            match = [ref for ref in refs if shape(ref) == shape(name)]
            out[name] = match[0] if match else ""
            if not match:
                notes.append(f"{name}: no '{baseline}' model with the same base model and depth; Δ missing")
        return out, notes
    if by == "method" and baseline in models:
        method = next(r.method for r in rows if r.model == baseline)
        if {r.model for r in columns[method]} != {baseline}:
            raise WeamError(
                f"with --by method, --baseline must name a method; '{baseline}' shares method "
                f"'{method}' with other models (methods: {', '.join(methods)})"
            )
        return {name: (None if name == method else method) for name in columns}, notes
    raise WeamError(
        f"baseline '{baseline}' is not in the results; models: {', '.join(models)}; "
        f"methods: {', '.join(methods)}"
    )


def _run_key(run: tuple[str, int | None]) -> tuple[str, bool, int]:
    return run[0], run[1] is not None, run[1] or 0


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
    by_column: dict[str, list[ResultRow]] = {}
    for r in rows:
        by_column.setdefault(_column_key(r, by), []).append(r)
    references, notes = _resolve_references(rows, by_column, baseline, by)
    names = sorted(
        by_column, key=lambda n: (references[n] is not None, *method_order_key(by_column[n][0].method, n))
    )

    # Replicates of a column are its training runs: (model, seed) pairs, the same across languages.
    replicates = {n: sorted({(r.model, r.seed) for r in by_column[n]}, key=_run_key) for n in names}
    columns = [
        Column(
            name=n,
            method=by_column[n][0].method if by == "model" else n,
            reference=references[n],
            models=tuple(sorted({r.model for r in by_column[n]})),
            seeds=tuple(sorted({r.seed for r in by_column[n]}, key=lambda s: (s is not None, s or 0))),
            convergence=_convergence_of(by_column[n]),
        )
        for n in names
    ]
    for col in columns:
        if by == "method" and len(col.models) > 1:
            notes.append(f"method '{col.name}' pools {len(col.models)} models: {', '.join(col.models)}")
    missing_reference = {n for n in names if references[n] == ""}

    # Language rows: order of first appearance, English first; facts from the rows themselves.
    lang_info: dict[str, tuple[str, str]] = {}
    for r in rows:
        lang_info.setdefault(r.lang, (r.lang_code, r.resource))
    lang_labels = sorted(lang_info, key=lambda label: lang_info[label][0] != SOURCE_LANG)
    zero_shot = [label for label in lang_labels if lang_info[label][0] != SOURCE_LANG]

    # table[(column, language)][(model, seed)] = {unit id: (numerator, denominator)}
    table: dict[tuple[str, str], dict[tuple[str, int], dict[str, tuple[float, float]]]] = {}
    for r in rows:
        table.setdefault((_column_key(r, by), r.lang), {})[(r.model, r.seed)] = r.scores[metric]

    counts = {n: seed_counts(len(replicates[n]), n_boot, cell_rng(seed, "seeds", n)) for n in names}
    # (col, ref, lang) -> Δ, draws, draws of units only, draws of seeds only, n
    boot: dict[tuple[str, str, str], tuple[float, np.ndarray, np.ndarray, np.ndarray, int]] = {}
    cells: dict[tuple[str, str], Cell] = {}
    for label in lang_labels:
        ids_all = sorted(
            {i for n in names for runs in [table.get((n, label), {})] for c in runs.values() for i in c}
        )
        index = {i: k for k, i in enumerate(ids_all)}
        weights = example_weights(len(ids_all), n_boot, cell_rng(seed, "examples", label))

        def matrix(
            name: str, label: str = label, index: dict = index
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """(replicates, n) numerators and denominators with NaN for absent units; and which
            replicates exist."""
            runs = table.get((name, label), {})
            num = np.full((len(replicates[name]), len(index)), np.nan)
            den = np.full_like(num, np.nan)
            for k, rep in enumerate(replicates[name]):
                for i, (x, d) in runs.get(rep, {}).items():
                    num[k, index[i]], den[k, index[i]] = x, d
            return num, den, ~np.isnan(num).all(axis=1)

        mats = {n: matrix(n) for n in names}
        for n in names:
            mat, den, present = mats[n]
            if not present.any():
                cells[(label, n)] = Cell(status="missing")
                continue
            acc = float(np.mean(np.nansum(mat[present], axis=1) / np.nansum(den[present], axis=1)))
            ref = references[n]
            if ref is None:
                cells[(label, n)] = Cell(status="baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            if n in missing_reference or not mats[ref][2].any():
                cells[(label, n)] = Cell(status="no-baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            ref_mat, ref_den, ref_present = mats[ref]
            a, b = mat[present], ref_mat[ref_present]
            paired = ~np.isnan(a).any(axis=0) & ~np.isnan(b).any(axis=0)
            scored = max((~np.isnan(a).all(axis=0)).sum(), (~np.isnan(b).all(axis=0)).sum())
            if scored != paired.sum():
                notes.append(f"{n} / {label}: Δ uses the {int(paired.sum())} {unit}s both sides scored")
            da, db = den[present][:, paired], ref_den[ref_present][:, paired]
            a, b, w = a[:, paired], b[:, paired], weights[:, paired]
            ca = counts[n][:, present]
            cb = counts[ref][:, ref_present]
            # A draw that picks only absent seeds falls back to all present seeds.
            ca = np.where(ca.sum(axis=1, keepdims=True) > 0, ca, 1.0)
            cb = np.where(cb.sum(axis=1, keepdims=True) > 0, cb, 1.0)
            delta, draws = paired_draws(a, b, w, ca, cb, da, db)
            # The same draws with one source of variance switched off, for sample-size planning.
            units_only = paired_draws(a, b, w, np.ones_like(ca), np.ones_like(cb), da, db)[1]
            seeds_only = paired_draws(a, b, np.ones((1, a.shape[1])), ca, cb, da, db)[1]
            boot[(n, ref, label)] = (delta, draws, units_only, seeds_only, int(paired.sum()))
            cells[(label, n)] = Cell(
                status="ok",
                accuracy=acc,
                delta=delta,
                n=int(paired.sum()),
                seeds=int(present.sum()),
                **_spread(draws, units_only, seeds_only, max(len(a), len(b)) > 1),
            )

    # Mean and resource-group rows over the zero-shot languages.
    table_rows = [TableRow(label=label, kind="lang", resource=lang_info[label][1]) for label in lang_labels]
    groups: list[TableRow] = []
    if zero_shot:
        groups.append(TableRow(label="mean", kind="mean", langs=tuple(zero_shot)))
        for resource in ("high", "low"):
            members = tuple(label for label in zero_shot if lang_info[label][1] == resource)
            if members and len(members) < len(zero_shot):
                groups.append(
                    TableRow(label=f"{resource}-resource", kind="group", resource=resource, langs=members)
                )
    mean_boot: dict[str, tuple[float, np.ndarray, np.ndarray, np.ndarray, bool]] = {}
    for group in groups:
        for n in names:
            have = [label for label in group.langs if cells[(label, n)].accuracy is not None]
            if not have:
                cells[(group.label, n)] = Cell(status="missing")
                continue
            acc = float(np.mean([cells[(label, n)].accuracy for label in have]))
            partial = len(have) < len(group.langs)
            ref = references[n]
            if ref is None or n in missing_reference:
                status = "baseline" if ref is None else "no-baseline"
                cells[(group.label, n)] = Cell(status=status, accuracy=acc, langs=len(have), partial=partial)
                continue
            pairs = [boot[(n, ref, label)] for label in group.langs if (n, ref, label) in boot]
            if not pairs:
                cells[(group.label, n)] = Cell(
                    status="no-baseline", accuracy=acc, langs=len(have), partial=partial
                )
                continue
            if group.kind == "mean":
                mean_boot[n] = (
                    float(np.mean([p[0] for p in pairs])),
                    *(np.mean([p[k] for p in pairs], axis=0) for k in (1, 2, 3)),
                    partial or len(pairs) < len(group.langs),
                )
            cells[(group.label, n)] = Cell(
                status="ok",
                accuracy=acc,
                delta=float(np.mean([p[0] for p in pairs])),
                n=sum(p[4] for p in pairs),
                seeds=len(replicates[n]),
                langs=len(pairs),
                partial=partial or len(pairs) < len(group.langs),
                **_spread(
                    *(np.mean([p[k] for p in pairs], axis=0) for k in (1, 2, 3)),
                    max(len(replicates[n]), len(replicates[ref])) > 1,
                ),
            )
    english = [label for label in lang_labels if lang_info[label][0] == SOURCE_LANG]
    extra_rows, extra_notes = _gap_and_dev_rows(
        cells, columns, english, bool(zero_shot), boot, mean_boot, replicates, by_column, references
    )
    groups += extra_rows
    notes.extend(extra_notes)
    notes.extend(_holm_rows(cells, names, zero_shot, n_boot))
    if any(cells[(g.label, n)].partial for g in groups for n in names):
        notes.append("* marks a mean over fewer languages than the row (some cells missing)")
    if any(lang_info[label][0] == SOURCE_LANG for label in lang_labels):
        notes.append("English (the fine-tuning language) is not part of the mean and group rows")

    for name, method in (expected_models or {}).items():
        if by == "model" and name not in by_column:
            columns.append(Column(name=name, method=method, reference="", models=(name,), seeds=()))
            for row in table_rows + groups:
                cells[(row.label, name)] = Cell(status="missing")
            notes.append(f"{name}: no results (its grid step failed or did not run)")
    models = _model_summaries(rows, zero_shot or lang_labels, metric)
    common = _common_langs(rows, zero_shot or lang_labels)
    return Comparison(
        task=task,
        split=split,
        baseline=baseline,
        by=by,
        n_boot=n_boot,
        seed=seed,
        sources=[str(p) for p in files],
        columns=columns,
        rows=table_rows + groups,
        cells=cells,
        models=models,
        common_langs=common,
        notes=notes,
        metric=metric,
        unit=unit,
    )


def _convergence_of(rows: list[ResultRow]) -> tuple[tuple[str, int | None, Convergence], ...]:
    """The dev-curve verdict of each fine-tuned run (model, seed) of a column (every row of a run
    carries the same curve)."""
    runs: dict[tuple[str, int | None], ResultRow] = {}
    for r in rows:
        if r.dev_history is not None:
            runs.setdefault((r.model, r.seed), r)
    return tuple(
        (model, seed_, convergence(r.dev_history, stopped_early=r.stopped_early))
        for (model, seed_), r in sorted(runs.items(), key=lambda kv: _run_key(kv[0]))
    )


def _gap_and_dev_rows(
    cells: dict[tuple[str, str], Cell],
    columns: list[Column],
    english: list[str],
    have_zero_shot: bool,
    boot: dict,
    mean_boot: dict,
    replicates: dict[str, list],
    by_column: dict[str, list[ResultRow]],
    references: dict[str, str | None],
) -> tuple[list[TableRow], list[str]]:
    """The transfer-gap row (English − zero-shot mean, and Δgap with the same paired bootstrap: the
    English draws minus the mean row's draws, seeds drawn once for both) and the English dev row;
    notes on what is missing and on fine-tunes that had not converged."""
    rows: list[TableRow] = []
    notes: list[str] = []
    names = [c.name for c in columns]
    if len(english) == 1 and have_zero_shot:
        en = english[0]
        rows.append(TableRow(label=GAP_ROW, kind="gap"))
        for n in names:
            en_cell, mean_cell = cells[(en, n)], cells[("mean", n)]
            if en_cell.accuracy is None or mean_cell.accuracy is None:
                cells[(GAP_ROW, n)] = Cell(status="missing")
                continue
            gap = en_cell.accuracy - mean_cell.accuracy
            ref = references[n]
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
                seeds=len(replicates[n]),
                langs=mean_cell.langs,
                partial=partial,
                **_spread(*diff, max(len(replicates[n]), len(replicates[ref])) > 1),
            )
        notes.append(
            f"{GAP_ROW}: English minus the zero-shot mean (the cross-lingual transfer gap; smaller is "
            "better); "
            "its Δ below 0 means the model closes the gap. A method that lifts English and zero-shot alike "
            "has Δgap ≈ 0: read Δ on the mean and Δgap together."
        )
    elif have_zero_shot and any(c.convergence for c in columns):
        notes.append("no English test row: the transfer gap needs the fine-tuning language evaluated too")
    if any(c.convergence for c in columns):
        rows.append(TableRow(label=DEV_ROW, kind="dev"))
        for col in columns:
            runs = {(r.model, r.seed): r for r in by_column.get(col.name, [])}
            scores = [r.dev_score for r in runs.values() if r.dev_score is not None]
            cells[(DEV_ROW, col.name)] = (
                Cell(status="info", accuracy=float(np.mean(scores)), seeds=len(scores))
                if scores
                else Cell(status="missing")
            )
        notes.append(
            f"{DEV_ROW}: the selected epoch's English dev score (what model selection saw), mean over seeds"
        )
    for col in columns:
        for model, seed_, verdict in col.not_converged:
            notes.append(
                f"{NOT_CONVERGED_MARK} {model} seed {seed_} NOT CONVERGED: {verdict.describe()}; its "
                "zero-shot scores partly measure how fast it fine-tunes (raise --epochs or use --patience)"
            )
    return rows, notes


def _spread(draws: np.ndarray, units_only: np.ndarray, seeds_only: np.ndarray, several_seeds: bool) -> dict:
    """A Δ's CI, SE, MDE and p-value from its bootstrap draws, and the SE's unit and seed parts
    (the seed part is unknown, not 0, when each side has one seed)."""
    low, high = percentile_ci(draws)
    se = bootstrap_se(draws)
    return {
        "ci_low": low,
        "ci_high": high,
        "se": se,
        "half_width": (high - low) / 2,
        "mde": mde(se) if se > 0 else None,  # no spread at all: the MDE cannot be estimated, it is not 0
        "p_value": bootstrap_p_value(draws),
        "se_units": bootstrap_se(units_only),
        "se_seeds": bootstrap_se(seeds_only) if several_seeds else None,
    }


def _holm_rows(
    cells: dict[tuple[str, str], Cell], names: list[str], zero_shot: list[str], n_boot: int
) -> list[str]:
    """Mark which zero-shot language Δs of each column survive Holm–Bonferroni over that column's
    language rows (English is not in the family: it is not a transfer result); return notes."""
    family = 0
    for n in names:
        labels = [label for label in zero_shot if cells[(label, n)].p_value is not None]
        for label, survives in zip(labels, holm([cells[(x, n)].p_value for x in labels], ALPHA), strict=True):
            cells[(label, n)].holm = survives
        family = max(family, len(labels))
    # p is floored at 1 / n_boot: above Holm's first threshold α / m no row can pass.
    if family and 1 / n_boot > ALPHA / family:
        return [
            f"with {n_boot} bootstrap resamples the smallest p-value is 1/{n_boot}, above Holm's first "
            f"threshold {ALPHA}/{family}: no language can pass; use --bootstrap {math.ceil(family / ALPHA)} "
            "or more"
        ]
    return []


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
