"""Power in `weam compare`: the MDE checked by simulation, Holm–Bonferroni by hand, the new fields
in the Markdown, CSV and run record, and `weam experiment --plan`'s sample-size estimate."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from comparison_fixtures import make_row, study_rows, write_rows
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.run_records import read_records
from weamcli.compare.bootstrap import (
    bootstrap_p_value,
    bootstrap_se,
    example_weights,
    paired_bootstrap_draws,
    paired_draws,
    percentile_ci,
    seed_counts,
)
from weamcli.compare.build import compare_all, compare_results
from weamcli.compare.power import holm, mde, pilot_plans, sample_size, z_factor
from weamcli.compare.render import render_csv, render_markdown
from weamcli.compare.write import write_comparison

# ---------------------------------------------------------------------------------------------
# The MDE against a simulation with known effect and variance


def _paired(n: int, effect: float, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit scores of a model and a baseline: the paired difference is effect + N(0, sigma²)."""
    base = rng.uniform(0, 1, n)
    return base + effect + rng.normal(0, sigma, n), base


def test_mde_is_the_effect_found_80_percent_of_the_time():
    n, sigma = 200, 0.3
    rng = np.random.default_rng(0)
    _, draws = paired_bootstrap_draws(*_paired(n, 0.0, sigma, rng), n_boot=2000, seed=1)
    se = bootstrap_se(draws)
    assert se == pytest.approx(sigma / math.sqrt(n), rel=0.1)  # the bootstrap SE is the true one
    effect = mde(se)
    assert effect == pytest.approx(2.8016 * se, rel=1e-4)

    def rejection_rate(true_effect: float, trials: int = 300) -> float:
        rejected = 0
        for t in range(trials):
            _, d = paired_bootstrap_draws(*_paired(n, true_effect, sigma, rng), n_boot=200, seed=t)
            low, high = percentile_ci(d)
            rejected += low > 0 or high < 0
        return rejected / trials

    assert 0.65 <= rejection_rate(effect) <= 0.92  # 80% power at the MDE
    assert rejection_rate(0.0) <= 0.10  # and about 5% false positives at no effect


def test_bootstrap_p_value_is_two_sided_and_floored():
    assert bootstrap_p_value(np.array([0.1, 0.2, -0.1, 0.3])) == 0.5  # 2 × 1/4 of draws ≤ 0
    assert bootstrap_p_value(np.array([-0.1, -0.2, 0.0, -0.3])) == 0.5  # 2 × 1/4 of draws ≥ 0
    assert bootstrap_p_value(np.full(500, 0.02)) == 1 / 500  # no draw at or below 0: floored
    assert bootstrap_p_value(np.zeros(100)) == 1.0  # identical predictions: capped at 1
    assert z_factor() == pytest.approx(1.959964 + 0.841621, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# Holm–Bonferroni


def test_holm_by_hand():
    # m = 4, thresholds 0.05/4, 0.05/3, 0.05/2, 0.05/1 for the sorted p-values
    # sorted: 0.005 ≤ 0.0125 yes; 0.01 ≤ 0.0167 yes; 0.03 ≤ 0.025 no -> stop, 0.04 not tested
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]
    # two p-values below 0.05 that both fail: 0.03 > 0.05/2 stops the procedure at once
    assert holm([0.03, 0.04]) == [False, False]
    # step-down: 0.02 ≤ 0.025, then 0.04 ≤ 0.05 -> both survive (Bonferroni would keep one)
    assert holm([0.04, 0.02]) == [True, True]
    assert holm([0.001, 0.2, 0.06], alpha=0.1) == [True, False, False]  # 0.06 > 0.1/2
    assert holm([]) == []


def _holm_rows(tmp_path):
    """200 examples per language, one seed: de +15 points (30 fixed), sw +3 points (7 fixed, 1
    broken: p just under 0.05), yo 0 (2 fixed, 2 broken), English unchanged."""
    rows = []
    for lang, fixed, broken in (("en", 0, 0), ("de", 30, 0), ("sw", 7, 1), ("yo", 2, 2)):
        base = [i < 100 for i in range(200)]
        model = [(i < 100 and i >= broken) or 100 <= i < 100 + fixed for i in range(200)]
        rows.append(make_row("b", lang, base))
        rows.append(make_row("m", lang, model, method="weam"))
    return write_rows(tmp_path / "run" / "results.jsonl", rows)


