"""Power of a comparison: how small an effect it can detect, which per-language effects survive a
multiple-comparison correction, and how many seeds and test units a 1-point effect would need.

All from the standard error of Δ that the paired bootstrap gives (``compare.language_rows``):
``mde`` (minimum detectable effect), ``holm`` (Holm–Bonferroni over a table's language rows),
``sample_size`` (units and seeds a target MDE needs, estimated from a pilot).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from weamcli.common.run_records import RUN_RECORD, read_records

ALPHA = 0.05  # two-sided level of the tests, the CIs (95%) and Holm's family-wise error
POWER = 0.8
ONE_POINT = 0.01  # a 1-point difference in accuracy / F1, as a fraction


def z_factor(alpha: float = ALPHA, power: float = POWER) -> float:
    """z_{1−α/2} + z_{power}: the MDE in standard errors (2.80 for α = 0.05, 80% power)."""
    normal = NormalDist()
    return normal.inv_cdf(1 - alpha / 2) + normal.inv_cdf(power)


def mde(se: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable effect of an estimate with standard error ``se``: the true effect that a
    two-sided level-``alpha`` test detects with probability ``power``: (z_{1−α/2} + z_{power}) × SE,
    ≈ 2.80 × SE for α = 0.05 and 80% power. SE is the standard deviation of the paired bootstrap's
    draws of Δ (``compare.language_rows``: units paired and resampled, and each side's seeds
    resampled where it has several), so it holds the unit-to-unit and the seed-to-seed variance the
    CI holds."""
    return z_factor(alpha, power) * se


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm–Bonferroni step-down: which of the m hypotheses are rejected at family-wise level
    ``alpha``. The k-th smallest p-value (k = 1..m) is compared with alpha / (m − k + 1); all are
    rejected up to the first that fails, none after it. Returned in the input's order.

    A table's zero-shot language rows are one family of tests per column (is Δ = 0 in language X?);
    Holm's step-down keeps the chance of any false "significant" in the family at α, and rejects at
    least as much as plain Bonferroni."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [False] * m
    for k, i in enumerate(order):
        if p_values[i] > alpha / (m - k):
            break
        out[i] = True
    return out


@dataclass
class SampleSize:
    """What a pilot says about reaching a target MDE (``target``, a fraction: 0.01 = 1 point).

    Sizes are per language (a mean row's languages each get that many units) and per model (seeds:
    training runs). A needed size is None where no amount of it reaches the target because the
    other part alone is too large, or where the seed part is unknown (one seed per side)."""

    target: float
    mde: float  # the pilot's measured MDE (full bootstrap: units and seeds)
    mde_units: float  # MDE if only the unit-to-unit part of the variance were left
    mde_seeds: float | None  # MDE if only the seed-to-seed part were left; None: one seed
    units: float  # the pilot's paired units per language (mean over a mean row's languages)
    seeds: int  # the pilot's seeds (training runs) per model
    units_needed: int | None  # per language, seeds as in the pilot
    seeds_needed: int | None  # units as in the pilot
    scale: float  # factor on both units and seeds that reaches the target (≤ 1: already there)

    @property
    def reached(self) -> bool:
        return self.mde <= self.target


def _needed(current: float, part: float, other: float, target_var: float) -> int | None:
    """Size at which ``part`` (variance at ``current`` size) plus the fixed ``other`` fits
    ``target_var``: part × current / size + other ≤ target_var."""
    if other >= target_var:
        return None
    return max(1, math.ceil(current * part / (target_var - other)))


