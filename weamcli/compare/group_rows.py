"""The mean and resource-group rows of a comparison: each column's metric averaged over the
zero-shot languages (all, high-resource, low-resource) and its Δ with a paired bootstrap CI.

- The bootstrap resamples units within each language and averages the per-language differences
  (the language rows' draws), so every language weighs the same whatever its test-set size.
- English (the fine-tuning language) is shown as a row but left out of these rows: they
  summarise zero-shot transfer.
"""

from __future__ import annotations

import numpy as np

from weamcli.compare.columns import ColumnSet
from weamcli.compare.language_rows import Boots, Cells, Languages, delta_spread
from weamcli.compare.table import Cell, TableRow

# the mean row's Δ, its three kinds of draws (as ``LangBoot``) and whether it lacks a language
MeanBoot = tuple[float, np.ndarray, np.ndarray, np.ndarray, bool]


def group_rows(langs: Languages) -> list[TableRow]:
    """The mean row over the zero-shot languages, and a row per resource level where the
    languages are of both levels; none without zero-shot languages."""
    groups: list[TableRow] = []
    zero_shot = langs.zero_shot
    if zero_shot:
        groups.append(TableRow(label="mean", kind="mean", langs=tuple(zero_shot)))
        for resource in ("high", "low"):
            members = tuple(label for label in zero_shot if langs.info[label][1] == resource)
            if members and len(members) < len(zero_shot):
                groups.append(
                    TableRow(label=f"{resource}-resource", kind="group", resource=resource, langs=members)
                )
    return groups


def group_cells(groups: list[TableRow], cells: Cells, cols: ColumnSet, boot: Boots) -> dict[str, MeanBoot]:
    """Fill in the cells of the mean and group rows from the language rows' cells and draws;
    return each column's mean-row draws (the gap row's Δ is taken against them)."""
    missing_reference = cols.missing_reference
    mean_boot: dict[str, MeanBoot] = {}
    for group in groups:
        for n in cols.names:
            have = [label for label in group.langs if cells[(label, n)].accuracy is not None]
            if not have:
                cells[(group.label, n)] = Cell(status="missing")
                continue
            acc = float(np.mean([cells[(label, n)].accuracy for label in have]))
            partial = len(have) < len(group.langs)
            ref = cols.references[n]
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
                seeds=len(cols.replicates[n]),
                langs=len(pairs),
                partial=partial or len(pairs) < len(group.langs),
                **delta_spread(
                    *(np.mean([p[k] for p in pairs], axis=0) for k in (1, 2, 3)),
                    max(len(cols.replicates[n]), len(cols.replicates[ref])) > 1,
                ),
            )
    return mean_boot
