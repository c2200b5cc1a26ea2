"""The result row schema shared by `weam evaluate` (writers ``make_row``, ``make_tagging_row``,
``make_qa_row``) and `weam compare` (reader, ``row_from_json`` → ``ResultRow``).

One JSON line per model × task × language × seed (× direction for retrieval). The model's facts
come from its weam.json so rows of a baseline and of a pre-trained model line up by key. Every row
says its ``kind``, its ``unit`` (what a bootstrap resamples) and its ``metrics``; the reader turns
it into (numerator, denominator) pairs per unit (``ResultRow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.families import all_families, family
from weamcli.common.models import ModelRef, model_label
from weamcli.common.tasks import known_language

# the model's facts every row repeats (a row of an older weam lacks pretrain_steps)
FACT_KEYS = (
    "model",
    "method",
    "base_model",
    "num_layers",
    "params",
    "pretrain_langs",
    "pretrain_steps",
    "seed",
)
# the keys `weam compare` relies on; retrieval rows add "direction" and "layer"
ROW_KEYS = (
    "task",
    "split",
    "lang",
    "lang_code",
    "resource",
    *FACT_KEYS,
    "n",
    "correct",
    "accuracy",
    "ids",
    "predictions",
    "gold",
    "model_path",
    "selection",
    "kind",
    "unit",
    "metrics",
)
# what a fine-tuned model's row adds about its English fine-tune (absent for probes and older rows):
# the dev metric, the selected score and the whole dev curve, and whether patience stopped it
FINETUNE_KEYS = ("dev_metric", "dev_score", "dev_history", "stopped_early")
# a tagging row adds "words" (n counts sentences, correct and accuracy count words); a QA row has
# "f1" and "exact_match" instead of correct/accuracy, and "unit_scores" (both, per question)
KIND_METRICS = {f.name: f.metrics for f in all_families()}  # common.families
KIND_UNITS = {f.name: f.unit for f in all_families()}


def _fact_columns(facts: dict[str, Any]) -> dict[str, Any]:
    # pretrain_steps may be absent from facts made by hand (tests, other tools): not pre-trained
    return {k: facts.get(k) if k == "pretrain_steps" else facts[k] for k in FACT_KEYS}


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
        "pretrain_steps": meta.get("pretrain_steps"),  # None: not continually pre-trained by weam
        "seed": meta.get("finetune_seed"),
        "model_path": ref.path,
        "selection": meta.get("selection"),
        **_finetune_facts(meta),
    }


def _finetune_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The English fine-tune's dev curve, from weam.json (classification folders of older weams say
    ``dev_accuracy``); empty for a model that was not fine-tuned by weam."""
    if "dev_history" not in meta:
        return {}
    return {
        "dev_metric": meta.get("dev_metric", "accuracy"),
        "dev_score": meta.get("dev_score", meta.get("dev_accuracy")),
        "dev_history": [float(x) for x in meta["dev_history"]],
        "stopped_early": bool(meta.get("stopped_early", False)),
    }


def _finetune_columns(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: facts[k] for k in FINETUNE_KEYS if k in facts}


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
    row.update(_fact_columns(facts))
    row.update(
        n=n,
        correct=correct,
        accuracy=accuracy,
        ids=list(ids),
        predictions=list(predictions),
        gold=list(gold),
        model_path=facts["model_path"],
        selection=facts["selection"],
        **_finetune_columns(facts),
    )
    row.update(kind="classification", unit="example", metrics=["accuracy"])
    row.update(extra)
    return row


def _head(task: str, split: str, file_code: str, facts: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"task": task, "split": split, **language_facts(file_code)}
    row.update(_fact_columns(facts))
    return row


def make_tagging_row(
    task: str,
    split: str,
    file_code: str,
    facts: dict[str, Any],
    *,
    ids: list[Any],
    predictions: list[list[str]],
    gold: list[list[str]],
    **extra: Any,
) -> dict[str, Any]:
    """A word-tagging row: one entry per sentence (the unit), accuracy over words."""
    if not len(ids) == len(predictions) == len(gold):
        raise ValueError("ids, predictions and gold must have the same length")
    words = sum(len(g) for g in gold)
    correct = sum(
        sum(p == t for p, t in zip(ps, gs, strict=True)) for ps, gs in zip(predictions, gold, strict=True)
    )
    row = _head(task, split, file_code, facts)
    row.update(
        n=len(gold),
        correct=correct,
        accuracy=correct / words if words else float("nan"),
        ids=list(ids),
        predictions=[list(p) for p in predictions],
        gold=[list(g) for g in gold],
        model_path=facts["model_path"],
        selection=facts["selection"],
        **_finetune_columns(facts),
        kind="tagging",
        unit="sentence",
        metrics=["accuracy"],
        words=words,
    )
    row.update(extra)
    return row