def sample_size(
    se_units: float,
    se_seeds: float | None,
    units: float,
    seeds: int,
    *,
    se: float | None = None,
    target: float = ONE_POINT,
    alpha: float = ALPHA,
    power: float = POWER,
) -> SampleSize:
    """Units per language and seeds a ``target`` MDE needs, from a pilot's standard errors with
    seeds held fixed (``se_units``) and with units held fixed (``se_seeds``; None when the pilot has
    one seed per side, so the seed part is unknown and left out). ``se``: the pilot's full
    bootstrap SE; the two parts are scaled by one factor to add up to its square (default: the
    parts as they are).

    The unit part comes from the bootstrap with every seed kept once, resampling units only; the
    seed part from every unit kept once, resampling seeds only. Measured apart, they are scaled to
    the full SE² because resampling both at once also holds their interaction.

    Estimate, assuming the two variance parts V_u and V_s shrink as 1/units and 1/seeds:
    units_needed = units × V_u / (T − V_s), seeds_needed = seeds × V_s / (T − V_u), with
    T = (target / (z_{1−α/2} + z_power))²; with one seed (no V_s), units × (MDE / target)². These
    are estimates from one pilot's variance, not guarantees."""
    z = z_factor(alpha, power)
    var_u, var_s = se_units**2, (se_seeds or 0.0) ** 2
    if se is not None and var_u + var_s > 0:
        var_u, var_s = (v * se**2 / (var_u + var_s) for v in (var_u, var_s))
    elif se:  # neither part alone varies, only both together: count it as the units' part
        var_u = se**2
    target_var = (target / z) ** 2
    return SampleSize(
        target=target,
        mde=z * math.sqrt(var_u + var_s),
        mde_units=z * math.sqrt(var_u),
        mde_seeds=None if se_seeds is None else z * math.sqrt(var_s),
        units=units,
        seeds=seeds,
        units_needed=_needed(units, var_u, var_s, target_var),
        seeds_needed=None if se_seeds is None else _needed(seeds, var_s, var_u, target_var),
        scale=(var_u + var_s) / target_var,
    )


# ---------------------------------------------------------------------------------------------
# A finished comparison as the pilot


@dataclass
class TablePlan:
    """The power estimate of one table (task and metric) of a finished comparison."""

    task: str
    metric: str
    unit: str  # what was resampled: example, sentence, question
    compared: int  # columns with a mean-row Δ
    column: str | None = None  # the one with the largest mean-row MDE: the design must serve it
    reference: str | None = None
    estimate: SampleSize | None = None
    reason: str = ""  # why there is no estimate


def pilot_plans(compare_dir: str | os.PathLike, target: float = ONE_POINT) -> list[TablePlan]:
    """Per table of the comparison written into ``compare_dir`` (its run.jsonl, so nothing is
    bootstrapped again): the mean row's MDE and the units per language and seeds a ``target`` MDE
    needs, for the compared column that needs the most. Empty when no comparison was written."""
    path = Path(compare_dir) / RUN_RECORD
    if not path.is_file():
        return []
    runs = [r for r in read_records(path) if r.get("command") == "compare" and r.get("event") == "run"]
    if not runs:
        return []
    record = runs[-1]
    config, metrics = record.get("config", {}), record.get("metrics", {})
    tasks, names, units = config.get("task"), config.get("metric"), config.get("unit")
    if isinstance(tasks, list):  # several tables: metrics keyed "task/metric"
        tables = [(t, m, u, metrics.get(f"{t}/{m}", {})) for t, m, u in zip(tasks, names, units, strict=True)]
    else:
        tables = [(tasks, names, units, metrics)]
    return [_table_plan(str(t), str(m), str(u), cols, target) for t, m, u, cols in tables]


def _table_plan(task: str, metric: str, unit: str, columns: dict[str, Any], target: float) -> TablePlan:
    compared = {
        name: col
        for name, col in columns.items()
        if isinstance(col, dict) and col.get("reference") and col.get("delta") is not None
    }
    plan = TablePlan(task=task, metric=metric, unit=unit, compared=len(compared))
    if not compared:
        plan.reason = "no column has a mean-row Δ"
        return plan
    if any(col.get("se_units") is None for col in compared.values()):
        plan.reason = "the comparison predates power figures; run its compare step again"
        return plan
    if all(not col.get("se") for col in compared.values()):
        plan.reason = (
            "cannot estimate: Δ has zero variance (the compared models agree on every unit), so the "
            "MDE is unknown, not 0; a pilot whose models differ is needed"
        )
        return plan
    compared = {name: col for name, col in compared.items() if col.get("se")}  # the rest cannot say
    estimates = {
        name: sample_size(
            col["se_units"],
            col.get("se_seeds"),
            col["units_per_lang"],
            col["seeds"],
            se=col["se"],
            target=target,
        )
        for name, col in compared.items()
    }
    worst = max(estimates, key=lambda name: (estimates[name].scale, estimates[name].mde))
    plan.column, plan.reference, plan.estimate = worst, compared[worst]["reference"], estimates[worst]
    return plan
