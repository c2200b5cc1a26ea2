"""Rich renderings at the CLI's edge: the per-language results table of `weam evaluate` and the
comparison table of `weam compare` / `weam experiment`."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from weamcli.common.result_rows import row_metrics, row_score
from weamcli.compare.render import column_title, delta_text, mde_text, pct, power_legend, spread_text
from weamcli.compare.table import Cell, Comparison, metric_name

from .console import console, escaped, say, stdout_is_terminal


def results_table(rows: list[dict[str, Any]], source_lang: str | None) -> Table:
    """Languages down, one column per model × seed (× direction) × metric (accuracy; word accuracy
    for tagging; F1 and exact match for QA), and a mean per model over its seeds."""
    metrics = row_metrics(rows[0])
    columns: dict[tuple, None] = {}
    cells: dict[tuple[str, tuple], float] = {}
    counts: dict[str, str] = {}
    for row in rows:
        for metric in row_metrics(row):
            key = (row["model"], row.get("direction"), metric, row["seed"])
            columns.setdefault(key, None)
            cells[(row["lang"], key)] = row_score(row, metric)
        counts[row["lang"]] = f"{row['n']}" + (f" ({row['words']} words)" if "words" in row else "")
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key in columns:
        groups[key[:3]].append(key)
    names = {
        "accuracy": "word accuracy" if rows[0].get("kind") == "tagging" else "accuracy",
        "f1": "F1",
        "exact_match": "EM",
    }
    title = " / ".join(names.get(m, m.replace("_", " ")) for m in metrics)
    table = Table(title=escaped(f"{rows[0]['task']} ({rows[0]['split']}) {title}"))
    table.add_column("language")
    table.add_column(
        {"sentence": "sentences", "question": "questions"}.get(rows[0].get("unit"), "n"), justify="right"
    )
    many_metrics = len({k[2] for k in columns}) > 1
    for key in columns:
        head = " ".join(str(k) for k in key[:2] if k) + (
            f" {names.get(key[2], key[2])}" if many_metrics else ""
        )
        table.add_column(escaped(f"{head} seed {key[3]}" if key[3] is not None else head), justify="right")
    multi = {g: keys for g, keys in groups.items() if len(keys) > 1}
    for group in multi:
        head = " ".join(str(k) for k in group[:2] if k) + (
            f" {names.get(group[2], group[2])}" if many_metrics else ""
        )
        table.add_column(escaped(f"{head} mean"), justify="right", style="bold")
    langs = list(dict.fromkeys(row["lang"] for row in rows))

    def mean(values: list[float]) -> str:
        return f"{sum(values) / len(values):.3f}" if values else ""

    for lang in langs:
        accs = [cells.get((lang, key)) for key in columns]
        means = [mean([cells[(lang, k)] for k in keys if (lang, k) in cells]) for keys in multi.values()]
        table.add_row(escaped(lang), counts[lang], *("" if a is None else f"{a:.3f}" for a in accs), *means)
    others = [lang for lang in langs if lang != source_lang]
    if len(others) > 1:
        avg = [mean([cells[(lang, key)] for lang in others if (lang, key) in cells]) for key in columns]
        group_avg = [
            mean([cells[(lang, k)] for lang in others for k in keys if (lang, k) in cells])
            for keys in multi.values()
        ]
        label = f"mean of {len(others)}" + (" non-English" if source_lang in langs else "")
        table.add_row(label, "", *avg, *group_avg, style="bold")
    return table


def _cell_text(cell: Cell, lower_is_better: bool = False) -> Text:
    if cell.status == "missing":
        return Text("missing", style="dim italic")
    text = Text(pct(cell.accuracy) + ("*" if cell.partial else ""))
    if cell.status in ("baseline", "info"):
        return text
    if cell.status == "no-baseline":
        return text.append("  no baseline", style="dim")
    # the gap row: a falling gap (Δ < 0) is the good direction
    good = -cell.sign if lower_is_better else cell.sign
    style = {1: "bold green", -1: "bold red", 0: "dim"}[good]
    mark = {1: "▲", -1: "▼", 0: " "}[cell.sign]
    text.append(f"  {mark} {delta_text(cell)} {spread_text(cell)}", style=style)
    # An MDE above 1 point is the row's warning: yellow, not dim.
    return text.append(f"  MDE {mde_text(cell)}", style="yellow" if cell.cannot_detect_one_point else "dim")


def render_table(comparison: Comparison) -> Table:
    c = comparison
    table = Table(
        title=escaped(
            f"{c.task} ({c.split}): {metric_name(c)} % and Δ vs {c.baseline} (points, 95% paired "
            f"bootstrap CI over {c.unit}s)"
        ),
        title_justify="left",
        show_lines=False,
    )
    table.add_column("lang", style="bold", no_wrap=True, min_width=max(len(r.label) for r in c.rows))
    for col in c.columns:
        header = column_title(col) if col.reference is not None else f"{column_title(col)} (baseline)"
        seeds = f"{len(col.seeds)} seed{'s' if len(col.seeds) != 1 else ''}"
        if col.reference:
            seeds += f", vs {escaped(col.reference)}"
        # Cells may wrap (accuracy above Δ) when the terminal is too narrow for one line each.
        table.add_column(f"{escaped(header)}\n[dim]{seeds}[/]", justify="right", min_width=len("88.8*"))
    for row in c.rows:
        if row.kind in ("mean", "gap"):
            table.add_section()
        label = Text(row.label, style="bold" if row.kind != "lang" else "")
        gap = row.kind == "gap"
        table.add_row(label, *(_cell_text(c.cell(row.label, col.name), gap) for col in c.columns))
    return table


def print_comparison(comparison: Comparison | list[Comparison], written: dict[str, Path]) -> None:
    """The table(s) (one per task and metric), legend and notes on stdout; the written files on stderr."""
    for c in comparison if isinstance(comparison, list) else [comparison]:
        # Piped into a file there is no terminal width to respect: print every cell on one line.
        out_console = console
        if not stdout_is_terminal():
            width = max(console.width, 16 + 50 * len(c.columns))
            out_console = Console(width=width, highlight=False, emoji=False)
        out_console.print(render_table(c))
        console.print("[dim]▲/▼: 95% CI excludes 0.[/]")
        for line in power_legend(c):
            console.print(f"[dim]{escaped(line)}[/]", highlight=False, soft_wrap=True)
        for note in c.notes:
            console.print(f"[dim]note:[/] {escaped(note)}", highlight=False, soft_wrap=True)
    say("wrote " + ", ".join(str(p) for p in written.values()))
