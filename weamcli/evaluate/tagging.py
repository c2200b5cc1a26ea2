"""Zero-shot word tagging (UD-POS and your CoNLL tasks): word accuracy per language, one result row
per model × task × language × seed, each sentence's predicted tags kept for paired statistics (the
sentence is the unit `weam compare` resamples)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef
from weamcli.common.progress import Progress
from weamcli.common.result_rows import make_tagging_row
from weamcli.common.task_splits import AnySplit
from weamcli.common.tasks import TaskSpec
from weamcli.evaluate.fine_tuned import (
    Loaded,
    fine_tuned_models,
    load_languages,
    resolve_languages,
    score_languages,
    scored_data_column,
)


def evaluate_tagging(
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
    """Word accuracy of each tagging model on ``split`` of each language (rows: make_tagging_row).

    A tag the model was not trained on is a one-line error naming the file and line. Long sentences
    are read in the same overlapping windows as in training (window size from weam.json)."""
    from weamcli.finetune.token_classification import HEAD_FILE, load_tagger, make_windows, predict_tags

    plans = fine_tuned_models(models, task, HEAD_FILE, "tagging")
    codes = resolve_languages(task, langs, split)
    data: dict[tuple[tuple[str, ...], str], AnySplit] = {}
    for ref, meta in plans:
        labels = tuple(meta.get("labels") or ())
        if not labels:
            raise WeamError("weam.json has no 'labels' list for the tagging head", ref.path)
        checked = replace(task, labels=labels)
        for code, part in load_languages(checked, codes, split, max_examples).items():
            data.setdefault((labels, code), part)

    def score(m: Loaded, code: str) -> tuple[dict[str, Any], str]:
        labels = tuple(m.meta["labels"])
        config = m.meta.get("finetune_config") or {}
        max_length = int(m.meta.get("max_length") or config.get("max_length") or 128)
        stride = int(m.meta.get("doc_stride") or config.get("doc_stride") or max_length // 3)
        sentences = data[(labels, code)].sentences
        windows = make_windows(
            m.tokenizer,
            [s.words for s in sentences],
            prefix=m.ref.text_prefix,
            max_length=max_length,
            stride=stride,
        )
        predicted = predict_tags(m.model, m.tokenizer, windows, batch_size=batch_size)
        row = make_tagging_row(
            task.name,
            split,
            code,
            m.facts,
            ids=data[(labels, code)].ids,
            predictions=[[labels[i] for i in p] for p in predicted],
            gold=[s.tags for s in sentences],
            windowed_sentences=windows.split_sentences,
            **scored_data_column(task),
        )
        words = f"({row['correct']}/{row['words']} words, {row['n']} sentences)"
        return row, f"word accuracy {row['accuracy']:.3f} {words}"

    return score_languages(plans, codes, load_tagger, score, name=name, progress=progress, done=done)
