"""Task families, registered once: what each one's unit and metrics are, what it fine-tunes with
unless told, how its files are read and which modules train and score it. Every table that used to
list the kinds (task kinds, row units and metrics, `--task-type` choices, fine-tuning defaults, dev
metrics, readers, trainers and evaluators) is read from here, so a new family is one entry here plus
its own reader (a split class and a function reading one file), ``weamcli.finetune.<module>``
(``build_family``) and ``weamcli.evaluate.<module>`` (its scorer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weamcli.common.registry import Registry


@dataclass(frozen=True)
class TaskFamily:
    name: str
    unit: str  # what `weam compare` resamples: example, sentence, question
    metrics: tuple[str, ...]  # the row's metrics, in table order
    dev_metric: str  # what English model selection scores, in words
    # how a row holds its scores: one label per unit ("label": predictions and gold are values),
    # one tag per word ("tags"), per-unit scores ("unit_scores")
    row_shape: str
    has_labels: bool  # a label (tag) set read from the training data; False: spans, choice indices
    finetune_defaults: dict[str, Any]  # what `weam finetune` uses for options left unset
    hyperparameters: tuple[str, ...]  # the options only this family reads (recorded with its runs)
    files: str  # what a --task-type file of this family holds, for --help
    trainer: str  # the weamcli.finetune module whose build_family makes the trainable model
    evaluator: tuple[str, str]  # (weamcli.evaluate module, function) that scores fine-tuned models
    # (weamcli.common module, function) reading one local split file: f(task, lang, split, path);
    # None: classification rows, read by common.task_splits.load_split (local tables or the hub)
    reader: tuple[str, str] | None
    # evaluator keyword -> the `weam evaluate` setting it takes (max_examples is everyone's)
    evaluate_options: dict[str, str] = field(default_factory=dict)


FAMILIES: Registry[TaskFamily] = Registry("task family")


def register(family: TaskFamily) -> TaskFamily:
    return FAMILIES.register(family.name)(family)


_WINDOWS = ("train_sample_seed", "max_dev_examples", "doc_stride")

register(
    TaskFamily(
        name="classification",
        files="TSV/CSV/JSONL rows",
        unit="example",
        metrics=("accuracy",),
        dev_metric="accuracy",
        row_shape="label",
        has_labels=True,
        finetune_defaults={"epochs": 6.0, "lr": 3e-5, "max_length": 128, "freeze_embeddings": False},
        # none: a classification seed folder made before the sub-sampling options existed stays valid
        hyperparameters=(),
        trainer="classifier",
        reader=None,
        evaluator=("classification", "evaluate"),
    )
)
register(
    TaskFamily(
        name="tagging",
        files="CoNLL-U, or two-column CoNLL",
        unit="sentence",
        metrics=("accuracy",),
        dev_metric="word accuracy",
        row_shape="tags",
        has_labels=True,
        finetune_defaults={"epochs": 2.0, "lr": 5e-5, "max_length": 128, "freeze_embeddings": True},
        hyperparameters=_WINDOWS,
        trainer="token_classification",
        reader=("task_splits", "tagged_split"),
        evaluator=("tagging", "evaluate_tagging"),
    )
)
register(
    TaskFamily(
        name="qa",
        files="SQuAD-format JSON",
        unit="question",
        metrics=("f1", "exact_match"),
        dev_metric="F1",
        row_shape="unit_scores",
        has_labels=False,
        finetune_defaults={"epochs": 2.0, "lr": 1e-4, "max_length": 256, "freeze_embeddings": True},
        hyperparameters=(*_WINDOWS, "max_answer_length"),
        trainer="question_answering",
        reader=("task_splits", "qa_split"),
        evaluator=("question_answering", "evaluate_qa"),
        evaluate_options={"normalisation": "qa_normalisation"},
    )
)
register(
    TaskFamily(
        name="multiple_choice",
        files="COPA-style JSON lines: premise, choice1, choice2 …, label, optional question",
        unit="example",
        metrics=("accuracy",),
        dev_metric="accuracy",
        row_shape="label",
        has_labels=False,
        finetune_defaults={"epochs": 10.0, "lr": 3e-5, "max_length": 128, "freeze_embeddings": False},
        hyperparameters=("train_sample_seed", "max_dev_examples"),
        trainer="multiple_choice",
        reader=("choice_data", "choice_split"),
        evaluator=("multiple_choice", "evaluate_choice"),
    )
)


def family(name: str) -> TaskFamily:
    """The family called ``name``; an unknown one is a one-line error with the closest name."""
    return FAMILIES.get(name)


def family_names() -> tuple[str, ...]:
    return FAMILIES.names()


def describe_files() -> str:
    """Each family with what its files hold, for a --help text."""
    return ", ".join(f"{f.name} ({f.files})" for f in all_families())


def all_families() -> list[TaskFamily]:
    """Every registered family, in registration order."""
    return [entry.component for entry in FAMILIES]
