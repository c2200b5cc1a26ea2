"""Word-level task families: CoNLL(-U) and SQuAD-format reading, the UD table, windows over long
sentences and contexts, span decoding, SQuAD/MLQA answer scoring, per-kind fine-tuning defaults."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weamcli.common.conllu import read_conllu, read_tagged, read_two_column
from weamcli.common.errors import WeamError
from weamcli.common.squad_format import QAExample, read_squad
from weamcli.common.squad_metric import f1_and_exact, normalise, style_for
from weamcli.common.task_splits import load_task_split
from weamcli.common.tasks import UDPOS, XQUAD, available_languages, resolve_language, with_root
from weamcli.finetune.settings import FinetuneSettings

CONLLU = """# newdoc id = d1
# sent_id = s-1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\t_\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\t_\t_\t5\tcase\t_\t_
4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\t_
5.1\tvamos\tir\tVERB\t_\t_\t_\t_\t0:root\t_
6\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_

# sent_id = s-2
1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_conllu_keeps_syntactic_words_and_their_lines(tmp_path):
    path = tmp_path / "es.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    first, second = read_conllu(path)
    # the multiword tokens (1-2, 3-4) and the empty node (5.1) are not words
    assert first.words == ["Vamos", "nos", "a", "el", "mar", "."]
    assert first.tags == ["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"]
    assert first.lines == [5, 6, 8, 9, 10, 12]
    assert (first.id, second.id, second.words, second.lines) == ("s-1", "s-2", ["Hola"], [15])
    path.write_text(CONLLU.replace("4\tel\tel\tDET\t_\t_\t5", "4\tel\tel\tDET\t_\t5"), encoding="utf-8")
    with pytest.raises(WeamError) as err:
        read_conllu(path)
    assert str(err.value) == f"{path}:9: a CoNLL-U word line has 10 tab-separated columns, this one 9"


def test_two_column_conll_and_sentence_ids(tmp_path):
    path = tmp_path / "de.conll"
    path.write_text("-DOCSTART- O\n\nDas\tDET\nHaus\tNOUN\n\nJa\tINTJ\n", encoding="utf-8")
    sentences = read_tagged(path)
    assert [(s.id, s.words, s.tags, s.lines) for s in sentences] == [
        ("1", ["Das", "Haus"], ["DET", "NOUN"], [3, 4]),
        ("2", ["Ja"], ["INTJ"], [6]),
    ]
    path.write_text("Das\tDET\nHaus\n", encoding="utf-8")
    with pytest.raises(WeamError, match=f"^{path}:2: a CoNLL line needs a word and a tag"):
        read_two_column(path)


def test_ud_table_covers_the_shared_treebanks(shared_data):
    task = with_root(UDPOS, shared_data / "ud")
    langs = available_languages(task, "test")
    assert len(langs) == 15 and langs[0] == "en" and {"wo", "ha", "yo", "ja"} <= set(langs)
    assert "hi" not in available_languages(task, "dev")  # Hindi-PUD has a test set only
    assert resolve_language(task, "deu")[0] == resolve_language(task, "deu_Latn")[0] == "de"
    with pytest.raises(WeamError, match="no data for language 'sw' in its table"):
        resolve_language(task, "sw")
    part = load_task_split(task, "de", "test")
    assert len(part) == 977 and sum(len(s) for s in part.sentences) == 16499  # words, not tokens
    train = load_task_split(task, "en", "train")
    assert len(train) == 12544 and len(set(train.labels)) == 17


def _squad(tmp_path, context: str, answer: str, start: int, qid: str = "q1"):
    data = {"data": [{"paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": "Where?", "answers": [{"text": answer, "answer_start": start}]}
    ]}]}]}  # fmt: skip
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def test_squad_reader_checks_every_answer_span(tmp_path):
    path = _squad(tmp_path, "The cat sat on the mat.", "the mat", 15)
    (example,) = read_squad(path)
    assert (example.id, example.answers, example.starts) == ("q1", ["the mat"], [15])
    path = _squad(tmp_path, "The cat sat on the mat.", "the mat", 14)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"q1"' in text)
    with pytest.raises(WeamError) as err:
        read_squad(path)
    assert (
        str(err.value)
        == f"{path}:{line}: question 'q1': answer 'the mat' is not at character 14 of its context"
    )


