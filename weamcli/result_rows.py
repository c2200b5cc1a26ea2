"""The result row schema shared by `weam evaluate` (writer) and `weam compare` (reader).

One JSON line per model × task × language × seed (× direction for retrieval). The model's facts
come from its weam.json so rows of a baseline and of a pre-trained model line up by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .registry import ModelRef
from .tasks import known_language

# the keys `weam compare` relies on; retrieval rows add "direction" and "layer"
ROW_KEYS = (
    "task",
    "split",
    "lang",
    "lang_code",
    "resource",
    "model",
    "method",
    "base_model",
    "num_layers",
    "params",
    "pretrain_langs",
    "seed",
    "n",
    "correct",
    "accuracy",
    "ids",
    "predictions",
    "gold",
    "model_path",
    "selection",
)


def model_facts(
    ref: ModelRef, meta: dict[str, Any], *, params: int, num_layers: int, name: str | None = None
) -> dict[str, Any]:
    """The model columns of a row: label, method, base model, size, pre-training languages, seed."""
    from .finetuning import model_label

    return {
        "model": name or model_label(ref, meta, num_layers),
        "method": meta.get("method", "baseline"),
        "base_model": str(meta.get("base_model") or meta.get("preset") or ref.label.split("-L")[0]),
        "num_layers": num_layers,
        "params": params,
        "pretrain_langs": list(meta.get("pretrain_langs", [])),
        "seed": meta.get("finetune_seed"),
        "model_path": ref.path,
        "selection": meta.get("selection"),
    }


def language_facts(file_code: str) -> dict[str, str]:
    """lang (the data set's code), lang_code (weam's short code) and resource class of a language."""
    lang = known_language(file_code)
    if lang is None:
        # outside weam's table (SIB-200's long tail): the table holds the high-resource languages, so
        # the rest count as low
        return {"lang": file_code, "lang_code": file_code.split("_")[0], "resource": "low"}
    return {"lang": file_code, "lang_code": lang.code, "resource": lang.resource}


def accuracy_counts(predictions: Sequence[Any], gold: Sequence[Any]) -> tuple[int, int, float]:
    """(n, correct, accuracy) of aligned predictions and gold labels."""
    if len(predictions) != len(gold):
        raise ValueError("predictions and gold must have the same length")
    correct = sum(1 for p, g in zip(predictions, gold, strict=True) if p == g)
    return len(gold), correct, correct / len(gold) if gold else float("nan")


def make_row(
    task: str,
    split: str,
    file_code: str,
    facts: dict[str, Any],
    *,
    ids: list[Any],
    predictions: list[Any],
    gold: list[Any],
    **extra: Any,
) -> dict[str, Any]:
    """A row in the ROW_KEYS order; counts and accuracy are computed here, from the predictions."""
    if len(ids) != len(gold):
        raise ValueError("ids and gold must have the same length")
    n, correct, accuracy = accuracy_counts(predictions, gold)
    row: dict[str, Any] = {"task": task, "split": split, **language_facts(file_code)}
    row.update(
        {
            k: facts[k]
            for k in ("model", "method", "base_model", "num_layers", "params", "pretrain_langs", "seed")
        }
    )
    row.update(
        n=n,
        correct=correct,
        accuracy=accuracy,
        ids=list(ids),
        predictions=list(predictions),
        gold=list(gold),
        model_path=facts["model_path"],
        selection=facts["selection"],
    )
    row.update(extra)
    return row