def test_holm_family_is_the_zero_shot_languages_of_a_column(tmp_path):
    comp = compare_results([_holm_rows(tmp_path)], "b", n_boot=1000, seed=0)
    cells = {label: comp.cell(label, "m") for label in ("en", "de", "sw", "yo", "mean")}
    family = ["de", "sw", "yo"]
    assert [cells[x].holm for x in family] == holm([cells[x].p_value for x in family])
    assert cells["en"].holm is None and cells["mean"].holm is None  # outside the family
    assert cells["en"].p_value == 1.0 and cells["mean"].p_value is not None
    # sw: the 95% CI excludes 0 and p < 0.05, yet it is second of 3 and p > 0.05/2: not kept
    sw = cells["sw"]
    assert sw.sign == 1 and 0.025 < sw.p_value < 0.05 and sw.holm is False
    assert cells["de"].holm is True and cells["yo"].holm is False
    # the figures follow from the draws: half the CI's width, MDE = 2.80 × SE
    de = cells["de"]
    assert de.half_width == pytest.approx((de.ci_high - de.ci_low) / 2)
    assert de.mde == pytest.approx(z_factor() * de.se) and de.cannot_detect_one_point
    assert de.se_units == pytest.approx(de.se) and de.se_seeds is None  # one seed: units only


def test_too_few_resamples_for_holm_is_a_note(tmp_path):
    # p is at least 1/n_boot: 1/100 ≤ 0.05/3, so a family of 3 languages can pass ...
    comp = compare_results([_holm_rows(tmp_path)], "b", n_boot=100, seed=0)
    assert not any("Holm" in note for note in comp.notes)
    # ... but 1/100 > 0.05/6: with six languages none can, and the notes say so
    rows = [
        make_row(model, lang, [i < 50 + 10 * (model == "m") for i in range(100)])
        for model in ("b", "m")
        for lang in ("de", "es", "zh", "ru", "hi", "sw")
    ]
    many = compare_results([write_rows(tmp_path / "six.jsonl", rows)], "b", n_boot=100)
    assert any("above Holm's first threshold 0.05/6" in n and "--bootstrap 120" in n for n in many.notes)
    assert not any(many.cell(lang, "m").holm for lang in ("de", "es", "zh", "ru", "hi", "sw"))


# ---------------------------------------------------------------------------------------------
# The new fields in the Markdown, the CSV and the run record


def test_markdown_csv_and_record_carry_the_power_fields(tmp_path):
    comp = compare_results([_holm_rows(tmp_path)], "b", n_boot=1000, seed=0)
    written = write_comparison(comp, tmp_path / "cmp")
    md = written["markdown"].read_text(encoding="utf-8").splitlines()
    assert md == render_markdown(comp).splitlines()
    assert md[2] == "| lang | b acc | m acc | m Δ | m MDE |"
    de, sw = comp.cell("de", "m"), comp.cell("sw", "m")
    ci = f"[{100 * de.ci_low:+.1f}, {100 * de.ci_high:+.1f}]"
    expected = f"| de | 50.0 | 65.0 | **▲ +15.0 {ci} ±{100 * de.half_width:.1f} †** | {100 * de.mde:.1f} ‡ |"
    assert expected in md
    sw_line = next(line for line in md if line.startswith("| sw |"))
    assert "▲ +3.0" in sw_line and "†" not in sw_line and sw_line.endswith(f"| {100 * sw.mde:.1f} ‡ |")
    text = "\n".join(md)
    assert "†: Δ survives a Holm–Bonferroni correction (α = 0.05)" in text
    assert "2.80 × SE" in text and "‡: MDE above 1 point: this row cannot detect a 1-point effect" in text

    table = {(r["row"], r["column"]): r for r in csv.DictReader(io.StringIO(render_csv(comp)))}
    assert written["csv"].read_text(encoding="utf-8") == render_csv(comp)
    row = table[("de", "m")]
    assert float(row["mde"]) == pytest.approx(de.mde, abs=1e-6)
    assert float(row["half_width"]) == pytest.approx(de.half_width, abs=1e-6)
    assert float(row["p_value"]) == pytest.approx(de.p_value, abs=1e-6)
    assert (row["holm_significant"], row["cannot_detect_1pt"], row["significant"]) == ("1", "1", "1")
    assert (table[("sw", "m")]["holm_significant"], table[("sw", "m")]["significant"]) == ("0", "1")
    assert table[("en", "m")]["holm_significant"] == "" and table[("mean", "m")]["holm_significant"] == ""
    assert table[("de", "b")]["mde"] == ""  # the baseline column has no Δ

    summary = read_records(written["run_record"])[-1]["metrics"]["m"]
    mean = comp.cell("mean", "m")
    assert summary["mde"] == pytest.approx(mean.mde) and summary["se"] == pytest.approx(mean.se)
    assert summary["half_width"] == pytest.approx(mean.half_width)
    assert (summary["units_per_lang"], summary["seeds"], summary["langs"]) == (200, 1, 3)
    assert summary["se_seeds"] is None and summary["se_units"] == pytest.approx(mean.se)
    rows = summary["rows"]
    assert (rows["de"]["holm_significant"], rows["sw"]["holm_significant"]) == (True, False)
    assert rows["en"]["holm_significant"] is None and rows["sw"]["p_value"] == pytest.approx(sw.p_value)


