"""Reading an experiment TOML strictly: every section is a settings class, every key is checked.

``[experiment]`` and ``[model]`` are the grid's own; ``[align]``, ``[pretrain]``, ``[finetune]``,
``[evaluate]``, ``[task]`` and ``[compare]`` take exactly the options of the matching command
(with several ``[experiment] tasks``, ``[task.<name>]``, ``[finetune.<name>]`` and
``[evaluate.<name>]`` subsections override them for one task),
with the same defaults and checks, except those the grid sets itself (languages, model, output
folders …), which are refused with a pointer to the grid key that sets them. All of it is checked
when the file is loaded, before any step runs.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.align.settings import AlignSettings
from weamcli.common.errors import WeamError
from weamcli.common.languages import language
from weamcli.common.settings import Settings, TomlSource
from weamcli.common.task_settings import TaskSettings
from weamcli.compare.settings import CompareSettings
from weamcli.evaluate.settings import EvaluateSettings
from weamcli.experiment.settings import METHODS, ExperimentSettings, ModelSettings, SlurmSettings
from weamcli.finetune.settings import FinetuneSettings
from weamcli.pretrain.settings import OBJECTIVE_OPTIONS, PretrainSettings

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
# [pretrain] keys that shape the grid, not one run
PRETRAIN_GRID_KEYS = (
    "methods",
    "lang_sets",
    "lang_sets_methods",
    "lang_sets_design",
    "lang_sets_tasks",
    "steps",
    "steps_tasks",
)
# the grid's side axes, and which section names the tasks their extra models are evaluated on
AXIS_TASK_KEYS = {
    "langs": ("pretrain", "lang_sets_tasks"),
    "steps": ("pretrain", "steps_tasks"),
    "layers": ("model", "layers_tasks"),
}
# how the language sets' runs are sized against the first (reference) set's run: the same optimiser
# steps (compute fixed), or the same passes over each language's pairs (data fixed: steps in
# proportion to the set's pairs)
LANG_SET_DESIGNS = ("equal-steps", "equal-passes")
_TASK_KEYS = {o.key for o in TaskSettings.options()}
PER_TASK_SECTIONS = ("task", "finetune", "evaluate")  # sections that may have [<section>.<task>] parts


@dataclass
class ExperimentConfig:
    path: Path
    source: TomlSource
    name: str
    out: Path
    seeds: list[int]
    tasks: list[str]
    threads: int | None
    jobs: int | None
    base_model: str
    layers: list[int | None]
    methods: list[str]  # "baseline" first
    lang_sets: list[list[str]]  # weam's short codes
    # the steps axis: optimiser steps at which each pre-training run is fine-tuned and evaluated
    # (0, the plain model, is the baseline); empty: only the run's end
    steps: list[int] = field(default_factory=list)
    share_gpus: bool = False  # more jobs than GPUs: jobs share them
    executor: str = "local"  # local or slurm
    slurm: SlurmSettings = field(default_factory=SlurmSettings)  # each Slurm job's resources
    lang_sets_methods: list[str] | None = None  # methods pre-trained on every set (None: all)
    lang_sets_design: list[str] = field(default_factory=lambda: ["equal-steps"])
    # side axis ("langs", "steps", "layers") -> the tasks its extra models are evaluated on (absent: all)
    axis_tasks: dict[str, list[str]] = field(default_factory=dict)
    layers_methods: list[str] | None = None  # methods run at every depth (None: all)
    tables: dict[str, dict[str, Any]] = field(repr=False, default_factory=dict)

    # the sections as written (tests and step runners read them)
    @property
    def pretrain(self) -> dict[str, Any]:
        return self.tables.get("pretrain", {})

    @property
    def evaluate(self) -> dict[str, Any]:
        return self.section_for("evaluate", self.task)

    @property
    def task(self) -> str:
        """The first (with ``task = "..."`` the only) task."""
        return self.tasks[0]

    def section_for(self, section: str, task: str | None) -> dict[str, Any]:
        """A section's keys for one task: the section's own, then its ``[section.<task>]`` part."""
        table = self.tables.get(section, {})
        base = {k: v for k, v in table.items() if not (section in PER_TASK_SECTIONS and isinstance(v, dict))}
        part = table.get(task) if section in PER_TASK_SECTIONS and task is not None else None
        return {**base, **(part if isinstance(part, dict) else {})}

    # ----------------------------------------------------------------------------- settings per step

    def _build(
        self, cls: type[Settings], fixed: dict[str, Any], task: str | None = None, **kwargs: Any
    ) -> Any:
        table = self.section_for(cls.section, task)
        part = self.tables.get(cls.section, {}).get(task) if task is not None else None
        sections = {k: f"{cls.section}.{task}" for k in part} if isinstance(part, dict) else {}
        return cls.from_table(table, source=self.source, fixed=fixed, key_sections=sections, **kwargs)

    def task_settings(self, task: str | None = None) -> TaskSettings:
        task = task or self.task
        return self._build(TaskSettings, {"task": task}, task)

    def _task_values(self, task: str | None = None) -> dict[str, Any]:
        return {k: v for k, v in self.task_settings(task).to_dict().items()}

    def align_settings(self, code: str, out: Path) -> AlignSettings:
        from weamcli.pretrain.pairs import expand_pattern

        pre = self.pretrain
        if "source" not in pre or "target" not in pre:
            raise WeamError(
                "[pretrain] needs source and target path patterns", *self.source.locate("pretrain")
            )
        lang = language(code)
        return self._build(
            AlignSettings,
            {
                "source": expand_pattern(str(pre["source"]), lang),
                "target": expand_pattern(str(pre["target"]), lang),
                "src_lang": "en",
                "tgt_lang": lang.code,
                "out": str(out),
                "overwrite": True,
            },
        )

    def pretrain_settings(
        self,
        method: str,
        langs: list[str],
        layers: int | None,
        out: Path,
        *,
        resume: bool,
        overwrite: bool,
        max_steps: int | None = None,
    ) -> PretrainSettings:
        """One method's settings. The one ``[pretrain]`` section serves every method: an option
        that only some objectives read (``temperature``, ``l2_reg``, ...) goes to those methods, and
        is an error when no method of the grid reads it."""
        table = dict(self.pretrain)
        for name, users in OBJECTIVE_OPTIONS.items():
            if name not in table:
                continue
            if not set(users) & set(self.methods):
                raise WeamError(
                    f"[pretrain] {name} is read only by the method(s) {', '.join(users)}, which "
                    f"[pretrain] methods does not list",
                    *self.source.locate("pretrain", name),
                )
            if method not in users:
                del table[name]
        return PretrainSettings.from_table(
            table,
            source=self.source,
            fixed={
                "langs": langs,
                "out": str(out),
                "alignments": str(self.out / "align" / "en-{lang}"),
                "source": None,  # the grid's align steps read [pretrain] source/target
                "target": None,
                "model": self.base_model,
                "num_layers": layers,
                "objective": method,
                "resume": resume,
                "overwrite": overwrite,
                # an equal-passes run of another language set: its own length, no snapshots
                **(self._step_axis() if max_steps is None else {"max_steps": max_steps}),
            },
            extra_keys=PRETRAIN_GRID_KEYS,
        )

    def _step_axis(self) -> dict[str, Any]:
        """``[pretrain] steps`` as run settings: train to the last point, snapshot the others."""
        points = [n for n in self.steps if n > 0]
        if not points:
            return {}
        return {"max_steps": points[-1], "snapshot_steps": points[:-1] or None}

    def reference_steps(self) -> int | None:
        """The optimiser steps of a run on the first language set: the last point of the steps
        axis, else ``[pretrain] max_steps`` (None: the length is given in epochs)."""
        points = [n for n in self.steps if n > 0]
        if points:
            return points[-1]
        value = self.pretrain.get("max_steps")
        return int(value) if value is not None else None

    def pair_count(self, codes: list[str]) -> int:
        """Translation pairs of a language set, as pre-training reads them: the lines of each
        language's ``[pretrain] target`` file (line i of source and target is pair i), at most
        ``max_pairs`` a language. Equal passes are counted in these."""
        from weamcli.pretrain.pairs import expand_pattern

        cap = self.pretrain.get("max_pairs")
        total = 0
        for code in codes:
            path = Path(expand_pattern(str(self.pretrain["target"]), language(code)))
            try:
                with path.open("rb") as fh:
                    lines = sum(1 for _ in fh)
            except OSError as exc:
                raise WeamError(f"cannot read the pre-training target file ({exc.strerror})", path) from None
            total += min(lines, int(cap)) if cap else lines
        return total

    def equal_passes_steps(self, codes: list[str]) -> int:
        """Steps that give ``codes`` as many passes over each of its pairs as the first language
        set's run gets: the reference steps × its pairs ÷ the reference set's pairs."""
        reference = self.reference_steps()
        assert reference is not None  # load_config refuses equal-passes without a step count
        return max(1, round(reference * self.pair_count(codes) / self.pair_count(self.lang_sets[0])))

    def tasks_for(self, axis: str | None) -> list[str]:
        """The tasks a model is evaluated on: every task of the grid, or for a model that only a
        side axis adds (another language set, an earlier step, another depth) its ``*_tasks``."""
        return self.axis_tasks.get(axis, self.tasks) if axis else self.tasks

    def lang_sets_for(self, method: str) -> list[list[str]]:
        """The language sets ``method`` is pre-trained on: all, or only the first."""
        if self.lang_sets_methods is None or method in self.lang_sets_methods:
            return self.lang_sets
        return self.lang_sets[:1]

    def layers_for(self, method: str) -> list[int | None]:
        """The depths ``method`` runs at: all, or only the first."""
        if self.layers_methods is None or method in self.layers_methods:
            return self.layers
        return self.layers[:1]

    def finetune_settings(
        self,
        model: str,
        layers: int | None,
        out: Path,
        seed: int,
        *,
        overwrite: bool,
        task: str | None = None,
    ) -> FinetuneSettings:
        task = task or self.task
        fixed = {
            **self._task_values(task),
            "model": model,
            "num_layers": layers,
            "out": str(out),
            "seeds": [seed],
            "overwrite": overwrite,
        }
        return self._build(FinetuneSettings, fixed, task, elsewhere=dict.fromkeys(_TASK_KEYS, "task"))

    def evaluate_settings(
        self, model: str, name: str, results: Path, task: str | None = None, *, num_layers: int | None = None
    ) -> EvaluateSettings:
        task = task or self.task
        fixed = {**self._task_values(task), "models": [model], "name": name, "results": str(results)}
        if num_layers:  # a probe of a plain model cut to the grid's depth
            fixed["num_layers"] = num_layers
        return self._build(EvaluateSettings, fixed, task, elsewhere=dict.fromkeys(_TASK_KEYS, "task"))

    def compare_settings(self, results: Path, out: Path) -> CompareSettings:
        return self._build(CompareSettings, {"results": [str(results)], "out": str(out), "overwrite": True})


def load_config(path: str | Path) -> ExperimentConfig:
    """Parse and check an experiment TOML; every error names the file and, where known, the line."""
    path = Path(path)
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
    source = TomlSource(path, text)
    for name, value in raw.items():
        if name not in SECTIONS:
            close = difflib.get_close_matches(name, list(SECTIONS), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else f" (sections: {', '.join(SECTIONS)})"
            raise WeamError(f"unknown section [{name}]{hint}", *source.locate(name))
        if not isinstance(value, dict):
            raise WeamError(f"[{name}] must be a table", *source.locate(name))

    exp = ExperimentSettings.from_table(raw.get("experiment", {}), source=source)
    model = ModelSettings.from_table(raw.get("model", {}), source=source)
    slurm = SlurmSettings.from_table(raw.get("slurm", {}), source=source)
    pre = raw.get("pretrain", {})
    methods = _list_of_str(pre.get("methods", ["weam", "tlm"]), source, "methods")
    for m in methods:
        if m not in METHODS:
            raise WeamError(
                f"[pretrain] unknown method '{m}' (known: {', '.join(METHODS)})",
                path,
                _line_of(text, f'"{m}"') or source.locate("pretrain", "methods")[1],
            )
    if "baseline" not in methods:
        methods.insert(0, "baseline")
    sets_raw = pre.get("lang_sets", [])
    if not isinstance(sets_raw, list) or not all(isinstance(s, list) for s in sets_raw):
        raise WeamError(
            "[pretrain] lang_sets must be a list of lists of language codes",
            *source.locate("pretrain", "lang_sets"),
        )
    lang_sets = []
    for group in sets_raw:
        codes = []
        for code in group:
            try:
                codes.append(language(str(code)).code)
            except WeamError as exc:
                raise WeamError(
                    f"[pretrain] lang_sets: {exc.message}", path, _line_of(text, f'"{code}"')
                ) from None
        lang_sets.append(codes)
    if any(m != "baseline" for m in methods) and not lang_sets:
        raise WeamError("[pretrain] lang_sets is empty", *source.locate("pretrain", "lang_sets"))
    steps = _step_points(pre, source)
    lang_sets_methods = _method_subset(pre, "lang_sets_methods", methods, source, "pretrain")
    lang_sets_design = _lang_sets_design(pre, source, steps)
    axis_tasks = {
        axis: _task_subset(raw.get(section, {}), key, exp.task_list, source, section)
        for axis, (section, key) in AXIS_TASK_KEYS.items()
        if key in raw.get(section, {})
    }
    layers_methods = _method_subset(raw.get("model", {}), "layers_methods", methods, source, "model")
    name = exp.name or path.stem
    out = Path(exp.out or f"runs/{name}")
    config = ExperimentConfig(
        path=path,
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
    _check_task_names(config)
    _check_task_parts(config)
    _check_every_section(config)
    return config


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
        line = _line_of(config.source.text, f'"{name}"') or config.source.locate("experiment", "tasks")[1]
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
                        line = _line_of(config.source.text, f'"{code}"')
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


def _step_points(pre: dict[str, Any], source: TomlSource) -> list[int]:
    """``[pretrain] steps``: sorted distinct step counts, at least one above 0. It sets the run's
    length, so ``max_steps``/``epochs`` beside it would be two answers to one question."""
    if "steps" not in pre:
        return []
    value = pre["steps"]
    where = source.locate("pretrain", "steps")
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise WeamError("[pretrain] steps must be a list of step counts, e.g. [0, 100, 300]", *where)
    if any(v < 0 for v in value) or len(set(value)) != len(value) or not any(v > 0 for v in value):
        raise WeamError("[pretrain] steps must be distinct counts ≥ 0, at least one above 0", *where)
    for key in ("max_steps", "epochs", "snapshot_steps"):
        if key in pre:
            raise WeamError(
                f"[pretrain] {key} cannot be combined with steps: the last of steps is the run's length "
                "and the others are saved along the way",
                *source.locate("pretrain", key),
            )
    return sorted(value)


def _task_subset(
    table: dict[str, Any], key: str, tasks: list[str], source: TomlSource, section: str
) -> list[str]:
    value = table[key]
    where = source.locate(section, key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[{section}] {key} must be a non-empty list of the grid's task names", *where)
    for name in value:
        if name not in tasks:
            close = difflib.get_close_matches(name, tasks, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (the grid's: {', '.join(tasks)})"
            raise WeamError(f"[{section}] {key}: '{name}' is not one of the grid's tasks{hint}", *where)
    return list(value)


def _lang_sets_design(pre: dict[str, Any], source: TomlSource, steps: list[int]) -> list[str]:
    """``[pretrain] lang_sets_design``: equal-steps (default), equal-passes or both. Equal passes
    scale a step count, so the reference run's length must be one (steps or max_steps)."""
    if "lang_sets_design" not in pre:
        return ["equal-steps"]
    value = pre["lang_sets_design"]
    where = source.locate("pretrain", "lang_sets_design")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WeamError(
            f"[pretrain] lang_sets_design must be a non-empty list of {' / '.join(LANG_SET_DESIGNS)}", *where
        )
    for name in value:
        if name not in LANG_SET_DESIGNS:
            close = difflib.get_close_matches(name, LANG_SET_DESIGNS, n=1)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f" (choose from {', '.join(LANG_SET_DESIGNS)})"
            )
            raise WeamError(f"[pretrain] lang_sets_design: unknown design '{name}'{hint}", *where)
    if len(set(value)) != len(value):
        raise WeamError("[pretrain] lang_sets_design lists a design twice", *where)
    if "equal-passes" in value:
        if not steps and "max_steps" not in pre:
            raise WeamError(
                "[pretrain] lang_sets_design equal-passes scales the first language set's step count: "
                "give [pretrain] steps or max_steps",
                *where,
            )
        if "epochs" in pre:
            raise WeamError(
                "[pretrain] epochs caps every run alike, which undoes equal-passes: use max_steps",
                *source.locate("pretrain", "epochs"),
            )
    return list(value)


def _method_subset(
    table: dict[str, Any], key: str, methods: list[str], source: TomlSource, section: str
) -> list[str] | None:
    if key not in table:
        return None
    value = table[key]
    where = source.locate(section, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[{section}] {key} must be a list of method names", *where)
    for name in value:
        if name not in methods:
            close = difflib.get_close_matches(name, methods, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (the grid's: {', '.join(methods)})"
            raise WeamError(f"[{section}] {key}: '{name}' is not one of the grid's methods{hint}", *where)
    return list(value)


def _list_of_str(value: Any, source: TomlSource, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[pretrain] {key} must be a list of names", *source.locate("pretrain", key))
    return list(value)


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None
