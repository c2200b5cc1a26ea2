"""Task descriptions and split loading: real SIB-200 counts, TSV quoting, and every bad input."""

from __future__ import annotations

import pytest

from weamcli.common.errors import WeamError
from weamcli.common.task_splits import label_set, load_split
from weamcli.common.tasks import SIB200, XNLI, available_languages, custom_task, resolve_language, with_root


def _data_lines(path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip()) - 1  # minus the header


def test_sib200_splits_match_the_files(shared_data):
    root = shared_data / "sib200" / "data" / "annotated"
    task = with_root(SIB200, root)
    for split, expected in (("train", 701), ("dev", 99), ("test", 204)):
        part = load_split(task, "eng_Latn", split)
        assert len(part) == expected == _data_lines(root / "eng_Latn" / f"{split}.tsv")
        assert len(part.labels) == len(part.ids) == expected and part.pairs is None
        assert set(part.labels) <= set(SIB200.labels)
    # translations share index_id: the German test split lists the same ids with the same labels
    en, de = load_split(task, "eng_Latn", "test"), load_split(task, "deu_Latn", "test")
    assert en.ids == de.ids and en.labels == de.labels and en.texts != de.texts
    # any code form reaches the same files; a language without a folder is refused
    assert resolve_language(task, "sw")[0] == resolve_language(task, "swh")[0] == "swh_Latn"
    langs = available_languages(task)
    assert len(langs) == 205 and "quy_Latn" in langs and "eng_Latn" in langs


def test_tsv_keeps_stray_quotes_and_na_texts(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text('id\tlabel\ttext\n1\ta\tHe said "stop\n2\tb\tNA\n3\ta\tThe "big" one"\n', encoding="utf-8")
    part = load_split(
        custom_task(
            train=str(f), dev=None, test=None, text_column="text", label_column="label", id_column="id"
        ),
        "eng",
        "train",
    )
    assert part.texts == ['He said "stop', "NA", 'The "big" one"']
    assert part.ids == [1, 2, 3] and part.labels == ["a", "b", "a"]
    assert label_set(
        custom_task(train=str(f), dev=None, test=None, text_column="text", label_column="label"), part
    ) == ("a", "b")


def test_jsonl_and_csv_pairs(tmp_path):
    j = tmp_path / "dev.jsonl"
    j.write_text(
        '{"premise": "A man sleeps.", "hypothesis": "Nobody sleeps.", "label": "contradiction"}\n'
        '{"premise": "It rains.", "hypothesis": "It is wet.", "label": "entailment"}\n',
        encoding="utf-8",
    )
    task = custom_task(
        train=None,
        dev=str(j),
        test=None,
        text_column="premise",
        text_pair_column="hypothesis",
        label_column="label",
    )
    part = load_split(task, "eng", "dev")
    assert task.is_pair and part.pairs == ["Nobody sleeps.", "It is wet."] and part.ids == [0, 1]
    c = tmp_path / "test.csv"
    c.write_text('sentence1,sentence2,label\n"One, two",Three,1\nFour,"Five ""5""",0\n', encoding="utf-8")
    part = load_split(
        custom_task(
            train=None,
            dev=None,
            test=str(c),
            text_column="sentence1",
            text_pair_column="sentence2",
            label_column="label",
        ),
        "eng",
        "test",
    )
    assert (
        part.texts == ["One, two", "Four"]
        and part.pairs == ["Three", 'Five "5"']
        and part.labels == ["1", "0"]
    )


def test_missing_column_names_file_and_header_line(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("sentence\tlabel\nhello\ta\n", encoding="utf-8")
    with pytest.raises(WeamError) as err:
        load_split(
            custom_task(train=str(f), dev=None, test=None, text_column="text", label_column="label"),
            "eng",
            "train",
        )
    assert str(err.value).startswith(f"{f}:1: missing column(s) text")


def test_label_outside_the_label_set_names_the_line(tmp_path):
    root = tmp_path / "sib"
    (root / "eng_Latn").mkdir(parents=True)
    (root / "eng_Latn" / "test.tsv").write_text(
        "index_id\tcategory\ttext\n1\tsports\tGoal!\n2\tweather\tRain.\n", encoding="utf-8"
    )
    with pytest.raises(WeamError) as err:
        load_split(with_root(SIB200, root), "eng_Latn", "test")
    assert str(err.value).startswith(f"{root / 'eng_Latn' / 'test.tsv'}:3: label 'weather'")


def test_empty_split_and_empty_text(tmp_path):
    f = tmp_path / "dev.tsv"
    f.write_text("text\tlabel\n", encoding="utf-8")
    task = custom_task(train=None, dev=str(f), test=None, text_column="text", label_column="label")
    with pytest.raises(WeamError, match="dev split is empty"):
        load_split(task, "eng", "dev")
    f.write_text("text\tlabel\nfine\ta\n \tb\n", encoding="utf-8")
    with pytest.raises(WeamError) as err:
        load_split(task, "eng", "dev")
    assert str(err.value).startswith(f"{f}:3: empty text")


def test_language_without_data_and_unknown_codes(tmp_path, shared_data):
    task = with_root(SIB200, shared_data / "sib200" / "data" / "annotated")
    code, _ = resolve_language(task, "da")  # Danish is in weam's table; SIB-200 has dan_Latn
    assert code == "dan_Latn"
    root = tmp_path / "sib"
    (root / "eng_Latn").mkdir(parents=True)
    with pytest.raises(WeamError, match="has no test data for language 'deu_Latn'"):
        load_split(with_root(SIB200, root), "deu_Latn", "test")
    with pytest.raises(WeamError, match="unknown language code 'xx_Nope'"):
        resolve_language(task, "xx_Nope")
    # a SIB-200 code outside weam's table is accepted because the data has it
    assert resolve_language(task, "ace_Arab")[0] == "ace_Arab"


def test_hub_name_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(WeamError) as err:
        load_split(XNLI, "de", "test")
    message = str(err.value)
    assert "'xnli'" in message and "--data-dir" in message and "\n" not in message