def test_cli_table_shows_half_width_holm_and_mde(tmp_path):
    _holm_rows(tmp_path)
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "run"), "-b", "b", "--bootstrap", "1000"])
    assert result.exit_code == 0, result.output
    de = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("de "))
    assert "▲ +15.0" in de and "±" in de and "†" in de and "MDE" in de and "‡" in de
    assert "Holm–Bonferroni" in result.output and "cannot detect a 1-point effect" in result.output


# ---------------------------------------------------------------------------------------------
# Sample size from a pilot


def _mde_of(model: np.ndarray, base: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple:
    """SE of the full bootstrap and SEs with seeds kept once / units kept once, as compare.language_rows
    computes them."""
    rng = np.random.default_rng(seed)
    a, b = np.atleast_2d(model), np.atleast_2d(base)
    w = example_weights(a.shape[1], n_boot, rng)
    ca, cb = seed_counts(len(a), n_boot, rng), seed_counts(len(b), n_boot, rng)
    full = paired_draws(a, b, w, ca, cb)[1]
    units = paired_draws(a, b, w, np.ones_like(ca), np.ones_like(cb))[1]
    seeds = paired_draws(a, b, np.ones((1, a.shape[1])), ca, cb)[1]
    return bootstrap_se(full), bootstrap_se(units), bootstrap_se(seeds)


def _seeded(n: int, offsets: np.ndarray, sigma: float, rng: np.random.Generator) -> tuple:
    """A model with one row per seed (a seed offset on every unit) against a one-seed baseline;
    the per-unit noise is shared by the seeds, so the two variance parts are separate."""
    base = rng.uniform(0, 1, n)
    noise = rng.normal(0, sigma, n)
    return base + 0.03 + noise + offsets[:, None], base


def test_units_needed_reach_one_point_in_a_new_sample():
    rng = np.random.default_rng(3)
    pilot = _paired(200, 0.02, 0.1, rng)
    se, se_units, _ = _mde_of(*pilot)
    plan = sample_size(se_units, None, 200, 1, se=se)
    # one seed: the brief formula n × (MDE / 1 point)², no seed part
    assert plan.units_needed == math.ceil(200 * (plan.mde / 0.01) ** 2)
    assert plan.seeds_needed is None and plan.mde_seeds is None and not plan.reached
    assert 600 < plan.units_needed < 1000  # σ/√200 = 0.0071: MDE ≈ 2 points, ≈ 4× the units
    new_se = _mde_of(*_paired(plan.units_needed, 0.02, 0.1, rng), seed=1)[0]
    assert 0.85 <= mde(new_se) / 0.01 <= 1.15


def test_seed_and_unit_parts_predict_a_new_design():
    rng = np.random.default_rng(4)
    small = np.array([-0.005, -0.0025, 0.0025, 0.005])  # seed-to-seed spread, 4 seeds
    se, se_units, se_seeds = _mde_of(*_seeded(200, small, 0.1, rng))
    assert se_seeds == pytest.approx(np.sqrt(np.var(small) / 4), rel=0.1)  # plug-in var / seeds
    plan = sample_size(se_units, se_seeds, 200, 4, se=se)
    # units at 4 seeds: the unit part must fit what the seed part leaves of (1 point / 2.80)²
    assert plan.units_needed is not None and plan.seeds_needed is None  # unit part alone > 1 point
    new = _mde_of(*_seeded(plan.units_needed, small, 0.1, rng), seed=2)[0]
    assert 0.85 <= mde(new) / 0.01 <= 1.15

    wide = small * 4  # a seed part alone above 1 point: no test set is large enough at 4 seeds
    se, se_units, se_seeds = _mde_of(*_seeded(200, wide, 0.1, rng))
    plan = sample_size(se_units, se_seeds, 200, 4, se=se)
    assert plan.units_needed is None and plan.mde_seeds > 0.01
    assert plan.scale == pytest.approx((plan.mde / 0.01) ** 2)
    k = math.ceil(plan.scale)  # both × k: the seed offsets tiled k times keep their spread
    new = _mde_of(*_seeded(math.ceil(200 * k), np.tile(wide, k), 0.1, rng), seed=3)[0]
    assert 0.8 <= mde(new) / 0.01 <= 1.05  # ceil(scale) ≥ scale: at or a little under 1 point


def test_plan_reads_the_written_comparison(tmp_path):
    comps = compare_all([write_rows(tmp_path / "results.jsonl", study_rows(n=120))], "baseline", n_boot=300)
    write_comparison(comps, tmp_path / "compare")
    (plan,) = pilot_plans(tmp_path / "compare")
    assert (plan.task, plan.metric, plan.unit, plan.compared) == ("sib200", "accuracy", "example", 5)
    comp = comps[0]
    expected = {
        col.name: sample_size(m.se_units, m.se_seeds, m.n / m.langs, m.seeds, se=m.se)
        for col in comp.compared_columns
        for m in [comp.cell("mean", col.name)]
    }
    worst = max(expected.values(), key=lambda e: e.scale)
    assert plan.estimate == worst and plan.column in expected
    assert plan.reference == next(c.reference for c in comp.columns if c.name == plan.column)
    assert plan.estimate.mde == pytest.approx(comp.cell("mean", plan.column).mde)
    assert plan.estimate.units == 120 and plan.estimate.seeds == 2
    assert pilot_plans(tmp_path / "nothing") == []
    # several tables (here two tasks) are read back one plan each, in the tables' order
    rows = study_rows(n=60) + [{**r, "task": "other"} for r in study_rows(n=80, seeds=(13,))]
    comps = compare_all([write_rows(tmp_path / "two" / "results.jsonl", rows)], "baseline", n_boot=300)
    write_comparison(comps, tmp_path / "two" / "compare")
    plans = pilot_plans(tmp_path / "two" / "compare")
    assert [(p.task, p.estimate.units, p.estimate.seeds) for p in plans] == [
        ("sib200", 60, 2),
        ("other", 80, 1),
    ]
    assert plans[1].estimate.mde_seeds is None and plans[1].estimate.seeds_needed is None


CONFIG = """
[experiment]
name = "t"
out = "{out}"
seeds = [13, 42]
task = "toy"

[model]
base = "e5-small"

[pretrain]
methods = ["weam"]
lang_sets = [["de"]]
source = "{data}/x.{{lang}}"
target = "{data}/y.{{lang}}"

[task]
data_dir = "{data}/toy"
path_pattern = "{{root}}/{{lang}}/{{split}}.tsv"
code_style = "iso1"
text_column = "text"
label_column = "label"

[evaluate]
langs = ["en", "de"]
"""


def test_experiment_plan_prints_the_power_line(tmp_path):
    from test_battery import write_task

    data = tmp_path / "data"
    write_task(data / "toy")  # --plan checks every input the grid will read
    for name in ("x.de", "y.de"):
        (data / name).write_text("a b\nc d\n", encoding="utf-8")
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG.format(out=tmp_path / "out", data=data).replace('"e5-small"', '"tiny"'), "utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", str(config), "--plan"])
    assert result.exit_code == 0, result.output
    assert "power" not in result.stdout  # no comparison yet: nothing to estimate from
    comps = compare_all([write_rows(tmp_path / "results.jsonl", study_rows(n=120))], "baseline", n_boot=300)
    write_comparison(comps, tmp_path / "out" / "compare")
    (plan,) = pilot_plans(tmp_path / "out" / "compare")
    result = runner.invoke(app, ["experiment", str(config), "--plan"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("power    sib200 accuracy"))
    e = plan.estimate
    assert f"mean-row MDE {100 * e.mde:.1f} points ({plan.column} vs {plan.reference}" in line
    assert "120 examples/lang, 2 seeds" in line and "a 1-point effect needs: " in line
    assert f"both ×{e.scale:.1f}: ≈{math.ceil(120 * e.scale):,} examples/lang" in line
    assert "shrink as 1/units and 1/seeds" in result.stdout
