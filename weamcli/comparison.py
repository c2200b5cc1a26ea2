"""Comparison tables for `weam compare`: did continual pre-training help, where, and how sure are we.

Reads the JSON-lines rows written by `weam evaluate` (one row per model × task × language × seed,
with per-example ``ids``/``predictions``/``gold``), pairs every model with a baseline example by
example, and puts a 95% paired bootstrap confidence interval on each accuracy difference.

The bootstrap (why it is built this way):
- Examples are paired by (language, id): both sides are scored on the same resampled examples,
  which removes the between-example variance a paired design is meant to remove.
- A side evaluated with several seeds has its seeds (whole training runs) resampled too, the same
  draw for every language, because one seed is one trained model evaluated on all languages.
- Mean and resource-group rows resample examples within each language and average the
  per-language differences, so every language weighs the same whatever its test-set size.
- English (the fine-tuning language) is shown as a row but left out of the mean and group rows:
  they summarise zero-shot transfer.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import WeamError
from .records import atomic_file, write_run_record

REQUIRED_KEYS = (
    "task",
    "lang",
    "model",
    "method",
    "seed",
    "ids",
    "predictions",
    "gold",
)
SOURCE_LANG = "en"  # fine-tuning language: shown, but not part of the zero-shot means
METHOD_ORDER = ("baseline", "mlm", "tlm", "weam")
BY_CHOICES = ("model", "method")


# --------------------------------------------------------------------------------------------
# Loading


@dataclass
class ResultRow:
    """One evaluated (model, task, language, seed), as `weam evaluate` wrote it."""

    task: str
    split: str
    lang: str  # row label: the language's short code, plus the direction for retrieval rows
    lang_code: str
    resource: str
    model: str
    method: str
    base_model: str | None
    num_layers: int | None
    params: int | None
    pretrain_langs: tuple[str, ...]
    seed: int | None  # None: a model evaluated without fine-tuning (e.g. the retrieval probe)
    correct: dict[str, bool]  # example id -> prediction == gold
    where: str  # "file:line", for error messages


def find_result_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Files given directly, plus every results*.jsonl below the folders given (sorted, no repeats)."""
    if not paths:
        raise WeamError("no results given: pass results files or folders holding results*.jsonl")
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("results*.jsonl") if p.is_file())
            if not inside:
                raise WeamError("folder holds no results*.jsonl files", path)
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise WeamError("no such file or folder", path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _row_from_json(obj: Any, path: Path, line: int) -> ResultRow:
    if not isinstance(obj, dict):
        raise WeamError("a result row must be a JSON object", path, line)
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise WeamError(f"result row lacks key(s) {', '.join(missing)}", path, line)
    ids, preds, gold = obj["ids"], obj["predictions"], obj["gold"]
    if not (isinstance(ids, list) and isinstance(preds, list) and isinstance(gold, list)):
        raise WeamError("'ids', 'predictions' and 'gold' must be lists", path, line)
    if not (len(ids) == len(preds) == len(gold)) or not ids:
        raise WeamError(
            f"'ids', 'predictions' and 'gold' must be non-empty and of one length "
            f"(got {len(ids)}, {len(preds)}, {len(gold)})",
            path,
            line,
        )
    correct = {str(i): p == g for i, p, g in zip(ids, preds, gold, strict=True)}
    if len(correct) != len(ids):
        raise WeamError("'ids' holds duplicate example ids", path, line)
    if "correct" in obj and obj["correct"] != sum(correct.values()):
        raise WeamError(
            f"'correct' is {obj['correct']} but predictions match gold on {sum(correct.values())}",
            path,
            line,
        )
    lang_code = str(obj.get("lang_code") or obj["lang"])
    label = lang_code if not obj.get("direction") else f"{lang_code} {obj['direction']}"
    seed = obj["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WeamError(f"'seed' must be an integer or null, got {seed!r}", path, line)
    return ResultRow(
        task=str(obj["task"]),
        split=str(obj.get("split") or "test"),
        lang=label,
        lang_code=lang_code,
        resource=str(obj.get("resource") or "unknown"),
        model=str(obj["model"]),
        method=str(obj["method"]),
        base_model=obj.get("base_model"),
        num_layers=obj.get("num_layers"),
        params=obj.get("params"),
        pretrain_langs=tuple(obj.get("pretrain_langs") or ()),
        seed=seed,
        correct=correct,
        where=f"{path}:{line}",
    )


def load_results(paths: Sequence[str | os.PathLike]) -> list[ResultRow]:
    """Every row of every results file; a broken line is a one-line error naming file and line."""
    rows: list[ResultRow] = []
    for path in find_result_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WeamError("not UTF-8 text (is this a results .jsonl file?)", path) from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WeamError(f"not valid JSON ({exc.msg} at column {exc.colno})", path, number) from None
            rows.append(_row_from_json(obj, path, number))
    if not rows:
        raise WeamError(f"no result rows in {', '.join(str(p) for p in paths)}")
    return rows


def _select(rows: list[ResultRow], task: str | None, split: str | None) -> tuple[list[ResultRow], str, str]:
    tasks = sorted({r.task for r in rows})
    if task is None:
        if len(tasks) > 1:
            raise WeamError(f"results hold several tasks ({', '.join(tasks)}); pick one with --task")
        task = tasks[0]
    elif task not in tasks:
        raise WeamError(f"no results for task '{task}' (tasks present: {', '.join(tasks)})")
    rows = [r for r in rows if r.task == task]
    splits = sorted({r.split for r in rows})
    if split is None:
        split = "test" if "test" in splits else splits[0]
        if len(splits) > 1 and "test" not in splits:
            raise WeamError(f"results hold several splits ({', '.join(splits)}); pick one with --split")
    elif split not in splits:
        raise WeamError(f"no '{task}' results for split '{split}' (splits present: {', '.join(splits)})")
    rows = [r for r in rows if r.split == split]
    seen: dict[tuple, str] = {}
    for r in rows:
        key = (r.model, r.lang, r.seed)
        if key in seen:
            raise WeamError(
                f"second result for model '{r.model}', language {r.lang}, seed {r.seed} "
                f"(first at {seen[key]}); pass each results file once"
            )
        seen[key] = r.where
    return rows, task, split


# --------------------------------------------------------------------------------------------
# Bootstrap


def _example_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of n examples is drawn in each of n_boot resamples: (n_boot, n)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _seed_counts(n_seeds: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each seed (training run) is drawn per resample: (n_boot, n_seeds). One seed: all 1."""
    if n_seeds == 1:
        return np.ones((n_boot, 1))
    return rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot).astype(np.float64)


def _boot_accuracy(correct: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Resampled accuracy of one side: ``correct`` (seeds, n) 0/1, ``weights`` (n_boot, n) example
    draws, ``counts`` (n_boot, seeds) seed draws → (n_boot,), the mean over drawn seeds."""
    per_seed = (weights @ correct.T) / weights.sum(axis=1, keepdims=True)  # (n_boot, seeds)
    return (per_seed * counts).sum(axis=1) / counts.sum(axis=1)


def paired_bootstrap(
    model: np.ndarray, baseline: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Δ accuracy (model − baseline) and its 95% percentile CI for one language.

    ``model`` and ``baseline`` are 0/1 arrays of shape (seeds, n) or (n,), columns paired by example.
    """
    a = np.atleast_2d(np.asarray(model, dtype=np.float64))
    b = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError("model and baseline must cover the same examples")
    rng = np.random.default_rng(seed)
    weights = _example_weights(a.shape[1], n_boot, rng)
    boot = _boot_accuracy(a, weights, _seed_counts(len(a), n_boot, rng)) - _boot_accuracy(
        b, weights, _seed_counts(len(b), n_boot, rng)
    )
    delta = float(a.mean() - b.mean())
    low, high = np.percentile(boot, [2.5, 97.5])
    return delta, float(low), float(high)


# --------------------------------------------------------------------------------------------
# The table as data


@dataclass
class Cell:
    """One (row, column) of the table. Accuracy and Δ are fractions (0.887, +0.015)."""

    status: str  # "ok", "baseline" (the reference column itself), "missing", "no-baseline"
    accuracy: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0  # paired examples behind Δ (summed over languages for mean rows)
    seeds: int = 0
    langs: int = 0  # languages behind a mean/group cell
    partial: bool = False  # a mean/group cell that lacks some of the row's languages

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
    label: str  # "de", "mean", "high-resource", ...
    kind: str  # "lang", "mean" or "group"
    resource: str | None = None
    langs: tuple[str, ...] = ()  # the languages a mean/group row averages


@dataclass
class Column:
    name: str  # model label (or method with by="method")
    method: str
    reference: str | None  # the column Δ is measured against; None for a reference column, "" if none found
    models: tuple[str, ...]
    seeds: tuple[int | None, ...]


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

    def cell(self, row: str, column: str) -> Cell:
        return self.cells[(row, column)]

    @property
    def compared_columns(self) -> list[Column]:
        return [c for c in self.columns if c.reference is not None]

    def to_markdown(self) -> str:
        return render_markdown(self)

    def to_csv(self) -> str:
        return render_csv(self)


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
            return first.base_model, first.num_layers

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


def _cell_seed(seed: int, *parts: str) -> np.random.Generator:
    # A stable stream per language/column, so adding a model does not change others' intervals.
    return np.random.default_rng([seed, *(zlib.crc32(p.encode("utf-8")) for p in parts)])


def compare_results(
    paths: Sequence[str | os.PathLike],
    baseline: str,
    *,
    task: str | None = None,
    split: str | None = None,
    by: str = "model",
    n_boot: int = 1000,
    seed: int = 0,
    expected_models: dict[str, str] | None = None,
) -> Comparison:
    """Load results, pair every model with the baseline and bootstrap each Δ; returns the table.

    ``expected_models`` (label -> method), from an experiment grid: a model with no rows at all
    (its training failed) still gets a column, every cell "missing", so it is never dropped."""
    if by not in BY_CHOICES:
        raise WeamError(f"--by must be one of {', '.join(BY_CHOICES)}, got '{by}'")
    if n_boot < 100:
        raise WeamError(f"--bootstrap must be at least 100 resamples for a 95% interval, got {n_boot}")
    files = find_result_files(paths)
    rows, task, split = _select(load_results(files), task, split)

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

    # table[(column, language)][(model, seed)] = {example id: prediction == gold}
    table: dict[tuple[str, str], dict[tuple[str, int], dict[str, bool]]] = {}
    for r in rows:
        table.setdefault((_column_key(r, by), r.lang), {})[(r.model, r.seed)] = r.correct

    counts = {n: _seed_counts(len(replicates[n]), n_boot, _cell_seed(seed, "seeds", n)) for n in names}
    boot: dict[tuple[str, str, str], tuple[float, np.ndarray, int]] = {}  # (col, ref, lang) -> Δ, draws, n
    cells: dict[tuple[str, str], Cell] = {}
    for label in lang_labels:
        ids_all = sorted(
            {i for n in names for runs in [table.get((n, label), {})] for c in runs.values() for i in c}
        )
        index = {i: k for k, i in enumerate(ids_all)}
        weights = _example_weights(len(ids_all), n_boot, _cell_seed(seed, "examples", label))

        def matrix(name: str, label: str = label, index: dict = index) -> tuple[np.ndarray, np.ndarray]:
            """(replicates, n) correctness with NaN for absent examples; and which replicates exist."""
            runs = table.get((name, label), {})
            out = np.full((len(replicates[name]), len(index)), np.nan)
            for k, rep in enumerate(replicates[name]):
                for i, ok in runs.get(rep, {}).items():
                    out[k, index[i]] = float(ok)
            return out, ~np.isnan(out).all(axis=1)

        mats = {n: matrix(n) for n in names}
        for n in names:
            mat, present = mats[n]
            if not present.any():
                cells[(label, n)] = Cell(status="missing")
                continue
            acc = float(np.nanmean(np.nanmean(mat[present], axis=1)))
            ref = references[n]
            if ref is None:
                cells[(label, n)] = Cell(status="baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            if n in missing_reference or not mats[ref][1].any():
                cells[(label, n)] = Cell(status="no-baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            ref_mat, ref_present = mats[ref]
            a, b = mat[present], ref_mat[ref_present]
            paired = ~np.isnan(a).any(axis=0) & ~np.isnan(b).any(axis=0)
            scored = max((~np.isnan(a).all(axis=0)).sum(), (~np.isnan(b).all(axis=0)).sum())
            if scored != paired.sum():
                notes.append(f"{n} / {label}: Δ uses the {int(paired.sum())} examples both sides scored")
            a, b, w = a[:, paired], b[:, paired], weights[:, paired]
            ca = counts[n][:, present]
            cb = counts[ref][:, ref_present]
            # A draw that picks only absent seeds falls back to all present seeds.
            ca = np.where(ca.sum(axis=1, keepdims=True) > 0, ca, 1.0)
            cb = np.where(cb.sum(axis=1, keepdims=True) > 0, cb, 1.0)
            draws = _boot_accuracy(a, w, ca) - _boot_accuracy(b, w, cb)
            delta = float(a.mean() - b.mean())
            low, high = np.percentile(draws, [2.5, 97.5])
            boot[(n, ref, label)] = (delta, draws, int(paired.sum()))
            cells[(label, n)] = Cell(
                status="ok",
                accuracy=acc,
                delta=delta,
                ci_low=float(low),
                ci_high=float(high),
                n=int(paired.sum()),
                seeds=int(present.sum()),
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
            draws = np.mean([p[1] for p in pairs], axis=0)
            low, high = np.percentile(draws, [2.5, 97.5])
            cells[(group.label, n)] = Cell(
                status="ok",
                accuracy=acc,
                delta=float(np.mean([p[0] for p in pairs])),
                ci_low=float(low),
                ci_high=float(high),
                n=sum(p[2] for p in pairs),
                seeds=len(replicates[n]),
                langs=len(pairs),
                partial=partial or len(pairs) < len(group.langs),
            )
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
    models = _model_summaries(rows, zero_shot or lang_labels)
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
    )


def _common_langs(rows: list[ResultRow], langs: Iterable[str]) -> tuple[str, ...]:
    have: dict[str, set[str]] = {}
    for r in rows:
        have.setdefault(r.model, set()).add(r.lang)
    return tuple(label for label in langs if all(label in s for s in have.values()))


def _model_summaries(rows: list[ResultRow], langs: list[str]) -> list[ModelSummary]:
    common = set(_common_langs(rows, langs))
    out = []
    for model in sorted({r.model for r in rows}):
        mine = [r for r in rows if r.model == model]
        per_lang: dict[str, list[float]] = {}
        for r in mine:
            if r.lang in common:
                per_lang.setdefault(r.lang, []).append(float(np.mean(list(r.correct.values()))))
        first = mine[0]
        out.append(
            ModelSummary(
                model=model,
                method=first.method,
                base_model=first.base_model,
                num_layers=first.num_layers,
                params=first.params,
                n_pretrain_langs=len(first.pretrain_langs),
                mean_accuracy=float(np.mean([np.mean(v) for v in per_lang.values()])) if per_lang else None,
            )
        )
    return sorted(out, key=lambda m: method_order_key(m.method, m.model))


# --------------------------------------------------------------------------------------------
# Text renderings (the CLI renders the same data with rich)


def pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return ""
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def delta_text(cell: Cell) -> str:
    """'+1.5 [+0.2, +3.1]' in percentage points."""
    return f"{pct(cell.delta, True)} [{pct(cell.ci_low, True)}, {pct(cell.ci_high, True)}]"


def _markdown_cells(cell: Cell) -> tuple[str, str]:
    if cell.status == "missing":
        return "missing", "missing"
    star = "*" if cell.partial else ""
    acc = pct(cell.accuracy) + star
    if cell.status == "baseline":
        return acc, "(baseline)"
    if cell.status == "no-baseline":
        return acc, "no baseline"
    mark = {1: "▲ ", -1: "▼ ", 0: ""}[cell.sign]
    text = f"{mark}{delta_text(cell)}"
    return acc, f"**{text}**" if cell.sign else text


def render_markdown(comparison: Comparison) -> str:
    c = comparison
    lines = [
        f"## {c.task} ({c.split}): accuracy (%) and Δ against {c.baseline} (points, 95% paired bootstrap CI)",
        "",
    ]
    header = ["lang"]
    for col in c.columns:
        header += [f"{col.name} acc", f"{col.name} Δ"] if col.reference is not None else [f"{col.name} acc"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in c.rows:
        label = row.label if row.kind == "lang" else f"**{row.label}**"
        out = [label]
        for col in c.columns:
            acc, delta = _markdown_cells(c.cell(row.label, col.name))
            out += [acc, delta] if col.reference is not None else [acc]
        lines.append("| " + " | ".join(out) + " |")
    lines += [
        "",
        f"▲/▼: the 95% CI excludes 0. {c.n_boot} bootstrap resamples (seed {c.seed}), examples paired by "
        "(language, id); seeds resampled where a side has several; mean/group rows average languages.",
    ]
    lines += [f"- {note}" for note in c.notes]
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "row",
    "kind",
    "resource",
    "column",
    "method",
    "reference",
    "status",
    "accuracy",
    "delta",
    "ci_low",
    "ci_high",
    "significant",
    "n",
    "seeds",
    "langs",
    "partial",
)


def render_csv(comparison: Comparison) -> str:
    """The table in long form: one line per (row, column), fractions not percentages."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)

    def num(x: float | None) -> str:
        return "" if x is None else f"{x:.6f}"

    for row in comparison.rows:
        for col in comparison.columns:
            cell = comparison.cell(row.label, col.name)
            writer.writerow(
                [
                    row.label,
                    row.kind,
                    row.resource or "",
                    col.name,
                    col.method,
                    col.reference or "",
                    cell.status,
                    num(cell.accuracy),
                    num(cell.delta),
                    num(cell.ci_low),
                    num(cell.ci_high),
                    cell.sign,
                    cell.n,
                    cell.seeds,
                    cell.langs,
                    int(cell.partial),
                ]
            )
    return buf.getvalue()


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
    from .plots import write_plots  # matplotlib is slow to import; only writing needs it

    out = Path(out_dir)
    written: dict[str, Path] = {}
    plots, skipped = write_plots(comparison, out)
    written.update(plots)
    # Skipped plots are reported as notes, so the Markdown file and the CLI both say why.
    comparison.notes.extend(f"plot '{name}' skipped: {why}" for name, why in skipped.items())
    with atomic_file(out / "table.md") as fh:
        fh.write(comparison.to_markdown())
    written["markdown"] = out / "table.md"
    with atomic_file(out / "table.csv", newline="") as fh:
        fh.write(comparison.to_csv())
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
