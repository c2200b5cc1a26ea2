"""The experiment grid: config validation, planning, resume after a failure, missing cells."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from comparison_fixtures import make_row

from weamcli.common.errors import WeamError
from weamcli.experiment.run import STATUS_FILE, load_config, plan_experiment, run_experiment
from weamcli.experiment.steps import model_name, run_compare

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[experiment]
name = "t"
out = "{out}"
seeds = [13, 42]

[model]
base = "e5-small"
layers = [12, 6]

[pretrain]
methods = ["weam", "tlm"]
lang_sets = [["de"], ["de", "sw"]]
source = "x.{{lang}}"
target = "y.{{lang}}"

[evaluate]
langs = ["en", "de", "sw"]

[compare]
baseline = "baseline"
bootstrap = 200
"""


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text.format(out=tmp_path / "out"), encoding="utf-8")
    return path


def test_plan_covers_the_grid(tmp_path):
    config = load_config(write_config(tmp_path))
    steps = plan_experiment(config)
    kinds = [s.kind for s in steps]
    # 2 align (de, sw); 2 methods x 2 language sets x 2 sizes pretrain; (1 + 4) models x 2 sizes
    # x 2 seeds finetune and evaluate; one compare
    assert kinds.count("align") == 2
    assert kinds.count("pretrain") == 8
    assert kinds.count("finetune") == kinds.count("evaluate") == 20
    assert kinds[-1] == "compare"
    keys = {s.key: i for i, s in enumerate(steps)}
    for i, step in enumerate(steps):
        assert all(keys[n] < i for n in step.needs), step.key  # needs come first


def test_demo_config_is_valid():
    config = load_config(ROOT / "examples" / "demo.toml")
    assert config.methods == ["baseline", "weam", "tlm"]
    assert len(plan_experiment(config)) == 3 + 2 + 3 * 2 * 2 + 1


@pytest.mark.parametrize(
    ("old", "new", "needle", "line"),
    [
        ('methods = ["weam", "tlm"]', 'methods = ["weam", "xlm"]', "unknown method 'xlm'", 12),
        ('lang_sets = [["de"], ["de", "sw"]]', 'lang_sets = [["de"], ["de", "klingon"]]', "klingon", 13),
        ('langs = ["en", "de", "sw"]', 'langs = ["en", "de", "zz"]', "'zz'", 18),
        ("[model]", "[model", "invalid TOML", 7),
    ],
)
def test_config_errors_name_file_and_line(tmp_path, old, new, needle, line):
    path = write_config(tmp_path, CONFIG.replace(old, new))
    with pytest.raises(WeamError) as err:
        load_config(path)
    assert needle in str(err.value)
    assert f"{path}:{line}:" in str(err.value)


