"""Bitext retrieval (the Tatoeba probe): how well a model's languages line up, no fine-tuning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef
from weamcli.common.progress import Progress, quiet


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
    model,
    tokenizer,
    xx: list[str],
    en: list[str],
    lang: str,
    *,
    layer: int = -1,
    prefix: str = "",
    batch_size: int = 64,
) -> list[RetrievalResult]:
    """x→en and en→x nearest-neighbour accuracy over aligned sentence lists."""
    from weamcli.common.sentence_vectors import encode_sentences

    vx = encode_sentences(model, tokenizer, xx, layer=layer, prefix=prefix, batch_size=batch_size)
    ve = encode_sentences(model, tokenizer, en, layer=layer, prefix=prefix, batch_size=batch_size)
    fwd = nearest_neighbour_hits(vx, ve)
    bwd = nearest_neighbour_hits(ve, vx)
    n = len(xx)
    return [
        RetrievalResult(lang, f"{lang}->eng", int(fwd.sum()), n),
        RetrievalResult(lang, f"eng->{lang}", int(bwd.sum()), n),
    ]


def nearest_neighbours(queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Row index of each query's cosine nearest neighbour among ``targets``."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True).clip(min=1e-12)
    t = targets / np.linalg.norm(targets, axis=1, keepdims=True).clip(min=1e-12)
    return (q @ t.T).argmax(axis=1)


def resolve_tatoeba_languages(folder: str | Path, langs: Sequence[str] | str) -> list[str]:
    """Tatoeba file codes for ``langs`` (any code form, or "all": every language in ``folder``)."""
    from weamcli.common.languages import language

    folder = Path(folder)
    if not folder.is_dir():
        raise WeamError("Tatoeba folder not found (pass --data-dir)", folder)
    if isinstance(langs, str):
        if langs.strip().lower() == "all":
            return tatoeba_languages(folder)
        langs = [c for c in langs.split(",") if c.strip()]
    codes: list[str] = []
    for raw in langs:
        code = raw.strip()
        if not (folder / f"tatoeba.{code}-eng.eng").is_file():
            known = language(code)  # unknown codes: one-line error
            if known.tatoeba is None:
                raise WeamError(f"Tatoeba has no {known.name} ('{code}')", folder)
            code = known.tatoeba
        if code == "eng":
            raise WeamError("Tatoeba pairs other languages with English; 'eng' is not a target", folder)
        codes.append(code)
    if not codes:
        raise WeamError("no language given")
    return list(dict.fromkeys(codes))


def evaluate_retrieval(
    model: ModelRef | str,
    langs: Sequence[str] | str,
    data_dir: str | Path,
    *,
    layer: int = -1,
    num_layers: int | None = None,
    name: str | None = None,
    batch_size: int = 64,
    max_length: int = 128,
    progress: Progress | None = None,
    done: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The Tatoeba probe: x→en and en→x nearest-neighbour accuracy per language, as result rows
    (task "tatoeba", with "direction" and "layer"; predictions are the retrieved line indices).
    ``done``: rows are also appended there as each language finishes (kept when interrupted)."""
    from weamcli.common.embedding_rows import rows_on_demand
    from weamcli.common.models import load_model, parameter_count, resolve_model
    from weamcli.common.result_rows import make_row, model_facts
    from weamcli.common.sentence_vectors import encode_sentences, inference_device
    from weamcli.finetune.classifier import shared_tokenizer

    say = progress or quiet
    ref = resolve_model(model, num_layers=num_layers) if isinstance(model, str) else model
    codes = resolve_tatoeba_languages(data_dir, langs)
    pairs = {code: read_tatoeba_pair(data_dir, code) for code in codes}  # all read before the model runs
    encoder, tokenizer = load_model(ref).to(inference_device()), shared_tokenizer(ref)
    total = encoder.config.num_hidden_layers
    if not -total - 1 <= layer <= total:
        raise WeamError(f"--layer {layer} is outside the model's hidden states 0..{total}", ref.path)
    meta = ref.metadata()
    facts = model_facts(ref, meta, params=parameter_count(encoder), num_layers=total, name=name)
    rows_on_demand(encoder, ref)  # after counting the parameters: the rows read stay few
    rows: list[dict[str, Any]] = []
    stage = f"tatoeba {facts['model']}: languages"
    say(stage, 0, len(codes))
    for index, code in enumerate(codes, 1):
        xx, en = pairs[code]
        kw = {"layer": layer, "prefix": ref.text_prefix, "batch_size": batch_size, "max_length": max_length}
        vx = encode_sentences(encoder, tokenizer, xx, **kw)
        ve = encode_sentences(encoder, tokenizer, en, **kw)
        gold = list(range(len(xx)))
        both = (("xx->en", nearest_neighbours(vx, ve)), ("en->xx", nearest_neighbours(ve, vx)))
        for direction, found in both:
            row = make_row(
                "tatoeba",
                "test",
                code,
                facts,
                ids=gold,
                predictions=[int(i) for i in found],
                gold=gold,
                direction=direction,
                layer=layer,
            )
            rows.append(row)
        if done is not None:
            done.extend(rows[-2:])
        say(f"tatoeba {code}: {rows[-2]['accuracy']:.3f} x→en, {rows[-1]['accuracy']:.3f} en→x")
        say(stage, index, len(codes))
    return rows
