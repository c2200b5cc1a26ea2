"""The language axis as a curve: `[pretrain] lang_sets_design` sizes every language set's run at the
reference set's optimiser steps (equal-steps), at the same passes over each language's pairs
(equal-passes), or both; the comparison plots Δ and Δgap against the number of languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from comparison_fixtures import make_row, write_rows

from weamcli.common.errors import WeamError
from weamcli.compare.build import compare_results
from weamcli.compare.plots import plot_lang_curve
from weamcli.experiment.run import load_config, plan_experiment
from weamcli.experiment.steps import model_name

CONFIG = """
[experiment]
name = "langs"
out = "{out}"
seeds = [13]
task = "sib200"

[model]
base = "tiny"

[pretrain]
methods = ["weam", "tlm"]
lang_sets = [["de", "sw"], ["de"], ["de", "sw", "zh", "yo"]]
lang_sets_methods = ["weam"]
lang_sets_design = ["equal-steps", "equal-passes"]
steps = [0, 2, 6]
source = "{data}/x.{{lang}}"
target = "{data}/y.{{lang}}"
batch_size = 8
max_length = 48
bf16 = false

[compare]
bootstrap = 200
"""


def _config(tmp_path: Path, text: str = CONFIG, lines: dict[str, int] | None = None) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for code, n in (lines or {"de": 30, "sw": 30, "zh": 30, "yo": 30}).items():
        for side in ("x", "y"):
            (data / f"{side}.{code}").write_text("".join(f"words {i}\n" for i in range(n)), encoding="utf-8")
    path = tmp_path / "exp.toml"
    path.write_text(text.format(out=tmp_path / "out", data=data), encoding="utf-8")
    return path


def test_equal_passes_scale_steps_with_the_pairs_and_share_the_reference_run(tmp_path):
    config = load_config(_config(tmp_path))
    steps = plan_experiment(config)
    pretrains = {s.key: s for s in steps if s.kind == "pretrain"}
    # the reference set (de, sw: 60 pairs) runs once for both designs, with the steps axis; the
    # other sets at its 6 steps (equal steps) and at 6 × pairs / 60 (equal passes): de 3, 4 languages 12
    assert sorted(pretrains) == [
        "pretrain/tlm-de-sw-full",
        "pretrain/weam-de-full",
        "pretrain/weam-de-full-passes",
        "pretrain/weam-de-sw-full",
        "pretrain/weam-de-sw-zh-yo-full",
        "pretrain/weam-de-sw-zh-yo-full-passes",
    ]
    lengths = {k: (s.settings.max_steps, s.settings.snapshot_steps) for k, s in pretrains.items()}
    assert lengths["pretrain/weam-de-sw-full"] == (6, [2])
    assert lengths["pretrain/weam-de-full"] == (6, [2])
    assert lengths["pretrain/weam-de-full-passes"] == (3, None)
    assert lengths["pretrain/weam-de-sw-zh-yo-full-passes"] == (12, None)
    finetunes = {s.key: s for s in steps if s.kind == "finetune"}
    passes = finetunes["finetune/weam-de-full-passes/seed-13"]
    assert passes.needs == ["pretrain/weam-de-full-passes"]
    assert passes.settings.model == str(config.out / "pretrain/weam-de-full-passes")
    assert model_name(config, passes.params) == "tiny+weam(de)@3"
    # equal steps: the last point only, off the reference cell
    assert "finetune/weam-de-full@6/seed-13" in finetunes
    assert "finetune/weam-de-full@2/seed-13" not in finetunes


def test_unequal_corpora_count_pairs_not_languages(tmp_path):
    path = _config(tmp_path, lines={"de": 40, "sw": 20, "zh": 10, "yo": 10})
    config = load_config(path)
    assert config.pair_count(["de", "sw"]) == 60
    assert config.equal_passes_steps(["de"]) == 4  # 6 × 40 / 60
    assert config.equal_passes_steps(["de", "sw", "zh", "yo"]) == 8  # 6 × 80 / 60


def test_only_equal_passes_keeps_one_run_per_set(tmp_path):
    text = CONFIG.replace('["equal-steps", "equal-passes"]', '["equal-passes"]')
    steps = plan_experiment(load_config(_config(tmp_path, text)))
    assert sorted(s.key for s in steps if s.kind == "pretrain" and "weam" in s.key) == [
        "pretrain/weam-de-full-passes",
        "pretrain/weam-de-sw-full",
        "pretrain/weam-de-sw-zh-yo-full-passes",
    ]


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('"equal-passes"]', '"equal-pases"]', "did you mean 'equal-passes'"),
        ('["equal-steps", "equal-passes"]', "[]", "non-empty list"),
        ('["equal-steps", "equal-passes"]', '["equal-steps", "equal-steps"]', "twice"),
        ("steps = [0, 2, 6]", "epochs = 1", "give \\[pretrain\\] steps or max_steps"),
    ],
)
def test_design_is_checked_when_the_file_is_read(tmp_path, old, new, needle):
    path = _config(tmp_path, CONFIG.replace(old, new))
    with pytest.raises(WeamError, match=needle) as err:
        load_config(path)
    assert str(path) in str(err.value)


def _units() -> list:
    import numpy as np

    return [np.random.default_rng([k]).random(300) for k in range(4)]


_UNITS = _units()


def _curve_rows(tmp_path: Path) -> Path:
    """The plain model and WEAM at 1, 2 and 4 languages under both designs, 2 seeds; WEAM's gain
    grows with the languages, more under equal passes."""

    runs = [("e5-small", "baseline", [], None, 0.0)]
    for n, gain in ((1, 0.02), (2, 0.04), (4, 0.06)):
        langs = ["de", "sw", "zh", "yo"][:n]
        runs.append((f"e5-small+weam({','.join(langs)})@200", "weam", langs, 200, gain))
        if n != 2:  # the reference set (2 languages) serves both designs
            runs.append((f"e5-small+weam({','.join(langs)})@{100 * n}", "weam", langs, 100 * n, gain * 1.5))
    rows = []
    for model, method, langs, steps, gain in runs:
        for seed in (13, 42):
            for lang, u in zip(("en", "de", "zh", "hi"), _UNITS, strict=True):
                correct = u < 0.6 + (gain if lang != "en" else gain / 3)
                rows.append(
                    make_row(
                        model,
                        lang,
                        correct,
                        method=method,
                        seed=seed,
                        pretrain_langs=langs,
                        pretrain_steps=steps,
                    )
                )
    return write_rows(tmp_path / "results.jsonl", rows)


def test_lang_curve_plot_draws_both_designs_with_delta_and_gap(tmp_path):
    comparison = compare_results([_curve_rows(tmp_path)], "e5-small", n_boot=200)
    fig = plot_lang_curve(comparison)
    assert not isinstance(fig, str), fig
    delta_ax, gap_ax = fig.axes[:2]
    labels = sorted(c.get_label() for c in delta_ax.containers)
    assert labels == ["weam, equal passes (100 steps a language)", "weam, equal steps (200)"]
    by_label = {c.get_label(): c for c in delta_ax.containers}
    steps_line = by_label["weam, equal steps (200)"].lines[0]
    assert list(steps_line.get_xdata()) == [1, 2, 4]
    import numpy as np

    def expected(gain: float) -> float:  # Δ is the share of examples the gain turns right
        return 100 * np.mean([np.mean((u >= 0.6) & (u < 0.6 + gain)) for u in _UNITS[1:]])

    assert list(steps_line.get_ydata()) == pytest.approx([expected(g) for g in (0.02, 0.04, 0.06)])
    passes_line = by_label["weam, equal passes (100 steps a language)"].lines[0]
    assert list(passes_line.get_xdata()) == [1, 2, 4]  # the 2-language run is on both lines
    assert "gap" in gap_ax.get_ylabel()


def test_lang_curve_needs_several_language_counts(tmp_path):
    rows = [make_row("e5-small", "de", [True, False] * 50), make_row("x", "de", [True] * 100, method="weam")]
    comparison = compare_results([write_rows(tmp_path / "r.jsonl", rows)], "e5-small", n_boot=100)
    assert "languages" in plot_lang_curve(comparison)


def test_side_axes_can_be_evaluated_on_fewer_tasks(tmp_path):
    text = CONFIG.replace('task = "sib200"', 'tasks = ["sib200", "tatoeba"]')
    text = text.replace(
        'base = "tiny"',
        'base = "tiny"\nlayers = [0, 1]\nlayers_methods = ["baseline", "weam"]\nlayers_tasks = ["tatoeba"]',
    )
    text = text.replace(
        "steps = [0, 2, 6]", 'steps = [0, 2, 6]\nsteps_tasks = ["tatoeba"]\nlang_sets_tasks = ["tatoeba"]'
    )
    config = load_config(_config(tmp_path, text))
    steps = plan_experiment(config)
    finetuned = sorted({s.key.split("/")[2] for s in steps if s.kind == "finetune"})
    # only the reference cell's models are fine-tuned: the plain model and each method's last point
    assert finetuned == ["baseline-full", "tlm-de-sw-full@6", "weam-de-sw-full@6"]
    probed = sorted(
        s.key.split("/")[2] for s in steps if s.kind == "evaluate" and s.params["task"] == "tatoeba"
    )
    assert probed == sorted(
        [
            "baseline-full",
            "baseline-L1",
            "tlm-de-sw-full@2",
            "tlm-de-sw-full@6",
            "weam-de-sw-full@2",
            "weam-de-sw-full@6",
            "weam-de-full@6",
            "weam-de-full-passes",
            "weam-de-sw-zh-yo-full@6",
            "weam-de-sw-zh-yo-full-passes",
            "weam-de-sw-L1@6",
        ]
    )


@pytest.mark.parametrize("key", ["lang_sets_tasks", "steps_tasks"])
def test_axis_tasks_must_be_grid_tasks(tmp_path, key):
    text = CONFIG.replace("steps = [0, 2, 6]", f'steps = [0, 2, 6]\n{key} = ["sib20"]')
    path = _config(tmp_path, text)
    with pytest.raises(WeamError, match="did you mean 'sib200'") as err:
        load_config(path)
    assert str(path) in str(err.value)
