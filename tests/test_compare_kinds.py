"""`weam compare` across task kinds: one table per task and metric, the bootstrap resampling the
independent unit (examples, sentences, questions), and the row schema that carries it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from comparison_fixtures import make_row, write_rows

from weamcli.common.errors import WeamError
from weamcli.common.result_rows import make_qa_row, make_tagging_row, row_from_json
from weamcli.compare.build import compare_all, compare_results
from weamcli.compare.load import load_results

FACTS = {
    "method": "baseline",
    "base_model": "e5-small",
    "num_layers": 12,
    "params": 1,
    "pretrain_langs": [],
    "model_path": "/m",
    "selection": "best-dev",
}


def _facts(model: str, seed: int = 13, method: str = "baseline") -> dict:
    return {**FACTS, "model": model, "seed": seed, "method": method}


def _tagging_row(model: str, lang: str, right: list[list[bool]], **kw) -> dict:
    gold = [["NOUN"] * len(s) for s in right]
    preds = [["NOUN" if ok else "VERB" for ok in s] for s in right]
    return make_tagging_row(
        "udpos",
        "test",
        lang,
        _facts(model, **kw),
        ids=[f"s{i}" for i in range(len(right))],
        predictions=preds,
        gold=gold,
    )


def _qa_row(model: str, lang: str, f1: list[float], **kw) -> dict:
    n = len(f1)
    return make_qa_row(
        "xquad",
        "test",
        lang,
        _facts(model, **kw),
        ids=[f"q{i}" for i in range(n)],
        predictions=["x"] * n,
        gold=[["x"]] * n,
        f1=f1,
        exact_match=[float(v == 1.0) for v in f1],
    )


def test_rows_of_each_kind_read_back_to_their_units(tmp_path):
    tagging = _tagging_row("m", "de", [[True, False, True], [True]])
    assert (tagging["n"], tagging["words"], tagging["correct"], tagging["accuracy"]) == (2, 4, 3, 0.75)
    qa = _qa_row("m", "de", [1.0, 0.5, 0.0])
    assert (qa["f1"], qa["exact_match"]) == (0.5, pytest.approx(1 / 3))
    path = write_rows(tmp_path / "results.jsonl", [tagging, qa, make_row("m", "de", [True, False])])
    t, q, c = load_results([path])
    assert (t.unit, t.scores["accuracy"]) == ("sentence", {"s0": (2.0, 3.0), "s1": (1.0, 1.0)})
    assert t.value("accuracy") == 0.75  # words right / words, not the mean of sentence accuracies
    assert (q.unit, q.metrics, q.scores["f1"]["q1"]) == ("question", ("f1", "exact_match"), (0.5, 1.0))
    assert (c.kind, c.unit, c.value("accuracy")) == ("classification", "example", 0.5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"correct": 4}, "'correct' is 4 but predictions match gold on 3 words"),
        ({"unit": "word"}, "a tagging row's unit is 'sentence', not 'word'"),
        (
            {"predictions": [["NOUN"], ["NOUN"]]},
            "sentence 's0': predictions and gold must be equal, non-empty tag lists",
        ),
    ],
)
def test_inconsistent_tagging_rows_name_file_and_line(tmp_path, change, message):
    row = {**_tagging_row("m", "de", [[True, False, True], [True]]), **change}
    with pytest.raises(WeamError) as err:
        row_from_json(json.loads(json.dumps(row)), tmp_path / "r.jsonl", 7)
    assert str(err.value) == f"{tmp_path / 'r.jsonl'}:7: {message}"


def test_inconsistent_qa_rows_name_file_and_line(tmp_path):
    row = _qa_row("m", "de", [1.0, 0.5])
    row["f1"] = 0.9
    with pytest.raises(WeamError, match=":3: 'f1' is 0.9 but its per-question scores average 0.75$"):
        row_from_json(row, tmp_path / "r.jsonl", 3)
    del row["unit_scores"]
    with pytest.raises(WeamError, match="a qa row needs 'unit_scores'"):
        row_from_json(row, tmp_path / "r.jsonl", 3)


def test_one_table_per_task_and_metric(tmp_path):
    rows = []
    for model, method, boost in (("e5-small", "baseline", 0), ("e5-small+weam", "weam", 1)):
        for lang in ("en", "de", "zh"):
            rows.append(make_row(model, lang, [i < 50 + 10 * boost for i in range(100)], method=method))
            # sentences of 1..4 words: the right ones are the longer ones for weam
            lengths = [1 + i % 4 for i in range(40)]
            right = [[(boost and n > 2) or i < 10 for _ in range(n)] for i, n in enumerate(lengths)]
            rows.append(_tagging_row(model, lang, right, method=method))
            rows.append(
                _qa_row(model, lang, [1.0 if i < 20 + 5 * boost else 0.25 for i in range(60)], method=method)
            )
    path = write_rows(tmp_path / "results.jsonl", rows)
    tables = compare_all([path], "e5-small", n_boot=300)
    assert [(t.task, t.metric, t.unit) for t in tables] == [
        ("sib200", "accuracy", "example"),
        ("udpos", "accuracy", "sentence"),
        ("xquad", "f1", "question"),
        ("xquad", "exact_match", "question"),
    ]
    sib, ud, f1, em = tables
    assert sib.cell("de", "e5-small+weam").delta == pytest.approx(0.10)
    cell = ud.cell("de", "e5-small+weam")
    words = sum(1 + i % 4 for i in range(40))
    base_right = sum(1 + i % 4 for i in range(10))
    weam_right = sum(n for i, n in enumerate(1 + k % 4 for k in range(40)) if n > 2 or i < 10)
    assert cell.delta == pytest.approx((weam_right - base_right) / words) and cell.n == 40  # 40 sentences
    assert f1.cell("de", "e5-small+weam").delta == pytest.approx(5 * 0.75 / 60)
    assert em.cell("de", "e5-small+weam").delta == pytest.approx(5 / 60)
    with pytest.raises(WeamError, match="several tasks"):
        compare_results([path], "e5-small")
    assert compare_results([path], "e5-small", task="xquad", metric="exact_match").metric == "exact_match"


def test_resampling_words_instead_of_sentences_understates_the_interval(tmp_path):
    """Words of one sentence are tagged right or wrong together (they share a context). With 300
    sentences of 10 words, the honest 95% interval of Δ is about 3.92 standard errors of the
    per-sentence differences; resampling the 3,000 words as if independent gives one about
    √10 ≈ 3.2 times narrower: too sure of a difference it cannot resolve."""
    rng = np.random.default_rng(3)
    n, size = 300, 10
    base_ok = rng.random(n) < 0.6
    weam_ok = np.where(rng.random(n) < 0.15, ~base_ok, base_ok)  # differs from the baseline on ~15%
    base = [[bool(ok)] * size for ok in base_ok]
    weam = [[bool(ok)] * size for ok in weam_ok]
    by_sentence = write_rows(
        tmp_path / "s" / "results.jsonl",
        [_tagging_row("b", "de", base), _tagging_row("w", "de", weam, method="weam")],
    )
    flat_base = [ok for s in base for ok in s]
    flat_weam = [ok for s in weam for ok in s]
    by_word = write_rows(  # the same words, each claimed to be an independent example
        tmp_path / "w" / "results.jsonl",
        [
            make_row("b", "de", flat_base, task="udpos"),
            make_row("w", "de", flat_weam, task="udpos", method="weam"),
        ],
    )
    right = compare_results([by_sentence], "b", n_boot=4000, seed=1).cell("de", "w")
    wrong = compare_results([by_word], "b", n_boot=4000, seed=1).cell("de", "w")
    assert right.delta == pytest.approx(wrong.delta)  # the same point estimate
    assert (right.n, wrong.n) == (300, 3000)
    diffs = weam_ok.astype(float) - base_ok.astype(float)
    honest = 2 * 1.96 * diffs.std(ddof=1) / np.sqrt(n)
    width_right, width_wrong = right.ci_high - right.ci_low, wrong.ci_high - wrong.ci_low
    assert 0.8 * honest < width_right < 1.25 * honest
    assert width_wrong < 0.45 * width_right  # about 1/√10 of it
