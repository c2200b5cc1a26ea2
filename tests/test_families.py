"""Every fine-tuning task family, end to end on `tiny` and the small files in tests/data/families
(no ../shared needed): one epoch of English training, then zero-shot rows for German that carry
the family's kind, unit and metrics and read back through `weam compare`'s row schema."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.result_rows import KIND_METRICS, KIND_UNITS, row_from_json
from weamcli.common.tasks import KINDS, UNITS
from weamcli.finetune.run import FAMILY_MODULES

DATA = Path(__file__).parent / "data" / "families"
runner = CliRunner()

# family -> (file stem, suffix, extra options, test units in the German file)
FAMILIES = {
    "classification": ("classification", "tsv", ["--text-column", "text", "--label-column", "label"], 8),
    "tagging": ("tagging", "conll", [], 3),
    "qa": ("qa", "json", ["--task-type", "qa"], 3),
    "multiple_choice": ("choice", "jsonl", ["--task-type", "multiple_choice"], 3),
}


def test_every_family_has_a_fixture_and_every_table_comes_from_the_registry():
    """The family registry is the one list of kinds: the task kinds, `--task-type` choices, row
    units and metrics, fine-tuning defaults, dev metrics, trainers and evaluators all follow it,
    and a registered family without its files here fails this test, not a user's first run."""
    from weamcli.common.families import all_families
    from weamcli.common.task_settings import TASK_TYPES
    from weamcli.finetune.settings import KIND_DEFAULTS
    from weamcli.finetune.training import DEV_METRICS

    names = [f.name for f in all_families()]
    assert list(KINDS) == list(TASK_TYPES) == names and set(FAMILIES) == set(names)
    for table in (FAMILY_MODULES, UNITS, KIND_METRICS, KIND_UNITS, KIND_DEFAULTS, DEV_METRICS):
        assert list(table) == names
    for f in all_families():
        assert KIND_UNITS[f.name] == UNITS[f.name] == f.unit and KIND_METRICS[f.name] == f.metrics
        module = importlib.import_module(f"weamcli.evaluate.{f.evaluator[0]}")
        assert callable(getattr(module, f.evaluator[1]))
        assert callable(importlib.import_module(FAMILY_MODULES[f.name]).build_family)
        if f.reader is not None:  # None: classification rows (common.task_splits.load_split)
            assert callable(getattr(importlib.import_module(f"weamcli.common.{f.reader[0]}"), f.reader[1]))


def test_help_texts_name_every_family_and_its_defaults():
    """The --help texts of the family options are read from the registry and the task table, so a
    new family or task shows up in them without a help text edited by hand."""
    from weamcli.common.families import all_families
    from weamcli.common.tasks import TASKS
    from weamcli.finetune.settings import FinetuneSettings, defaults_text

    helps = {o.name: o.spec.help for o in FinetuneSettings.options()}
    for f in all_families():
        assert f.name in helps["task_type"] and f.files in helps["task_type"]
        for name in ("epochs", "lr", "max_length"):
            assert f.name in helps[name] and defaults_text(name) in helps[name]
    assert "1e-4 for qa" in defaults_text("lr") and "xquad 2e-4" in defaults_text("lr")
    assert "10 for multiple_choice" in defaults_text("epochs") and "xnli 3" in defaults_text("epochs")
    assert "frozen for tagging and qa" in helps["freeze_embeddings"]
    for task in TASKS.values():
        if "max_train_examples" in task.finetune_defaults:
            assert (
                f"{task.name} {task.finetune_defaults['max_train_examples']}" in helps["max_train_examples"]
            )


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_each_family_fine_tunes_one_epoch_and_scores_zero_shot(kind, tmp_path):
    stem, suffix, extra, units = FAMILIES[kind]
    files = ["--task", "custom", *extra]
    train = [
        "--train",
        str(DATA / f"{stem}.en.train.{suffix}"),
        "--dev",
        str(DATA / f"{stem}.en.dev.{suffix}"),
    ]
    ft = tmp_path / "ft"
    out = runner.invoke(
        app, ["finetune", *files, *train, "-m", "tiny", "-o", str(ft), "--epochs", "1", "--threads", "1"]
    )
    assert out.exit_code == 0, out.output
    meta = json.loads((ft / "seed-13" / "weam.json").read_text(encoding="utf-8"))
    assert meta["kind"] == kind and len(meta["dev_history"]) == 1 and meta["steps_run"] >= 1
    results = tmp_path / "results.jsonl"
    test = ["--test", str(DATA / f"{stem}.{{lang}}.test.{suffix}"), "--lang", "de"]
    out = runner.invoke(
        app, ["evaluate", *files, *test, "-m", str(ft), "--results", str(results), "--threads", "1"]
    )
    assert out.exit_code == 0, out.output
    (line,) = results.read_text(encoding="utf-8").splitlines()
    row = json.loads(line)
    assert (row["kind"], row["unit"], row["lang"], row["n"]) == (kind, UNITS[kind], "de", units)
    read = row_from_json(row, results, 1)
    assert read.kind == kind and set(read.metrics) == set(KIND_METRICS[kind])
    assert all(len(scores) == units for scores in read.scores.values())


def test_a_model_scores_its_familys_files_in_any_language_and_rows_keep_the_data_apart(tmp_path):
    """A tagger fine-tuned as `udpos` (English files given with --train/--dev) scores the user's
    CoNLL files for a language outside the UD table; the rows record the files they scored, and
    `weam compare` puts rows of two test sets under two task names, never one."""
    stem = DATA / "tagging"
    ft = tmp_path / "ft"
    args = ["finetune", "--task", "udpos", "--train", f"{stem}.en.train.conll",
            "--dev", f"{stem}.en.dev.conll", "-m", "tiny", "-o", str(ft), "--epochs", "1",
            "--threads", "1"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "fo.conll").write_text(
        (DATA / "tagging.de.test.conll").read_text(encoding="utf-8"), encoding="utf-8"
    )
    results = tmp_path / "results.jsonl"
    for task, pattern in (
        ("udpos", str(mine / "{lang}.conll")),
        ("custom", str(DATA / "tagging.{lang}.test.conll")),
    ):
        lang = "fo" if task == "udpos" else "de"
        out = runner.invoke(app, ["evaluate", "--task", task, "--test", pattern, "--lang", lang,
                                  "-m", str(ft), "--results", str(results), "--threads", "1"])  # fmt: skip
        assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [(r["task"], r["lang"], r["test_data"]) for r in rows] == [
        ("udpos", "fo", str(mine / "{lang}.conll")),
        ("custom", "de", str(DATA / "tagging.{lang}.test.conll")),
    ]
    # another family's task is refused in one line, before any data is read
    out = runner.invoke(app, ["evaluate", "--task", "sib200", "-m", str(ft), "--lang", "de"])
    assert (
        out.exit_code == 2 and "was fine-tuned for a tagging task ('udpos'), not classification" in out.output
    )
    from weamcli.compare.load import load_results

    tasks = sorted({r.task for r in load_results([results])})
    assert tasks == [f"custom [{DATA / 'tagging.{lang}.test.conll'}]", f"udpos [{mine / '{lang}.conll'}]"]
