"""Text renderings of a comparison (Markdown, CSV); the CLI renders the same data with rich."""

from __future__ import annotations

import csv
import io

from weamcli.compare.table import Cell, Comparison, metric_name


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
        f"## {c.task} ({c.split}): {metric_name(c)} (%) and Δ against {c.baseline} (points, 95% paired "
        "bootstrap CI)",
        "",
    ]
    header = ["lang"]
    for col in c.columns:
        short = {"accuracy": "acc", "f1": "F1", "exact_match": "EM"}.get(c.metric, c.metric)
        header += (
            [f"{col.name} {short}", f"{col.name} Δ"] if col.reference is not None else [f"{col.name} {short}"]
        )
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
        f"▲/▼: the 95% CI excludes 0. {c.n_boot} bootstrap resamples (seed {c.seed}), {c.unit}s paired by "
        "(language, id) and resampled; seeds resampled where a side has several; mean/group rows average "
        "languages.",
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
                ]
            )
