"""The per-language rows of a comparison: each column's metric in each language and its Δ against
the reference column with a 95% paired bootstrap CI, SE, MDE, p-value and Holm mark.

The bootstrap pairs units by (language, id) and resamples each side's seeds too (why:
``language_cells``); its draws also give the power figures of ``compare.power``
(``delta_spread``, ``mark_holm``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
from weamcli.compare.columns import ColumnSet, column_key
from weamcli.compare.power import ALPHA, holm, mde
from weamcli.compare.table import SOURCE_LANG, Cell, TableRow

Cells = dict[tuple[str, str], Cell]  # (row label, column name) -> Cell
# scores[(column, language)][(model, seed)] = {unit id: (numerator, denominator)}
Scores = dict[tuple[str, str], dict[tuple[str, int], dict[str, tuple[float, float]]]]
# one language's Δ of a column against its reference: Δ, its draws, the draws of units only and
# of seeds only, and the paired units behind it; keyed (column, reference, language)
LangBoot = tuple[float, np.ndarray, np.ndarray, np.ndarray, int]
Boots = dict[tuple[str, str, str], LangBoot]
# a column's side of one language: (replicates, units) numerators and denominators, NaN for absent
# units, and which replicates exist
Side = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Languages:
    """The languages of the results: order of first appearance, English first."""

    info: dict[str, tuple[str, str]]  # label -> (language code, resource)
    labels: list[str]
    zero_shot: list[str]  # every label but the fine-tuning language's
    english: list[str]  # the fine-tuning language's labels


def languages_of(rows: list[ResultRow]) -> Languages:
    """The languages and their facts (code, resource), taken from the rows themselves."""
    info: dict[str, tuple[str, str]] = {}
    for r in rows:
        info.setdefault(r.lang, (r.lang_code, r.resource))
    labels = sorted(info, key=lambda label: info[label][0] != SOURCE_LANG)
    zero_shot = [label for label in labels if info[label][0] != SOURCE_LANG]
    english = [label for label in labels if info[label][0] == SOURCE_LANG]
    return Languages(info, labels, zero_shot, english)


def language_rows(langs: Languages) -> list[TableRow]:
    return [TableRow(label=label, kind="lang", resource=langs.info[label][1]) for label in langs.labels]


def unit_scores(rows: list[ResultRow], by: str, metric: str) -> Scores:
    """Every run's per-unit (numerator, denominator) of ``metric``, by column and language."""
    scores: Scores = {}
    for r in rows:
        scores.setdefault((column_key(r, by), r.lang), {})[(r.model, r.seed)] = r.scores[metric]
    return scores


