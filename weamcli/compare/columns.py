"""A comparison's columns: result rows grouped by model (or method), the column each one's Δ is
measured against, its training runs (the replicates the bootstrap resamples) and each fine-tune's
dev-curve verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass

from weamcli.common.convergence import Convergence, convergence
from weamcli.common.errors import WeamError
from weamcli.common.result_rows import ResultRow
from weamcli.compare.table import Column, method_order_key

Run = tuple[str, int | None]  # one training run: (model, seed)


@dataclass
class ColumnSet:
    """The columns built from the result rows, in table order, with what the bootstrap needs."""

    columns: list[Column]
    names: list[str]  # the columns' names, in table order
    rows_of: dict[str, list[ResultRow]]  # column name -> its result rows
    references: dict[str, str | None]  # column name -> its reference (None: is one; "": none found)
    replicates: dict[str, list[Run]]  # column name -> its training runs, the same in every language

    @property
    def missing_reference(self) -> set[str]:
        return {n for n in self.names if self.references[n] == ""}


def column_key(row: ResultRow, by: str) -> str:
    """The column a result row belongs to: its model label, or its method with ``by="method"``."""
    return row.model if by == "model" else row.method


def run_key(run: Run) -> tuple[str, bool, int]:
    """Sort key of a training run: by model, a run without a seed first, then by seed."""
    return run[0], run[1] is not None, run[1] or 0


def build_columns(rows: list[ResultRow], baseline: str, by: str) -> tuple[ColumnSet, list[str]]:
    """Group the rows into columns, references first then in method order; notes on columns
    without a reference and on methods that pool several models."""
    rows_of: dict[str, list[ResultRow]] = {}
    for r in rows:
        rows_of.setdefault(column_key(r, by), []).append(r)
    references, notes = _resolve_references(rows, rows_of, baseline, by)
    names = sorted(
        rows_of, key=lambda n: (references[n] is not None, *method_order_key(rows_of[n][0].method, n))
    )

    # Replicates of a column are its training runs: (model, seed) pairs, the same across languages.
    replicates = {n: sorted({(r.model, r.seed) for r in rows_of[n]}, key=run_key) for n in names}
    columns = [
        Column(
            name=n,
            method=rows_of[n][0].method if by == "model" else n,
            reference=references[n],
            models=tuple(sorted({r.model for r in rows_of[n]})),
            seeds=tuple(sorted({r.seed for r in rows_of[n]}, key=lambda s: (s is not None, s or 0))),
            convergence=_convergence_of(rows_of[n]),
        )
        for n in names
    ]
    for col in columns:
        if by == "method" and len(col.models) > 1:
            notes.append(f"method '{col.name}' pools {len(col.models)} models: {', '.join(col.models)}")
    return ColumnSet(columns, names, rows_of, references, replicates), notes


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


def _convergence_of(rows: list[ResultRow]) -> tuple[tuple[str, int | None, Convergence], ...]:
    """The dev-curve verdict of each fine-tuned run (model, seed) of a column (every row of a run
    carries the same curve)."""
    runs: dict[Run, ResultRow] = {}
    for r in rows:
        if r.dev_history is not None:
            runs.setdefault((r.model, r.seed), r)
    return tuple(
        (model, seed_, convergence(r.dev_history, stopped_early=r.stopped_early))
        for (model, seed_), r in sorted(runs.items(), key=lambda kv: run_key(kv[0]))
    )
