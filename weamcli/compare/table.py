"""What a `weam compare` table is made of: its cells, rows and columns, the ``Comparison`` that
holds one task and metric, each model's summary for the plots, and the fixed row labels and
column order. ``compare.build`` fills one in from evaluation rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from weamcli.common.convergence import Convergence
from weamcli.compare.power import ONE_POINT
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
