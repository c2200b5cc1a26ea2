"""The loaded experiment (``ExperimentConfig``): the grid's axes, and each step's settings object
built from the TOML's stage sections with the values the grid fixes itself (languages, model,
output folders …). ``experiment.config`` reads and checks the file into one."""

from __future__ import annotations

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
from weamcli.experiment.grid_keys import PRETRAIN_GRID_KEYS
from weamcli.experiment.settings import SlurmSettings
from weamcli.finetune.settings import FinetuneSettings
from weamcli.pretrain.settings import OBJECTIVE_OPTIONS, PretrainSettings

_TASK_KEYS = {o.key for o in TaskSettings.options()}
PER_TASK_SECTIONS = ("task", "finetune", "evaluate")  # sections that may have [<section>.<task>] parts


@dataclass
class ExperimentConfig:
    """A checked experiment TOML (``load_config``): the grid's axes and the sections as written."""

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
