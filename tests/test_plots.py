"""`weam compare`'s figures on a realistic grid: what each shows, labels with units, no overlapping
tick labels, readable PNGs, and skipping (with a reason) when there is one point to show."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from comparison_fixtures import make_row, study_rows, write_rows

from weamcli.compare.build import compare_results
from weamcli.compare.plots import (
    plot_deltas,
    plot_model_size,
    plot_pretrain_langs,
    plot_pretrain_steps,
    write_plots,
)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "results.jsonl"
    write_rows(path, study_rows(n=120, drop=("e5-small+tlm-L6", "yo")))
    return compare_results([path], "baseline", n_boot=300)


def _no_overlap(ax: plt.Axes) -> bool:
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
    return all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_delta_bars_show_every_model_with_intervals(study):
    fig = plot_deltas(study)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "en",
        "de",
        "es",
        "zh",
        "ru",
        "hi",
        "sw",
        "yo",
        "quy",
        "mean",
    ]
    assert ax.get_ylabel() == "Δ accuracy vs baseline (points)"
    assert "× = missing" in ax.get_xlabel()  # the failed tlm-L6/yo cell is marked, not dropped
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "e5-small+weam-L6 (vs e5-small-L6)" in legend and len(legend) == 5
    # The mean bar of e5-small+weam has the mean-row Δ as its height, in points.
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert round(100 * study.cell("mean", "e5-small+weam").delta, 6) in heights
    assert _no_overlap(ax)
    plt.close(fig)


def test_pretrain_langs_lines_start_at_the_baseline(study):
    fig = plot_pretrain_langs(study)
    ax = fig.axes[0]
    assert "(%)" in ax.get_ylabel() and "pre-training languages" in ax.get_xlabel()
    lines = {line.get_label(): line for line in ax.get_lines()}
    weam = lines["weam (L12)"]
    assert list(weam.get_xdata()) == [0, 1, 3]  # baseline (0 languages), weam-de (1), weam (3)
    base = next(m for m in study.models if m.model == "e5-small")
    assert weam.get_ydata()[0] == pytest.approx(100 * base.mean_accuracy)
    assert _no_overlap(ax)
    plt.close(fig)


def test_model_size_has_log_axis_in_millions_with_layers(study):
    fig = plot_model_size(study)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel().startswith("parameters (millions")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["96\nL6", "118\nL12"]
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"baseline", "tlm", "weam (3 langs)", "weam (1 lang)"} <= labels
    assert _no_overlap(ax)
    plt.close(fig)


def test_plots_are_written_as_png_and_one_point_plots_are_skipped(study, tmp_path):
    written, skipped = write_plots(study, tmp_path)
    assert skipped == {
        "pretrain_steps": "no pre-training run was evaluated at more than one point of the steps axis",
        # the fixture's rows carry no pre-training steps: no design to draw
        "lang_curve": "no method was pre-trained on several numbers of languages (counts: [1, 3])",
    }
    for path in written.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    # One model size, one pre-training set: only the Δ bars make sense.
    rows = [
        make_row("b", "de", [i < 30 for i in range(50)]),
        make_row("w", "de", [i < 35 for i in range(50)], method="weam", pretrain_langs=["de"]),
    ]
    rows += [make_row("t", "de", [i < 31 for i in range(50)], method="tlm", pretrain_langs=["de"])]
    small = compare_results([write_rows(tmp_path / "r" / "results.jsonl", rows)], "b", n_boot=200)
    small.models = [m for m in small.models if m.model != "b"]  # no 0-language point either
    written, skipped = write_plots(small, tmp_path / "small")
    assert set(written) == {"plot_deltas"}
    assert skipped == {
        "pretrain_steps": "no pre-training run was evaluated at more than one point of the steps axis",
        "pretrain_langs": "every model has the same number of pre-training languages (1)",
        "model_size": "every model has the same size",
        "lang_curve": "no method was pre-trained on several numbers of languages (counts: [1])",
    }


def test_steps_plot_draws_delta_against_steps_from_the_plain_model(tmp_path):
    """Two runs (weam, tlm) evaluated at steps 50 and 200: each line starts at (0, 0), its points
    are the mean-row Δ of the matching columns; the languages plot keeps only the last points."""
    n = 100
    right = {("base", 0): 50, ("weam", 50): 56, ("weam", 200): 53, ("tlm", 50): 52, ("tlm", 200): 47}
    rows = []
    for (method, steps), k in right.items():
        name = "e5" if method == "base" else f"e5+{method}(de)@{steps}"
        for lang in ("de", "sw"):
            extra = {} if method == "base" else {"pretrain_steps": steps}
            rows.append(
                make_row(
                    name,
                    lang,
                    [i < k for i in range(n)],
                    method="baseline" if method == "base" else method,
                    pretrain_langs=[] if method == "base" else ["de"],
                    **extra,
                )
            )
    comparison = compare_results([write_rows(tmp_path / "results.jsonl", rows)], "baseline", n_boot=200)
    fig = plot_pretrain_steps(comparison)
    ax = fig.axes[0]
    lines = {c.get_label(): c.lines[0] for c in ax.containers}  # errorbar: data line + whiskers
    assert set(lines) == {"e5+weam(de)", "e5+tlm(de)"}
    for method, line in (("weam", lines["e5+weam(de)"]), ("tlm", lines["e5+tlm(de)"])):
        xs, ys = line.get_xdata(), line.get_ydata()
        assert xs[0] == 0 and ys[0] == 0
        assert [round(x, -1) for x in xs[1:]] == [50, 200]  # small sideways offsets only
        assert list(ys[1:]) == pytest.approx([right[(method, 50)] - 50, right[(method, 200)] - 50])
    assert "steps" in ax.get_xlabel() and "Δ" in ax.get_ylabel()
    # the language-count plot shows each run once, at its last point
    langs = plot_pretrain_langs(comparison)
    weam = next(line for line in langs.axes[0].get_lines() if line.get_label() == "weam")
    assert list(weam.get_ydata()) == pytest.approx([50.0, 53.0])
