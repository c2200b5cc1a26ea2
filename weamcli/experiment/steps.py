"""How each kind of grid step runs: the core function of the matching command with the step's
settings object (built from the TOML by ``experiment.config``), so every variant gets the same
data, steps and head warm-up."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.experiment.grid import ExperimentConfig
from weamcli.experiment.plan import Step, model_name

Say = Callable[[str], None]


def run_align(step: Step, config: ExperimentConfig, steps: dict[str, Step], say: Say) -> dict[str, Any]:
    from weamcli.align.run import align

    seen: set[str] = set()

    def stages(stage: str, done: int | None = None, total: int | None = None) -> None:
        if stage not in seen:  # the grid's log wants one line per stage, not a bar
            seen.add(stage)
            say(f"  {stage}")

    result = align(step.settings, progress=stages)
    return {"pairs": result.pairs}


def run_pretrain(step: Step, config: ExperimentConfig, steps: dict[str, Step], say: Say) -> dict[str, Any]:
    from weamcli.common.models import METADATA_FILE
    from weamcli.pretrain.output_folder import CONFIG_FILE
    from weamcli.pretrain.run import pretrain

    state = step.state
    started = (step.out / CONFIG_FILE).is_file()
    if state == "todo" and started and (step.out / METADATA_FILE).is_file():
        return {"note": "finished earlier"}  # killed after training, before the step was marked
    if state == "changed" or not started:
        # other settings than the finished run's, or leftovers of a run that never started
        settings = dataclasses.replace(step.settings, overwrite=True)
    else:
        settings = dataclasses.replace(step.settings, resume=True)  # a killed run continues
        try:
            old = json.loads((step.out / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old is not None and not _same_run(old, step.settings):
            say("  the settings changed since the interrupted run: starting over")
            settings = dataclasses.replace(step.settings, overwrite=True)
    pretrain(settings, progress=say, resume_hint=f"run `weam experiment {config.path}` again")
    return {}


def _same_run(old_config: dict[str, Any], settings: Any) -> bool:
    """Whether an interrupted run's pretrain-config.json was made with these settings (the values
    the user gave; resolved ones such as the model path are not compared)."""
    from weamcli.pretrain.run import RESUME_FREE

    given = {**settings.to_dict(), **settings.objective_values()}  # as pretrain records them
    resolved = ("model", "num_layers", "head_warmup_steps", "trim_vocab", "bf16")
    return all(old_config.get(k) == v for k, v in given.items() if k not in RESUME_FREE and k not in resolved)


def run_finetune(step: Step, config: ExperimentConfig, steps: dict[str, Step], say: Say) -> dict[str, Any]:
    from weamcli.finetune.run import finetune

    settings = dataclasses.replace(step.settings, overwrite=step.state == "changed")
    result = finetune(settings, progress=say)
    run = result.runs[0]
    return {"dev_accuracy": run.dev_accuracy, "path": run.path}


def run_evaluate(step: Step, config: ExperimentConfig, steps: dict[str, Step], say: Say) -> dict[str, Any]:
    from weamcli.evaluate.run import mean_metrics, run_evaluation

    step.out.mkdir(parents=True, exist_ok=True)
    (step.out / "results.jsonl").unlink(missing_ok=True)  # rows of an attempt that was not marked done
    result = run_evaluation(step.settings, progress=say)
    rows = result.rows
    say(f"  precision: {result.precision}")
    return {"rows": len(rows), "precision": result.precision, **(mean_metrics(rows) if rows else {})}


def run_compare(step: Step, config: ExperimentConfig, steps: dict[str, Step], say: Say) -> dict[str, Any]:
    from weamcli.compare.run import run_comparison

    for line in convergence_warnings(steps):
        say(f"warning: {line}")
    expected: dict[str, dict[str, str]] = {}
    for s in steps.values():
        if s.kind == "evaluate":
            expected.setdefault(s.params["task"], {})[model_name(config, s.params)] = s.params["method"]
    result = run_comparison(step.settings, expected_by_task=expected, notes=_length_notes(config, steps))
    return {"comparison": result.comparison, "comparisons": result.comparisons, "paths": result.written}


def convergence_warnings(steps: dict[str, Step]) -> list[str]:
    """One line per fine-tune of a plain model whose English dev score was still rising at its last
    epoch: the comparison against it measures fine-tunability as much as transfer."""
    from weamcli.common.convergence import convergence
    from weamcli.common.models import METADATA_FILE

    lines = []
    for s in steps.values():
        meta_file = s.out / METADATA_FILE
        if s.kind != "finetune" or s.params.get("method") != "baseline" or not meta_file.is_file():
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise WeamError(f"invalid JSON ({exc.msg})", meta_file, exc.lineno) from None
        verdict = convergence(meta.get("dev_history"), stopped_early=bool(meta.get("stopped_early")))
        if verdict.status == "not converged":
            metric = meta.get("dev_metric", "accuracy")
            lines.append(
                f"task {s.params.get('task')}: the plain model is NOT CONVERGED on English "
                f"(seed {s.params.get('seed')}: {verdict.describe(metric)}; dev curve "
                f"{', '.join(f'{100 * x:.1f}' for x in meta['dev_history'])}); its Δs measure "
                "fine-tunability as much as transfer — raise [finetune] epochs or set patience"
            )
    return lines


def _length_notes(config: ExperimentConfig, steps: dict[str, Step]) -> list[str]:
    """How long each pre-training really ran (steps and epochs), from its model folder."""
    from weamcli.common.models import METADATA_FILE

    notes = []
    for s in steps.values():
        meta_file = s.out / METADATA_FILE
        if s.kind != "pretrain" or not meta_file.is_file():
            continue
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise WeamError(f"invalid JSON ({exc.msg})", meta_file, exc.lineno) from None
        name = model_name(config, s.params)
        if "epochs" in meta:
            notes.append(f"{name}: pre-trained {meta['steps']} steps = {meta['epochs']:.2f} epochs")
        else:
            notes.append(f"{name}: pre-trained {meta.get('steps')} steps (epochs not recorded)")
    return notes


STEP_RUNNERS = {
    "align": run_align,
    "pretrain": run_pretrain,
    "finetune": run_finetune,
    "evaluate": run_evaluate,
    "compare": run_compare,
}
