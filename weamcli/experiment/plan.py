"""The grid as steps: align per language, pretrain per method × language set × size, finetune and
evaluate per model × task × seed, then compare (one table per task and metric). Each step carries
its settings object and a fingerprint of them (chained through the steps it needs): a step is
complete only when its marker holds the same fingerprint, so changing a setting re-runs that step
and everything downstream of it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.settings import Settings
from weamcli.common.tasks import NOT_FINETUNED
from weamcli.experiment.grid import ExperimentConfig
from weamcli.pretrain.output_folder import snapshot_dir

STEP_MARKER = ".weam-step.json"
RUN_ONLY = ("resume", "overwrite", "report_to")  # how a step is run (and logged), not what it computes
# 2: every setting's effective value is fingerprinted, defaults included (1 hashed only values that
# differed from the default, so a new default in a weam upgrade left old steps "done")
FINGERPRINT_SCHEME = 2


@dataclass
class Step:
    """One unit of work with an output folder."""

    kind: str  # align | pretrain | finetune | evaluate | compare
    key: str
    out: Path
    params: dict[str, Any]
    needs: list[str] = field(default_factory=list)
    settings: Settings | None = None
    fingerprint: str = ""

    def marker(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.out / STEP_MARKER).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def state(self) -> str:
        """done (complete with these settings), changed (complete with other settings) or todo."""
        marker = self.marker()
        if marker is None:
            return "todo"
        return "done" if marker.get("fingerprint") == self.fingerprint else "changed"

    @property
    def done(self) -> bool:
        return self.state == "done"

    def changes(self, steps: dict[str, Step]) -> list[str]:
        """Why a ``changed`` step will run again: each setting whose value changed (``key old →
        new``), else the steps it needs that changed, else an older fingerprint scheme."""
        marker = self.marker() or {}
        old = marker.get("values")
        if old is None and isinstance(marker.get("settings"), dict):  # a marker of an earlier weam
            old = {k: v for k, v in marker["settings"].items() if k not in RUN_ONLY}
        new = effective_values(self.settings) if self.settings else {}
        said = [
            f"{key} {_shown(old.get(key, _ABSENT))} → {_shown(new.get(key, _ABSENT))}"
            for key in sorted(set(old or {}) | set(new))
            if old is not None and old.get(key, _ABSENT) != new.get(key, _ABSENT)
        ]
        if said:
            return said
        needed = marker.get("needs")
        for key in self.needs:
            if steps[key].state != "done":
                said.append(f"needs {key}, which runs again")
            elif isinstance(needed, dict) and needed.get(key) not in (None, steps[key].fingerprint):
                said.append(f"{key} ran again since this step ran")
        if not said and marker.get("scheme") != FINGERPRINT_SCHEME:
            said.append("fingerprinted by an earlier weam (defaults now count too); settings as recorded")
        return said


_ABSENT = object()


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(unset)"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def effective_values(settings: Settings) -> dict[str, Any]:
    """What a step's fingerprint covers: every option of its settings with the value it runs with,
    defaults included (and a pre-training objective's own options with their defaults), except
    the options that only say how it is run (``RUN_ONLY``)."""
    values = settings.to_dict()
    objective = getattr(settings, "objective_values", None)
    if callable(objective):
        values.update(objective())
    return {k: v for k, v in sorted(values.items()) if k not in RUN_ONLY}


def model_name(config: ExperimentConfig, params: dict[str, Any]) -> str:
    """The column label of a grid model: base, method and languages, depth."""
    name = config.base_model
    if params["method"] != "baseline":
        # parentheses, not brackets: rich would read "[de,es]" as markup and drop it
        name += f"+{params['method']}({','.join(params['langs'])})"
    if params.get("layers"):
        name += f"-L{params['layers']}"
    if params.get("design") == "equal-passes" or (params.get("steps") is not None and len(config.steps) > 1):
        name += f"@{params['steps']}"  # a point of the steps axis, or an equal-passes run's length
    return name


# a model of the grid: (name, params, model folder or None for the base model, the pretrain step it needs)
GridModel = tuple[str, dict[str, Any], Path | None, str | None]


def plan_experiment(config: ExperimentConfig) -> list[Step]:
    """Every step the grid needs, in an order where each step comes after what it needs."""
    out = config.out
    steps = _align_steps(config)
    pretrain_steps, models = _pretrain_steps(config)
    steps += pretrain_steps
    steps += _model_steps(config, models)
    compare = config.compare_settings(out / "evaluate", out / "compare")
    evaluations = [s.key for s in steps if s.kind == "evaluate"]
    steps.append(Step("compare", "compare", out / "compare", {}, evaluations, compare))
    _fingerprint(steps)
    return steps


def _align_steps(config: ExperimentConfig) -> list[Step]:
    """One alignment per language any pre-training run reads (none without a pre-training method)."""
    if not [m for m in config.methods if m != "baseline"]:
        return []
    steps = []
    for code in sorted({c for s in config.lang_sets for c in s}):
        folder = config.out / "align" / f"en-{code}"
        steps.append(
            Step(
                "align",
                f"align/en-{code}",
                folder,
                {"lang": code},
                settings=config.align_settings(code, folder),
            )
        )
    return steps


def _pretrain_steps(config: ExperimentConfig) -> tuple[list[Step], list[GridModel]]:
    """The pre-training steps (method × language set × depth) and the models the grid evaluates:
    the base model at each depth, and what each pre-training run gives."""
    steps: list[Step] = []
    models: list[GridModel] = []
    pretraining = [m for m in config.methods if m != "baseline"]
    for depth, layers in enumerate(config.layers):
        size = f"L{layers}" if layers else "full"
        if depth == 0 or layers in config.layers_for("baseline"):
            info = {"method": "baseline", "layers": layers, "langs": []}
            if depth:
                info["axis"] = "layers"  # evaluated on [model] layers_tasks
            models.append((f"baseline-{size}", info, None, None))
        for method in pretraining:
            if depth and layers not in config.layers_for(method):
                continue
            sets = config.lang_sets_for(method)
            if depth and config.layers_methods is not None:
                sets = sets[:1]  # a restricted size axis varies depth alone, on the first language set
            for codes in sets:
                run_steps, run_models = _pretrain_runs(config, method, codes, depth, layers)
                steps += run_steps
                models += run_models
    return steps, models


def _pretrain_runs(
    config: ExperimentConfig, method: str, codes: list[str], depth: int, layers: int | None
) -> tuple[list[Step], list[GridModel]]:
    """One method's runs on one language set at one depth: the equal-steps run and, for a set
    after the first, the equal-passes run; with the models they give."""
    out = config.out
    steps: list[Step] = []
    models: list[GridModel] = []
    key = f"pretrain/{method}-{'-'.join(codes)}-{f'L{layers}' if layers else 'full'}"
    first = codes == config.lang_sets[0]
    params = {"method": method, "layers": layers, "langs": codes}
    if depth or not first:
        params["axis"] = "layers" if depth else "langs"
    needs = [f"align/en-{c}" for c in codes]
    if first or "equal-steps" in config.lang_sets_design:
        settings = config.pretrain_settings(method, codes, layers, out / key, resume=False, overwrite=False)
        steps.append(Step("pretrain", key, out / key, params, needs, settings))
        # the steps axis runs on the reference cell (first language set, first depth);
        # the language and size axes are compared at the last point
        models.extend(_step_points(config, key, params, every_point=depth == 0 and first))
    if not first and "equal-passes" in config.lang_sets_design:
        n = config.equal_passes_steps(codes)
        if "equal-steps" in config.lang_sets_design and n == config.reference_steps():
            return steps, models  # as many pairs as the reference set: the equal-steps run is this run
        key += "-passes"
        settings = config.pretrain_settings(
            method, codes, layers, out / key, resume=False, overwrite=False, max_steps=n
        )
        passes = {**params, "design": "equal-passes", "steps": n, "axis": "langs"}
        steps.append(Step("pretrain", key, out / key, passes, needs, settings))
        models.append((key.removeprefix("pretrain/"), passes, out / key, key))
    return steps, models


def _model_steps(config: ExperimentConfig, models: list[GridModel]) -> list[Step]:
    """Fine-tuning and evaluation of every model × task × seed (a probe task: evaluation alone)."""
    # seed-major order: a grid stopped part-way has every model at its first seeds, not some
    # models at every seed (probes, which have no seed, come first)
    cells = [(None, task) for task in config.tasks if task in NOT_FINETUNED]
    cells += [(seed, task) for seed in config.seeds for task in config.tasks if task not in NOT_FINETUNED]
    steps: list[Step] = []
    for seed, task in cells:
        for model in models:
            if task not in config.tasks_for(model[1].get("axis")):
                continue  # a side axis evaluated on fewer tasks
            if seed is None:
                steps.append(_probe_step(config, model, task))
            else:
                steps.extend(_finetune_steps(config, model, task, seed))
    return steps


def _task_part(config: ExperimentConfig, task: str) -> str:
    # one task keeps the keys of earlier grids (their finished steps stay valid)
    return f"{task}/" if len(config.tasks) > 1 else ""


def _probe_step(config: ExperimentConfig, model: GridModel, task: str) -> Step:
    """A probe of the model itself: no fine-tuning, no seeds."""
    name, info, folder, pretrain_key = model
    needs = [pretrain_key] if pretrain_key else []
    ev_key = f"evaluate/{_task_part(config, task)}{name}"
    params = {**info, "seed": None, "task": task}
    ev = config.evaluate_settings(
        str(folder) if folder else config.base_model,
        model_name(config, params),
        config.out / ev_key / "results.jsonl",
        task,
        num_layers=None if folder else info["layers"],
    )
    return Step("evaluate", ev_key, config.out / ev_key, params, needs, ev)


def _finetune_steps(config: ExperimentConfig, model: GridModel, task: str, seed: int) -> list[Step]:
    """A model fine-tuned on one task with one seed, and the evaluation of the fine-tuned model."""
    name, info, folder, pretrain_key = model
    out, part = config.out, _task_part(config, task)
    needs = [pretrain_key] if pretrain_key else []
    base = str(folder) if folder else config.base_model
    layers = None if folder else info["layers"]
    ft_key = f"finetune/{part}{name}/seed-{seed}"
    ft_out = out / ft_key
    ft = config.finetune_settings(base, layers, ft_out.parent, seed, overwrite=False, task=task)
    params = {**info, "seed": seed, "model_key": pretrain_key or name, "task": task}
    finetune = Step("finetune", ft_key, ft_out, params, needs, ft)
    ev_key = f"evaluate/{part}{name}/seed-{seed}"
    params = {**info, "seed": seed, "finetuned": ft_key, "task": task}
    ev = config.evaluate_settings(
        str(ft_out), model_name(config, params), out / ev_key / "results.jsonl", task
    )
    return [finetune, Step("evaluate", ev_key, out / ev_key, params, [ft_key], ev)]


def _step_points(
    config: ExperimentConfig, key: str, params: dict[str, Any], *, every_point: bool
) -> list[tuple[str, dict[str, Any], Path | None, str | None]]:
    """The models one pre-training run gives: its end, and (``every_point``) a snapshot at each
    earlier point of ``[pretrain] steps`` (one run serves every point: nothing is trained twice)."""
    name = key.removeprefix("pretrain/")
    points = [n for n in config.steps if n > 0]
    if not every_point:
        points = points[-1:]
    if not points:
        return [(name, params, config.out / key, key)]
    out = []
    for n in points:
        folder = config.out / key if n == points[-1] else snapshot_dir(config.out / key, n)
        label = name if len(config.steps) == 1 else f"{name}@{n}"
        point = {**params, "steps": n}
        if n != points[-1]:
            point["axis"] = "steps"  # an earlier point: evaluated on [pretrain] steps_tasks
        out.append((label, point, folder, key))
    return out


def _fingerprint(steps: list[Step]) -> None:
    by_key: dict[str, Step] = {}
    for step in steps:
        # the effective value of every setting: a default that changes in a weam upgrade re-runs
        # the steps that read it (so does a new option, once)
        own = effective_values(step.settings) if step.settings else {}
        upstream = [by_key[n].fingerprint for n in step.needs]
        data = json.dumps(
            {"kind": step.kind, "scheme": FINGERPRINT_SCHEME, "settings": own, "needs": upstream},
            sort_keys=True,
            default=str,
        )
        step.fingerprint = hashlib.sha256(data.encode()).hexdigest()[:16]
        by_key[step.key] = step
