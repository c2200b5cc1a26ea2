"""Result rows in `weam evaluate`'s format, built from known per-example correctness, for the
comparison and plot tests."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")
RESOURCE = {
    "en": "high",
    "de": "high",
    "es": "high",
    "zh": "high",
    "ru": "high",
    "hi": "high",
    "sw": "low",
    "yo": "low",
    "quy": "low",
    "ha": "low",
}
FLORES = {
    "en": "eng_Latn",
    "de": "deu_Latn",
    "es": "spa_Latn",
    "zh": "zho_Hans",
    "ru": "rus_Cyrl",
    "hi": "hin_Deva",
    "sw": "swh_Latn",
    "yo": "yor_Latn",
    "quy": "quy_Latn",
    "ha": "hau_Latn",
}


def make_row(
    model: str,
    lang: str,
    correct: list[bool] | np.ndarray,
    *,
    method: str = "baseline",
    seed: int = 13,
    task: str = "sib200",
    ids: list | None = None,
    num_layers: int = 12,
    params: int = 117_653_760,
    pretrain_langs: list[str] | None = None,
    base_model: str = "e5-small",
    **extra,
) -> dict:
    """One results row whose predictions are right exactly where ``correct`` is True."""
    correct = [bool(c) for c in correct]
    ids = list(ids) if ids is not None else list(range(len(correct)))
    gold = [LABELS[i % len(LABELS)] for i in range(len(correct))]
    preds = [
        g if ok else LABELS[(LABELS.index(g) + 1) % len(LABELS)] for g, ok in zip(gold, correct, strict=True)
    ]
    row = {
        "task": task,
        "split": "test",
        "lang": FLORES.get(lang, lang),
        "lang_code": lang,
        "resource": RESOURCE.get(lang, "low"),
        "model": model,
        "method": method,
        "base_model": base_model,
        "num_layers": num_layers,
        "params": params,
        "pretrain_langs": pretrain_langs or [],
        "seed": seed,
        "n": len(correct),
        "correct": sum(correct),
        "accuracy": sum(correct) / len(correct),
        "ids": ids,
        "predictions": preds,
        "gold": gold,
        "model_path": f"runs/{model}/seed{seed}",
        "selection": "best-dev",
    }
    row.update(extra)
    return row


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# A study-like grid: baseline, TLM and WEAM at 12 and 6 layers, WEAM on 1 and 3 languages, 2 seeds.
# Accuracy comes from a logistic model of example difficulty, so pairing matters as it does in reality.
_LANG_SKILL = {
    "en": 2.6,
    "de": 2.1,
    "es": 2.1,
    "zh": 2.0,
    "ru": 2.1,
    "hi": 1.9,
    "sw": 1.3,
    "yo": 0.6,
    "quy": 0.5,
}
_PARAMS = {12: 117_653_760, 6: 96_355_584}


def study_rows(
    n: int = 204, seeds: tuple[int, ...] = (13, 42), drop: tuple[str, str] | None = None
) -> list[dict]:
    """Rows for a realistic grid; ``drop`` = (model, lang) leaves that cell out, like a failed run."""
    rng = np.random.default_rng(7)
    difficulty = {lang: rng.normal(0, 1.5, n) for lang in _LANG_SKILL}
    models = []
    for layers in (12, 6):
        suffix = "" if layers == 12 else f"-L{layers}"
        depth = 0.0 if layers == 12 else -0.35
        models.append((f"e5-small{suffix}", "baseline", [], depth, layers))
        models.append((f"e5-small+tlm{suffix}", "tlm", ["de", "zh", "sw"], depth + 0.08, layers))
        models.append((f"e5-small+weam{suffix}", "weam", ["de", "zh", "sw"], depth + 0.25, layers))
    models.append(("e5-small+weam-de", "weam", ["de"], 0.12, 12))
    rows = []
    for model, method, langs, gain, layers in models:
        for seed in seeds:
            seed_noise = np.random.default_rng([seed, len(model)]).normal(0, 0.08)
            for lang, skill in _LANG_SKILL.items():
                if drop == (model, lang):
                    continue
                boost = gain * (1.6 if lang in langs else 1.0) if lang != "en" else gain * 0.2
                logit = skill + boost + seed_noise - difficulty[lang]
                p = 1 / (1 + np.exp(-logit))
                correct = np.random.default_rng([seed, zlib.crc32(model.encode()), len(lang)]).random(n) < p
                rows.append(
                    make_row(
                        model,
                        lang,
                        correct,
                        method=method,
                        seed=seed,
                        num_layers=layers,
                        params=_PARAMS[layers],
                        pretrain_langs=langs,
                    )
                )
    return rows
