"""What the evaluation of every fine-tuned family shares: the models a call names (a `weam finetune`
output stands for its seeds), the check that each was fine-tuned for this task or its family, the
languages, and the loop that scores each model on each language and hands on every row as soon as
it is scored (an interrupted run keeps the languages it finished)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef, parameter_count, resolve_model
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import model_facts
from weamcli.common.task_splits import AnySplit, load_task_split, sample_split
from weamcli.common.tasks import TaskSpec, available_languages, resolve_language

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
        meta = ref.metadata()
        check_trained_for(task, meta, ref.path)  # first: a head of another family says so
        if ref.kind != "folder" or not (Path(ref.path) / head_file).is_file():
            raise WeamError(
                f"no {what} head ({head_file}) for task '{task.name}': fine-tune it first with "
                "`weam finetune`",
                ref.path,
            )
        plans.append((ref, meta))
    return plans


def load_languages(
    task: TaskSpec, codes: Sequence[str], split: str, max_examples: int | None
) -> dict[str, AnySplit]:
    """Every language's split (its first ``max_examples`` units), read and checked before any model
    runs, so bad input writes nothing. The first N, not a sample: XQuAD's and SIB-200's languages
    are translations in the same order, so every language keeps the same questions."""
    return {code: sample_split(load_task_split(task, code, split), max_examples, None) for code in codes}


@dataclass
class Loaded:
    """One fine-tuned model, ready to score: its folder, the module, tokenizer, weam.json and the
    model columns of its rows."""

    ref: ModelRef
    model: Any
    tokenizer: Any
    meta: dict[str, Any]
    facts: dict[str, Any]


def score_languages(
    plans: Sequence[tuple[ModelRef, dict[str, Any]]],
    codes: Sequence[str],
    load: Callable[[ModelRef], tuple[Any, Any, dict[str, Any]]],
    score: Callable[[Loaded, str], tuple[dict[str, Any], str]],
    *,
    name: str | None,
    progress: Progress | None,
    done: list[dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    """Each model (``load`` makes it from its folder) on each language: ``score(model, code)`` gives
    the row and the words of its progress line. Every row goes to ``done`` as soon as it is made."""
    from weamcli.common.embedding_rows import rows_on_demand
    from weamcli.common.sentence_vectors import inference_device

    say = progress or quiet
    rows: list[dict[str, Any]] = []
    for ref, _meta in plans:
        say(f"evaluating {ref.path} on {len(codes)} language(s)")
        model, tokenizer, meta = load(ref)
        model.to(inference_device())
        layers = model.encoder.config.num_hidden_layers
        facts = model_facts(ref, meta, params=parameter_count(model), num_layers=layers, name=name)
        rows_on_demand(model, ref)  # after counting the parameters: the rows read stay few
        loaded = Loaded(ref, model, tokenizer, meta, facts)
        stage = f"{facts['model']} seed {facts['seed']}: languages"
        say(stage, 0, len(codes))
        for index, code in enumerate(codes, 1):
            row, words = score(loaded, code)
            say(f"{facts['model']} seed {facts['seed']} {code}: {words}")
            rows.append(row)
            if done is not None:
                done.append(row)
            say(stage, index, len(codes))
    return rows