def test_xquad_files_are_parallel_across_languages(shared_data):
    task = with_root(XQUAD, shared_data / "xquad")
    assert len(available_languages(task)) == 12
    en, th = load_task_split(task, "en", "test"), load_task_split(task, "th", "test")
    assert len(en) == len(th) == 1190 and en.ids == th.ids  # the same questions, translated


def test_answer_normalisation_and_scores():
    # official SQuAD v1.1: case, ASCII punctuation and English articles do not count
    assert normalise("The  Eiffel-Tower!", "en") == ["eiffeltower"]
    assert f1_and_exact("the Eiffel Tower", ["Eiffel Tower"], "en") == (1.0, 1.0)
    f1, em = f1_and_exact("Eiffel Tower in Paris", ["the Eiffel Tower"], "en")
    assert em == 0.0 and f1 == pytest.approx(2 * (2 / 4) * (2 / 2) / (2 / 4 + 2 / 2))
    # the best of several gold answers counts
    assert f1_and_exact("Paris", ["London", "paris."], "fr") == (1.0, 1.0)
    # Chinese: one SQuAD token per answer (F1 = EM); per character under auto and mlqa
    assert (style_for("zh", "auto"), style_for("de", "auto")) == ("squad+chars", "squad")
    assert f1_and_exact("北京大学", ["北京"], "zh", "squad")[0] == 0.0
    f1, em = f1_and_exact("北京大学", ["北京"], "zh", "auto")
    assert em == 0.0 and f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert normalise("在2008年", "zh") == ["在", "2008", "年"]
    # MLQA: the language's own articles and Unicode punctuation go
    assert normalise("«Das Haus»", "de", "mlqa") == ["haus"]
    assert normalise("«Das Haus»", "de", "squad") == ["«das", "haus»"]


def _example(context: str, answer: str, qid: str = "q") -> QAExample:
    return QAExample(qid, "Who?", context, [answer], [context.index(answer)])


def test_qa_windows_hold_the_answer_and_decode_back(tiny_ref):
    from weamcli.finetune.classifier import shared_tokenizer
    from weamcli.finetune.question_answering import make_features, training_features

    tokenizer = shared_tokenizer(tiny_ref)
    context = " ".join(f"word{i}" for i in range(120)) + " Marie Curie discovered polonium. " + "tail " * 60
    example = _example(context, "Marie Curie")
    features = make_features(tokenizer, [example], max_length=64, stride=16)
    assert len(features.input_ids) > 3 and set(features.example) == {0}
    assert all(len(ids) <= 64 for ids in features.input_ids)
    data = training_features(features, [example])
    inside = [i for i, s in enumerate(data["start_positions"]) if s]
    assert inside  # some window holds the whole answer; the others point at [CLS]
    for i in inside:
        s, e = data["start_positions"][i], data["end_positions"][i]
        assert context[features.offsets[i][s][0] : features.offsets[i][e][1]] == "Marie Curie"
    # every context character is covered by some window: nothing cut
    covered = set()
    for offsets in features.offsets:
        for o in offsets:
            if o is not None:
                covered.update(range(*o))
    assert {i for i, ch in enumerate(context) if not ch.isspace()} <= covered


def test_best_span_respects_context_order_and_length():
    from weamcli.finetune.question_answering import _best_span

    context = "abc def ghi"
    offsets = [None, None, (0, 3), (4, 7), (8, 11), None]  # [CLS] question | 3 context pieces | [SEP]
    start = np.array([9.0, 8.0, 1.0, 2.0, 0.5, 7.0])
    end = np.array([9.0, 0.0, 0.2, 1.0, 3.0, 7.0])
    # the best start and end outside the context (CLS, question, SEP) are never chosen
    assert _best_span(start, end, offsets, context, 30, 20) == (5.0, "def ghi")
    assert _best_span(start, end, offsets, context, 1, 20) == (3.5, "ghi")  # at most one piece
    end = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 0.0])  # the best end lies before every good start
    assert _best_span(start, end, offsets, context, 30, 20) == (6.0, "abc")


