"""English fine-tuning of an encoder with a task head (any family), one model per seed.

Model selection uses the English dev split only (or the last epoch): zero-shot means no
target-language label is seen in training or selection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.convergence import Convergence, convergence
from weamcli.common.errors import WeamError
from weamcli.common.families import all_families
from weamcli.common.models import METADATA_FILE, ModelRef
from weamcli.common.output_folders import check_not_protected, check_output_dir, check_writable, json_marker
from weamcli.common.progress import Progress, quiet
from weamcli.common.run_records import write_run_record
from weamcli.common.tasks import TaskSpec
from weamcli.finetune.settings import FinetuneSettings


@dataclass
class SeedRun:
    seed: int
    path: str
    selected_epoch: int
    dev_accuracy: float  # English dev score of the saved model (see dev_metric)
    dev_history: list[float]  # English dev score after each epoch
    train_seconds: float
    params: int
    skipped: bool = False  # already complete from an earlier run with the same configuration
    dev_metric: str = "accuracy"  # what dev_accuracy holds: accuracy, word accuracy (tagging), F1 (QA)
    metrics: dict[str, Any] = field(default_factory=dict)  # the seed's run record (empty when skipped)
    stopped_early: bool = False  # --patience ended it before the --epochs cap

    @property
    def convergence(self) -> Convergence:
        """Whether the English dev curve had flattened (common.convergence)."""
        return convergence(self.dev_history, stopped_early=self.stopped_early)


@dataclass
class FinetuneResult:
    out: str
    task: str
    model_label: str
    runs: list[SeedRun] = field(default_factory=list)


def finetune(
    settings: FinetuneSettings,
    *,
    model: ModelRef | None = None,
    progress: Progress | None = None,
) -> FinetuneResult:
    """Fine-tune ``settings.model`` on the task's English train split once per seed, into
    ``settings.out/seed-<n>``; ``model`` is the resolved reference when the caller has one already.

    A seed folder that already holds a finished fine-tune with the same configuration is kept and
    skipped, so an interrupted multi-seed run continues where it stopped.
    """
    from weamcli.common.models import resolve_model
    from weamcli.common.precision import bf16_choice_for

    config = settings
    say = progress or quiet
    task = settings.task_spec()
    seeds = settings.seeds
    overwrite = settings.overwrite
    out = _check_output(settings)
    if model is None:
        model = resolve_model(settings.model, num_layers=settings.num_layers, progress=say)
    # load (and validate) the data before any model or output exists
    from weamcli.finetune.training import english_data

    train, dev, labels = english_data(task, config)
    for part in (train, dev):
        if getattr(part, "unlabelled", 0):
            say(f"{part.source}: left out {part.unlabelled} rows without a gold label ('{task.no_label}')")
    base_meta = model.metadata()
    # the calibration times a masked-LM step, the nearest shape it has: the encoder dominates both
    bf16 = bf16_choice_for(
        model, config.batch_size, config.max_length or 128, trimmed=True, requested=config.bf16
    )
    run_config = _run_config(settings, model, train, dev, labels, bf16.enabled)
    result = FinetuneResult(str(out), task.name, "")
    for seed in seeds:
        target = out / f"seed-{seed}"
        done = None if overwrite else _finished(target, run_config, seed)
        if done is not None:
            say(f"seed {seed}: already fine-tuned with this configuration in {target}; kept")
            result.runs.append(done)
            result.model_label = result.model_label or str(
                json.loads((target / METADATA_FILE).read_text(encoding="utf-8")).get("label", "")
            )
            continue
        run = _train_seed(
            model,
            base_meta,
            task,
            train,
            dev,
            labels,
            config,
            seed,
            target,
            run_config,
            overwrite=overwrite,
            say=say,
        )
        result.runs.append(run)
        result.model_label = json.loads((target / METADATA_FILE).read_text(encoding="utf-8"))["label"]
        write_run_record(
            out,
            "finetune",
            {**run_config, "settings": settings.to_dict()},
            seed=seed,
            metrics={**run.metrics, "bf16_reason": bf16.reason, "path": run.path},
        )
    return result


def _run_config(
    settings: FinetuneSettings, model: ModelRef, train: Any, dev: Any, labels: tuple[str, ...], bf16: bool
) -> dict[str, Any]:
    """What identifies a seed folder's training: a finished folder with the same values is kept."""
    run_config = {
        "task": settings.task_spec().name,
        "model": model.name,
        "model_path": model.path,
        "num_layers": model.num_layers,
        "train_file": train.source,
        "dev_file": dev.source,
        "n_train": len(train),
        "n_dev": len(dev),
        "labels": list(labels),
        **settings.hyperparameters(),
        "bf16": bf16,
    }
    if getattr(train, "unlabelled", 0):  # only where it happens: older seed folders stay valid
        run_config["train_unlabelled"] = train.unlabelled
    return run_config


def _check_output(settings: FinetuneSettings) -> Path:
    """The output folder, checked before the model, the data and the training (not after): a
    writable folder, not protected, whose seed folders are weam fine-tunes, never an input."""
    out = Path(settings.out)
    if out.exists() and not out.is_dir():
        raise WeamError("output exists and is not a folder", out)
    check_writable(out)
    check_not_protected(out)
    inputs = [settings.model, settings.data_dir, settings.train, settings.dev]
    fine_tune = {METADATA_FILE: json_marker(having="finetune_seed")}
    for seed in settings.seeds:
        check_output_dir(out / f"seed-{seed}", command="weam finetune", markers=fine_tune, inputs=inputs)
    return out


def _finished(target: Path, settings: dict[str, Any], seed: int) -> SeedRun | None:
    meta_path = target / METADATA_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if meta.get("finetune_config") != json.loads(json.dumps(settings)) or meta.get("finetune_seed") != seed:
        raise WeamError(
            "holds a fine-tune with another configuration (pass --overwrite to replace it)", target
        )
    return SeedRun(
        seed,
        str(target),
        meta.get("selected_epoch", 0),
        meta.get("dev_accuracy", meta.get("dev_score", float("nan"))),
        meta.get("dev_history", []),
        0.0,
        meta.get("params", 0),
        skipped=True,
        dev_metric=meta.get("dev_metric", "accuracy"),
        stopped_early=bool(meta.get("stopped_early", False)),
    )


FAMILY_MODULES = {f.name: f"weamcli.finetune.{f.trainer}" for f in all_families()}  # common.families


def _train_seed(
    ref: ModelRef,
    base_meta: dict[str, Any],
    task: TaskSpec,
    train: Any,
    dev: Any,
    labels: tuple[str, ...],
    config: FinetuneSettings,
    seed: int,
    target: Path,
    settings: dict[str, Any],
    *,
    overwrite: bool,
    say: Callable[[str], None],
) -> SeedRun:
    """One seed of any task family: the family module builds it, ``training.train_seed`` trains it."""
    import importlib

    from transformers import set_seed

    from weamcli.finetune.training import train_seed

    set_seed(seed)
    family = importlib.import_module(FAMILY_MODULES[task.kind]).build_family(
        ref, train, dev, labels, config, say
    )
    done = train_seed(
        ref, base_meta, task, family, config, seed, target, settings, overwrite=overwrite, say=say
    )
    return SeedRun(
        seed,
        str(target),
        done.selected_epoch,
        done.dev_score,
        done.dev_history,
        done.train_seconds,
        done.params,
        dev_metric=done.metrics["dev_metric"],
        metrics=done.metrics,
        stopped_early=done.metrics["stopped_early"],
    )
