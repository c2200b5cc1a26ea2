"""What a grid will read and where it will write, checked before any step runs (``--plan`` and
the start of every run): task data roots and files, the parallel files and their line counts, the
base model, and the output folder, which must be new or made by weam experiment. A grid fails on
its first bad input now, not hours later when the step that reads it runs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from weamcli.common.errors import WeamError
from weamcli.common.output_folders import check_output_dir
from weamcli.experiment.grid import ExperimentConfig
from weamcli.experiment.plan import Step

EXPERIMENT_MARKER = ".weam-experiment.json"  # written into OUT when a run starts
STATUS_FILE = "experiment-status.jsonl"
STEP_FOLDERS = ("align", "pretrain", "finetune", "evaluate", "compare")  # the grid's own layout


def check_experiment_out(config: ExperimentConfig) -> None:
    """``out`` is new, empty or an experiment's own folder (its marker, or the status file of an
    older weam); never ``/``, a home folder or the working directory's folder."""
    check_output_dir(
        config.out,
        command="weam experiment",
        markers={EXPERIMENT_MARKER: None, STATUS_FILE: None},
        ignore=lambda name: name in STEP_FOLDERS or name == ".claims",
    )


def mark_experiment_out(config: ExperimentConfig) -> None:
    """Write ``out``'s marker (once): this folder is a weam experiment's."""
    marker = config.out / EXPERIMENT_MARKER
    if not marker.is_file():
        config.out.mkdir(parents=True, exist_ok=True)
        data = {"name": config.name, "config": str(config.path.resolve())}
        marker.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def check_plan(config: ExperimentConfig, steps: list[Step]) -> None:
    """What a run checks before its first step, checked without running one (``--plan``): the
    output folder, and every input of every step."""
    check_experiment_out(config)
    check_inputs(config, steps, {s.kind for s in steps})


def check_inputs(config: ExperimentConfig, steps: list[Step], kinds: Iterable[str]) -> None:
    """Every input the steps of ``kinds`` will read is there: a one-line error (the file, and
    the grid key that names it) for the first that is not. Nothing is loaded or built."""
    kinds = set(kinds)
    by_kind: dict[str, list[Step]] = {}
    for step in steps:
        by_kind.setdefault(step.kind, []).append(step)
    if kinds & {"pretrain", "finetune", "evaluate"}:
        _check_model(config)
    if "align" in kinds:
        _check_parallel(config, by_kind.get("align", []))
    if "finetune" in kinds:
        _check_training_data(by_kind.get("finetune", []))
    if "evaluate" in kinds:
        _check_test_data(by_kind.get("evaluate", []))


def _where(config: ExperimentConfig, section: str, key: str) -> str:
    path, line = config.source.locate(section, key)
    return f" ([{section}] {key}, {path}:{line})" if line else f" ([{section}] {key})"


def _check_model(config: ExperimentConfig) -> None:
    from weamcli.common.models import check_model_name

    try:
        check_model_name(config.base_model)
    except WeamError as exc:
        raise WeamError(exc.message + _where(config, "model", "base"), exc.path, exc.line) from None


def _check_parallel(config: ExperimentConfig, steps: list[Step]) -> None:
    from weamcli.pretrain.pairs import check_parallel_files

    for step in steps:
        s = step.settings
        try:
            check_parallel_files(Path(s.source), Path(s.target))
        except WeamError as exc:
            where = _where(config, "pretrain", "source" if exc.path == s.source else "target")
            raise WeamError(exc.message + where, exc.path, exc.line) from None


def _check_training_data(steps: list[Step]) -> None:
    """The English train and dev files of every fine-tuned task."""
    from weamcli.common.tasks import check_split_available

    seen: set[str] = set()
    for step in steps:
        s = step.settings
        if s.task in seen:
            continue
        seen.add(s.task)
        with _about(s.task):
            spec = s.task_spec()
            for split in ("train", "dev"):
                check_split_available(spec, spec.source_lang, split)


def _check_test_data(steps: list[Step]) -> None:
    """The scored file of every language of every evaluated task."""
    from weamcli.common.tasks import available_languages, check_split_available

    seen: set[tuple] = set()
    for step in steps:
        s = step.settings
        key = (s.task, tuple(s.langs), s.split, s.data_dir)
        if key in seen:
            continue
        seen.add(key)
        with _about(s.task):
            if s.task == "tatoeba":
                _check_tatoeba(s.data_dir, s.langs)
                continue
            spec = s.task_spec()
            if s.langs == ["all"]:
                available_languages(spec, s.split)
                continue
            for code in s.langs:
                check_split_available(spec, code, s.split)


def _check_tatoeba(data_dir: str | None, langs: list[str]) -> None:
    from weamcli.evaluate.retrieval import resolve_tatoeba_languages
    from weamcli.evaluate.settings import DEFAULT_TATOEBA

    folder = Path(data_dir or DEFAULT_TATOEBA)
    for code in resolve_tatoeba_languages(folder, langs):
        for side in (code, "eng"):
            if not (folder / f"tatoeba.{code}-eng.{side}").is_file():
                raise WeamError(f"no Tatoeba data for language '{code}' (tatoeba.{code}-eng.{side})", folder)


@contextlib.contextmanager
def _about(task: str) -> Iterator[None]:
    """An error in the block says which task of the grid it is about."""
    try:
        yield
    except WeamError as exc:
        message = exc.message if f"'{task}'" in exc.message else f"task '{task}': {exc.message}"
        raise WeamError(message, exc.path, exc.line) from None
