"""Bitext retrieval (the Tatoeba probe): how well a model's languages line up, no fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import WeamError


@dataclass(frozen=True)
class RetrievalResult:
    lang: str
    direction: str  # "xx->en" or "en->xx"
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


def nearest_neighbour_hits(queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Boolean per query: is its cosine nearest neighbour among ``targets`` the same row index?"""
    if queries.shape[0] != targets.shape[0]:
        raise ValueError("queries and targets must be aligned row by row")
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(min=1e-12)
    t = targets / np.linalg.norm(targets, axis=1, keepdims=True).clip(min=1e-12)
    best = (q @ t.T).argmax(axis=1)
    return best == np.arange(q.shape[0])


def read_tatoeba_pair(folder: str | Path, lang: str) -> tuple[list[str], list[str]]:
    """Line-aligned sentences ``(xx, eng)`` from ``tatoeba.<lang>-eng.{<lang>,eng}``."""
    folder = Path(folder)
    src = folder / f"tatoeba.{lang}-eng.{lang}"
    eng = folder / f"tatoeba.{lang}-eng.eng"
    if not src.is_file() or not eng.is_file():
        raise WeamError(f"no Tatoeba data for language '{lang}' (expected {src.name} and {eng.name})", folder)
    xs = src.read_text(encoding="utf-8").splitlines()
    es = eng.read_text(encoding="utf-8").splitlines()
    if len(xs) != len(es):
        raise WeamError(f"{len(xs)} lines but {eng.name} has {len(es)}", src)
    return xs, es


def tatoeba_languages(folder: str | Path) -> list[str]:
    return sorted(p.name.split(".")[1].split("-")[0] for p in Path(folder).glob("tatoeba.*-eng.eng"))


def retrieval_accuracy(
    model, tokenizer, xx: list[str], en: list[str], lang: str, *, layer: int = -1, prefix: str = "",
    batch_size: int = 64,
) -> list[RetrievalResult]:
    """x→en and en→x nearest-neighbour accuracy over aligned sentence lists."""
    from .encoding import encode_sentences

    vx = encode_sentences(model, tokenizer, xx, layer=layer, prefix=prefix, batch_size=batch_size)
    ve = encode_sentences(model, tokenizer, en, layer=layer, prefix=prefix, batch_size=batch_size)
    fwd = nearest_neighbour_hits(vx, ve)
    bwd = nearest_neighbour_hits(ve, vx)
    n = len(xx)
    return [
        RetrievalResult(lang, f"{lang}->eng", int(fwd.sum()), n),
        RetrievalResult(lang, f"eng->{lang}", int(bwd.sum()), n),
    ]