def language_cells(
    cols: ColumnSet, langs: Languages, scores: Scores, n_boot: int, seed: int, unit: str
) -> tuple[Cells, Boots, list[str]]:
    """Each language row's cells, each Δ's bootstrap draws (the mean, group and gap rows reuse
    them), and notes on Δs over fewer units than either side scored.

    Why the bootstrap is built this way:
    - Units are paired by (language, id): both sides are scored on the same resampled units, which
      removes the between-unit variance a paired design is meant to remove. The unit is what is
      independent: an example for classification, a sentence for tagging (its words share a
      context and are right or wrong together, so resampling words would understate the variance),
      a question for QA. A tagging metric is words right / words over the drawn sentences.
    - A side evaluated with several seeds has its seeds (whole training runs) resampled too, the
      same draw for every language, because one seed is one trained model evaluated on all
      languages.
    """
    names = cols.names
    counts = {n: seed_counts(len(cols.replicates[n]), n_boot, cell_rng(seed, "seeds", n)) for n in names}
    missing_reference = cols.missing_reference
    boot: Boots = {}
    cells: Cells = {}
    notes: list[str] = []
    for label in langs.labels:
        ids_all = sorted(
            {i for n in names for runs in [scores.get((n, label), {})] for c in runs.values() for i in c}
        )
        index = {i: k for k, i in enumerate(ids_all)}
        weights = example_weights(len(ids_all), n_boot, cell_rng(seed, "examples", label))
        sides = {n: _side(scores.get((n, label), {}), cols.replicates[n], index) for n in names}
        for n in names:
            num, den, present = sides[n]
            if not present.any():
                cells[(label, n)] = Cell(status="missing")
                continue
            acc = float(np.mean(np.nansum(num[present], axis=1) / np.nansum(den[present], axis=1)))
            ref = cols.references[n]
            if ref is None:
                cells[(label, n)] = Cell(status="baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            if n in missing_reference or not sides[ref][2].any():
                cells[(label, n)] = Cell(status="no-baseline", accuracy=acc, seeds=int(present.sum()))
                continue
            pair, scored, several_seeds = _paired(sides[n], sides[ref], weights, counts[n], counts[ref])
            delta, draws, units_only, seeds_only, n_paired = pair
            if scored != n_paired:
                notes.append(f"{n} / {label}: Δ uses the {n_paired} {unit}s both sides scored")
            boot[(n, ref, label)] = pair
            cells[(label, n)] = Cell(
                status="ok",
                accuracy=acc,
                delta=delta,
                n=n_paired,
                seeds=int(present.sum()),
                **delta_spread(draws, units_only, seeds_only, several_seeds),
            )
    return cells, boot, notes


def _side(runs: dict, replicates: list, index: dict[str, int]) -> Side:
    """One column's (replicates, units) numerators and denominators in one language, NaN for
    absent units, and which replicates exist."""
    num = np.full((len(replicates), len(index)), np.nan)
    den = np.full_like(num, np.nan)
    for k, rep in enumerate(replicates):
        for i, (x, d) in runs.get(rep, {}).items():
            num[k, index[i]], den[k, index[i]] = x, d
    return num, den, ~np.isnan(num).all(axis=1)


def _paired(
    side: Side, ref_side: Side, weights: np.ndarray, counts: np.ndarray, ref_counts: np.ndarray
) -> tuple[LangBoot, int, bool]:
    """Δ of a column against its reference over the units both scored, with its draws; the units
    either side scored; whether either side has several seeds."""
    mat, den, present = side
    ref_mat, ref_den, ref_present = ref_side
    a, b = mat[present], ref_mat[ref_present]
    paired = ~np.isnan(a).any(axis=0) & ~np.isnan(b).any(axis=0)
    scored = max((~np.isnan(a).all(axis=0)).sum(), (~np.isnan(b).all(axis=0)).sum())
    da, db = den[present][:, paired], ref_den[ref_present][:, paired]
    a, b, w = a[:, paired], b[:, paired], weights[:, paired]
    ca = counts[:, present]
    cb = ref_counts[:, ref_present]
    # A draw that picks only absent seeds falls back to all present seeds.
    ca = np.where(ca.sum(axis=1, keepdims=True) > 0, ca, 1.0)
    cb = np.where(cb.sum(axis=1, keepdims=True) > 0, cb, 1.0)
    delta, draws = paired_draws(a, b, w, ca, cb, da, db)
    # The same draws with one source of variance switched off, for sample-size planning: one keeps
    # every seed once (units only), one keeps every unit once (seeds only).
    units_only = paired_draws(a, b, w, np.ones_like(ca), np.ones_like(cb), da, db)[1]
    seeds_only = paired_draws(a, b, np.ones((1, a.shape[1])), ca, cb, da, db)[1]
    pair = (delta, draws, units_only, seeds_only, int(paired.sum()))
    return pair, int(scored), max(len(a), len(b)) > 1


def delta_spread(
    draws: np.ndarray, units_only: np.ndarray, seeds_only: np.ndarray, several_seeds: bool
) -> dict:
    """A Δ's CI, SE, MDE and p-value from its bootstrap draws, and the SE's unit and seed parts
    (the seed part is unknown, not 0, when each side has one seed). SE is the standard deviation of
    the draws, MDE the minimum detectable effect at 80% power (2.80 × SE, ``compare.power``), the
    p-value a two-sided bootstrap one."""
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


def mark_holm(cells: Cells, names: list[str], zero_shot: list[str], n_boot: int) -> list[str]:
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
