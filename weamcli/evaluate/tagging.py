"""Zero-shot word tagging (UD-POS and your CoNLL tasks): word accuracy per language, one result row
per model × task × language × seed, each sentence's predicted tags kept for paired statistics (the
sentence is the unit `weam compare` resamples)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef, parameter_count, resolve_model
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import make_tagging_row, model_facts
from weamcli.common.tasks import AnySplit, TaskSpec, load_task_split, sample_split
from weamcli.evaluate.classification import (
    check_trained_for,
    expand_model_folders,
    resolve_languages,
    scored_data_column,
)


def fine_tuned_models(
    models: Sequence[str | ModelRef], task: TaskSpec, head_file: str, what: str
) -> list[tuple[ModelRef, dict[str, Any]]]:
    """Each model folder (a `weam finetune` output stands for its seeds) with its weam.json, checked
    to hold a ``head_file`` fine-tuned for ``task``."""
    refs: list[ModelRef] = []
    for m in models:
        refs.extend([m] if isinstance(m, ModelRef) else [resolve_model(n) for n in expand_model_folders([m])])
    plans = []
    for ref in refs:
        check_trained_for(task, ref.metadata(), ref.path)  # first: a head of another family says so
        if ref.kind != "folder" or not (Path(ref.path) / head_file).is_file():
            raise WeamError(
                f"no {what} head ({head_file}) for task '{task.name}': fine-tune it first with "
                "`weam finetune`",
                ref.path,
            )
        plans.append((ref, ref.metadata()))
    return plans


def load_languages(
    task: TaskSpec, codes: Sequence[str], split: str, max_examples: int | None
) -> dict[str, AnySplit]:
    """Every language's split (its first ``max_examples`` units), read and checked before any model
    runs, so bad input writes nothing. The first N, not a sample: XQuAD's and SIB-200's languages
    are translations in the same order, so every language keeps the same questions."""
    return {code: sample_split(load_task_split(task, code, split), max_examples, None) for code in codes}


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
    from weamcli.common.embedding_rows import rows_on_demand
    from weamcli.common.sentence_vectors import inference_device
    from weamcli.finetune.token_classification import HEAD_FILE, load_tagger, make_windows, predict_tags

    say = progress or quiet
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
    rows: list[dict[str, Any]] = []
    for ref, meta in plans:
        say(f"evaluating {ref.path} on {len(codes)} language(s)")
        model, tokenizer, meta = load_tagger(ref)
        model.to(inference_device())
        labels = tuple(meta["labels"])
        facts = model_facts(
            ref,
            meta,
            params=parameter_count(model),
            num_layers=model.encoder.config.num_hidden_layers,
            name=name,
        )
        rows_on_demand(model, ref)  # after counting the parameters: the rows read stay few
        config = meta.get("finetune_config") or {}
        max_length = int(meta.get("max_length") or config.get("max_length") or 128)
        stride = int(meta.get("doc_stride") or config.get("doc_stride") or max_length // 3)
        stage = f"{facts['model']} seed {facts['seed']}: languages"
        say(stage, 0, len(codes))
        for index, code in enumerate(codes, 1):
            part = data[(labels, code)]
            sentences = part.sentences
            windows = make_windows(
                tokenizer,
                [s.words for s in sentences],
                prefix=ref.text_prefix,
                max_length=max_length,
                stride=stride,
            )
            predicted = predict_tags(model, tokenizer, windows, batch_size=batch_size)
            row = make_tagging_row(
                task.name,
                split,
                code,
                facts,
                ids=part.ids,
                predictions=[[labels[i] for i in p] for p in predicted],
                gold=[s.tags for s in sentences],
                windowed_sentences=windows.split_sentences,
                **scored_data_column(task),
            )
            say(
                f"{facts['model']} seed {facts['seed']} {code}: word accuracy {row['accuracy']:.3f} "
                f"({row['correct']}/{row['words']} words, {row['n']} sentences)"
            )
            rows.append(row)
            if done is not None:
                done.append(row)
            say(stage, index, len(codes))
    return rows
