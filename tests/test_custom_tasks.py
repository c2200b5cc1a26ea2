"""Your own multilingual tasks, end to end with the tiny model: `--task custom` with `{lang}` file
patterns in all three formats (rows / CoNLL-U / SQuAD JSON), each result row carrying the language
of its file; a label the training data lacks is a one-line error naming file and line; the official
XNLI-1.0 / MultiNLI and PAWS-X x-final layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.task_settings import TaskSettings
from weamcli.common.task_splits import load_split
from weamcli.common.tasks import PAWSX, XNLI, available_languages, resolve_language, with_root

runner = CliRunner()
LANGS = ("de", "fr", "ar")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _tuning(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "-m",
        "tiny",
        "-o",
        str(tmp_path / "ft"),
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--threads",
        "1",
        *extra,
    ]


def _evaluate(tmp_path: Path, *args: str) -> list[dict]:
    results = tmp_path / "results.jsonl"
    out = runner.invoke(
        app, ["evaluate", "-m", str(tmp_path / "ft"), "--results", str(results), "--threads", "1", *args]
    )
    assert out.exit_code == 0, out.output
    return _rows(results)


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_custom_classification_with_lang_pattern(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    texts = {"en": ("good film", "bad film"), "de": ("guter Film", "schlechter Film"),
             "fr": ("bon film", "mauvais film"), "ar": ("فيلم جيد", "فيلم سيء")}  # fmt: skip
    for lang, (good, bad) in texts.items():
        for split in ("train", "dev", "test"):
            rows = [f"{good} {i}\tpos" if i % 2 else f"{bad} {i}\tneg" for i in range(8)]
            (data / f"{lang}.{split}.tsv").write_text(
                "text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8"
            )
    task = ["--task", "custom", "--text-column", "text", "--label-column", "label"]
    files = ["--train", str(data / "{lang}.train.tsv"), "--dev", str(data / "{lang}.dev.tsv")]
    out = runner.invoke(app, ["finetune", *task, *files, *_tuning(tmp_path)])
    assert out.exit_code == 0, out.output
    rows = _evaluate(tmp_path, *task, "--test", str(data / "{lang}.test.tsv"), "--lang", ",".join(LANGS))
    assert [(r["lang"], r["lang_code"], r["resource"], r["n"]) for r in rows] == [
        ("de", "de", "high", 8),
        ("fr", "fr", "high", 8),
        ("ar", "ar", "high", 8),
    ]
    assert all(r["kind"] == "classification" and r["unit"] == "example" for r in rows)
    # --lang all finds every language the pattern has a file for
    spec = TaskSettings(
        task="custom", test=str(data / "{lang}.test.tsv"), text_column="text", label_column="label"
    )
    assert available_languages(spec.task_spec()) == ["ar", "de", "en", "fr"]
    # a label the model never saw: one line naming the file and the line
    bad = data / "fr.test.tsv"
    bad.write_text("text\tlabel\nbon film\tpos\nfilm moyen\tmixed\n", encoding="utf-8")
    out = runner.invoke(
        app,
        [
            "evaluate",
            "-m",
            str(tmp_path / "ft"),
            *task,
            "--test",
            str(data / "{lang}.test.tsv"),
            "--lang",
            "fr",
        ],
    )
    assert out.exit_code == 2 and "Traceback" not in out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"{bad}:3: label 'mixed' is not in the label set (neg, pos)" in lines[0]


CONLLU_SENTENCES = {
    "en": [("the cat sleeps", "DET NOUN VERB"), ("a dog runs", "DET NOUN VERB")],
    "de": [("die Katze schläft", "DET NOUN VERB"), ("ein Hund läuft schnell", "DET NOUN VERB ADV")],
    "fr": [("le chat dort", "DET NOUN VERB")],
    "ar": [("القط ينام", "NOUN VERB")],
}


def _conllu(path: Path, sentences: list[tuple[str, str]]) -> None:
    blocks = []
    for k, (words, tags) in enumerate(sentences):
        lines = [f"# sent_id = {path.stem}-{k}"]
        for i, (w, t) in enumerate(zip(words.split(), tags.split(), strict=True), 1):
            lines.append(f"{i}\t{w}\t_\t{t}\t_\t_\t0\tdep\t_\t_")
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_custom_tagging_with_lang_pattern(tmp_path):
    data = tmp_path / "conllu"
    data.mkdir()
    for lang, sentences in CONLLU_SENTENCES.items():
        for split in ("train", "dev", "test"):
            _conllu(data / f"{lang}-{split}.conllu", sentences * (4 if split == "train" else 1))
    task = ["--task", "custom"]
    files = ["--train", str(data / "{lang}-train.conllu"), "--dev", str(data / "{lang}-dev.conllu")]
    out = runner.invoke(app, ["finetune", *task, *files, *_tuning(tmp_path, "--max-length", "32")])
    assert out.exit_code == 0, out.output
    meta = json.loads((tmp_path / "ft" / "seed-13" / "weam.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "tagging" and meta["labels"] == ["DET", "NOUN", "VERB"]
    card = (tmp_path / "ft" / "seed-13" / "README.md").read_text(encoding="utf-8")
    assert "load_tagger" in card and "English dev word accuracy" in card
    # German has an ADV the English training data lacks: one line naming the word's line
    out = runner.invoke(
        app,
        [
            "evaluate",
            "-m",
            str(tmp_path / "ft"),
            *task,
            "--test",
            str(data / "{lang}-test.conllu"),
            "-l",
            "de",
        ],
    )
    assert out.exit_code == 2
    assert (
        f"{data / 'de-test.conllu'}:10: tag 'ADV' does not occur in the training data (DET, NOUN, VERB)"
        in out.output
    )
    rows = _evaluate(tmp_path, *task, "--test", str(data / "{lang}-test.conllu"), "--lang", "fr,ar")
    assert [(r["lang"], r["n"], r["words"], r["kind"], r["unit"]) for r in rows] == [
        ("fr", 1, 3, "tagging", "sentence"),
        ("ar", 1, 2, "tagging", "sentence"),
    ]
    assert rows[0]["gold"] == [["DET", "NOUN", "VERB"]] and len(rows[0]["predictions"][0]) == 3
    assert rows[0]["correct"] == sum(
        p == g for p, g in zip(rows[0]["predictions"][0], rows[0]["gold"][0], strict=True)
    )


def _squad_file(path: Path, items: list[tuple[str, str, str, str]]) -> None:
    paragraphs = [
        {
            "context": c,
            "qas": [{"id": qid, "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}],
        }
        for qid, q, c, a in items
    ]
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}), encoding="utf-8"
    )


QA_ITEMS = {
    "en": [("q1", "Who wrote it?", "The book was written by Ann Lee in 1990.", "Ann Lee"),
           ("q2", "When?", "The bridge opened in 1932 after six years.", "1932")],
    "de": [("q1", "Wer schrieb es?", "Das Buch schrieb Ann Lee im Jahr 1990.", "Ann Lee"),
           ("q2", "Wann?", "Die Brücke wurde 1932 nach sechs Jahren eröffnet.", "1932")],
    "zh": [("q1", "谁写的?", "这本书是李安在1990年写的。", "李安"),
           ("q2", "什么时候?", "这座桥于1932年开通。", "1932")],
}  # fmt: skip


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_squad_format_task_with_lang_pattern(tmp_path):
    data = tmp_path / "mlqa"
    data.mkdir()
    for lang, items in QA_ITEMS.items():
        _squad_file(data / f"{lang}.json", items)
    en = str(data / "en.json")
    out = runner.invoke(app, ["finetune", "--task", "custom", "--task-type", "qa", "--train", en, "--dev", en,
                              *_tuning(tmp_path, "--max-length", "64")])  # fmt: skip
    assert out.exit_code == 0, out.output
    # `--task squad-format --test 'dir/{lang}.json'`: any SQuAD-format files, here MLQA-like, scored by
    # a QA model whatever task it was fine-tuned on; the rows say which files they scored
    pattern = str(data / "{lang}.json")
    squad = _evaluate(tmp_path, "--task", "squad-format", "--test", pattern, "--lang", "de")
    assert [(r["task"], r["test_data"], r["lang"]) for r in squad] == [("squad-format", pattern, "de")]
    # not a tagging task's files, though: the head is a span head
    conll = str(tmp_path / "{lang}.conll")
    args = ["--task", "custom", "--task-type", "tagging", "--test", conll, "--lang", "de"]
    out = runner.invoke(app, ["evaluate", "-m", str(tmp_path / "ft"), *args])
    assert out.exit_code == 2 and "was fine-tuned for a qa task ('custom'), not tagging" in out.output
    (tmp_path / "results.jsonl").unlink()
    rows = _evaluate(tmp_path, "--task", "custom", "--task-type", "qa", "--test", pattern)
    assert [(r["lang"], r["n"], r["unit"], r["normalisation"]) for r in rows] == [
        ("de", 2, "question", "squad"),
        ("en", 2, "question", "squad"),
        ("zh", 2, "question", "squad+chars"),
    ]
    for row in rows:
        assert row["metrics"] == ["f1", "exact_match"] and row["ids"] == ["q1", "q2"]
        assert row["f1"] == pytest.approx(sum(row["unit_scores"]["f1"]) / 2)
        assert all(isinstance(p, str) for p in row["predictions"]) and row["gold"][0] == [
            QA_ITEMS[row["lang"]][0][3]
        ]


def test_one_file_without_lang_holds_the_language_named(tmp_path):
    f = tmp_path / "test.tsv"
    f.write_text("text\tlabel\nhallo\ta\n", encoding="utf-8")
    spec = TaskSettings(task="custom", test=str(f), text_column="text", label_column="label").task_spec()
    assert resolve_language(spec, "deu")[0] == "de" and resolve_language(spec, "en")[0] == "en"
    assert available_languages(spec) == ["en"]  # --lang all: English unless --lang says otherwise
    assert load_split(spec, "de", "test").lang == "de"
    with pytest.raises(WeamError, match="unknown placeholder \\{lng\\}"):
        TaskSettings(
            task="custom", test=str(tmp_path / "{lng}.tsv"), text_column="text", label_column="label"
        )


_PARSES = "sentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse"
XNLI_HEADER = f"language\tgold_label\t{_PARSES}\tsentence1\tsentence2\tpromptID\tpairID\tgenre"
MNLI_HEADER = f"gold_label\t{_PARSES}\tsentence1\tsentence2\tpromptID\tpairID\tgenre"


def test_xnli_distribution_layout(tmp_path):
    root = tmp_path / "xnli"
    (root / "XNLI-1.0").mkdir(parents=True)
    (root / "multinli_1.0").mkdir()
    pairs = [
        ("en", "entailment", 'He said "yes".', "He agreed."),
        ("de", "entailment", 'Er sagte "ja".', "Er stimmte zu."),
        ("en", "neutral", "A man sleeps.", "He is tired."),
        ("de", "neutral", "Ein Mann schläft.", "Er ist müde."),
        ("sw", "contradiction", "Mtu analala.", "Mtu anakimbia."),
    ]
    for split in ("dev", "test"):
        lines = [XNLI_HEADER] + [
            f"{lang}\t{label}\t_\t_\t_\t_\t{s1}\t{s2}\t{k // 2}\t{k // 2 + 1}\tfiction"
            for k, (lang, label, s1, s2) in enumerate(pairs)
        ]
        (root / "XNLI-1.0" / f"xnli.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "multinli_1.0" / "multinli_1.0_train.txt").write_text(
        MNLI_HEADER + "\nneutral\t_\t_\t_\t_\tOne.\tTwo.\t1\t1n\tfiction\n"
        'contradiction\t_\t_\t_\t_\t"Quoted\tnot quoted.\t2\t2c\tgovernment\n',
        encoding="utf-8",
    )
    task = with_root(XNLI, root)
    train = load_split(task, resolve_language(task, "en")[0], "train")
    assert (train.texts, train.labels, train.ids) == (
        ["One.", '"Quoted'],
        ["neutral", "contradiction"],
        ["1n", "2c"],
    )
    de = load_split(task, resolve_language(task, "deu")[0], "test")
    assert (de.lang, de.texts, de.pairs, de.ids) == (
        "de",
        ['Er sagte "ja".', "Ein Mann schläft."],
        ["Er stimmte zu.", "Er ist müde."],
        [1, 2],
    )
    assert available_languages(task, "test") == ["en", "de", "sw"]
    (root / "XNLI-1.0" / "xnli.test.tsv").write_text(
        XNLI_HEADER + "\nde\tmaybe\t_\t_\t_\t_\ta\tb\t1\t1\tx\n", encoding="utf-8"
    )
    with pytest.raises(WeamError) as err:
        load_split(task, "de", "test")
    assert str(err.value).startswith(f"{root / 'XNLI-1.0' / 'xnli.test.tsv'}:2: label 'maybe'")


def test_paws_x_final_layout(tmp_path):
    root = tmp_path / "paws"
    for lang, split in (("en", "train"), ("en", "dev_2k"), ("de", "test_2k"), ("zh", "test_2k")):
        (root / "x-final" / lang).mkdir(parents=True, exist_ok=True)
        (root / "x-final" / lang / f"{split}.tsv").write_text(
            "id\tsentence1\tsentence2\tlabel\n1\tA b.\tB a.\t0\n2\tC d.\tC d!\t1\n", encoding="utf-8"
        )
    task = with_root(PAWSX, root)  # the folder holding x-final/, or x-final itself
    assert task.default_root == str(root / "x-final") and with_root(PAWSX, root / "x-final") == task
    assert available_languages(task, "test") == ["de", "zh"]
    part = load_split(task, "en", "dev")
    assert (part.source, part.labels, part.ids) == (
        str(root / "x-final" / "en" / "dev_2k.tsv"),
        ["0", "1"],
        [1, 2],
    )
