"""The experiment grid: methods × pre-training language sets × model sizes × seeds, one command.

A TOML config names the grid (see ``examples/demo.toml``; ``experiment.config`` reads it,
``experiment.plan`` turns it into steps); ``run_experiment`` runs them, skipping every step whose
output is complete with the same settings, so a killed run resumes where it stopped and a changed
setting re-runs what it affects. A step that fails is recorded and its dependants are skipped; the
comparison shows their cells as missing.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file, check_writable
from weamcli.common.progress import Progress, quiet
from weamcli.common.run_records import append_records, make_record
from weamcli.experiment.config import ExperimentConfig, load_config
from weamcli.experiment.plan import STEP_MARKER, Step, plan_experiment

STATUS_FILE = "experiment-status.jsonl"


@dataclass
class ExperimentResult:
    out: Path
    ran: list[str]
    skipped: list[str]
    failed: dict[str, str]
    blocked: list[str]
    comparison: Any = None  # the first table (the only one for one task and metric)
    comparisons: list[Any] = field(default_factory=list)  # one per task and metric


StepRunner = Callable[[Step, ExperimentConfig, dict[str, Step], Callable[[str], None]], dict[str, Any]]


def run_experiment(
    config_path: str | Path,
    *,
    progress: Progress | None = None,
    runners: dict[str, StepRunner] | None = None,
    only_plan: bool = False,
) -> ExperimentResult:
    """Run (or resume) the grid of ``config_path``; returns what ran, was skipped, failed."""
    config = load_config(config_path)
    steps = plan_experiment(config)
    by_key = {s.key: s for s in steps}
    say = progress or quiet
    result = ExperimentResult(config.out, [], [], {}, [])
    if only_plan:
        result.skipped = [s.key for s in steps if s.done]
        return result
    from weamcli.experiment.steps import STEP_RUNNERS

    runners = {**STEP_RUNNERS, **(runners or {})}
    check_writable(config.out)  # before the first step, not after hours of them
    config.out.mkdir(parents=True, exist_ok=True)
    bad: set[str] = set()
    for index, step in enumerate(steps, 1):
        prefix = f"[{index}/{len(steps)}] {step.kind} {step.key}"
        state = step.state
        if step.kind != "compare" and state == "done":
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
        say(f"{prefix}: {'settings changed, running again' if state == 'changed' else 'running'}")
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
            result.comparisons = info.get("comparisons") or []
        else:
            step.out.mkdir(parents=True, exist_ok=True)
            with atomic_file(step.out / STEP_MARKER) as fh:
                json.dump(
                    {
                        "step": step.key,
                        "fingerprint": step.fingerprint,
                        "settings": step.settings.to_dict() if step.settings else None,
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
