"""Shared fixtures: offline mode, the real data folder (skipped when absent), built models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need real data skip cleanly on a user's fresh clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it exists only beside the project's CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def xnli_dir() -> Path:
    """An XNLI-1.0 folder (``XNLI-1.0/xnli.{dev,test}.tsv``): ``$WEAM_XNLI_DIR``, ``../shared/data/xnli``
    or ``../data/xnli`` beside the project (the README says where a copy comes from); else skip."""
    candidates = [
        os.environ.get("WEAM_XNLI_DIR"),
        SHARED_DATA / "xnli",
        SHARED_DATA.parent.parent / "data" / "xnli",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "XNLI-1.0" / "xnli.test.tsv").is_file():
            return Path(candidate)
    pytest.skip("no XNLI-1.0 copy ($WEAM_XNLI_DIR, ../shared/data/xnli or ../data/xnli)")


@pytest.fixture(scope="session")
def tiny_ref():
    from weamcli.common.models import resolve_model

    return resolve_model("tiny")


@pytest.fixture(scope="session")
def e5_ref():
    from weamcli.common.models import resolve_model

    return resolve_model("e5-small")


@pytest.fixture()
def small_task(tmp_path):
    """A two-label English task small enough to fine-tune `tiny` on in a second or two."""
    words = {"sports": ["ball", "goal", "team", "match"], "health": ["doctor", "fever", "clinic", "pill"]}
    rows = {"train": [], "dev": []}
    for label, vocab in words.items():
        for i in range(8):
            rows["train"].append(f"the {vocab[i % 4]} and the {vocab[(i + 1) % 4]} {i}\t{label}")
        for i in range(4):
            rows["dev"].append(f"a {vocab[i]} today\t{label}")
    for split, lines in rows.items():
        (tmp_path / f"{split}.tsv").write_text("text\tlabel\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path