def make_qa_row(
    task: str,
    split: str,
    file_code: str,
    facts: dict[str, Any],
    *,
    ids: list[Any],
    predictions: list[str],
    gold: list[list[str]],
    f1: list[float],
    exact_match: list[float],
    **extra: Any,
) -> dict[str, Any]:
    """An extractive-QA row: one entry per question, mean F1 and exact match (fractions)."""
    if not len(ids) == len(predictions) == len(gold) == len(f1) == len(exact_match):
        raise ValueError("ids, predictions, gold and scores must have the same length")
    n = len(ids)
    row = _head(task, split, file_code, facts)
    row.update(
        n=n,
        f1=sum(f1) / n if n else float("nan"),
        exact_match=sum(exact_match) / n if n else float("nan"),
        ids=list(ids),
        predictions=list(predictions),
        gold=[list(g) for g in gold],
        model_path=facts["model_path"],
        selection=facts["selection"],
        **_finetune_columns(facts),
        kind="qa",
        unit="question",
        metrics=["f1", "exact_match"],
        unit_scores={"f1": [float(v) for v in f1], "exact_match": [float(v) for v in exact_match]},
    )
    row.update(extra)
    return row


def row_metrics(row: dict[str, Any]) -> list[str]:
    """The metrics a written row carries (rows from before the key: accuracy)."""
    return list(row.get("metrics") or ["accuracy"])


def row_score(row: dict[str, Any], metric: str | None = None) -> float:
    """A row's figure for ``metric`` (default: its first, e.g. accuracy or F1)."""
    return float(row[metric or row_metrics(row)[0]])


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
    """One evaluated (model, task, language, seed), as `weam evaluate` wrote it.

    ``kind``: classification, tagging or qa; ``unit``: the independent thing a bootstrap resamples
    (an example, a sentence, a question). ``scores`` holds (numerator, denominator) per unit and
    metric: an example is (right?, 1), a sentence (words tagged right, words), a question (F1, 1)
    and (exact match, 1). A metric is the ratio of the sums, so word accuracy weighs every word
    alike while the resampled unit stays the sentence."""

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
    # metric -> unit id -> (numerator, denominator); the metric is sum(num) / sum(den)
    scores: dict[str, dict[str, tuple[float, float]]]
    where: str  # "file:line", for error messages
    kind: str = "classification"
    unit: str = "example"
    pretrain_steps: int | None = None  # optimiser steps of continual pre-training (steps axis)
    # the English fine-tune behind the row (None: a probe, or a row of an older weam)
    dev_metric: str | None = None
    dev_score: float | None = None  # the selected epoch's English dev score
    dev_history: tuple[float, ...] | None = None
    stopped_early: bool = False

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.scores)

    def value(self, metric: str) -> float:
        pairs = self.scores[metric].values()
        return sum(n for n, _ in pairs) / sum(d for _, d in pairs)


