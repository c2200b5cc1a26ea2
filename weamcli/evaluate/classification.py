"""Zero-shot evaluation of fine-tuned classifiers: accuracy per language, one result row per
model × task × language × seed, with the predictions kept for paired statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef
from weamcli.common.progress import Progress
from weamcli.common.result_rows import make_row
from weamcli.common.task_splits import TaskSplit, load_split, sample_split
from weamcli.common.tasks import TaskSpec
from weamcli.evaluate.fine_tuned import (  # expand_model_folders: its old home, for callers
    Loaded,
    expand_model_folders,
    fine_tuned_models,
    resolve_languages,
    score_languages,
    scored_data_column,
)

__all__ = ["SAMPLE_SEED", "evaluate", "expand_model_folders"]

SAMPLE_SEED = 0  # --max-examples draws its sample with this seed, the same for every model


def evaluate(
    models: Sequence[str | ModelRef],
    task: TaskSpec,
    langs: Sequence[str] | str,
    *,
    split: str = "test",
    name: str | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    progress: Progress | None = None,
    done: list[dict[str, Any]] | None = None,
    max_examples: int | None = None,
) -> list[dict[str, Any]]:
    """Accuracy of each fine-tuned model on ``split`` of each language: rows in the ROW_KEYS schema.

    All data is loaded and checked against each model's label set before any model runs, so bad
    input fails fast with nothing written. ``done``: each row is also appended there as soon as
    its language is scored, so a caller keeps the finished languages of an interrupted run."""
    from weamcli.finetune.classifier import HEAD_FILE, load_classifier, predict

    plans = fine_tuned_models(models, task, HEAD_FILE, "classification")
    codes = resolve_languages(task, langs, split)
    data: dict[tuple[tuple[str, ...], str], TaskSplit] = {}
    for ref, meta in plans:
        labels = tuple(meta.get("labels") or ())
        if task.labels is not None and labels and set(labels) != set(task.labels):
            raise WeamError(f"its labels {list(labels)} are not task '{task.name}''s label set", ref.path)
        checked = replace(task, labels=labels or task.labels)  # labels outside the head's set: one-line error
        for code in codes:
            if (labels, code) not in data:
                # a fixed random sample (seed 0), not the first N: XNLI's files run genre by genre,
                # and parallel sets (XNLI, SIB-200) keep the same examples at the same positions
                part = load_split(checked, code, split)
                data[(labels, code)] = sample_split(part, max_examples, SAMPLE_SEED)

    def score(m: Loaded, code: str) -> tuple[dict[str, Any], str]:
        labels = tuple(m.meta["labels"])
        part = data[(labels, code)]
        best = predict(
            m.model,
            m.tokenizer,
            part.texts,
            part.pairs,
            prefix=m.ref.text_prefix,
            batch_size=batch_size,
            max_length=max_length,
        )
        preds = [labels[i] for i in best]
        row = make_row(
            task.name,
            split,
            code,
            m.facts,
            ids=part.ids,
            predictions=preds,
            gold=part.labels,
            **scored_data_column(task),
        )
        return row, f"{row['accuracy']:.3f} ({row['correct']}/{row['n']})"

    return score_languages(plans, codes, load_classifier, score, name=name, progress=progress, done=done)
