"""`weam compare`: the paired bootstrap on cases with known answers, the table on small fixtures
(exact values), missing cells, bad inputs, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from comparison_fixtures import make_row, study_rows, write_rows
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records
from weamcli.compare.bootstrap import paired_bootstrap
from weamcli.compare.build import compare_results
from weamcli.compare.render import render_csv, render_markdown
from weamcli.compare.write import write_comparison

runner = CliRunner()


# ---------------------------------------------------------------------------------------------
# The bootstrap on known answers


def test_identical_predictions_give_zero_delta_and_zero_interval():
    correct = np.random.default_rng(0).random(200) < 0.7
    delta, low, high = paired_bootstrap(correct, correct, n_boot=500, seed=1)
    assert (delta, low, high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("k", [2, 30])
def test_k_more_right_gives_delta_k_over_n(k):
    n = 200
    base = np.zeros(n, dtype=bool)
    base[:120] = True  # 60% right
    model = base.copy()
    model[120 : 120 + k] = True  # right on exactly k more, wrong on none the baseline got
    delta, low, high = paired_bootstrap(model, base, n_boot=2000, seed=3)
    assert delta == pytest.approx(k / n)
    assert low <= k / n <= high
    if k == 30:  # 15 points on paired data: the interval must exclude 0 ...
        assert low > 0.08
    else:  # ... 2 of 200 cannot: a paired resample can draw neither of them
        assert low == 0.0
    # Paired differences only vary through the k changed examples: the interval is narrow.
    assert high - low < 0.12


def test_paired_interval_is_narrower_than_unpaired_spread():
    # Both sides right on the same easy examples: pairing removes the between-example variance.
    rng = np.random.default_rng(5)
    easy = rng.random(300) < 0.75
    model = easy | (rng.random(300) < 0.1)
    _, low, high = paired_bootstrap(model, easy, n_boot=2000, seed=0)
    unpaired_sd = np.sqrt(2 * 0.75 * 0.25 / 300)
    assert high - low < 2 * 1.96 * unpaired_sd / 1.5


def test_interval_coverage_is_close_to_95_percent():
    # 300 simulated test sets from a known population: Δ is 0.05; the 95% CI should cover it ~95%.
    rng = np.random.default_rng(11)
    n, trials, covered = 200, 300, 0
    for t in range(trials):
        difficulty = rng.normal(0, 1.5, n)
        base = rng.random(n) < 1 / (1 + np.exp(-(1.2 - difficulty)))
        # The model fixes 25% of the baseline's errors and breaks 0% of its successes, so
        # E[Δ] = 0.25 * P(base wrong); estimate that population value by Monte Carlo below.
        model = base | (rng.random(n) < 0.25)
        _, low, high = paired_bootstrap(model, base, n_boot=400, seed=t)
        covered += low <= TRUE_DELTA <= high
    assert 0.90 <= covered / trials <= 0.985


def _population_delta() -> float:
    rng = np.random.default_rng(99)
    d = rng.normal(0, 1.5, 2_000_000)
    p_wrong = 1 - 1 / (1 + np.exp(-(1.2 - d)))
    return float(0.25 * p_wrong.mean())


TRUE_DELTA = _population_delta()


def test_several_seeds_widen_the_interval():
    # Two seeds that disagree by 10 points: resampling seeds must show that uncertainty.
    base = np.zeros(200, dtype=bool)
    base[:120] = True
    seed_a = base.copy()
    seed_a[120:130] = True  # +5 points
    seed_b = base.copy()
    seed_b[120:150] = True  # +15 points
    one = paired_bootstrap(seed_a, base, n_boot=2000, seed=0)
    two = paired_bootstrap(np.stack([seed_a, seed_b]), np.stack([base, base]), n_boot=2000, seed=0)
    assert two[0] == pytest.approx(0.10)
    assert (two[2] - two[1]) > (one[2] - one[1])
    # Half the resamples draw one seed twice: the interval spans both seeds' gains.
    assert two[1] < 0.06 and two[2] > 0.14


# ---------------------------------------------------------------------------------------------
# The table on small fixtures


def _small(tmp_path, drop_weam_es: bool = False):
    """Two languages (de, sw) + English, 20 examples each, one seed, exact known accuracies."""
    rows = []
    for lang, base_right, weam_right in (("en", 18, 18), ("de", 14, 18), ("sw", 10, 9)):
        base = [i < base_right for i in range(20)]
        weam = [i < weam_right for i in range(20)]
        rows.append(make_row("e5-small", lang, base))
        rows.append(make_row("e5-small+weam", lang, weam, method="weam", pretrain_langs=["de", "es", "zh"]))
    rows.append(make_row("e5-small", "es", [i < 12 for i in range(20)]))
    if not drop_weam_es:
        weam_es = [i < 16 for i in range(20)]
        rows.append(
            make_row("e5-small+weam", "es", weam_es, method="weam", pretrain_langs=["de", "es", "zh"])
        )
    return write_rows(tmp_path / "run" / "results.jsonl", rows)


def test_table_values_are_exact(tmp_path):
    path = _small(tmp_path)
    comp = compare_results([path], "e5-small", n_boot=500, seed=0)
    assert [c.name for c in comp.columns] == ["e5-small", "e5-small+weam"]
    assert [r.label for r in comp.rows] == [
        "en",
        "de",
        "sw",
        "es",
        "mean",
        "high-resource",
        "low-resource",
        "gap",
    ]
    de = comp.cell("de", "e5-small+weam")
    assert (de.accuracy, de.delta, de.n) == (0.9, pytest.approx(0.2), 20)
    assert de.ci_low > 0 and de.sign == 1  # right on 4 more, wrong on none
    sw = comp.cell("sw", "e5-small+weam")
    assert sw.delta == pytest.approx(-0.05) and sw.sign == 0
    assert comp.cell("de", "e5-small").status == "baseline"
    # Mean over the zero-shot languages (de, sw, es): English is shown but not averaged.
    mean = comp.cell("mean", "e5-small+weam")
    assert mean.accuracy == pytest.approx((0.9 + 0.45 + 0.8) / 3)
    assert mean.delta == pytest.approx((0.2 - 0.05 + 0.2) / 3)
    assert mean.langs == 3 and not mean.partial
    assert comp.cell("high-resource", "e5-small").accuracy == pytest.approx((0.7 + 0.6) / 2)
    assert comp.cell("low-resource", "e5-small+weam").delta == pytest.approx(-0.05)


def test_markdown_and_csv_hold_the_table(tmp_path):
    comp = compare_results([_small(tmp_path)], "e5-small", n_boot=500, seed=0)
    md = render_markdown(comp).splitlines()
    assert md[2] == "| lang | e5-small acc | e5-small+weam acc | e5-small+weam Δ | e5-small+weam MDE |"
    de = next(line for line in md if line.startswith("| de |"))
    cell = comp.cell("de", "e5-small+weam")
    ci = f"[{100 * cell.ci_low:+.1f}, {100 * cell.ci_high:+.1f}]"
    expected = f"**▲ +20.0 {ci} ±{100 * cell.half_width:.1f}**"  # 20 examples: not past Holm
    assert de == f"| de | 70.0 | 90.0 | {expected} | {100 * cell.mde:.1f} ‡ |"
    sw = next(line for line in md if line.startswith("| sw |"))
    assert sw.startswith("| sw | 50.0 | 45.0 | -5.0 [") and "▼" not in sw
    csv_lines = render_csv(comp).splitlines()
    header = "task,metric,unit,row,kind,resource,column,method,reference,status,value,delta"
    assert csv_lines[0].startswith(header)
    de_line = "sib200,accuracy,example,de,lang,high,e5-small+weam,weam,e5-small,ok,0.900000,0.200000,"
    assert de_line in render_csv(comp)


def test_missing_cells_are_shown_not_dropped(tmp_path):
    comp = compare_results([_small(tmp_path, drop_weam_es=True)], "e5-small", n_boot=300)
    assert comp.cell("es", "e5-small+weam").status == "missing"
    md = render_markdown(comp)
    assert "| es | 60.0 | missing | missing |" in md
    mean = comp.cell("mean", "e5-small+weam")
    assert mean.partial and mean.langs == 2
    assert mean.accuracy == pytest.approx((0.9 + 0.45) / 2) and "| **mean** | 60.0 | 67.5* |" in md


def test_baseline_by_method_pairs_models_of_the_same_depth(tmp_path):
    path = write_rows(tmp_path / "results.jsonl", study_rows(n=60, drop=("e5-small+tlm-L6", "yo")))
    comp = compare_results([tmp_path], "baseline", n_boot=300)
    refs = {c.name: c.reference for c in comp.columns}
    assert refs["e5-small+weam-L6"] == "e5-small-L6" and refs["e5-small+weam"] == "e5-small"
    assert refs["e5-small"] is None and refs["e5-small-L6"] is None
    assert comp.cell("yo", "e5-small+tlm-L6").status == "missing"
    assert comp.cell("mean", "e5-small+tlm-L6").partial
    assert all(c.seeds == (13, 42) for c in comp.columns)
    by_method = compare_results([path], "baseline", by="method", n_boot=300)
    assert [c.name for c in by_method.columns] == ["baseline", "tlm", "weam"]
    assert any("pools" in note for note in by_method.notes)


def test_seeds_are_resampled_in_the_table(tmp_path):
    # Model: two seeds (+5 and +15 points on de); baseline: two identical seeds.
    base = [i < 120 for i in range(200)]
    rows = [make_row("b", "de", base, seed=s) for s in (1, 2)]
    rows.append(make_row("m", "de", [i < 130 for i in range(200)], method="weam", seed=1))
    rows.append(make_row("m", "de", [i < 150 for i in range(200)], method="weam", seed=2))
    comp = compare_results([write_rows(tmp_path / "results.jsonl", rows)], "b", n_boot=2000)
    cell = comp.cell("de", "m")
    assert cell.delta == pytest.approx(0.10) and cell.seeds == 2
    assert cell.ci_low < 0.06 and cell.ci_high > 0.14


# ---------------------------------------------------------------------------------------------
# Bad inputs: one line naming file and line


def test_mixed_tasks_need_task(tmp_path):
    # Retrieval rows come from models that were never fine-tuned: their seed is null.
    probe = make_row("b", "de", [True, True], task="tatoeba", direction="de-en", seed=None)
    rows = [make_row("b", "de", [True, False]), probe]
    path = write_rows(tmp_path / "results.jsonl", rows)
    with pytest.raises(WeamError, match="several tasks \\(sib200, tatoeba\\); pick one with --task"):
        compare_results([path], "b")
    probe_only = compare_results([path], "b", task="tatoeba", n_boot=100)
    assert probe_only.rows[0].label == "de de-en" and probe_only.columns[0].seeds == (None,)


def test_unknown_baseline_lists_the_available(tmp_path):
    path = _small(tmp_path)
    with pytest.raises(WeamError) as err:
        compare_results([path], "mbert")
    assert str(err.value) == (
        "baseline 'mbert' is not in the results; models: e5-small, e5-small+weam; methods: baseline, weam"
    )


def test_broken_json_line_names_file_and_line(tmp_path):
    path = _small(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(WeamError) as err:
        compare_results([path], "e5-small")
    assert str(err.value).startswith(f"{path}:3: not valid JSON")


def test_inconsistent_row_names_file_and_line(tmp_path):
    row = make_row("b", "de", [True, False, True])
    row["correct"] = 3
    path = write_rows(tmp_path / "results.jsonl", [make_row("b", "en", [True]), row])
    with pytest.raises(WeamError, match=f"^{path}:2: 'correct' is 3 but predictions match gold on 2$"):
        compare_results([path], "b")
    del row["gold"]
    write_rows(path, [row])
    with pytest.raises(WeamError, match=":1: result row lacks key\\(s\\) gold$"):
        compare_results([path], "b")


def test_folder_without_results_and_duplicates(tmp_path):
    with pytest.raises(WeamError, match="folder holds no results"):
        compare_results([tmp_path], "b")
    row = make_row("b", "de", [True])
    write_rows(tmp_path / "a" / "results.jsonl", [row])
    write_rows(tmp_path / "b" / "results-2.jsonl", [row])
    with pytest.raises(WeamError, match="second result for model 'b', language de, seed 13"):
        compare_results([tmp_path], "b")


# ---------------------------------------------------------------------------------------------
# Writing and the CLI


def test_write_comparison_writes_everything(tmp_path):
    comp = compare_results([_small(tmp_path)], "e5-small", n_boot=300, seed=4)
    written = write_comparison(comp, tmp_path / "cmp")
    assert set(written) == {"markdown", "csv", "run_record", "plot_deltas", "plot_pretrain_langs"}
    assert written["markdown"].read_text(encoding="utf-8") == render_markdown(comp)
    record = read_records(written["run_record"])[-1]
    assert record["seed"] == 4 and record["config"]["baseline"] == "e5-small"
    assert record["metrics"]["e5-small+weam"]["delta"] == pytest.approx(0.35 / 3)
    # Both models have one size and no steps axis: those plots are skipped, and the notes say why.
    assert set(record["config"]["plots_skipped"]) == {"model_size", "pretrain_steps", "lang_curve"}
    assert any("model_size' skipped" in note for note in comp.notes)
    assert not list((tmp_path / "cmp").glob(".*tmp"))  # no temporary files left behind


def test_cli_prints_table_and_writes_beside_results(tmp_path):
    path = _small(tmp_path)
    result = runner.invoke(
        app, ["compare", str(tmp_path / "run"), "--baseline", "e5-small", "--bootstrap", "300"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "e5-small (baseline)" in out and "e5-small+weam" in out
    assert "▲ +20.0" in out and "missing" not in out
    assert "mean" in out and "low-resource" in out
    for name in ("table.md", "table.csv", "run.jsonl", "deltas.png"):
        assert (path.parent / "compare" / name).is_file()


def test_cli_bad_input_is_one_red_line(tmp_path):
    path = _small(tmp_path)
    result = runner.invoke(app, ["compare", str(path), "--baseline", "xlmr", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "baseline 'xlmr' is not in the results" in lines[0]
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()
    result = runner.invoke(app, ["compare", str(tmp_path / "nope.jsonl"), "--baseline", "b"])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_cli_task_and_by_method(tmp_path):
    rows = study_rows(n=40, seeds=(13,))
    rows.append(make_row("e5-small", "de", [True, True], task="tatoeba", direction="de-en"))
    path = write_rows(tmp_path / "results.jsonl", rows)
    args = [
        "compare",
        str(path),
        "-b",
        "baseline",
        "--by",
        "method",
        "--bootstrap",
        "200",
        "-o",
        str(tmp_path / "o"),
    ]
    # results of two tasks: one table each (one markdown file, one CSV with a task column)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sib200 (test): accuracy" in result.stdout and "tatoeba (test): accuracy" in result.stdout
    record = json.loads((tmp_path / "o" / "run.jsonl").read_text().splitlines()[-1])
    assert record["config"]["task"] == ["sib200", "tatoeba"]
    assert {line.split(",")[0] for line in (tmp_path / "o" / "table.csv").read_text().splitlines()[1:]} == {
        "sib200",
        "tatoeba",
    }
    assert (tmp_path / "o" / "sib200-accuracy-deltas.png").is_file()
    result = runner.invoke(app, [*args, "--task", "sib200", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "tatoeba" not in result.stdout
    assert json.loads((tmp_path / "o" / "run.jsonl").read_text().splitlines()[-1])["config"]["by"] == "method"


@pytest.mark.slow
def test_compare_reads_real_evaluate_rows(shared_data, tmp_path):
    # The contract with `weam evaluate`: its rows (here the Tatoeba probe of the tiny model at two
    # layers, Swahili only) load, pair by (language, id) and compare without any adaptation.
    results = tmp_path / "results.jsonl"
    for layer, name in ((-1, "tiny-last"), (1, "tiny-layer1")):
        args = ["evaluate", "--task", "tatoeba", "-m", "tiny", "-l", "sw", "--layer", str(layer),
                "--name", name, "--results", str(results), "--threads", "1"]  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
    comp = compare_results([results], "tiny-last", n_boot=200)
    assert [c.name for c in comp.columns] == ["tiny-last", "tiny-layer1"]
    assert {r.label for r in comp.rows if r.kind == "lang"} == {"sw xx->en", "sw en->xx"}
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    cell = comp.cell("sw xx->en", "tiny-layer1")
    by_key = {(r["model"], r["direction"]): r for r in rows}
    assert cell.n == by_key[("tiny-layer1", "xx->en")]["n"]
    assert cell.delta == pytest.approx(
        by_key[("tiny-layer1", "xx->en")]["accuracy"] - by_key[("tiny-last", "xx->en")]["accuracy"]
    )


def test_by_method_compares_every_objective_with_the_baseline_and_with_each_other(tmp_path):
    """All pre-training methods of `weam experiment` in one comparison: columns in METHOD_ORDER,
    each Δ against the baseline exact and paired; with another method as --baseline, every method
    is measured against that one (the same pairing), so any two can be compared."""
    from weamcli.compare.table import METHOD_ORDER
    from weamcli.experiment.settings import METHODS

    assert set(METHODS) <= set(METHOD_ORDER)
    right = {method: 20 + 6 * k for k, method in enumerate(METHODS)}  # of 100: each method 6 more
    rows = []
    for method, k in right.items():
        label = "e5-small" if method == "baseline" else f"e5-small+{method}(de)"
        for lang in ("en", "de", "sw"):
            rows.append(
                make_row(label, lang, [i < k for i in range(100)], method=method, pretrain_langs=["de"])
            )
    path = write_rows(tmp_path / "results.jsonl", rows)
    comp = compare_results([path], "baseline", by="method", n_boot=300)
    assert [c.name for c in comp.columns] == [m for m in METHOD_ORDER if m in METHODS]
    for method, k in right.items():
        cell = comp.cell("de", method)
        if method == "baseline":
            assert cell.status == "baseline"
            continue
        assert cell.delta == pytest.approx((k - 20) / 100) and cell.n == 100
        assert cell.ci_low > 0  # right on every example the baseline got right, and more
    against_weam = compare_results([path], "weam", by="method", n_boot=300)
    assert {c.name: c.reference for c in against_weam.columns}["align-l2"] == "weam"
    assert against_weam.cell("de", "align-l2").delta == pytest.approx(
        (right["align-l2"] - right["weam"]) / 100
    )
    for method, k in right.items():  # paired: one side right on a superset of the other's examples
        if method != "weam":
            cell = against_weam.cell("de", method)
            assert cell.ci_low > 0 if k > right["weam"] else cell.ci_high < 0, method
    written = write_comparison(comp, tmp_path / "cmp")  # the plots take every method
    assert written["plot_deltas"].is_file()
