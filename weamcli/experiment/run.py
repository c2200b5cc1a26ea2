"""The experiment grid: methods × pre-training language sets × model sizes × seeds, one command.

A TOML config names the grid (see ``examples/demo.toml``). ``plan_experiment`` turns it into an
ordered list of steps (align per language, pretrain per method × language set × size, finetune
and evaluate per model × seed, then compare); ``run_experiment`` runs them, skipping every step
whose output is already complete, so a killed run resumes where it stopped. A step that fails is
recorded and its dependants are skipped; the comparison shows their cells as missing.
"""

from __future__ import annotations

import json
import re
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file
from weamcli.common.languages import language
from weamcli.common.run_records import append_records, make_record

STEP_MARKER = ".weam-step.json"
STATUS_FILE = "experiment-status.jsonl"
METHODS = ("baseline", "mlm", "tlm", "weam")


@dataclass
class ExperimentConfig:
    path: Path
    name: str
    out: Path
    seeds: list[int]
    base_model: str
    layers: list[int | None]
    methods: list[str]
    lang_sets: list[list[str]]
    pretrain: dict[str, Any]
    finetune: dict[str, Any]
    evaluate: dict[str, Any]
    task: dict[str, Any]
    compare: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def load_config(path: str | Path) -> ExperimentConfig:
    """Parse and validate an experiment TOML; errors name the file and, where found, the line."""
    path = Path(path)
    if not path.is_file():
        raise WeamError("config file not found", path)
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise WeamError(f"invalid TOML ({exc})", path, int(match.group(1)) if match else None) from None

    def section(name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise WeamError(f"[{name}] must be a table", path, _line_of(text, name))
        return value

    exp, model, pre = section("experiment"), section("model"), section("pretrain")
    methods = list(pre.get("methods", ["weam", "tlm"]))
    for m in methods:
        if m not in METHODS:
            raise WeamError(
                f"unknown method '{m}' (known: {', '.join(METHODS)})", path, _line_of(text, f'"{m}"')
            )
    if "baseline" not in methods:
        methods.insert(0, "baseline")
    lang_sets = [list(s) for s in pre.get("lang_sets", [])]
    if any(m != "baseline" for m in methods) and not lang_sets:
        raise WeamError("[pretrain] lang_sets is empty", path, _line_of(text, "lang_sets"))
    evaluate = section("evaluate")
    for code in [c for s in lang_sets for c in s] + list(evaluate.get("langs", [])):
        try:
            language(code)
        except WeamError as exc:
            raise WeamError(exc.message, path, _line_of(text, f'"{code}"')) from None
    base = str(model.get("base", "e5-small"))
    layers = [None if not n else int(n) for n in model.get("layers", [None])]
    out = Path(str(exp.get("out", f"runs/{path.stem}")))
    if not out.is_absolute():
        out = Path.cwd() / out
    return ExperimentConfig(
        path=path,
        name=str(exp.get("name", path.stem)),
        out=out,
        seeds=[int(s) for s in exp.get("seeds", [13])],
        base_model=base,
        layers=layers,
        methods=methods,
        lang_sets=lang_sets,
        pretrain=pre,
        finetune=section("finetune"),
        evaluate=evaluate,
        task=section("task"),
        compare=section("compare"),
        raw=raw,
    )


@dataclass
class Step:
    """One unit of work with an output folder; complete when its marker file exists."""

    kind: str  # align | pretrain | finetune | evaluate | compare
    key: str
    out: Path
    params: dict[str, Any]
    needs: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return (self.out / STEP_MARKER).is_file()


def plan_experiment(config: ExperimentConfig) -> list[Step]:
    """Every step the grid needs, in an order where each step comes after what it needs."""
    steps: list[Step] = []
    out = config.out
    langs_needed = sorted({language(c).code for s in config.lang_sets for c in s})
    pretraining = [m for m in config.methods if m != "baseline"]
    if pretraining:
        for code in langs_needed:
            steps.append(Step("align", f"align/en-{code}", out / "align" / f"en-{code}", {"lang": code}))
    models: list[tuple[str, dict[str, Any]]] = []
    for layers in config.layers:
        size = f"L{layers}" if layers else "full"
        models.append((f"baseline-{size}", {"method": "baseline", "layers": layers, "langs": []}))
        for method in pretraining:
            for lang_set in config.lang_sets:
                codes = [language(c).code for c in lang_set]
                key = f"pretrain/{method}-{'-'.join(codes)}-{size}"
                steps.append(
                    Step(
                        "pretrain",
                        key,
                        out / key,
                        {"method": method, "layers": layers, "langs": codes},
                        needs=[f"align/en-{c}" for c in codes],
                    )
                )
                models.append((key, {"method": method, "layers": layers, "langs": codes}))
    for model_key, info in models:
        for seed in config.seeds:
            name = model_key.replace("pretrain/", "")
            ft_key = f"finetune/{name}/seed-{seed}"
            needs = [model_key] if model_key.startswith("pretrain/") else []
            steps.append(
                Step(
                    "finetune",
                    ft_key,
                    out / ft_key,
                    {**info, "seed": seed, "model_key": model_key},
                    needs=needs,
                )
            )
            ev_key = f"evaluate/{name}/seed-{seed}"
            steps.append(
                Step(
                    "evaluate",
                    ev_key,
                    out / ev_key,
                    {**info, "seed": seed, "finetuned": ft_key},
                    needs=[ft_key],
                )
            )
    steps.append(
        Step("compare", "compare", out / "compare", {}, needs=[s.key for s in steps if s.kind == "evaluate"])
    )
    return steps


@dataclass
class ExperimentResult:
    out: Path
    ran: list[str]
    skipped: list[str]
    failed: dict[str, str]
    blocked: list[str]
    comparison: Any = None


StepRunner = Callable[[Step, ExperimentConfig, dict[str, Step], Callable[[str], None]], dict[str, Any]]


def run_experiment(
    config_path: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    runners: dict[str, StepRunner] | None = None,
    only_plan: bool = False,
) -> ExperimentResult:
    """Run (or resume) the grid of ``config_path``; returns what ran, was skipped, failed."""
    config = load_config(config_path)
    steps = plan_experiment(config)
    by_key = {s.key: s for s in steps}
    say = progress or (lambda _m: None)
    result = ExperimentResult(config.out, [], [], {}, [])
    if only_plan:
        result.skipped = [s.key for s in steps if s.done]
        return result
    from weamcli.experiment.steps import STEP_RUNNERS

    runners = {**STEP_RUNNERS, **(runners or {})}
    config.out.mkdir(parents=True, exist_ok=True)
    bad: set[str] = set()
    for index, step in enumerate(steps, 1):
        prefix = f"[{index}/{len(steps)}] {step.kind} {step.key}"
        if step.kind != "compare" and step.done:
            result.skipped.append(step.key)
            say(f"{prefix}: already complete, skipped")
            continue
        blockers = [n for n in step.needs if n in bad]
        if blockers and step.kind != "compare":
            bad.add(step.key)
            result.blocked.append(step.key)
            say(f"{prefix}: skipped, needs failed step {blockers[0]}")
            _status(config, step, "blocked", f"needs failed step {blockers[0]}")
            continue
        say(f"{prefix}: running")
        try:
            info = runners[step.kind](step, config, by_key, say)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failed cell must not stop the grid; it is reported
            bad.add(step.key)
            message = str(exc) if isinstance(exc, WeamError) else f"{type(exc).__name__}: {exc}"
            result.failed[step.key] = message
            say(f"{prefix}: FAILED: {message}")
            _status(config, step, "failed", message, detail=traceback.format_exc(limit=6))
            continue
        if step.kind == "compare":
            result.comparison = info.get("comparison")
        else:
            step.out.mkdir(parents=True, exist_ok=True)
            with atomic_file(step.out / STEP_MARKER) as fh:
                json.dump(
                    {
                        "step": step.key,
                        "params": step.params,
                        **{k: v for k, v in info.items() if isinstance(v, (str, int, float))},
                    },
                    fh,
                    indent=2,
                    default=str,
                )
        result.ran.append(step.key)
        _status(config, step, "done", "")
    return result


def _status(config: ExperimentConfig, step: Step, status: str, message: str, detail: str = "") -> None:
    record = make_record(
        "experiment",
        {"config": str(config.path), "step": step.key, "kind": step.kind, "params": step.params},
        event=status,
        metrics={"message": message, "detail": detail},
    )
    append_records(config.out / STATUS_FILE, [record])
