"""The result row schema shared by `weam evaluate` (writer, ``make_row``) and `weam compare`
(reader, ``row_from_json`` → ``ResultRow``).

One JSON line per model × task × language × seed (× direction for retrieval). The model's facts
come from its weam.json so rows of a baseline and of a pre-trained model line up by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef, model_label
from weamcli.common.tasks import known_language

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


# ----------------------------------------------------------------------------- reading rows back


REQUIRED_KEYS = (
    "task",
    "lang",
    "model",
    "method",
    "seed",
    "ids",
    "predictions",
    "gold",
)


@dataclass
class ResultRow:
    """One evaluated (model, task, language, seed), as `weam evaluate` wrote it."""

    task: str
    split: str
    lang: str  # row label: the language's short code, plus the direction for retrieval rows
    lang_code: str
    resource: str
    model: str
    method: str
    base_model: str | None
    num_layers: int | None
    params: int | None
    pretrain_langs: tuple[str, ...]
    seed: int | None  # None: a model evaluated without fine-tuning (e.g. the retrieval probe)
    correct: dict[str, bool]  # example id -> prediction == gold
    where: str  # "file:line", for error messages


def row_from_json(obj: Any, path: Path, line: int) -> ResultRow:
    if not isinstance(obj, dict):
        raise WeamError("a result row must be a JSON object", path, line)
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise WeamError(f"result row lacks key(s) {', '.join(missing)}", path, line)
    ids, preds, gold = obj["ids"], obj["predictions"], obj["gold"]
    if not (isinstance(ids, list) and isinstance(preds, list) and isinstance(gold, list)):
        raise WeamError("'ids', 'predictions' and 'gold' must be lists", path, line)
    if not (len(ids) == len(preds) == len(gold)) or not ids:
        raise WeamError(
            f"'ids', 'predictions' and 'gold' must be non-empty and of one length "
            f"(got {len(ids)}, {len(preds)}, {len(gold)})",
            path,
            line,
        )
    correct = {str(i): p == g for i, p, g in zip(ids, preds, gold, strict=True)}
    if len(correct) != len(ids):
        raise WeamError("'ids' holds duplicate example ids", path, line)
    if "correct" in obj and obj["correct"] != sum(correct.values()):
        raise WeamError(
            f"'correct' is {obj['correct']} but predictions match gold on {sum(correct.values())}",
            path,
            line,
        )
    lang_code = str(obj.get("lang_code") or obj["lang"])
    label = lang_code if not obj.get("direction") else f"{lang_code} {obj['direction']}"
    seed = obj["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WeamError(f"'seed' must be an integer or null, got {seed!r}", path, line)
    return ResultRow(
        task=str(obj["task"]),
        split=str(obj.get("split") or "test"),
        lang=label,
        lang_code=lang_code,
        resource=str(obj.get("resource") or "unknown"),
        model=str(obj["model"]),
        method=str(obj["method"]),
        base_model=obj.get("base_model"),
        num_layers=obj.get("num_layers"),
        params=obj.get("params"),
        pretrain_langs=tuple(obj.get("pretrain_langs") or ()),
        seed=seed,
        correct=correct,
        where=f"{path}:{line}",
    )
