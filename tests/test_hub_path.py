"""The Hugging Face hub path, offline: a model given by its hub name and a task read from the hub
(`--model org/name`, `--task xnli`), both served from a local cache with HF_HUB_OFFLINE=1.

The cache is built here in the layouts the libraries read: the hub's
``hub/models--org--name/{blobs,snapshots/<rev>,refs/main}`` (files as content-addressed blobs
linked from the snapshot) holding the `tiny` model, and the ``datasets`` cache
``datasets/<name>/<config>/<version>/<hash>/`` written by datasets' own Parquet builder from small
XNLI-shaped parquet files (premise, hypothesis, a ClassLabel label; train/validation/test per
language), which is what `load_dataset("xnli", "de")` finds offline after an online run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

REPO_ID = "weam-test/tiny-bert"
REVISION = "0123456789abcdef0123456789abcdef01234567"
WORDS = {
    "en": "the a man woman child walks sleeps eats house garden city big small".split(),
    "de": "der ein mann frau kind geht schläft isst haus garten stadt groß klein".split(),
}


def build_model_cache(home: Path, model_dir: Path) -> Path:
    repo = home / "hub" / f"models--{REPO_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        data = (model_dir / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def build_dataset_cache(home: Path, name: str, work: Path) -> dict[str, int]:
    """XNLI's hub layout (a config per language) in the datasets cache; returns rows per split."""
    import datasets
    from datasets.packaged_modules.parquet.parquet import Parquet

    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    sizes = {"train": 12, "validation": 6, "test": 6}
    rng = random.Random(0)
    for lang, words in WORDS.items():
        files = {}
        for split, n in sizes.items():
            rows = {"premise": [], "hypothesis": [], "label": []}
            for i in range(n):
                premise = [rng.choice(words) for _ in range(6)]
                rows["premise"].append(" ".join(premise))
                rows["hypothesis"].append(" ".join(premise[: 3 + i % 3]))
                rows["label"].append(i % 3)
            path = work / lang / f"{split}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_dict(rows, features=features).to_parquet(str(path))
            files[split] = [str(path)]
        builder = Parquet(
            cache_dir=str(home / "datasets"),
            dataset_name=name,
            config_name=lang,
            config_id=lang,
            hash="0123456789abcdef",
            data_files=files,
            features=features,
        )
        builder.download_and_prepare()
    return sizes


def test_hub_model_and_hub_task_from_the_offline_cache(tmp_path, tiny_ref):
    from weamcli.common.tasks import get_task

    xnli = get_task("xnli")
    assert xnli.hub_name
    home = tmp_path / "hf"
    build_model_cache(home, Path(tiny_ref.path))
    sizes = build_dataset_cache(home, xnli.hub_name, tmp_path / "parquet")
    env = {
        **os.environ,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("HF_HUB_CACHE", None)
    env.pop("HF_DATASETS_CACHE", None)
    out = tmp_path / "xnli-hub"
    weam = [sys.executable, "-m", "weamcli"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*weam, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    finetune = run(
        "finetune", "--task", "xnli", "-m", REPO_ID, "-o", str(out), "--epochs", "1", "--batch-size", "4"
    )
    assert finetune.returncode == 0, finetune.stderr[-3000:]
    meta = json.loads((out / "seed-13" / "weam.json").read_text(encoding="utf-8"))
    assert meta["task"] == "xnli" and meta["labels"] == ["entailment", "neutral", "contradiction"]
    record = json.loads((out / "run.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert record["config"]["model_path"] == REPO_ID  # resolved as a hub name, not a folder
    assert record["config"]["n_train"] == sizes["train"] and record["config"]["n_dev"] == sizes["validation"]
    assert record["config"]["train_file"] == f"hub:{xnli.hub_name}/en"

    evaluate = run("evaluate", "--task", "xnli", "-m", str(out), "--lang", "de")
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["task"], r["lang"], r["n"]) for r in rows] == [("xnli", "de", sizes["test"])]

    # the same offline run without the data set in the cache: one line saying so
    (home / "datasets" / xnli.hub_name / "de").rename(tmp_path / "moved")
    missing = run("evaluate", "--task", "xnli", "-m", str(out), "--lang", "de", "--results", "r2.jsonl")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "not in the local cache" in missing.stderr


def test_a_hub_model_missing_from_the_offline_cache_is_one_line(tmp_path):
    home = tmp_path / "hf"
    home.mkdir()
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    cmd = [
        sys.executable,
        "-m",
        "weamcli",
        "finetune",
        "--task",
        "xnli",
        "-m",
        REPO_ID,
        "-o",
        str(tmp_path / "o"),
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"model '{REPO_ID}' is not a preset" in proc.stderr and "huggingface-cli download" in proc.stderr


@pytest.mark.parametrize("name", ["config.json"])
def test_the_model_cache_layout_is_what_huggingface_hub_reads(tmp_path, tiny_ref, name):
    """try_to_load_from_cache (what weam asks offline) finds the snapshot built above."""
    from huggingface_hub import try_to_load_from_cache

    snapshot = build_model_cache(tmp_path, Path(tiny_ref.path))
    found = try_to_load_from_cache(REPO_ID, name, cache_dir=str(tmp_path / "hub"))
    assert found == str(snapshot / name)
