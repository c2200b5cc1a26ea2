"""Fine-tuning: a tiny model learns a real SIB-200 slice; seeds, outputs, carried metadata, bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.models import resolve_model
from weamcli.common.run_records import read_records
from weamcli.common.task_splits import load_split
from weamcli.finetune.classifier import load_classifier, predict
from weamcli.finetune.run import finetune
from weamcli.finetune.settings import FinetuneSettings

runner = CliRunner()


@pytest.fixture(scope="module")
def sports_health(shared_data, tmp_path_factory):
    """SIB-200 English restricted to two balanced labels (sports 85 / health 77 train): an easy task a
    random-init 2-layer model can learn in seconds. Dev: 12 / 11, test: 25 / 22."""
    folder = tmp_path_factory.mktemp("sports_health")
    src = shared_data / "sib200" / "data" / "annotated" / "eng_Latn"
    for split in ("train", "dev", "test"):
        lines = (src / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if ln.split("\t")[1] in ("sports", "health")]
        (folder / f"{split}.tsv").write_text("\n".join(keep) + "\n", encoding="utf-8")
    return folder


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_tiny_model_learns_sports_vs_health(sports_health, tmp_path, tiny_ref):
    settings = FinetuneSettings(
        task="custom",
        train=str(sports_health / "train.tsv"),
        dev=str(sports_health / "dev.tsv"),
        text_column="text",
        label_column="category",
        id_column="index_id",
        model="tiny",
        out=str(tmp_path / "out"),
        seeds=[7],
        lr=3e-3,
        head_lr=3e-3,
        batch_size=32,
        max_length=64,
        epochs=5,
        bf16=False,  # fp32 throughout, so the saved model re-scores dev exactly as selection did
    )
    result = finetune(settings, model=tiny_ref)
    run = result.runs[0]
    # majority class on this dev set is 12/23 = 0.52; the model must beat it by 0.2
    assert run.dev_accuracy >= 0.72, run.dev_history
    assert run.dev_history[0] < run.dev_accuracy  # it learned during training, not by luck at init
    assert (
        run.dev_accuracy == max(run.dev_history)
        and run.selected_epoch == run.dev_history.index(run.dev_accuracy) + 1
    )  # best-dev picks the best English dev epoch
    meta = json.loads((tmp_path / "out" / "seed-7" / "weam.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["health", "sports"] and meta["selection"] == "best-dev"
    assert meta["finetune_seed"] == 7 and meta["task"] == "custom" and meta["method"] == "baseline"
    assert (meta["kind"], meta["dev_metric"]) == ("classification", "accuracy")
    assert meta["dev_score"] == meta["dev_accuracy"] == run.dev_accuracy  # the old key stays readable
    # the saved folder holds the selected epoch's weights: it scores English dev as selection saw it
    split = load_split(settings.task_spec(), "en", "dev")
    model, tokenizer, _ = load_classifier(resolve_model(str(tmp_path / "out" / "seed-7")))
    gold = [meta["labels"].index(label) for label in split.labels]
    predicted = predict(model, tokenizer, split.texts, split.pairs, max_length=64)
    assert sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold) == run.dev_accuracy


@pytest.fixture()
def pretrained_folder(tmp_path, tiny_ref):
    """Stands in for a `weam pretrain` output: an AutoModelForMaskedLM save with weam.json facts."""
    folder = tmp_path / "pre"
    shutil.copytree(tiny_ref.path, folder, ignore=shutil.ignore_patterns("weam-build.json"))
    (folder / "weam.json").write_text(
        json.dumps(
            {"text_prefix": "", "method": "weam", "base_model": "tiny", "pretrain_langs": ["de", "sw"]}
        ),
        encoding="utf-8",
    )
    return folder


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_cli_finetune_seeds_metadata_and_resume(pretrained_folder, sports_health, tmp_path):
    out = tmp_path / "ft"
    args = [
        "finetune",
        "--task",
        "custom",
        "--train",
        str(sports_health / "train.tsv"),
        "--dev",
        str(sports_health / "dev.tsv"),
        "--text-column",
        "text",
        "--label-column",
        "category",
        "-m",
        str(pretrained_folder),
        "-o",
        str(out),
        "--seeds",
        "3,4",
        "--epochs",
        "1",
        "--max-train-examples",
        "32",
        "--num-layers",
        "1",
        "--select",
        "last",
        "--freeze-embeddings",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for seed in (3, 4):
        folder = out / f"seed-{seed}"
        assert {
            "config.json",
            "model.safetensors",
            "classifier.safetensors",
            "tokenizer.json",
            "weam.json",
            "run.jsonl",
        } <= {p.name for p in folder.iterdir()}
        meta = json.loads((folder / "weam.json").read_text(encoding="utf-8"))
        assert (meta["method"], meta["pretrain_langs"], meta["base_model"]) == ("weam", ["de", "sw"], "tiny")
        assert (meta["num_layers"], meta["label"], meta["finetune_seed"]) == (1, "tiny+weam-L1", seed)
        assert meta["selection"] == "last" and meta["finetune_config"]["freeze_embeddings"] is True
        assert meta["params"] > 0 and meta["pooling"] == "mean"
        assert read_records(folder / "run.jsonl")[0]["seed"] == seed
    assert [r["seed"] for r in read_records(out / "run.jsonl")] == [3, 4]
    # a folder written before every family shared one loop (no kind, dev_metric, dev_score) is still
    # recognised, kept and evaluated
    old = out / "seed-3" / "weam.json"
    meta = json.loads(old.read_text(encoding="utf-8"))
    old.write_text(
        json.dumps({k: v for k, v in meta.items() if k not in ("kind", "dev_metric", "dev_score")}),
        encoding="utf-8",
    )
    # the same command again keeps the finished seeds
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and again.output.count("kept from an earlier run") == 2
    assert f"English dev accuracy {meta['dev_accuracy']:.3f} (kept" in again.output
    # another configuration into the same folder is refused, and leaves it as it was
    changed = runner.invoke(app, [*args, "--lr", "1e-4"])
    assert changed.exit_code == 2 and "--overwrite" in changed.output
    assert len(read_records(out / "run.jsonl")) == 2
    # evaluate takes the finetune output as a whole: one row per seed, label from weam.json
    results = tmp_path / "r.jsonl"
    ev = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "custom",
            "-m",
            str(out),
            "--test",
            str(sports_health / "test.tsv"),
            "--text-column",
            "text",
            "--label-column",
            "category",
            "--results",
            str(results),
        ],
    )
    assert ev.exit_code == 0, ev.output
    rows = read_records(results)
    assert [(r["seed"], r["model"], r["n"]) for r in rows] == [
        (3, "tiny+weam-L1", 47),
        (4, "tiny+weam-L1", 47),
    ]


def test_bad_inputs_write_nothing(sports_health, tmp_path, tiny_ref):
    out = tmp_path / "never"
    (tmp_path / "sib" / "eng_Latn").mkdir(parents=True)
    base = ["finetune", "-m", "tiny", "-o", str(out)]
    cases = [
        (["--task", "sib200", "--select", "best-test"], "--select must be one of"),
        (["--task", "sib200", "--pooling", "max"], "--pooling must be one of"),
        (["--task", "sib200", "--seeds", "1,x"], "--seeds must be integers"),
        (["--task", "nope"], "'nope' is not a built-in task"),
        (
            [
                "--task",
                "custom",
                "--train",
                str(sports_health / "train.tsv"),
                "--text-column",
                "text",
                "--label-column",
                "category",
            ],
            "--train and --dev (English) are needed",
        ),
        (
            [
                "--task",
                "custom",
                "--train",
                str(sports_health / "train.tsv"),
                "--dev",
                str(sports_health / "dev.tsv"),
                "--text-column",
                "sentence",
                "--label-column",
                "category",
            ],
            "missing column(s) sentence",
        ),
        (["--task", "sib200", "--data-dir", str(tmp_path / "nowhere")], "data folder not found"),
        (
            ["--task", "sib200", "--data-dir", str(tmp_path / "sib")],
            "has no train data for language 'eng_Latn'",
        ),
        (["--task", "xnli"], "hub data set 'xnli'"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert message in " ".join(result.output.split()), (extra, result.output)
        assert "Traceback" not in result.output
    assert not out.exists()
    # dev labels the training split never saw
    dev = tmp_path / "dev.tsv"
    dev.write_text("index_id\tcategory\ttext\n1\tweather\tIt rains.\n", encoding="utf-8")
    settings = FinetuneSettings(
        task="custom",
        train=str(sports_health / "train.tsv"),
        dev=str(dev),
        text_column="text",
        label_column="category",
        model="tiny",
        out=str(out),
    )
    with pytest.raises(WeamError, match="do not occur in the training split"):
        finetune(settings, model=resolve_model("tiny"))
    assert not out.exists()
