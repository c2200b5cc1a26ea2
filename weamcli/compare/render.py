"""Text renderings of a comparison (Markdown, CSV); the CLI renders the same data with rich."""

from __future__ import annotations

import csv
import io

from weamcli.compare.power import ALPHA, ONE_POINT, POWER, z_factor
from weamcli.compare.table import NOT_CONVERGED_MARK, Cell, Column, Comparison, metric_name

HOLM_MARK = "†"  # Δ survives Holm–Bonferroni over the column's zero-shot languages
WEAK_MARK = "‡"  # MDE above 1 point: the row cannot detect a 1-point effect
NO_SPREAD = "n/a"  # Δ never varied in the bootstrap: no MDE can be estimated (it is not 0)


def pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return ""
    return f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"


def delta_text(cell: Cell) -> str:
    """'+1.5 [+0.2, +3.1]' in percentage points."""
    return f"{pct(cell.delta, True)} [{pct(cell.ci_low, True)}, {pct(cell.ci_high, True)}]"


def spread_text(cell: Cell) -> str:
    """'±1.4' (half the CI's width, points) and † where Δ survives Holm's correction."""
    if cell.half_width is None:
        return ""
    return f"±{pct(cell.half_width)}" + (f" {HOLM_MARK}" if cell.holm else "")


def mde_text(cell: Cell) -> str:
    """'4.0' (points), with ‡ where the row cannot detect a 1-point effect."""
    if cell.mde is None:
        return NO_SPREAD if cell.se == 0 else ""
    return pct(cell.mde) + (f" {WEAK_MARK}" if cell.cannot_detect_one_point else "")


def column_title(col: Column) -> str:
    """A column's name, marked where one of its fine-tunes had not converged on English dev."""
    return f"{col.name} {NOT_CONVERGED_MARK}" if col.not_converged else col.name


def power_legend(comparison: Comparison) -> list[str]:
    """What ±, †, MDE and ‡ mean, for the footnote of every rendering."""
    point = f"{100 * ONE_POINT:g}"
    return [
        f"±: half the 95% CI's width. {HOLM_MARK}: Δ survives a Holm–Bonferroni correction "
        f"(α = {ALPHA}) over the column's zero-shot language rows (English and mean/group rows are "
        "not in the family); p-values are two-sided bootstrap p = 2 × min(share of draws ≤ 0, "
        f"share ≥ 0), at least 1/{comparison.n_boot}.",
        f"MDE: minimum detectable effect (points), the true Δ found with {POWER:.0%} power at "
        f"two-sided α = {ALPHA}: (z_0.975 + z_0.80) × SE = {z_factor():.2f} × SE, SE the standard "
        f"deviation of the same paired bootstrap's draws ({comparison.unit}s and seeds resampled). "
        f"{WEAK_MARK}: MDE above {point} point: this row cannot detect a {point}-point effect. "
        f"{NO_SPREAD}: Δ has zero variance (the models agree on every {comparison.unit}): cannot estimate.",
    ]


def _markdown_cells(cell: Cell) -> tuple[str, str, str]:
    if cell.status == "missing":
        return "missing", "missing", ""
    star = "*" if cell.partial else ""
    acc = pct(cell.accuracy) + star
    if cell.status == "baseline":
        return acc, "(baseline)", ""
    if cell.status == "info":
        return acc, "", ""
    if cell.status == "no-baseline":
        return acc, "no baseline", ""
    mark = {1: "▲ ", -1: "▼ ", 0: ""}[cell.sign]
    text = f"{mark}{delta_text(cell)} {spread_text(cell)}"
    return acc, f"**{text}**" if cell.sign else text, mde_text(cell)


def render_markdown(comparison: Comparison) -> str:
    c = comparison
    lines = [
        f"## {c.task} ({c.split}): {metric_name(c)} (%) and Δ against {c.baseline} (points, 95% paired "
        "bootstrap CI)",
        "",
    ]
    header = ["lang"]
    for col in c.columns:
        short = {"accuracy": "acc", "f1": "F1", "exact_match": "EM"}.get(c.metric, c.metric)
        name = column_title(col)
        compared = col.reference is not None
        header += [f"{name} {short}", f"{name} Δ", f"{name} MDE"] if compared else [f"{name} {short}"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in c.rows:
        label = row.label if row.kind == "lang" else f"**{row.label}**"
        out = [label]
        for col in c.columns:
            acc, delta, power = _markdown_cells(c.cell(row.label, col.name))
            out += [acc, delta, power] if col.reference is not None else [acc]
        lines.append("| " + " | ".join(out) + " |")
    lines += [
        "",
        f"▲/▼: the 95% CI excludes 0. {c.n_boot} bootstrap resamples (seed {c.seed}), {c.unit}s paired by "
        "(language, id) and resampled; seeds resampled where a side has several; mean/group rows average "
        "languages.",
        "",
        *(line for text in power_legend(c) for line in (text, "")),
    ]
    lines += [f"- {note}" for note in c.notes]
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "task",
    "metric",
    "unit",
    "row",
    "kind",
    "resource",
    "column",
    "method",
    "reference",
    "status",
    "value",  # the metric's value (accuracy, F1, ...), a fraction
    "delta",
    "ci_low",
    "ci_high",
    "significant",
    "n",
    "seeds",
    "langs",
    "partial",
    # power (compare.power): SE of Δ, half the CI's width, MDE at 80% power, two-sided bootstrap
    # p, Holm–Bonferroni over the column's zero-shot languages (empty outside that family), MDE > 1 point
    "se",
    "half_width",
    "mde",
    "p_value",
    "holm_significant",
    "cannot_detect_1pt",
    # fine-tuned runs of the column whose English dev score was still rising at their last epoch
    "not_converged_runs",
)


def render_csv(comparison: Comparison | list[Comparison]) -> str:
    """The table(s) in long form: one line per (task, metric, row, column), fractions not percentages."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for one in comparison if isinstance(comparison, list) else [comparison]:
        _csv_lines(writer, one)
    return buf.getvalue()


def _csv_lines(writer, comparison: Comparison) -> None:

    def num(x: float | None) -> str:
        return "" if x is None else f"{x:.6f}"

    for row in comparison.rows:
        for col in comparison.columns:
            cell = comparison.cell(row.label, col.name)
            writer.writerow(
                [
                    comparison.task,
                    comparison.metric,
                    comparison.unit,
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
                    num(cell.se),
                    num(cell.half_width),
                    num(cell.mde),
                    num(cell.p_value),
                    "" if cell.holm is None else int(cell.holm),
                    "" if cell.mde is None else int(cell.cannot_detect_one_point),
                    len(col.not_converged),
                ]
            )
