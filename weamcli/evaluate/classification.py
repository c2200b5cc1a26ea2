"""Zero-shot evaluation of fine-tuned classifiers: accuracy per language, one result row per
model × task × language × seed, with the predictions kept for paired statistics."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef, parameter_count, resolve_model
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import make_row, model_facts
from weamcli.common.tasks import (
    TaskSpec,
    TaskSplit,
    available_languages,
    load_split,
    resolve_language,
    sample_split,
)

SAMPLE_SEED = 0  # --max-examples draws its sample with this seed, the same for every model
_SEED_DIR = re.compile(r"^seed-(\d+)$")


def expand_model_folders(names: Sequence[str]) -> list[str]:
    """A `weam finetune` output (OUT holding seed-<n>/ folders) stands for its seeds, in seed order."""
    out: list[str] = []
    for name in names:
        folder = Path(name).expanduser()
        if folder.is_dir() and not (folder / "config.json").is_file():
            seeds = sorted(
                (int(m.group(1)), p)
                for p in folder.iterdir()
                if (m := _SEED_DIR.match(p.name)) and (p / "config.json").is_file()
            )
            if not seeds:
                raise WeamError(
                    "neither a model folder (no config.json) nor a `weam finetune` output "
                    "(no seed-<n>/ folders)",
                    folder,
                )
            out.extend(str(p) for _, p in seeds)
        else:
            out.append(name)
    return out


def check_trained_for(task: TaskSpec, meta: dict[str, Any], where: str) -> None:
    """A model scores its own task's test data, or the user's --test files of its family (any task
    of that kind it was fine-tuned on); anything else is a one-line error."""
    trained, kind = meta.get("task"), meta.get("kind")
    if kind is not None and kind != task.kind:  # weam.json without a kind: a classification fine-tune
        raise WeamError(f"was fine-tuned for a {kind} task ('{trained}'), not {task.kind}", where)
    if trained in (None, task.name):
        return
    if task.test_data is None:
        raise WeamError(
            f"was fine-tuned for task '{trained}', not '{task.name}' (to score it on other "
            f"{task.kind} data, give the files with --test)",
            where,
        )


def scored_data_column(task: TaskSpec) -> dict[str, str]:
    """What a row records of the test data it scored: the user's --test files (none for a task's own)."""
    return {"test_data": task.test_data} if task.test_data else {}


def resolve_languages(task: TaskSpec, langs: Sequence[str] | str, split: str) -> list[str]:
    """The task's file codes for ``langs`` (codes in any form, or "all": every language with data)."""
    if isinstance(langs, str):
        langs = (
            available_languages(task, split)
            if langs.strip().lower() == "all"
            else [c for c in langs.split(",") if c.strip()]
        )
    if not langs:
        raise WeamError("no language given")
    codes = [resolve_language(task, c.strip())[0] for c in langs]
    return list(dict.fromkeys(codes))


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
    from weamcli.common.embedding_rows import rows_on_demand
    from weamcli.common.sentence_vectors import inference_device
    from weamcli.finetune.classifier import HEAD_FILE, load_classifier, predict

    say = progress or quiet
    refs: list[ModelRef] = []
    for m in models:
        refs.extend([m] if isinstance(m, ModelRef) else [resolve_model(n) for n in expand_model_folders([m])])
    codes = resolve_languages(task, langs, split)
    plans: list[tuple[ModelRef, dict[str, Any]]] = []
    for ref in refs:
        check_trained_for(task, ref.metadata(), ref.path)  # first: a head of another family says so
        if ref.kind != "folder" or not (Path(ref.path) / HEAD_FILE).is_file():
            raise WeamError(
                f"no classification head ({HEAD_FILE}) for task '{task.name}': fine-tune it "
                "first with `weam finetune`",
                ref.path,
            )
        plans.append((ref, ref.metadata()))
    data: dict[tuple[tuple[str, ...], str], TaskSplit] = {}
    for _ref, meta in plans:
        labels = tuple(meta.get("labels") or ())
        if task.labels is not None and labels and set(labels) != set(task.labels):
            raise WeamError(f"its labels {list(labels)} are not task '{task.name}''s label set", _ref.path)
        checked = replace(task, labels=labels or task.labels)  # labels outside the head's set: one-line error
        for code in codes:
            if (labels, code) not in data:
                # a fixed random sample (seed 0), not the first N: XNLI's files run genre by genre,
                # and parallel sets (XNLI, SIB-200) keep the same examples at the same positions
                part = load_split(checked, code, split)
                data[(labels, code)] = sample_split(part, max_examples, SAMPLE_SEED)
    rows: list[dict[str, Any]] = []
    for ref, meta in plans:
        say(f"evaluating {ref.path} on {len(codes)} language(s)")
        model, tokenizer, meta = load_classifier(ref)
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
        stage = f"{facts['model']} seed {facts['seed']}: languages"
        say(stage, 0, len(codes))
        for index, code in enumerate(codes, 1):
            part = data[(labels, code)]
            best = predict(
                model,
                tokenizer,
                part.texts,
                part.pairs,
                prefix=ref.text_prefix,
                batch_size=batch_size,
                max_length=max_length,
            )
            preds = [labels[i] for i in best]
            row = make_row(
                task.name,
                split,
                code,
                facts,
                ids=part.ids,
                predictions=preds,
                gold=part.labels,
                **scored_data_column(task),
            )
            say(
                f"{facts['model']} seed {facts['seed']} {code}: "
                f"{row['accuracy']:.3f} ({row['correct']}/{row['n']})"
            )
            rows.append(row)
            if done is not None:
                done.append(row)
            say(stage, index, len(codes))
    return rows
