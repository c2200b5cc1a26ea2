"""The multiple-choice family: COPA-style files, fine-tuning on English, zero-shot rows per language
that `weam compare` reads, and XCOPA from a local copy (skipped without one)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.choice_data import read_choices
from weamcli.common.errors import WeamError
from weamcli.common.result_rows import row_from_json
from weamcli.common.task_splits import load_task_split
from weamcli.common.tasks import XCOPA, available_languages, with_root

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _cue_rows(
    n: int, *, right: str, wrong: str, seed: int, premise: str = "the weather changed"
) -> list[dict]:
    """Examples whose right choice is always ``right``, at a random position (choice1 or choice2)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = rng.randrange(2)
        choices = [wrong, wrong]
        choices[label] = right
        rows.append({"premise": f"{premise} {i}", "choice1": choices[0], "choice2": choices[1],
                     "question": rng.choice(["cause", "effect"]), "label": label, "idx": i})  # fmt: skip
    return rows


@pytest.fixture(scope="session")
def xcopa_dir() -> Path:
    """XTREME-R's XCOPA folder ({train,val,test}-<lang>.jsonl): ``$WEAM_XCOPA_DIR``,
    ``../shared/data/xcopa`` or ``../data/xcopa`` (the README says where a copy comes from); else skip."""
    for candidate in (os.environ.get("WEAM_XCOPA_DIR"), ROOT.parent / "shared" / "data" / "xcopa",
                      ROOT.parent / "data" / "xcopa"):  # fmt: skip
        if candidate and (Path(candidate) / "train-en.jsonl").is_file():
            return Path(candidate)
    pytest.skip("no XCOPA copy ($WEAM_XCOPA_DIR, ../shared/data/xcopa or ../data/xcopa)")


def test_copa_lines_and_choice_lists_are_read_with_their_question(tmp_path):
    path = _write(tmp_path / "a.jsonl", [
        {"premise": "My body cast a shadow.", "choice1": "The sun rose.", "choice2": "It rained.",
         "question": "cause", "label": 0, "idx": 7},
    ])  # fmt: skip
    (example,) = read_choices(path)
    assert example.id == "7" and example.choices == ("The sun rose.", "It rained.") and example.label == 0
    assert example.context == "My body cast a shadow. What was the cause?"
    three_choices = {"premise": "I was hungry.", "choices": ["a", "b", "c"], "label": 2, "question": "Then?"}
    listed = _write(tmp_path / "b.jsonl", [three_choices])
    (three,) = read_choices(listed)
    assert three.choices == ("a", "b", "c") and three.id == "1" and three.context.endswith("Then?")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"premise": "p", "choice1": "a", "choice2": "b", "label": 2},
            "'label' must be the right choice's index",
        ),
        ({"premise": "p", "choice1": "a", "choice3": "b", "label": 0}, "numbered from 1"),
        ({"premise": "", "choice1": "a", "choice2": "b", "label": 0}, "non-empty 'premise'"),
        (
            {"premise": "p", "choices": ["a", "b", "c"], "label": 0},
            "has 3 choices, the file's first example 2",
        ),
        (
            {"premise": "p", "choice1": "a", "choice2": "b", "label": 0, "idx": 0},
            "example id '0' also on line 1",
        ),
    ],
)
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, line, message):
    good = {"premise": "p", "choice1": "a", "choice2": "b", "label": 1, "idx": 0}
    path = _write(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(WeamError) as err:
        read_choices(path)
    assert message in str(err.value) and f"{path}:2" in str(err.value)


def test_a_line_that_is_not_utf8_names_its_line_and_byte(tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"premise": "p", "choice1": "a", "choice2": "b", "label": 0}).encode()
    path.write_bytes(
        good
        + b"\n"
        + '{"premise": "caf\u00e9", "choice1": "a", "choice2": "b", "label": 0}\n'.encode("latin-1")
    )
    with pytest.raises(WeamError) as err:
        read_choices(path)
    assert f"{path}:2" in str(err.value) and "invalid UTF-8 (byte 0xe9" in str(err.value)


