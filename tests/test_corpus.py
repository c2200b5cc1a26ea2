"""Reading, validating and pre-tokenising parallel text (weamcli.corpus)."""

from __future__ import annotations

import gzip
from itertools import islice
from pathlib import Path

import pytest

from weamcli.common.corpus import Pair, Pretokenizer, guess_language, pretokenize, read_lines, read_pairs
from weamcli.common.errors import WeamError
from weamcli.common.languages import language


def _multi30k(shared_data: Path, lang: str, n: int) -> list[str]:
    path = shared_data / "multi30k/data/task1/raw" / f"train.{lang}.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in islice(fh, n)]


@pytest.fixture
def real_pair(shared_data: Path, tmp_path: Path) -> tuple[Path, Path, list[str], list[str]]:
    en, de = _multi30k(shared_data, "en", 20), _multi30k(shared_data, "de", 20)
    (tmp_path / "c.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    (tmp_path / "c.de").write_text("\n".join(de) + "\n", encoding="utf-8")
    return tmp_path / "c.en", tmp_path / "c.de", en, de


def test_two_files_and_joint_file_and_gzip_give_the_same_pairs(real_pair, tmp_path):
    src, tgt, en, de = real_pair
    two = list(read_pairs(src, tgt))
    assert [(p.source, p.target) for p in two] == list(zip(en, de, strict=True))
    assert [p.line for p in two] == list(range(1, 21))
    joint = tmp_path / "joint.txt"
    joint.write_text("".join(f"{a} ||| {b}\n" for a, b in zip(en, de, strict=True)), encoding="utf-8")
    assert [(p.source, p.target) for p in read_pairs(joint)] == [(p.source, p.target) for p in two]
    gz = tmp_path / "c.de.gz"
    gz.write_bytes(gzip.compress(tgt.read_bytes()))
    assert [p.target for p in read_pairs(src, gz)] == de


def test_bom_is_dropped_on_the_real_de_gold_text(shared_data):
    path = shared_data / "gold-alignments/deen-bicici/test.de"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    first = next(iter(read_lines(path)))
    assert first.startswith("herr präsident")


def test_mismatched_line_counts_name_the_longer_file_and_line(real_pair, tmp_path):
    src, _tgt, _en, de = real_pair
    short = tmp_path / "short.de"
    short.write_text("\n".join(de[:12]) + "\n", encoding="utf-8")
    with pytest.raises(WeamError) as err:
        list(read_pairs(src, short))
    assert err.value.path == str(src) and err.value.line == 13
    assert "short.de has 12 lines" in str(err.value)


def test_crlf_invalid_utf8_and_bad_separator_are_one_line_errors(tmp_path):
    crlf = tmp_path / "a.en"
    crlf.write_bytes(b"a dog .\nthe cat .\r\n")
    with pytest.raises(WeamError, match="CRLF") as err:
        list(read_lines(crlf))
    assert err.value.line == 2
    bad = tmp_path / "b.de"
    bad.write_bytes(b"ein hund\nk\xe4se\n")
    with pytest.raises(WeamError, match="invalid UTF-8.*0xe4") as err:
        list(read_lines(bad))
    assert err.value.line == 2 and "\n" not in str(err.value)
    joint = tmp_path / "j.txt"
    joint.write_text("a ||| b\nno separator here\n", encoding="utf-8")
    with pytest.raises(WeamError, match="found 0") as err:
        list(read_pairs(joint))
    assert err.value.line == 2
    with pytest.raises(WeamError, match="file not found"):
        list(read_lines(tmp_path / "missing.en"))


def test_crlf_strip_reads_windows_line_endings_as_newlines(tmp_path):
    path = tmp_path / "w.en"
    path.write_bytes(b"a dog .\r\nx\ry\r\nlast line\r")  # a \r inside a line stays; bare \r at EOF goes
    assert list(read_lines(path, crlf="strip")) == ["a dog .", "x\ry", "last line"]
    with pytest.raises(WeamError, match="--crlf strip") as err:
        list(read_lines(path))
    assert err.value.line == 1 and err.value.path == str(path)
    path.write_bytes(b"a dog .\nlast line\r")  # only the final line has a CR (no newline after it)
    with pytest.raises(WeamError, match="CRLF") as err:
        list(read_lines(path))
    assert err.value.line == 2
    joint = tmp_path / "j.txt"
    joint.write_bytes(b"a ||| b\r\nc ||| d\r\n")
    assert [(p.source, p.target) for p in read_pairs(joint, crlf="strip")] == [("a", "b"), ("c", "d")]
    with pytest.raises(WeamError, match="--crlf must be one of error, strip"):
        list(read_lines(path, crlf="keep"))


def test_pretokenized_fast_path_keeps_word_origins():
    tok = pretokenize("a b\tc  d", pretokenized=True)
    assert tok.tokens == ["a", "b", "c", "d"] and tok.origin == [0, 1, 2, 3]
    nbsp = pretokenize("a\u00a0b c", pretokenized=True)  # other whitespace splits within a gold word
    assert nbsp.tokens == ["a", "b", "c"] and nbsp.origin == [0, 0, 1]


def test_punctuation_split_is_unicode_aware_and_keeps_word_internal_marks():
    tok = pretokenize("Hello, world! «Das» eu-haushalts 3.5 kostet 1,000€; don't")
    assert tok.tokens == (
        ["Hello", ",", "world", "!", "«", "Das", "»", "eu-haushalts", "3.5", "kostet", "1,000", "€", ";"]
        + ["don't"]
    )
    assert tok.origin == [0, 0, 1, 1, 2, 2, 2, 3, 4, 5, 6, 6, 6, 7]
    # Devanagari vowel signs are combining marks: the word stays whole
    assert pretokenize("नमस्ते दुनिया।").tokens == ["नमस्ते", "दुनिया", "।"]


def test_character_units_for_languages_without_spaces():
    tok = pretokenize("我爱GPU计算。 東京タワー", char_units=True)
    assert tok.tokens == ["我", "爱", "GPU", "计", "算", "。", "東", "京", "タ", "ワ", "ー"]
    assert tok.origin == [0] * 6 + [1] * 5
    thai = pretokenize("สวัสดี", char_units=True).tokens  # marks stay on their base letter
    assert "".join(thai) == "สวัสดี" and len(thai) == 4
    assert pretokenize("已 分词 的 文本 。", pretokenized=True).tokens == ["已", "分词", "的", "文本", "。"]
    # words are split on ASCII space only (as gold files count them); a U+3000 word gives no unit
    ideographic = pretokenize("足利 \u3000 義満", pretokenized=True)
    assert ideographic.tokens == ["足利", "義満"] and ideographic.origin == [0, 2]
    assert pretokenize("足利 \u3000 義満", char_units=True).origin == [0, 0, 2, 2]


def test_segment_modes_follow_the_language():
    zh, en = language("zh"), language("en")
    auto = Pretokenizer(zh, en, "auto")
    assert auto.source_char_units and not auto.target_char_units
    assert not Pretokenizer(zh, en, "none").source_char_units
    assert Pretokenizer(zh, en, "chars").target_char_units
    assert not Pretokenizer(zh, en, "auto", pretokenized=True).source_char_units
    with pytest.raises(WeamError, match="--segment"):
        Pretokenizer(zh, en, "words")


def test_length_limit_and_empty_line_policy(tmp_path):
    en, de = language("en"), language("de")
    pair = Pair(7, "one two three four", "eins zwei")
    with pytest.raises(WeamError, match="4 tokens.*--max-tokens 3") as err:
        Pretokenizer(en, de, max_tokens=3).pair(pair, tmp_path / "a.en", tmp_path / "a.de")
    assert err.value.path == str(tmp_path / "a.en") and err.value.line == 7
    empty = Pair(3, "a dog", "   ")
    src, tgt = Pretokenizer(en, de).pair(empty, "a.en", "a.de")
    assert src.tokens == ["a", "dog"] and tgt.tokens == []
    with pytest.raises(WeamError, match="empty line") as err:
        Pretokenizer(en, de, empty="error").pair(empty, "a.en", "a.de")
    assert err.value.path == "a.de" and err.value.line == 3


def test_language_guessed_from_suffix():
    assert guess_language("train.de.gz") == "de"
    assert guess_language("corpus.zh") == "zh"
    assert guess_language("corpus.txt") is None
    assert guess_language("zhen.src-tgt") is None
