"""Figures for `weam compare` (matplotlib, Agg backend: no display needed).

Five PNGs from a ``Comparison`` (``PLOT_FILES``; each ``plot_*`` function says what it shows):
per-language Δ (``deltas.png``), mean zero-shot Δ against pre-training steps
(``pretrain_steps.png``), mean zero-shot accuracy against the number of pre-training languages
(``pretrain_langs.png``) and against parameters (``model_size.png``), and Δ and Δgap against the
number of pre-training languages (``lang_curve.png``). A figure with a single point to show is
skipped, and the reason returned.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402

from weamcli.common.files import atomic_file  # noqa: E402
from weamcli.compare.table import Comparison, ModelSummary, method_order_key, metric_name  # noqa: E402

PLOT_FILES = {
    "deltas": "deltas.png",
    "pretrain_steps": "pretrain_steps.png",
    "pretrain_langs": "pretrain_langs.png",
    "model_size": "model_size.png",
    "lang_curve": "lang_curve.png",
}
_MARKERS = "osD^vP*X"


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_deltas(comparison: Comparison) -> plt.Figure | str:
    """Grouped bars: languages (and the mean) on x, Δ in points against the baseline on y, one bar
    per compared model, 95% CI whiskers."""
    cols = [c for c in comparison.compared_columns if c.reference]
    rows = [r for r in comparison.rows if r.kind in ("lang", "mean")]
    has = [c for c in cols if any(comparison.cell(r.label, c.name).delta is not None for r in rows)]
    if not has:
        return "no model has a Δ against the baseline"
    labels = [r.label for r in rows]
    width = 0.8 / len(has)
    # Wide enough for the bars, but never a ribbon: at most 14 x 6 inches.
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.5, 1.5 + 0.22 * len(labels) * (len(has) + 1))), 5.2))
    x = np.arange(len(labels), dtype=float)
    for k, col in enumerate(has):
        cells = [comparison.cell(label, col.name) for label in labels]
        ys = np.array([100 * c.delta if c.delta is not None else np.nan for c in cells])
        low = np.array([100 * (c.delta - c.ci_low) if c.delta is not None else 0 for c in cells])
        high = np.array([100 * (c.ci_high - c.delta) if c.delta is not None else 0 for c in cells])
        name = col.name if col.reference == comparison.baseline else f"{col.name} (vs {col.reference})"
        ax.bar(
            x + (k - (len(has) - 1) / 2) * width,
            ys,
            width,
            yerr=[low, high],
            capsize=2,
            label=name,
            error_kw={"elinewidth": 0.8, "alpha": 0.7},
            # A black outline marks a Δ whose interval excludes 0 (the table's ▲/▼).
            edgecolor=["black" if c.sign else "none" for c in cells],
            linewidth=1.4,
        )
        for xi, c in zip(x, cells, strict=True):
            if c.status == "missing":  # say so rather than leave a silent gap
                ax.text(
                    xi + (k - (len(has) - 1) / 2) * width,
                    0,
                    "×",
                    ha="center",
                    va="center",
                    fontsize=11,
                    color="crimson",
                    fontweight="bold",
                )
    ax.axhline(0, color="black", linewidth=0.8)
    if "mean" in labels:  # set the mean apart from the languages
        ax.axvline(labels.index("mean") - 0.5, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(
        labels, rotation=45 if len(labels) > 10 else 0, ha="right" if len(labels) > 10 else "center"
    )
    missing = (
        " (× = missing)"
        if any(comparison.cell(r, c.name).status == "missing" for r in labels for c in has)
        else ""
    )
    ax.set_xlabel(f"language ('mean': zero-shot languages, English excluded){missing}")
    ax.set_ylabel(f"Δ {metric_name(comparison)} vs {comparison.baseline} (points)")
    ax.set_title(
        f"{comparison.task}: gain over {comparison.baseline} per language, 95% bootstrap CI\n"
        "(outlined bars: the interval excludes 0)",
        fontsize=11,
    )
    ax.grid(axis="y", alpha=0.3)
    # Below the axes, so the legend never hides a bar.
    legend = ax.legend(
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14 if len(labels) <= 10 else -0.22),
        ncol=min(3, len(has)),
        frameon=False,
    )
    for handle in legend.legend_handles:  # the outline means "significant", not "this model"
        handle.set_edgecolor("none")
    fig.tight_layout()
    return fig


_COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _style(method: str, methods: list[str]) -> dict:
    """Colour and marker per method (the baseline in black), so the two plots read alike."""
    if method == "baseline":
        return {"color": "black", "marker": "o"}
    k = methods.index(method)
    return {"color": _COLORS[k % len(_COLORS)], "marker": _MARKERS[(k + 1) % len(_MARKERS)]}


def _legend_below(ax: plt.Axes) -> None:
    """Legend under the axes: it never hides a point."""
    n = len(ax.get_legend_handles_labels()[1])
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(3, n), frameon=False)


def _langs_caption(comparison: Comparison) -> str:
    n = len(comparison.common_langs)
    return f"mean zero-shot {metric_name(comparison)} over {n} language{'s' if n != 1 else ''} (%)"


def _usable(comparison: Comparison) -> list[ModelSummary]:
    """Models with a mean, each pre-training run at its last point of the steps axis only (earlier
    snapshots of the same run belong to the steps plot)."""
    models = [m for m in comparison.models if m.mean_accuracy is not None]
    last: dict[tuple, int] = {}
    for m in models:
        if m.pretrain_steps is not None:
            key = _run_key(m)
            last[key] = max(last.get(key, 0), m.pretrain_steps)
    return [m for m in models if m.pretrain_steps is None or m.pretrain_steps == last[_run_key(m)]]


def _run_key(m: ModelSummary) -> tuple:
    # the model name without its "@steps" suffix identifies the run its snapshots come from
    return (m.model.rsplit("@", 1)[0], m.method, m.n_pretrain_langs, m.num_layers)


def plot_pretrain_steps(comparison: Comparison) -> plt.Figure | str:
    """Mean zero-shot Δ (points) against pre-training steps: one line per pre-training run (method,
    languages, depth) evaluated at several points, from (0, 0) — the plain model it is measured
    against — through its snapshots; 95% CI whiskers."""
    by_name = {m.model: m for m in comparison.models}
    points: dict[tuple, list[tuple[int, float, float, float]]] = {}
    for col in comparison.compared_columns:
        model = by_name.get(col.name)
        cell = comparison.cells.get(("mean", col.name))
        if model is None or model.pretrain_steps is None or cell is None or cell.delta is None:
            continue
        points.setdefault(_run_key(model), []).append(
            (model.pretrain_steps, 100 * cell.delta, 100 * cell.ci_low, 100 * cell.ci_high)
        )
    # runs evaluated at one point only (a grid's language or size cells) belong to the other plots
    points = {k: v for k, v in points.items() if len(v) > 1}
    if not points:
        return "no pre-training run was evaluated at more than one point of the steps axis"
    methods = sorted({k[1] for k in points}, key=lambda k: method_order_key(k, k))
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    runs = sorted(points, key=lambda k: (method_order_key(k[1], k[0]), -k[2], -(k[3] or 0)))
    n = len(runs)
    for i, key in enumerate(runs):
        pts = sorted(points[key])
        # a small sideways offset per run, so that whiskers at the same step do not hide each other
        dx = (i - (n - 1) / 2) * 0.012 * max(p[0] for p in pts)
        xs = [0.0] + [p[0] + dx for p in pts]
        ys = [0.0] + [p[1] for p in pts]
        err = [[0.0] + [p[1] - p[2] for p in pts], [0.0] + [p[3] - p[1] for p in pts]]
        style = _style(key[1], methods)
        name, method, langs, depth = key
        dashed = key != runs[[r[1] for r in runs].index(method)]  # the method's other runs
        ax.errorbar(
            xs,
            ys,
            yerr=err,
            capsize=3,
            linestyle="--" if dashed else "-",
            markersize=6,
            label=name,
            **style,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("continual pre-training steps (0 = the plain model)")
    ax.set_ylabel(f"Δ mean zero-shot {metric_name(comparison)} (points, 95% CI)")
    n_langs = len(comparison.common_langs)
    ax.set_title(f"{comparison.task}: Δ against pre-training steps ({n_langs} languages)")
    ax.grid(alpha=0.3)
    _legend_below(ax)
    fig.tight_layout()
    return fig


def plot_pretrain_langs(comparison: Comparison) -> plt.Figure | str:
    """Mean accuracy against len(pretrain_langs): one line per method and depth, each starting at
    the baseline of the same depth (no continual pre-training = 0 languages)."""
    models = _usable(comparison)
    xs = {m.n_pretrain_langs for m in models}
    if len(xs) < 2:
        return (
            f"every model has the same number of pre-training languages ({', '.join(map(str, xs)) or 'none'})"
        )
    methods = sorted({m.method for m in models}, key=lambda k: method_order_key(k, k))
    depths = sorted({m.num_layers for m in models if m.num_layers is not None}, reverse=True)
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    for method in methods:
        for d, depth in enumerate(depths or [None]):
            mine = sorted(
                (m for m in models if m.method == method and m.num_layers == depth),
                key=lambda m: m.n_pretrain_langs,
            )
            if not mine:
                continue
            base = [m for m in models if m.method == "baseline" and m.num_layers == depth]
            start = base[:1] if method != "baseline" and mine[0].n_pretrain_langs > 0 else []
            pts = [(m.n_pretrain_langs, 100 * m.mean_accuracy) for m in start + mine]
            label = method if len(depths) < 2 else f"{method} (L{depth})"
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle="-" if d == 0 else "--",
                label=label,
                markersize=7,
                zorder=3 if method == "baseline" else 2,
                **_style(method, methods),
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of pre-training languages (0 = no continual pre-training)")
    ax.set_ylabel(_langs_caption(comparison))
    ax.set_title(f"{comparison.task}: {metric_name(comparison)} against pre-training languages")
    ax.grid(alpha=0.3)
    _legend_below(ax)
    fig.tight_layout()
    return fig


def _design_lines(models: list[ModelSummary]) -> list[tuple[str, list[ModelSummary]]]:
    """The curves hidden in one method's runs: equal steps (the step count most runs share) and
    equal passes (the steps-per-language ratio most runs share), each kept when it has runs at two
    or more language counts; the reference run belongs to both."""
    runs = [m for m in models if m.pretrain_steps and m.n_pretrain_langs]
    lines = []

    def mode(values: list) -> object:
        return max(sorted(set(values)), key=values.count) if values else None

    steps = mode([m.pretrain_steps for m in runs])
    same_steps = [m for m in runs if m.pretrain_steps == steps]
    if len({m.n_pretrain_langs for m in same_steps}) > 1:
        lines.append((f"equal steps ({steps})", same_steps))
    ratio = mode([m.pretrain_steps / m.n_pretrain_langs for m in runs])
    same_passes = [m for m in runs if m.pretrain_steps / m.n_pretrain_langs == ratio]
    if len({m.n_pretrain_langs for m in same_passes}) > 1 and {id(m) for m in same_passes} - {
        id(m) for m in same_steps
    }:
        lines.append((f"equal passes ({ratio:g} steps a language)", same_passes))
    return lines


def plot_lang_curve(comparison: Comparison) -> plt.Figure | str:
    """Mean zero-shot Δ (left) and Δgap (right; English minus the zero-shot mean, against the
    baseline's) against the number of pre-training languages, with 95% CIs: one line per method
    and design (equal steps; equal passes over each language's pairs: ``_design_lines``), on the
    first depth."""
    by_name = {m.model: m for m in comparison.models}
    depth = max((m.num_layers for m in comparison.models if m.num_layers), default=None)
    compared = [
        by_name[c.name]
        for c in comparison.compared_columns
        if c.name in by_name and by_name[c.name].num_layers == depth and c.method != "baseline"
    ]
    curves = []
    methods = sorted({m.method for m in compared}, key=lambda k: method_order_key(k, k))
    for method in methods:
        for design, runs in _design_lines([m for m in compared if m.method == method]):
            curves.append((method, design, sorted(runs, key=lambda m: m.n_pretrain_langs)))
    if not curves:
        counts = sorted({m.n_pretrain_langs for m in compared})
        return f"no method was pre-trained on several numbers of languages (counts: {counts or 'none'})"
    has_gap = any(("gap", m.model) in comparison.cells for _, _, runs in curves for m in runs)
    fig, axes = plt.subplots(1, 2 if has_gap else 1, figsize=(11 if has_gap else 6.8, 4.8), squeeze=False)
    panels = (("mean", "Δ mean zero-shot"), ("gap", "Δgap (English − zero-shot)"))
    for ax, (row, what) in zip(axes[0], panels, strict=False):  # one panel without a gap row
        for method, design, runs in curves:
            pts = []
            for m in runs:
                cell = comparison.cells.get((row, m.model))
                if cell is not None and cell.delta is not None:
                    pts.append((m.n_pretrain_langs, 100 * cell.delta, 100 * cell.ci_low, 100 * cell.ci_high))
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ys = [p[1] for p in pts]
            err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
            dashed = "passes" in design
            ax.errorbar(
                xs,
                ys,
                yerr=err,
                capsize=3,
                linestyle="--" if dashed else "-",
                markersize=6,
                label=f"{method}, {design}",
                **_style(method, methods),
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ticks = sorted({m.n_pretrain_langs for _, _, runs in curves for m in runs})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("number of pre-training languages (each paired with English)")
        ax.set_ylabel(f"{what} {metric_name(comparison)} (points, 95% CI)")
        ax.grid(alpha=0.3)
        _legend_below(ax)
    axes[0][0].set_title(f"{comparison.task}: Δ against {comparison.baseline} by pre-training languages")
    if has_gap:
        axes[0][1].set_title("transfer gap: below 0 = the gap closes")
    fig.tight_layout()
    return fig


def plot_model_size(comparison: Comparison) -> plt.Figure | str:
    """Mean accuracy against parameters (millions, log x): one line per method (and number of
    pre-training languages where a method has several); each size's layer count on its tick."""
    models = [m for m in _usable(comparison) if m.params]
    sizes = {m.params for m in models}
    if len(sizes) < 2:
        return "every model has the same size" if sizes else "results carry no parameter counts"
    methods = sorted({m.method for m in models}, key=lambda k: method_order_key(k, k))
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    for method in methods:
        counts = sorted({m.n_pretrain_langs for m in models if m.method == method}, reverse=True)
        for c, count in enumerate(counts):
            mine = sorted(
                (m for m in models if m.method == method and m.n_pretrain_langs == count),
                key=lambda m: m.params,
            )
            label = method if len(counts) < 2 else f"{method} ({count} lang{'s' if count != 1 else ''})"
            ax.plot(
                [m.params / 1e6 for m in mine],
                [100 * m.mean_accuracy for m in mine],
                linestyle="-" if c == 0 else ":",
                label=label,
                markersize=7,
                **_style(method, methods),
            )
    ax.set_xscale("log")
    lo, hi = min(sizes) / 1e6, max(sizes) / 1e6
    ax.set_xlim(lo / 1.08, hi * 1.08)
    # Each size gets a plain tick naming its depth (a 90–120M range has no power-of-ten tick).
    layers: dict[float, set[int]] = {}
    for m in models:
        layers.setdefault(m.params / 1e6, set()).update([m.num_layers] if m.num_layers else [])
    ticks = sorted(layers)
    ax.set_xticks(ticks)
    ax.set_xticklabels(
        [
            f"{t:.0f}" + ("\n" + "/".join(f"L{n}" for n in sorted(layers[t])) if layers[t] else "")
            for t in ticks
        ]
    )
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("parameters (millions, log scale; L = encoder layers)")
    ax.set_ylabel(_langs_caption(comparison))
    ax.set_title(f"{comparison.task}: {metric_name(comparison)} against model size")
    ax.grid(alpha=0.3, which="major")
    _legend_below(ax)
    fig.tight_layout()
    return fig


def write_plots(
    comparison: Comparison, out_dir: str | os.PathLike, prefix: str = ""
) -> tuple[dict[str, Path], dict[str, str]]:
    """Write the figures into ``out_dir`` (file names after ``prefix``, e.g. ``udpos-accuracy-``
    when one comparison writes several tables); return (written paths, {skipped plot: reason})."""
    out = Path(out_dir)
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for name, func in (
        ("deltas", plot_deltas),
        ("pretrain_steps", plot_pretrain_steps),
        ("pretrain_langs", plot_pretrain_langs),
        ("model_size", plot_model_size),
        ("lang_curve", plot_lang_curve),
    ):
        result = func(comparison)
        if isinstance(result, str):
            skipped[name] = result
        else:
            written[f"plot_{name}"] = _save(result, out / (prefix + PLOT_FILES[name]))
    return written, skipped