def test_a_custom_multiple_choice_task_learns_and_is_scored_per_language(tmp_path):
    """`tiny` learns that one reply is always right, wherever it stands (choice1 or choice2); its
    rows carry choice indices, unit = example, and read back through compare's row schema. A file
    where the other reply is right scores 0: the picked index really is the scored choice."""
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "train.jsonl", _cue_rows(48, right="yes indeed", wrong="no way", seed=0))
    _write(data / "dev.jsonl", _cue_rows(16, right="yes indeed", wrong="no way", seed=1))
    _write(data / "de.jsonl", _cue_rows(20, right="yes indeed", wrong="no way", seed=2, premise="das Wetter"))
    _write(data / "fr.jsonl", _cue_rows(20, right="no way", wrong="yes indeed", seed=3, premise="le temps"))
    files = ["--task", "custom", "--task-type", "multiple_choice", "--train", str(data / "train.jsonl"),
             "--dev", str(data / "dev.jsonl")]  # fmt: skip
    out = runner.invoke(app, ["finetune", *files, "-m", "tiny", "-o", str(tmp_path / "ft"), "--epochs", "4",
                              "--lr", "1e-3", "--threads", "1"])  # fmt: skip
    assert out.exit_code == 0, out.output
    meta = json.loads((tmp_path / "ft" / "seed-13" / "weam.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "multiple_choice" and meta["num_choices"] == 2 and meta["dev_metric"] == "accuracy"
    assert len(meta["dev_history"]) == 4 and meta["dev_score"] == 1.0
    card = (tmp_path / "ft" / "seed-13" / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag: multiple-choice" in card and "48 English examples" in card
    results = tmp_path / "results.jsonl"
    out = runner.invoke(app, ["evaluate", "--task", "custom", "--task-type", "multiple_choice", "--test",
                              str(data / "{lang}.jsonl"), "--lang", "de,fr", "-m", str(tmp_path / "ft"),
                              "--results", str(results), "--threads", "1"])  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = results.read_text(encoding="utf-8").splitlines()
    rows = {r["lang"]: r for r in map(json.loads, lines)}
    assert rows["de"]["accuracy"] == 1.0 and rows["fr"]["accuracy"] == 0.0
    de = rows["de"]
    assert de["kind"] == "multiple_choice" and de["unit"] == "example" and de["n"] == 20
    assert de["gold"] == [r["label"] for r in _cue_rows(20, right="x", wrong="y", seed=2)]
    read = row_from_json(de, results, 1)
    assert read.kind == "multiple_choice" and sum(n for n, _ in read.scores["accuracy"].values()) == 20


def test_xcopa_without_its_files_says_pass_data_dir(tmp_path):
    out = runner.invoke(app, ["finetune", "--task", "xcopa", "--data-dir", str(tmp_path), "-m", "tiny",
                              "-o", str(tmp_path / "ft")])  # fmt: skip
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert "train-en.jsonl" in out.output


def test_xcopa_reads_xtreme_r_files_in_twelve_languages(xcopa_dir):
    task = with_root(XCOPA, xcopa_dir)
    assert available_languages(task, "test") == ["en", "et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr",
                                                 "vi", "zh"]  # fmt: skip
    train, dev = load_task_split(task, "en", "train"), load_task_split(task, "en", "dev")
    assert (len(train), len(dev), len(load_task_split(task, "zh", "test"))) == (400, 100, 500)
    assert dev.source.endswith("val-en.jsonl")
    # the languages are translations in the same order: the same ids and the same right choices
    zh, it = load_task_split(task, "zh", "test"), load_task_split(task, "it", "test")
    assert zh.ids == it.ids and zh.labels == it.labels


@pytest.mark.slow
def test_xcopa_end_to_end_on_the_embedded_model(xcopa_dir, tmp_path):
    """`weam finetune --task xcopa` then `weam evaluate --lang all` on e5-small (small slices)."""
    ft = str(tmp_path / "ft")
    out = runner.invoke(app, ["finetune", "--task", "xcopa", "--data-dir", str(xcopa_dir), "-m", "e5-small",
                              "-o", ft, "--epochs", "1", "--max-train-examples", "32", "--train-sample-seed",
                              "0", "--threads", "2"])  # fmt: skip
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "ft" / "run.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert record["config"]["n_train"] == 32 and record["config"]["n_dev"] == 100
    results = tmp_path / "results.jsonl"
    out = runner.invoke(app, ["evaluate", "--task", "xcopa", "--data-dir", str(xcopa_dir), "-m", ft,
                              "--lang", "all", "--max-examples", "10", "--results", str(results),
                              "--threads", "2"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "mean of 11 non-English" in out.output
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 12 and all(r["n"] == 10 and r["task"] == "xcopa" for r in rows)
