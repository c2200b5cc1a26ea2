"""Evaluation: exact counts on hand-made predictions, the row schema, batching, Tatoeba, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.models import load_model, resolve_model
from weamcli.common.result_rows import ROW_KEYS, accuracy_counts, make_row
from weamcli.common.run_records import read_records
from weamcli.common.tasks import SIB200, with_root
from weamcli.evaluate.classification import evaluate, expand_model_folders
from weamcli.evaluate.retrieval import evaluate_retrieval
from weamcli.finetune.classifier import (
    PooledClassifier,
    load_classifier,
    predict,
    predict_logits,
    shared_tokenizer,
)

runner = CliRunner()
LABELS = list(SIB200.labels)


def _copy_with_meta(src, dst, **changes):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    meta = json.loads((src / "weam.json").read_text(encoding="utf-8"))
    (dst / "weam.json").write_text(json.dumps({**meta, **changes}), encoding="utf-8")
    return dst


def test_counts_and_accuracy_on_a_hand_made_prediction_set():
    gold = ["sports", "travel", "health", "sports", "politics", "travel", "health", "sports"]
    preds = ["sports", "health", "health", "travel", "politics", "travel", "sports", "sports"]
    assert accuracy_counts(preds, gold) == (8, 5, 5 / 8)
    facts = {
        "model": "m",
        "method": "weam",
        "base_model": "e5-small",
        "num_layers": 12,
        "params": 10,
        "pretrain_langs": ["de"],
        "seed": 13,
        "model_path": "/x",
        "selection": "best-dev",
    }
    row = make_row("sib200", "test", "swh_Latn", facts, ids=list(range(8)), predictions=preds, gold=gold)
    assert tuple(row) == ROW_KEYS
    assert (row["n"], row["correct"], row["accuracy"]) == (8, 5, 0.625)
    assert (row["lang"], row["lang_code"], row["resource"]) == ("swh_Latn", "sw", "low")
    assert (
        make_row("sib200", "test", "ace_Arab", facts, ids=[1], predictions=["a"], gold=["b"])["lang_code"]
        == "ace"
    )
    with pytest.raises(ValueError):
        accuracy_counts(preds[:-1], gold)


@pytest.fixture(scope="module")
def constant_model(tmp_path_factory, tiny_ref):
    """A fine-tuned-style folder whose head always answers 'politics': its accuracy is known exactly."""
    folder = tmp_path_factory.mktemp("const") / "seed-5"
    folder.mkdir()
    model = PooledClassifier(load_model(tiny_ref), len(LABELS))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([1.0 if label == "politics" else 0.0 for label in LABELS]))
    meta = {
        "text_prefix": "",
        "method": "weam",
        "pretrain_langs": ["de", "sw"],
        "base_model": "tiny",
        "num_layers": 2,
        "label": "tiny+weam",
        "task": "sib200",
        "labels": LABELS,
        "pooling": "mean",
        "finetune_seed": 5,
        "selection": "last",
        "params": 1,
    }
    model.save(folder, shared_tokenizer(tiny_ref), meta)
    return folder


def test_evaluate_rows_are_exact_for_a_known_model(constant_model, shared_data):
    task = with_root(SIB200, shared_data / "sib200" / "data" / "annotated")
    rows = evaluate([str(constant_model.parent)], task, "de,yo,quy_Latn", split="test")
    gold_politics = sum(
        1
        for line in (shared_data / "sib200/data/annotated/yor_Latn/test.tsv")
        .read_text(encoding="utf-8")
        .splitlines()[1:]
        if line.split("\t")[1] == "politics"
    )
    assert gold_politics == 30
    assert [r["lang"] for r in rows] == ["deu_Latn", "yor_Latn", "quy_Latn"]
    for row in rows:
        assert tuple(row) == ROW_KEYS
        assert (row["n"], row["correct"]) == (204, gold_politics)
        assert row["accuracy"] == pytest.approx(30 / 204)
        assert set(row["predictions"]) == {"politics"} and len(row["ids"]) == len(row["gold"]) == 204
        assert (row["model"], row["method"], row["seed"], row["selection"]) == (
            "tiny+weam",
            "weam",
            5,
            "last",
        )
        assert row["pretrain_langs"] == ["de", "sw"] and row["num_layers"] == 2
    assert rows[0]["params"] == sum(
        p.numel() for p in load_classifier(resolve_model(str(constant_model)))[0].parameters()
    )


def test_batched_prediction_equals_one_at_a_time(tiny_ref):
    model = PooledClassifier(load_model(tiny_ref), 7)
    torch.manual_seed(0)
    torch.nn.init.normal_(model.head.weight, std=1.0)
    tok = shared_tokenizer(tiny_ref)
    texts = [
        "Short.",
        "A much longer sentence that needs plenty of padding in its batch, really.",
        "Mittellanger deutscher Satz hier.",
        "x",
        "Habari ya asubuhi, rafiki yangu mpendwa.",
    ]
    batched = predict_logits(model, tok, texts, batch_size=5)
    single = np.stack([predict_logits(model, tok, [t], batch_size=1)[0] for t in texts])
    # padding must not leak into the masked mean: same logits, whatever the batch
    assert np.allclose(batched, single, atol=1e-5)
    assert not np.allclose(single[0], single[1], atol=1e-3)  # and the inputs do differ
    assert predict(model, tok, texts) == single.argmax(-1).tolist()


def test_cli_evaluate_writes_rows_and_table(constant_model, shared_data, tmp_path):
    results = tmp_path / "res.jsonl"
    args = [
        "evaluate",
        "--task",
        "sib200",
        "--model",
        str(constant_model),
        "--lang",
        "swh_Latn,en",
        "--data-dir",
        str(shared_data / "sib200" / "data" / "annotated"),
        "--results",
        str(results),
    ]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "swh_Latn" in out.output and "0.147" in out.output
    rows = read_records(results)
    assert [(r["lang"], r["correct"], r["n"]) for r in rows] == [("swh_Latn", 30, 204), ("eng_Latn", 30, 204)]
    assert runner.invoke(app, args).exit_code == 0  # the same model again: its rows are replaced
    assert [r["lang"] for r in read_records(results)] == ["swh_Latn", "eng_Latn"]
    assert runner.invoke(app, [*args, "--name", "other"]).exit_code == 0  # another label: appended
    assert [r["model"] for r in read_records(results)][2:] == ["other", "other"]
    assert read_records(tmp_path / "run.jsonl")[-1]["command"] == "evaluate"


def test_bad_inputs_are_one_line_and_write_nothing(constant_model, shared_data, tmp_path, tiny_ref):
    results = tmp_path / "res.jsonl"
    sib = ["--data-dir", str(shared_data / "sib200" / "data" / "annotated"), "--results", str(results)]
    # a model without a classification head
    out = runner.invoke(app, ["evaluate", "--task", "sib200", "-m", "tiny", "--lang", "de", *sib])
    assert out.exit_code == 2 and "no classification head" in out.output
    # a model fine-tuned for another task
    out = runner.invoke(
        app, ["evaluate", "--task", "paws-x", "-m", str(constant_model), "--lang", "de", *sib]
    )
    assert out.exit_code == 2 and "fine-tuned for task 'sib200'" in out.output
    # a target language with no data
    empty = tmp_path / "sib"
    (empty / "eng_Latn").mkdir(parents=True)
    out = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "sib200",
            "-m",
            str(constant_model),
            "--lang",
            "de",
            "--data-dir",
            str(empty),
            "--results",
            str(results),
        ],
    )
    assert out.exit_code == 2 and "no test data for language 'deu_Latn'" in out.output
    # a custom test file with a label outside the model's label set: file and line named
    bad = tmp_path / "test.tsv"
    bad.write_text("text\tcategory\nGoal!\tsports\nSunny.\tweather\n", encoding="utf-8")
    custom = _copy_with_meta(constant_model, tmp_path / "custom", task="custom")
    out = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "custom",
            "-m",
            str(custom),
            "--test",
            str(bad),
            "--text-column",
            "text",
            "--label-column",
            "category",
            "--results",
            str(results),
        ],
    )
    assert out.exit_code == 2 and f"{bad}:3: label 'weather'" in " ".join(out.output.split())
    # a folder that is neither a model nor a finetune output
    with pytest.raises(WeamError, match="neither a model folder"):
        expand_model_folders([str(tmp_path)])
    assert not results.exists()
    assert "Traceback" not in out.output


def test_tatoeba_probe_rows(tiny_ref, shared_data, tmp_path):
    rows = evaluate_retrieval(tiny_ref, "swh", shared_data / "tatoeba", layer=1)
    lines = (shared_data / "tatoeba" / "tatoeba.swh-eng.swh").read_text(encoding="utf-8").splitlines()
    assert [r["direction"] for r in rows] == ["xx->en", "en->xx"]
    for row in rows:
        assert row["task"] == "tatoeba" and row["n"] == len(lines) and row["layer"] == 1
        hits = sum(p == g for p, g in zip(row["predictions"], row["gold"], strict=True))
        assert row["correct"] == hits and row["accuracy"] == hits / len(lines)
    with pytest.raises(WeamError, match="Tatoeba has no Yoruba"):
        evaluate_retrieval(tiny_ref, "yo", shared_data / "tatoeba")
    out = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "tatoeba",
            "-m",
            "tiny",
            "--lang",
            "swh",
            "--layer",
            "9",
            "--data-dir",
            str(shared_data / "tatoeba"),
            "--results",
            str(tmp_path / "t.jsonl"),
        ],
    )
    assert out.exit_code == 2 and "--layer 9 is outside" in out.output and not (tmp_path / "t.jsonl").exists()


def test_weam_json_must_be_valid(tmp_path, constant_model, shared_data):
    broken = _copy_with_meta(constant_model, tmp_path / "broken")
    (broken / "weam.json").write_text(json.dumps({"labels": LABELS})[:-3], encoding="utf-8")
    with pytest.raises(WeamError, match="weam.json:1: invalid JSON"):
        evaluate([str(broken)], with_root(SIB200, shared_data / "sib200/data/annotated"), "de")


def test_bf16_evaluation_is_recorded_and_agrees_with_fp32(tiny_ref, shared_data, tmp_path):
    from weamcli.evaluate.run import _autocast

    folder = tmp_path / "seed-3"
    folder.mkdir()
    model = PooledClassifier(load_model(tiny_ref), len(LABELS))
    torch.manual_seed(3)
    torch.nn.init.normal_(model.head.weight, std=1.0)  # predictions that depend on the input
    meta = {"task": "sib200", "labels": LABELS, "pooling": "mean", "finetune_seed": 3, "label": "r"}
    model.save(folder, shared_tokenizer(tiny_ref), meta)
    seen: list[torch.dtype] = []
    model.head.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    with _autocast(True):
        predict_logits(model, shared_tokenizer(tiny_ref), ["Guten Morgen.", "Habari."])
    assert seen == [torch.bfloat16]  # the context really autocasts the model's matmuls

    preds = {}
    for flag in ("--bf16", "--no-bf16"):
        results = tmp_path / f"{flag}.jsonl"
        args = ["evaluate", "--task", "sib200", "--model", str(folder), "--lang", "de", "--results",
                str(results), "--data-dir", str(shared_data / "sib200/data/annotated"), flag]  # fmt: skip
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        (row,) = read_records(results)
        preds[flag] = row["predictions"]
        record = read_records(tmp_path / "run.jsonl")[-1]
        assert record["config"]["bf16"] is (flag == "--bf16")
        assert record["config"]["bf16_reason"] == "given (--bf16/--no-bf16)"
    assert len(set(preds["--no-bf16"])) > 1  # not a constant answer: agreement means something
    agree = np.mean([a == b for a, b in zip(preds["--bf16"], preds["--no-bf16"], strict=True)])
    assert agree >= 0.9, agree


def test_evaluate_chooses_its_precision_by_timing_inference(
    constant_model, shared_data, tmp_path, monkeypatch
):
    """Without --bf16/--no-bf16, on a CPU with bf16 instructions, evaluate's precision comes from
    timing inference at its batch size (not a training step), is said and recorded with its reason,
    and is measured once."""
    import weamcli.common.precision as precision

    monkeypatch.setenv("WEAM_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ["avx512_bf16"])
    timed = []

    def fake_calibrate(config, *, kind="training", batch_size, **_kw):
        timed.append((kind, batch_size, config.num_hidden_layers))
        return 100.0, 50.0  # bf16 twice as slow: fp32

    monkeypatch.setattr(precision, "calibrate", fake_calibrate)
    data = str(shared_data / "sib200/data/annotated")
    args = ["evaluate", "--task", "sib200", "-m", str(constant_model), "--lang", "de", "--batch-size", "8",
            "--results", str(tmp_path / "r.jsonl"), "--data-dir", data]  # fmt: skip
    for run in range(2):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        assert "inference measured" in " ".join(out.output.split())
        config = read_records(tmp_path / "run.jsonl")[-1]["config"]
        assert config["bf16"] is False
        assert config["bf16_reason"].startswith("inference measured on a 1-layer stand-in: bf16 2.00x slower")
        assert ("cached" in config["bf16_reason"]) is (run == 1)
    assert timed == [("inference", 8, 2)]  # once, a forward pass of the 2-layer model at batch 8
