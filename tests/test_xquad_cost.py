"""XQuAD at a CPU's cost (issue 10, item 6): the task's defaults, and the fixed question sample
`weam evaluate` scores by default — the same question ids in every language, drawn at random
from the English file, recorded in every row."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from weamcli.common.task_splits import QASplit, load_task_split
from weamcli.common.tasks import SQUAD_FORMAT, XQUAD, with_root
from weamcli.evaluate.question_answering import SAMPLE_SEED, sample_questions
from weamcli.evaluate.settings import EvaluateSettings
from weamcli.finetune.settings import FinetuneSettings


def test_xquad_defaults_and_the_flag_for_the_full_set():
    assert EvaluateSettings(task="xquad", models=["m"]).max_examples == 150
    assert EvaluateSettings(task="xquad", models=["m"], max_examples=0).max_examples == 0  # all
    assert EvaluateSettings(task="xquad", models=["m"], max_examples=50).max_examples == 50
    # other tasks, and the user's own SQuAD-format files, are scored in full unless told
    for task in ("sib200", "udpos"):
        assert EvaluateSettings(task=task, models=["m"]).max_examples is None
    squad = EvaluateSettings(task="squad-format", models=["m"], test="mlqa/{lang}.json")
    assert squad.max_examples is None
    qa = FinetuneSettings(task="xquad", model="m", out="o")
    assert (qa.max_train_examples, qa.max_dev_examples, qa.train_sample_seed, qa.epochs) == (400, 200, 0, 2.0)
    assert (qa.max_length, qa.doc_stride, qa.freeze_embeddings) == (256, 85, True)


def _part(lang: str, ids: list[str]) -> QASplit:
    from weamcli.common.squad_format import QAExample

    examples = [QAExample(i, "q?", "a context", ["a"], [0]) for i in ids]
    return QASplit("xquad", lang, "test", f"{lang}.json", examples)


def test_every_language_keeps_the_ids_drawn_from_english(shared_data):
    task = with_root(XQUAD, shared_data / "xquad")
    data = {code: load_task_split(task, code, "test") for code in ("th", "en", "zh")}
    sampled, info = sample_questions(task, data, 200, "test")
    ids = sampled["en"].ids
    assert len(ids) == 200 and sampled["th"].ids == ids == sampled["zh"].ids
    assert info["th"] == {"questions": 200, "of": 1190, "seed": SAMPLE_SEED, "ids_from": "en"}
    # a random draw kept in file order, not the first 200 (a handful of XQuAD's 48 articles)
    assert ids != data["en"].ids[:200] and ids == [i for i in data["en"].ids if i in set(ids)]
    assert max(data["en"].ids.index(i) for i in ids) > 1000
    # the same draw every time, and for a run that scores fewer languages (English not among them)
    again, _ = sample_questions(task, {"zh": data["zh"]}, 200, "test")
    assert again["zh"].ids == ids


def test_files_that_are_not_translations_get_their_own_sample(tmp_path):
    task = replace(SQUAD_FORMAT, path_pattern=str(tmp_path / "{lang}.json"))
    en = _part("en", [f"q{i}" for i in range(10)])
    de = _part("de", [f"q{i}" for i in range(0, 10, 2)])  # half of English's questions
    fr = _part("fr", [f"f{i}" for i in range(10)])  # none of them
    sampled, info = sample_questions(task, {"en": en, "de": de, "fr": fr}, 4, "test")
    drawn = set(sampled["en"].ids)
    assert len(drawn) == 4 and set(sampled["de"].ids) == drawn & set(de.ids)
    assert info["de"]["questions"] == len(drawn & set(de.ids)) and info["de"]["ids_from"] == "en"
    assert len(sampled["fr"]) == 4 and info["fr"]["ids_from"] == "fr"  # its own 4, same seed
    # no English file for the split: the first language named gives the ids
    sampled, info = sample_questions(task, {"de": de, "fr": fr}, 2, "test")
    assert info["de"]["ids_from"] == "de" and len(sampled["de"]) == 2
    # asked for at least every file's size: nothing is sampled, nothing recorded
    assert sample_questions(task, {"en": en}, 10, "test") == ({"en": en}, {})
    assert sample_questions(task, {"en": en}, None, "test") == ({"en": en}, {})
    assert sample_questions(task, {"en": en}, 0, "test") == ({"en": en}, {})  # --max-examples 0


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_xquad_default_sample_end_to_end(shared_data, tmp_path):
    """`weam evaluate --task xquad` with no --max-examples scores 150 questions a language, says
    so, and records the sample in each row and in run.jsonl."""
    from typer.testing import CliRunner

    from weamcli.cli import app

    runner = CliRunner()
    xq = ["--task", "xquad", "--data-dir", str(shared_data / "xquad")]
    args = ["finetune", *xq, "-m", "tiny", "-o", str(tmp_path / "ft"), "--max-train-examples", "16",
            "--max-dev-examples", "8", "--epochs", "1", "--lr", "1e-3", "--threads", "1"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    results = tmp_path / "results.jsonl"
    args = ["evaluate", *xq, "-m", str(tmp_path / "ft"), "--lang", "de,en", "--results", str(results),
            "--threads", "1"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "fixed sample of at most 150 questions a language" in " ".join(out.output.split())
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [(r["lang"], r["n"]) for r in rows] == [("de", 150), ("en", 150)]
    assert rows[0]["ids"] == rows[1]["ids"]
    assert rows[0]["sample"] == {"questions": 150, "of": 1190, "seed": SAMPLE_SEED, "ids_from": "en"}
    record = json.loads((tmp_path / "run.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert record["config"]["max_examples"] == 150
