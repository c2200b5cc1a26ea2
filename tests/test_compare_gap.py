"""The transfer gap (English − zero-shot mean) and Δgap, the English dev row and the not-converged
flag of `weam compare`, on synthetic rows with known outcomes."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from comparison_fixtures import make_row, write_rows

from weamcli.common.convergence import RISING_THRESHOLD, convergence
from weamcli.compare.build import compare_results
from weamcli.compare.render import render_csv, render_markdown
from weamcli.compare.table import DEV_ROW, GAP_ROW

LANGS = ("en", "de", "zh", "sw")
N = 400


def _rows(model: str, method: str, lift: dict[str, float], *, dev_history=None, stopped_early=False):
    """3 seeds; each example's chance of being right is its language's base rate plus ``lift``."""
    base = {"en": 0.80, "de": 0.65, "zh": 0.60, "sw": 0.45}
    rows = []
    for seed in (13, 42, 7):
        for k, lang in enumerate(LANGS):
            u = np.random.default_rng([k, 99]).random(N)  # the same difficulty for both models
            noise = np.random.default_rng([seed, k]).normal(0, 0.01)
            correct = u < base[lang] + lift.get(lang, 0.0) + noise
            extra = {}
            if dev_history is not None:
                extra = {
                    "dev_metric": "accuracy",
                    "dev_score": max(dev_history),
                    "dev_history": list(dev_history),
                    "stopped_early": stopped_early,
                }
            rows.append(make_row(model, lang, correct, method=method, seed=seed, **extra))
    return rows


def _compare(tmp_path, *row_sets):
    path = write_rows(tmp_path / "results.jsonl", [r for rows in row_sets for r in rows])
    return compare_results([path], "e5-small", n_boot=600, seed=0)


def test_equal_rise_on_english_and_zero_shot_gives_zero_delta_gap(tmp_path):
    base = _rows("e5-small", "baseline", {})
    same = _rows("e5-small+mlm", "mlm", dict.fromkeys(LANGS, 0.10))
    c = _compare(tmp_path, base, same)
    mean, gap = c.cell("mean", "e5-small+mlm"), c.cell(GAP_ROW, "e5-small+mlm")
    assert mean.sign == 1 and mean.delta == pytest.approx(0.10, abs=0.02)  # zero-shot rises …
    assert gap.status == "ok" and abs(gap.delta) < 0.02  # … but the gap does not move
    assert gap.ci_low < 0 < gap.ci_high
    # the gap itself is English minus the mean of the zero-shot rows, per column
    en, mean_b = c.cell("en", "e5-small").accuracy, c.cell("mean", "e5-small").accuracy
    assert c.cell(GAP_ROW, "e5-small").accuracy == pytest.approx(en - mean_b)
    assert c.cell(GAP_ROW, "e5-small").status == "baseline"
    # Δgap is Δ English minus Δ mean, exactly
    assert gap.delta == pytest.approx(c.cell("en", "e5-small+mlm").delta - mean.delta)


def test_zero_shot_only_gain_closes_the_gap(tmp_path):
    base = _rows("e5-small", "baseline", {})
    transfer = _rows("e5-small+weam", "weam", {"de": 0.08, "zh": 0.08, "sw": 0.08})
    c = _compare(tmp_path, base, transfer)
    gap = c.cell(GAP_ROW, "e5-small+weam")
    assert gap.delta == pytest.approx(-0.08, abs=0.02)
    assert gap.sign == -1 and gap.mde is not None and gap.se > 0
    # the gap interval is wider than the mean's alone: it adds English's own sampling noise
    assert gap.half_width > c.cell("mean", "e5-small+weam").half_width
    md = render_markdown(c)
    assert f"**{GAP_ROW}**" in md and "closes the gap" in md


def test_gap_needs_an_english_row(tmp_path):
    base = [r for r in _rows("e5-small", "baseline", {}, dev_history=[0.5, 0.6]) if r["lang_code"] != "en"]
    other = [r for r in _rows("e5-small+tlm", "tlm", {}, dev_history=[0.5, 0.6]) if r["lang_code"] != "en"]
    c = _compare(tmp_path, base, other)
    assert GAP_ROW not in [r.label for r in c.rows]
    assert any("no English test row" in note for note in c.notes)


def test_still_rising_fine_tune_is_flagged_everywhere(tmp_path):
    base = _rows("e5-small", "baseline", {}, dev_history=[0.40, 0.55, 0.62])  # +7 points at the end
    done = _rows("e5-small+tlm", "tlm", {}, dev_history=[0.80, 0.86, 0.861])
    c = _compare(tmp_path, base, done)
    flagged = {col.name: len(col.not_converged) for col in c.columns}
    assert flagged == {"e5-small": 3, "e5-small+tlm": 0}
    assert sum("NOT CONVERGED" in note and "e5-small seed" in note for note in c.notes) == 3
    md = render_markdown(c)
    assert "e5-small ⚠ acc" in md and "e5-small+tlm ⚠" not in md
    table = list(csv.DictReader(io.StringIO(render_csv(c))))
    assert {r["column"]: r["not_converged_runs"] for r in table} == {"e5-small": "3", "e5-small+tlm": "0"}
    # the English dev row holds the selected dev score, mean over seeds, without a Δ
    dev = c.cell(DEV_ROW, "e5-small")
    assert dev.status == "info" and dev.accuracy == pytest.approx(0.62) and dev.delta is None


def test_early_stopped_fine_tune_is_not_flagged(tmp_path):
    base = _rows("e5-small", "baseline", {}, dev_history=[0.40, 0.55, 0.62], stopped_early=True)
    other = _rows("e5-small+tlm", "tlm", {}, dev_history=[0.80, 0.86, 0.861])
    c = _compare(tmp_path, base, other)
    assert not any(col.not_converged for col in c.columns)
    assert not any("NOT CONVERGED" in note for note in c.notes)


@pytest.mark.parametrize(
    ("history", "stopped", "status"),
    [
        ([0.5, 0.6, 0.7], False, "not converged"),
        ([0.5, 0.7, 0.7 + RISING_THRESHOLD / 2], False, "converged"),  # within the threshold
        ([0.5, 0.7, 0.65], False, "converged"),  # fell at the end
        ([0.7], False, "unknown"),
        ([], False, "unknown"),
        ([0.5, 0.6, 0.7], True, "converged"),  # patience ran out: stopped by the data
    ],
)
def test_convergence_verdicts(history, stopped, status):
    verdict = convergence(history, stopped_early=stopped)
    assert verdict.status == status
    assert verdict.epochs == len(history)
    if status == "not converged":
        assert verdict.last_gain == pytest.approx(0.1) and "+10.0 points" in verdict.describe()


def test_experiment_warns_when_the_plain_model_is_not_converged(tmp_path):
    import json
    from pathlib import Path

    from weamcli.experiment.plan import Step
    from weamcli.experiment.steps import convergence_warnings

    def finetuned(key: str, method: str, history: list[float]) -> Step:
        out = tmp_path / key
        out.mkdir(parents=True)
        meta = {"dev_history": history, "dev_metric": "word accuracy", "stopped_early": False}
        (out / "weam.json").write_text(json.dumps(meta), encoding="utf-8")
        return Step("finetune", key, Path(out), {"method": method, "task": "udpos", "seed": 13})

    steps = [
        finetuned("finetune/udpos/baseline-full/seed-13", "baseline", [0.30, 0.52, 0.61]),
        finetuned("finetune/udpos/weam-de-full/seed-13", "weam", [0.30, 0.52, 0.61]),  # not the plain model
    ]
    lines = convergence_warnings({s.key: s for s in steps})
    assert len(lines) == 1
    assert "task udpos" in lines[0] and "seed 13" in lines[0] and "+9.0 points" in lines[0]
    assert "30.0, 52.0, 61.0" in lines[0]
    converged = finetuned("finetune/udpos/baseline-L6/seed-13", "baseline", [0.90, 0.93, 0.931])
    assert convergence_warnings({converged.key: converged}) == []


@pytest.mark.slow
def test_xnli_sample_is_the_same_examples_in_every_language_and_spread_over_the_file(xnli_dir):
    """`--max-examples N` on XNLI: a fixed random sample, not the first N."""
    from weamcli.common.task_settings import TaskSettings
    from weamcli.common.task_splits import load_split, sample_split
    from weamcli.evaluate.classification import SAMPLE_SEED

    task = TaskSettings(task="xnli", data_dir=str(xnli_dir)).task_spec()
    parts = {
        code: sample_split(load_split(task, code, "test"), 300, SAMPLE_SEED) for code in ("en", "de", "sw")
    }
    assert parts["en"].ids == parts["de"].ids == parts["sw"].ids and len(set(parts["en"].ids)) == 300
    # the file is ordered by genre (the first 300 English rows hold one): the sample reaches both
    # ends of it, and its labels are about a third each
    everything = sorted(load_split(task, "en", "test").ids)
    quarter = len(everything) // 4
    assert len(everything) == 5010
    labels = parts["en"].labels
    assert all(70 < labels.count(label) < 130 for label in ("entailment", "neutral", "contradiction"))
    assert min(parts["en"].ids) < everything[quarter] and max(parts["en"].ids) > everything[-quarter]


@pytest.mark.slow
def test_xnli_fine_tunes_on_a_fixed_sample_for_three_epochs_unless_told(xnli_dir, tmp_path):
    """XNLI's CPU budget (README: the English dev curve): 10,000 MultiNLI pairs drawn with seed 0,
    3 epochs; explicit values win and 0 means every pair."""
    from weamcli.finetune.settings import FinetuneSettings
    from weamcli.finetune.training import english_data

    mnli = xnli_dir / "multinli_1.0" / "multinli_1.0_dev_matched.txt"
    base = dict(task="xnli", data_dir=str(xnli_dir), train=str(mnli), model="tiny", out=str(tmp_path / "o"))
    default = FinetuneSettings(**base)
    assert (default.max_train_examples, default.train_sample_seed, default.epochs) == (10000, 0, 3.0)
    chosen = FinetuneSettings(**base, max_train_examples=2000, epochs=1.0)
    assert (chosen.max_train_examples, chosen.epochs) == (2000, 1.0)
    assert FinetuneSettings(**base, max_train_examples=0).max_train_examples == 0
    task = chosen.task_spec()
    first, dev, labels = english_data(task, chosen)
    again, _, _ = english_data(task, chosen)
    assert len(first.ids) == 2000 and first.ids == again.ids  # the same sample every run
    assert max(first.ids) > 7000  # random over the file, not its first rows
    assert len(dev.ids) == 2490 and labels == ("entailment", "neutral", "contradiction")
