"""Reading an experiment TOML strictly: every section is a settings class, every key is checked.

``[experiment]`` and ``[model]`` are the grid's own; ``[align]``, ``[pretrain]``, ``[finetune]``,
``[evaluate]``, ``[task]`` and ``[compare]`` take exactly the options of the matching command
(with several ``[experiment] tasks``, ``[task.<name>]``, ``[finetune.<name>]`` and
``[evaluate.<name>]`` subsections override them for one task),
with the same defaults and checks, except those the grid sets itself (languages, model, output
folders …), which are refused with a pointer to the grid key that sets them. All of it is checked
when the file is loaded, before any step runs. The grid's own keys are read in
``experiment.grid_keys``; the result is an ``experiment.grid.ExperimentConfig``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from weamcli.align.settings import AlignSettings
from weamcli.common.errors import WeamError
from weamcli.common.settings import Settings, TomlSource
from weamcli.common.task_settings import TaskSettings
from weamcli.compare.settings import CompareSettings
from weamcli.evaluate.settings import EvaluateSettings
from weamcli.experiment.grid import PER_TASK_SECTIONS, ExperimentConfig
from weamcli.experiment.grid_keys import (
    line_of,
    read_axis_tasks,
    read_lang_sets,
    read_lang_sets_design,
    read_method_subset,
    read_methods,
    read_steps,
)
from weamcli.experiment.settings import ExperimentSettings, ModelSettings, SlurmSettings
from weamcli.finetune.settings import FinetuneSettings
from weamcli.pretrain.settings import PretrainSettings

SECTIONS: dict[str, type[Settings]] = {
    "experiment": ExperimentSettings,
    "model": ModelSettings,
    "align": AlignSettings,
    "pretrain": PretrainSettings,
    "finetune": FinetuneSettings,
    "evaluate": EvaluateSettings,
    "task": TaskSettings,
    "compare": CompareSettings,
    "slurm": SlurmSettings,
}


def load_config(path: str | Path) -> ExperimentConfig:
    """Parse and check an experiment TOML; every error names the file and, where known, the line."""
    path = Path(path)
    raw, source = _read_toml(path)
    _check_section_names(raw, source)
    config = _grid_config(raw, source)
    _check_task_names(config)
    _check_task_parts(config)
    _check_every_section(config)
    return config


def _read_toml(path: Path) -> tuple[dict[str, Any], TomlSource]:
    """The file's tables, and its text for pointing at lines."""
    if not path.is_file():
        raise WeamError("config file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WeamError(f"not UTF-8 text ({exc.reason})", path) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise WeamError(f"invalid TOML ({exc})", path, int(match.group(1)) if match else None) from None
    return raw, TomlSource(path, text)


def _check_section_names(raw: dict[str, Any], source: TomlSource) -> None:
    """Every top-level name is one of ``SECTIONS`` and a table."""
    for name, value in raw.items():
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else f" (sections: {', '.join(SECTIONS)})"
            raise WeamError(f"unknown section [{name}]{hint}", *source.locate(name))
        if not isinstance(value, dict):
            raise WeamError(f"[{name}] must be a table", *source.locate(name))


def _grid_config(raw: dict[str, Any], source: TomlSource) -> ExperimentConfig:
    """The grid's own sections and keys, checked in file-reading order; the stage sections are
    kept as written (their settings are built per step)."""
    exp = ExperimentSettings.from_table(raw.get("experiment", {}), source=source)
    model = ModelSettings.from_table(raw.get("model", {}), source=source)
    slurm = SlurmSettings.from_table(raw.get("slurm", {}), source=source)
    pre = raw.get("pretrain", {})
    methods = read_methods(pre, source)
    lang_sets = read_lang_sets(pre, source, methods)
    steps = read_steps(pre, source)
    lang_sets_methods = read_method_subset(pre, "lang_sets_methods", methods, source, "pretrain")
    lang_sets_design = read_lang_sets_design(pre, source, steps)
    axis_tasks = read_axis_tasks(raw, source, exp.task_list)
    layers_methods = read_method_subset(raw.get("model", {}), "layers_methods", methods, source, "model")
    name = exp.name or source.path.stem
    out = Path(exp.out or f"runs/{name}")
    return ExperimentConfig(
        path=source.path,
        source=source,
        name=name,
        out=out if out.is_absolute() else Path.cwd() / out,
        seeds=exp.seeds,
        tasks=exp.task_list,
        threads=exp.threads,
        jobs=exp.jobs,
        share_gpus=exp.share_gpus,
        executor=exp.executor,
        slurm=slurm,
        base_model=model.base,
        layers=[n or None for n in model.layers],
        methods=methods,
        lang_sets=lang_sets,
        steps=steps,
        lang_sets_methods=lang_sets_methods,
        lang_sets_design=lang_sets_design,
        axis_tasks=axis_tasks,
        layers_methods=layers_methods,
        tables={k: v for k, v in raw.items() if isinstance(v, dict)},
    )


def _check_task_names(config: ExperimentConfig) -> None:
    """With several tasks, each name is a built-in task or has its own ``[task.<name>]`` part (a
    misspelt ``"udpso"`` must not silently become a second own task read through ``[task]``)."""
    from weamcli.common.tasks import NOT_FINETUNED, OWN_TASKS, TASKS

    if len(config.tasks) < 2:
        return  # one task: [task] itself describes an own task
    known = [*TASKS, *OWN_TASKS, *NOT_FINETUNED]
    parts = [k for k, v in config.tables.get("task", {}).items() if isinstance(v, dict)]
    for name in config.tasks:
        if name in known or name in parts:
            continue
        close = difflib.get_close_matches(name, [*known, *parts], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        line = line_of(config.source.text, f'"{name}"') or config.source.locate("experiment", "tasks")[1]
        raise WeamError(
            f"[experiment] tasks: '{name}' is neither a built-in task ({', '.join(known)}) nor defined "
            f"in a [task.{name}] section (with several tasks, each own task needs its own part){hint}",
            config.path,
            line,
        )


def _check_task_parts(config: ExperimentConfig) -> None:
    """A ``[finetune.<name>]`` part must name one of the grid's tasks; other sections take none."""
    for section, table in config.tables.items():
        for key, value in table.items():
            if not isinstance(value, dict):
                continue
            where = config.source.locate(f"{section}.{key}")
            if section not in PER_TASK_SECTIONS:
                raise WeamError(
                    f"[{section}.{key}]: only [task], [finetune] and [evaluate] have per-task parts", *where
                )
            if key not in config.tasks:
                close = difflib.get_close_matches(key, config.tasks, n=1)
                hint = f"; did you mean [{section}.{close[0]}]?" if close else ""
                raise WeamError(
                    f"[{section}.{key}]: '{key}' is not one of the grid's tasks "
                    f"({', '.join(config.tasks)}){hint}",
                    *where,
                )


def _check_every_section(config: ExperimentConfig) -> None:
    """Build each stage's settings once with stand-in grid values: every unknown key, bad value
    and missing data folder is reported now, not after hours of pre-training."""
    from weamcli.common.tasks import NOT_FINETUNED, resolve_language

    placeholder = config.out / ".check"
    for task in config.tasks:
        spec = config.task_settings(task).task_spec()  # a missing data folder fails here
        evaluate = config.evaluate_settings(str(placeholder), "check", placeholder / "results.jsonl", task)
        if task != "tatoeba":
            for code in evaluate.langs:
                if code != "all":
                    try:
                        resolve_language(spec, code)  # the check `weam evaluate` makes, made now
                    except WeamError as exc:
                        line = line_of(config.source.text, f'"{code}"')
                        raise WeamError(f"[evaluate] langs: {exc.message}", config.path, line) from None
        if task not in NOT_FINETUNED:
            config.finetune_settings(
                config.base_model, None, placeholder, config.seeds[0], overwrite=False, task=task
            )
    if any(m != "baseline" for m in config.methods):
        code = config.lang_sets[0][0]
        config.align_settings(code, placeholder)
        for method in config.methods[1:]:
            config.pretrain_settings(
                method, config.lang_sets[0], None, placeholder, resume=False, overwrite=False
            )
    config.compare_settings(placeholder, placeholder)
