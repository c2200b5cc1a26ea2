"""An experiment over several tasks: `[experiment] tasks`, per-task `[task.<name>]`,
`[finetune.<name>]` and `[evaluate.<name>]` parts (strict like the rest), one fine-tune and
evaluation per model × task × seed, and one comparison table per task and metric."""

from __future__ import annotations

from pathlib import Path

import pytest
from comparison_fixtures import make_row
from test_compare_kinds import _qa_row, _tagging_row

from weamcli.common.errors import WeamError
from weamcli.experiment.run import load_config, plan_experiment, run_experiment
from weamcli.experiment.steps import model_name, run_compare

CONFIG = """
[experiment]
name = "three"
out = "{out}"
seeds = [13]
tasks = ["sib200", "udpos", "xquad"]

[model]
base = "e5-small"

[pretrain]
methods = ["weam"]
lang_sets = [["de"]]
source = "x.{{lang}}"
target = "y.{{lang}}"

[finetune]
epochs = 3
batch_size = 8

[finetune.udpos]
epochs = 1
max_train_examples = 100

[evaluate.xquad]
langs = ["en", "de"]
max_examples = 50

[compare]
bootstrap = 200
"""


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text.format(out=tmp_path / "out"), encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_each_task_gets_its_steps_and_its_own_settings(tmp_path):
    config = load_config(write_config(tmp_path))
    assert config.tasks == ["sib200", "udpos", "xquad"]
    steps = {s.key: s for s in plan_experiment(config)}
    for task in config.tasks:
        for model in ("baseline-full", "pretrain/weam-de-full"):
            name = model.replace("pretrain/", "")
            ft, ev = steps[f"finetune/{task}/{name}/seed-13"], steps[f"evaluate/{task}/{name}/seed-13"]
            assert ft.settings.task == ev.settings.task == task and ev.needs == [ft.key]
            assert ft.settings.batch_size == 8  # [finetune] holds for every task
    ft = {t: steps[f"finetune/{t}/baseline-full/seed-13"].settings for t in config.tasks}
    assert (ft["sib200"].epochs, ft["udpos"].epochs, ft["xquad"].epochs) == (3, 1, 3)
    # what [finetune.udpos] leaves unset still comes from the task's own defaults
    assert (
        ft["udpos"].max_train_examples,
        ft["xquad"].max_train_examples,
        ft["sib200"].max_train_examples,
    ) == (
        100,
        400,
        None,
    )
    ev = {t: steps[f"evaluate/{t}/baseline-full/seed-13"].settings for t in config.tasks}
    assert (ev["xquad"].langs, ev["xquad"].max_examples, ev["udpos"].langs) == (["en", "de"], 50, ["all"])
    assert steps["compare"].needs == [k for k in steps if k.startswith("evaluate/")]


UNKNOWN_PART = "[finetune.udpo]: 'udpo' is not one of the grid's tasks (sib200, udpos, xquad)"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "[finetune.udpos]",
            "[finetune.udpo]",
            "[finetune.udpo]",
            UNKNOWN_PART + "; did you mean [finetune.udpos]?",
        ),
        (
            "epochs = 1\n",
            "epoch = 1\n",
            "epoch = 1",
            "[finetune.udpos] unknown key 'epoch'; did you mean 'epochs'?",
        ),
        (
            "max_examples = 50",
            "max_examples = -1",
            "max_examples = -1",
            "[evaluate.xquad] max_examples must be at least 0",
        ),
        ("seeds = [13]", 'seeds = [13]\ntask = "sib200"', "tasks = [", "tasks and task are alternatives"),
        (
            "[compare]",
            "[compare.xquad]\n[compare]",
            "[compare.xquad]",
            "only [task], [finetune] and [evaluate]",
        ),
    ],
)
def test_task_parts_are_checked_like_every_section(tmp_path, old, new, needle, message):
    path = write_config(tmp_path, CONFIG.replace(old, new, 1))
    with pytest.raises(WeamError) as err:
        load_config(path)
    assert f"{path}:{_line(path, needle)}:" in str(err.value) and message in str(err.value)


def test_one_task_keeps_the_earlier_keys(tmp_path):
    text = CONFIG.replace('tasks = ["sib200", "udpos", "xquad"]', 'task = "udpos"').replace(
        '[evaluate.xquad]\nlangs = ["en", "de"]\nmax_examples = 50\n', ""
    )
    config = load_config(write_config(tmp_path, text))
    keys = [s.key for s in plan_experiment(config) if s.kind in ("finetune", "evaluate")]
    assert "finetune/baseline-full/seed-13" in keys and "evaluate/weam-de-full/seed-13" in keys
    assert plan_experiment(config)[-2].settings.task == "udpos"


def test_grid_over_three_task_kinds_compares_each_task_and_metric(tmp_path):
    """Fake fine-tunes; the evaluations write rows of each task's kind (WEAM right more often)."""

    def generic(step, config, steps, say):
        step.out.mkdir(parents=True, exist_ok=True)
        return {}

    def evaluate(step, config, steps, say):
        name = model_name(config, step.params)
        boost = 1 if step.params["method"] == "weam" else 0
        kw = {"method": step.params["method"], "seed": 13}
        rows = []
        for lang in ("en", "de"):
            task = step.params["task"]
            if task == "sib200":
                rows.append(make_row(name, lang, [i < 60 + 10 * boost for i in range(100)], **kw))
            elif task == "udpos":
                rows.append(_tagging_row(name, lang, [[i < 30 + 5 * boost] * 3 for i in range(50)], **kw))
            else:
                rows.append(
                    _qa_row(name, lang, [1.0 if i < 20 + 4 * boost else 0.0 for i in range(40)], **kw)
                )
        from comparison_fixtures import write_rows

        write_rows(step.out / "results.jsonl", rows)
        return {}

    runners = {
        "align": generic,
        "pretrain": generic,
        "finetune": generic,
        "evaluate": evaluate,
        "compare": run_compare,
    }
    result = run_experiment(write_config(tmp_path), runners=runners)
    assert not result.failed
    tables = {(c.task, c.metric): c for c in result.comparisons}
    assert list(tables) == [
        ("sib200", "accuracy"),
        ("udpos", "accuracy"),
        ("xquad", "f1"),
        ("xquad", "exact_match"),
    ]
    assert tables[("udpos", "accuracy")].unit == "sentence" and tables[("xquad", "f1")].unit == "question"
    weam = "e5-small+weam(de)"
    assert tables[("sib200", "accuracy")].cell("de", weam).delta == pytest.approx(0.10)
    assert tables[("udpos", "accuracy")].cell("de", weam).delta == pytest.approx(0.10)
    assert tables[("xquad", "f1")].cell("de", weam).delta == pytest.approx(0.10)
    markdown = (tmp_path / "out" / "compare" / "table.md").read_text(encoding="utf-8")
    assert "## udpos (test): word accuracy" in markdown and "## xquad (test): exact match" in markdown
    assert (tmp_path / "out" / "compare" / "xquad-f1-deltas.png").is_file()