def _fake_runners(calls: list[str], fail: set[str]):
    """Step runners that record calls and write what the real ones would, except evaluation rows
    come from a fixed table (weam right on 20 more of 100 examples than the baseline)."""

    def generic(step, config, steps, say):
        calls.append(step.key)
        if step.key in fail:
            raise WeamError("simulated failure")
        step.out.mkdir(parents=True, exist_ok=True)
        return {}

    def evaluate(step, config, steps, say):
        calls.append(step.key)
        name = model_name(config, step.params)
        boost = 20 if step.params["method"] == "weam" else 0
        rows = []
        for lang in config.evaluate["langs"]:
            correct = np.arange(100) < 50 + boost
            rows.append(
                make_row(
                    name,
                    lang,
                    correct,
                    method=step.params["method"],
                    seed=step.params["seed"],
                    num_layers=step.params["layers"] or 12,
                    pretrain_langs=step.params["langs"],
                )
            )
        step.out.mkdir(parents=True, exist_ok=True)
        (step.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return {}

    return {
        "align": generic,
        "pretrain": generic,
        "finetune": generic,
        "evaluate": evaluate,
        "compare": run_compare,
    }


def test_failed_step_is_reported_and_the_grid_resumes(tmp_path):
    path = write_config(tmp_path)
    failing = "pretrain/tlm-de-sw-L6"
    calls: list[str] = []
    first = run_experiment(path, runners=_fake_runners(calls, {failing}))
    assert first.failed == {failing: "simulated failure"}
    # its fine-tunes and evaluations are blocked, not run; everything else ran
    blocked = {
        "finetune/tlm-de-sw-L6/seed-13",
        "finetune/tlm-de-sw-L6/seed-42",
        "evaluate/tlm-de-sw-L6/seed-13",
        "evaluate/tlm-de-sw-L6/seed-42",
    }
    assert set(first.blocked) == blocked
    assert not blocked & set(calls)
    status = [json.loads(line) for line in (tmp_path / "out" / STATUS_FILE).read_text().splitlines()]
    assert any(r["event"] == "failed" and r["config"]["step"] == failing for r in status)

    # the failed model's column is in the table, every cell missing, never dropped
    comparison = first.comparison
    missing = "e5-small+tlm(de,sw)-L6"
    assert missing in [c.name for c in comparison.columns]
    assert all(comparison.cell(r.label, missing).status == "missing" for r in comparison.rows)
    weam = "e5-small+weam(de)-L12"
    cell = comparison.cell("de", weam)
    assert cell.status == "ok" and cell.delta == pytest.approx(0.20)
    assert cell.ci_low > 0  # 20 more right out of 100, on both seeds

    # second run: only the failed step and what it blocked run again
    calls.clear()
    second = run_experiment(path, runners=_fake_runners(calls, set()))
    assert [k for k in calls if not k.startswith("compare")] == [
        failing,
        *sorted(blocked, key=lambda k: (k.split("/")[2], k.split("/")[0] != "finetune")),
    ]
    assert not second.failed and not second.blocked
    assert missing in [c.name for c in second.comparison.columns]
    assert second.comparison.cell("de", missing).status == "ok"
    assert len(second.skipped) == len(plan_experiment(load_config(path))) - 1 - 5


def test_every_objective_is_a_method_and_gets_only_its_own_options(tmp_path):
    """The new objectives run in the grid; one [pretrain] section serves all methods, each option
    reaching the methods that read it, and an option no listed method reads is an error."""
    from weamcli.experiment.settings import METHODS
    from weamcli.pretrain.settings import OBJECTIVES

    assert METHODS == ("baseline", *OBJECTIVES)
    listed = ", ".join(f'"{m}"' for m in OBJECTIVES)
    text = CONFIG.replace(
        'methods = ["weam", "tlm"]', f"methods = [{listed}]\ntemperature = 0.1\nl2_reg = 0.5"
    )
    config = load_config(write_config(tmp_path, text))
    pretrain = {
        s.params["method"]: s
        for s in plan_experiment(config)
        if s.kind == "pretrain" and s.params["layers"] == 12 and s.params["langs"] == ["de"]
    }
    assert set(pretrain) == set(OBJECTIVES)
    for method, step in pretrain.items():
        s = step.settings
        assert s.objective == method
        assert s.temperature == (0.1 if "contrastive" in method else None)
        assert s.l2_reg == (0.5 if method == "align-l2" else None)
    assert model_name(config, pretrain["weam+contrastive"].params) == "e5-small+weam+contrastive(de)-L12"
    text = CONFIG.replace('methods = ["weam", "tlm"]', 'methods = ["weam", "tlm"]\nswitch_prob = 0.3')
    path = write_config(tmp_path, text)
    with pytest.raises(WeamError, match="switch_prob is read only by the method") as err:
        load_config(path)
    assert f"{path}:13:" in str(err.value)


def test_an_interrupted_run_with_objective_defaults_is_the_same_run():
    """pretrain-config.json holds the objective's options with their defaults filled in; resuming
    an interrupted grid step compares like with like (no needless restart)."""
    from weamcli.experiment.steps import _same_run
    from weamcli.pretrain.settings import PretrainSettings

    settings = PretrainSettings(langs=["de"], out="x", alignments="a", objective="align-l2")
    recorded = {**settings.to_dict(), **settings.objective_values()}
    assert recorded["l2_reg"] == 1.0 and _same_run(recorded, settings)
    assert not _same_run({**recorded, "l2_reg": 0.5}, settings)
