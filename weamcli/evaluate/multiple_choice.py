"""Zero-shot multiple choice (XCOPA, COPA-style files): accuracy per language, one result row per
model × task × language × seed, each example's picked choice kept for paired statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weamcli.common.models import ModelRef
from weamcli.common.progress import Progress
from weamcli.common.result_rows import make_row
from weamcli.common.tasks import TaskSpec
from weamcli.evaluate.fine_tuned import (
    Loaded,
    fine_tuned_models,
    load_languages,
    resolve_languages,
    score_languages,
    scored_data_column,
)


def evaluate_choice(
    models: Sequence[str | ModelRef],
    task: TaskSpec,
    langs: Sequence[str] | str,
    *,
    split: str = "test",
    name: str | None = None,
    batch_size: int = 32,
    max_examples: int | None = None,
    progress: Progress | None = None,
    done: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Accuracy of each multiple-choice model on ``split`` of each language. Every language is read
    and checked before any model runs; ``done`` gets each row as soon as its language is scored."""
    from weamcli.finetune.multiple_choice import HEAD_FILE, load_choice_model, predict_choices

    plans = fine_tuned_models(models, task, HEAD_FILE, "multiple-choice")
    codes = resolve_languages(task, langs, split)
    data = load_languages(task, codes, split, max_examples)

    def score(m: Loaded, code: str) -> tuple[dict[str, Any], str]:
        part = data[code]
        max_length = int(m.meta.get("max_length") or 128)
        picks = predict_choices(
            m.model,
            m.tokenizer,
            part.examples,
            prefix=m.ref.text_prefix,
            batch_size=batch_size,
            max_length=max_length,
        )
        row = make_row(
            task.name,
            split,
            code,
            m.facts,
            ids=part.ids,
            predictions=picks,
            gold=part.labels,
            kind="multiple_choice",
            unit="example",
            **scored_data_column(task),
        )
        return row, f"{row['accuracy']:.3f} ({row['correct']}/{row['n']})"

    return score_languages(plans, codes, load_choice_model, score, name=name, progress=progress, done=done)