def test_long_sentences_are_read_in_windows_never_cut(tiny_ref):
    from weamcli.finetune.classifier import shared_tokenizer
    from weamcli.finetune.token_classification import make_windows, special_pieces

    tokenizer = shared_tokenizer(tiny_ref)
    words = [f"Wort{i}" if i % 3 else "Donaudampfschifffahrt" for i in range(70)]
    windows = make_windows(tokenizer, [words, ["kurz"]], prefix="query: ", max_length=32, stride=8)
    assert windows.split_sentences == 1 and windows.sentence.count(1) == 1
    assert all(len(ids) <= 32 for ids in windows.input_ids)
    head, tail = special_pieces(tokenizer)
    prefix = tokenizer("query:", add_special_tokens=False)["input_ids"]
    assert all(ids[: len(head) + len(prefix)] == head + prefix for ids in windows.input_ids)
    reads = windows.reads[0]
    assert len(reads) == len(words)  # every word is read exactly once
    for k, (w, pos) in enumerate(reads):
        first = tokenizer(words[k], add_special_tokens=False)["input_ids"][0]
        assert windows.sentence[w] == 0 and windows.input_ids[w][pos] == first
    # a word in the overlap of two windows is read where it has more context on both sides
    wins = sorted({w for w, _ in reads})
    assert len(wins) > 2 and reads[0][0] == wins[0] and reads[-1][0] == wins[-1]


def test_kind_defaults_fill_only_what_is_unset():
    cls = FinetuneSettings(task="sib200", model="m", out="o")
    assert (cls.epochs, cls.lr, cls.max_length, cls.freeze_embeddings, cls.max_train_examples) == (
        6.0,
        3e-5,
        128,
        False,
        None,
    )
    assert "train_sample_seed" not in cls.hyperparameters()  # classification records what it did before
    ud = FinetuneSettings(task="udpos", model="m", out="o")
    assert (ud.epochs, ud.freeze_embeddings, ud.max_train_examples, ud.train_sample_seed) == (
        2.0,
        True,
        2000,
        0,
    )
    assert ud.doc_stride == 128 // 3 and ud.hyperparameters()["doc_stride"] == 42
    qa = FinetuneSettings(
        task="xquad", model="m", out="o", epochs=1, max_train_examples=0, freeze_embeddings=False
    )
    assert (qa.epochs, qa.max_train_examples, qa.freeze_embeddings, qa.max_length) == (1, 0, False, 256)
    with pytest.raises(WeamError, match="--doc-stride must be at most half of --max-length"):
        FinetuneSettings(task="xquad", model="m", out="o", max_length=128, doc_stride=80)


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_udpos_end_to_end_on_real_treebanks(shared_data, tmp_path):
    """`weam finetune --task udpos` then `weam evaluate --lang all`: a row per treebank language,
    word accuracy counted over words (CoNLL-U words, not multiword tokens), sentences as units."""
    from typer.testing import CliRunner

    from weamcli.cli import app

    runner = CliRunner()
    ud = str(shared_data / "ud")
    args = ["finetune", "--task", "udpos", "--data-dir", ud, "-m", "tiny", "-o", str(tmp_path / "ft"),
            "--max-train-examples", "120", "--max-dev-examples", "40", "--epochs", "1", "--lr", "1e-3",
            "--threads", "1"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "ft" / "run.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert record["config"]["n_train"] == 120 and record["config"]["train_sample_seed"] == 0  # the sub-sample
    results = tmp_path / "results.jsonl"
    args = ["evaluate", "--task", "udpos", "--data-dir", ud, "-m", str(tmp_path / "ft"), "--lang", "all",
            "--max-examples", "20", "--results", str(results), "--threads", "1"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "udpos (test) word accuracy" in out.output and "mean of 14 non-English" in out.output
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in rows] == list(available_languages(with_root(UDPOS, shared_data / "ud")))
    es = next(r for r in rows if r["lang"] == "es")
    part = load_task_split(with_root(UDPOS, shared_data / "ud"), "es", "test")
    assert es["n"] == 20 and es["words"] == sum(len(s) for s in part.sentences[:20])
    assert es["ids"] == part.ids[:20] and es["unit"] == "sentence"


def test_a_lone_boundary_piece_is_not_what_a_word_is_read_at(tiny_ref):
    """XLM-R writes "▁" alone before most Chinese words and punctuation; reading it would give all
    of them one vector. The word is read at its first piece holding characters."""
    from weamcli.finetune.classifier import shared_tokenizer
    from weamcli.finetune.token_classification import make_windows

    tokenizer = shared_tokenizer(tiny_ref)
    words = ["然而", ",", "这样", "的", "the"]
    windows = make_windows(tokenizer, [words], max_length=32, stride=8)
    read = [tokenizer.convert_ids_to_tokens(windows.input_ids[w][pos]) for w, pos in windows.reads[0]]
    assert read == ["▁然而", ",", "这样", "的", "▁the"]