def row_from_json(obj: Any, path: Path, line: int) -> ResultRow:
    """A results-file line as a ``ResultRow``: every key checked, the per-unit scores read from the
    shape the row's family writes; an inconsistent row is a one-line error naming file and line.
    Rows written before ``kind`` and ``unit`` existed read as classification rows."""
    if not isinstance(obj, dict):
        raise WeamError("a result row must be a JSON object", path, line)
    missing = [key for key in REQUIRED_KEYS if key not in obj]
    if missing:
        raise WeamError(f"result row lacks key(s) {', '.join(missing)}", path, line)
    keys = _unit_ids(obj, path, line)
    kind = str(obj.get("kind") or "classification")
    if kind not in KIND_METRICS:
        raise WeamError(f"unknown row kind '{kind}' (known: {', '.join(KIND_METRICS)})", path, line)
    unit = str(obj.get("unit") or KIND_UNITS[kind])
    if unit != KIND_UNITS[kind]:
        # the bootstrap's unit follows from the kind; another one would resample the wrong thing
        raise WeamError(f"a {kind} row's unit is '{KIND_UNITS[kind]}', not '{unit}'", path, line)
    read_scores = {"label": _label_scores, "tags": _tag_scores}.get(family(kind).row_shape, _unit_scores)
    scores = read_scores(obj, keys, KIND_METRICS[kind], path, line)
    lang_code = str(obj.get("lang_code") or obj["lang"])
    label = lang_code if not obj.get("direction") else f"{lang_code} {obj['direction']}"
    seed = obj["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WeamError(f"'seed' must be an integer or null, got {seed!r}", path, line)
    return ResultRow(
        task=row_task(obj),
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
        pretrain_steps=obj.get("pretrain_steps"),
        seed=seed,
        scores=scores,
        where=f"{path}:{line}",
        kind=kind,
        unit=unit,
        **_dev_curve(obj, path, line),
    )


Scores = dict[str, dict[str, tuple[float, float]]]


def _unit_ids(obj: dict[str, Any], path: Path, line: int) -> list[str]:
    """The row's unit ids as strings, after checking ids, predictions and gold line up."""
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
    keys = [str(i) for i in ids]
    if len(set(keys)) != len(keys):
        raise WeamError("'ids' holds duplicate example ids", path, line)
    return keys


def _label_scores(
    obj: dict[str, Any], keys: list[str], metrics: tuple[str, ...], path: Path, line: int
) -> Scores:
    """One label (or picked choice) per unit: right or wrong."""
    pairs = list(zip(obj["predictions"], obj["gold"], strict=True))
    counted = sum(p == g for p, g in pairs)
    if "correct" in obj and obj["correct"] != counted:
        raise WeamError(f"'correct' is {obj['correct']} but predictions match gold on {counted}", path, line)
    return {"accuracy": {k: (float(p == g), 1.0) for k, (p, g) in zip(keys, pairs, strict=True)}}


def _tag_scores(
    obj: dict[str, Any], keys: list[str], metrics: tuple[str, ...], path: Path, line: int
) -> Scores:
    """One tag per word: the unit (sentence) holds its right words over its words."""
    pairs = {}
    for k, p, g in zip(keys, obj["predictions"], obj["gold"], strict=True):
        if not isinstance(p, list) or not isinstance(g, list) or len(p) != len(g) or not g:
            raise WeamError(
                f"sentence '{k}': predictions and gold must be equal, non-empty tag lists", path, line
            )
        pairs[k] = (float(sum(a == b for a, b in zip(p, g, strict=True))), float(len(g)))
    counted = int(sum(n for n, _ in pairs.values()))
    if "correct" in obj and obj["correct"] != counted:
        raise WeamError(
            f"'correct' is {obj['correct']} but predictions match gold on {counted} words", path, line
        )
    return {"accuracy": pairs}


def _unit_scores(
    obj: dict[str, Any], keys: list[str], metrics: tuple[str, ...], path: Path, line: int
) -> Scores:
    """Scores the row lists per unit (QA's F1 and exact match per question), checked against its means."""
    unit_scores = obj.get("unit_scores")
    if not isinstance(unit_scores, dict):
        raise WeamError("a qa row needs 'unit_scores' (f1 and exact_match per question)", path, line)
    scores: Scores = {}
    for metric in metrics:
        values = unit_scores.get(metric)
        if not isinstance(values, list) or len(values) != len(keys):
            raise WeamError(f"'unit_scores' needs one '{metric}' per question ({len(keys)})", path, line)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in values):
            raise WeamError(f"'unit_scores' {metric} values must be numbers in [0, 1]", path, line)
        mean = sum(values) / len(values)
        if metric in obj and abs(float(obj[metric]) - mean) > 1e-6:
            raise WeamError(
                f"'{metric}' is {obj[metric]} but its per-question scores average {mean}", path, line
            )
        scores[metric] = {k: (float(v), 1.0) for k, v in zip(keys, values, strict=True)}
    return scores


def row_task(obj: dict[str, Any]) -> str:
    """The task a row is compared under: its name, with the user's test files where it scored
    those (``custom [data/{lang}.test.tsv]``), so two data sets never share one table."""
    test_data = obj.get("test_data")
    return f"{obj['task']} [{test_data}]" if test_data else str(obj["task"])


def _dev_curve(obj: dict[str, Any], path: Path, line: int) -> dict[str, Any]:
    history = obj.get("dev_history")
    if history is None:
        return {}
    if not isinstance(history, list) or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) for v in history
    ):
        raise WeamError("'dev_history' must be a list of numbers (an English dev score an epoch)", path, line)
    return {
        "dev_metric": str(obj.get("dev_metric") or "accuracy"),
        "dev_score": float(obj["dev_score"]) if isinstance(obj.get("dev_score"), (int, float)) else None,
        "dev_history": tuple(float(v) for v in history),
        "stopped_early": bool(obj.get("stopped_early", False)),
    }
