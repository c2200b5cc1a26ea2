"""The one fine-tuning loop of every task family: HF Trainer, one seed at a time, the epoch chosen
on ENGLISH dev only.

A family's trainer module (``common.families``: ``trainer``) supplies a ``Family``: the model, the
training features, a dev scorer and its words; the English data, the optimiser, per-epoch
selection and the saved folder (weam.json, model card, run record) are here. ``finetune.run``
runs the seed loop.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.convergence import convergence, convergence_of
from weamcli.common.errors import WeamError
from weamcli.common.families import all_families, family
from weamcli.common.files import atomic_dir
from weamcli.common.model_card import render_card, write_model_card
from weamcli.common.models import ModelRef, model_label, parameter_count
from weamcli.common.progress import Progress, trainer_steps
from weamcli.common.run_records import write_run_record
from weamcli.common.task_splits import AnySplit, TaggedSplit, load_task_split, sample_split
from weamcli.common.tasks import TaskSpec, resolve_language
from weamcli.finetune.embedding_rows import UsedRows, restore_embeddings, train_used_rows
from weamcli.finetune.settings import FinetuneSettings

# the base model's weam.json keys a fine-tuned model keeps (its facts in every result row)
CARRIED_KEYS = ("text_prefix", "method", "pretrain_langs", "pretrain_steps", "base_model", "num_layers")
DEV_METRICS = {f.name: f.dev_metric for f in all_families()}


def english_data(task: TaskSpec, config: FinetuneSettings) -> tuple[AnySplit, AnySplit, tuple[str, ...]]:
    """The English train and dev splits (sub-sampled as the settings say) and the label set: the
    task's, or the labels (tags) of the whole training split, sorted. A dev label the training data
    lacks is an error naming the file and line."""
    code, _ = resolve_language(task, task.source_lang)
    train = load_task_split(task, code, "train")
    dev = load_task_split(task, code, "dev")
    labels: tuple[str, ...] = ()
    if family(task.kind).has_labels:  # not spans (QA) nor choice indices (multiple choice)
        labels = task.labels if task.labels is not None else tuple(sorted(set(train.labels)))
        if isinstance(dev, TaggedSplit):
            dev.check_tags(labels)
        else:
            bad = sorted(set(dev.labels) - set(labels))
            if bad:
                raise WeamError(f"dev labels {bad} do not occur in the training split", dev.source)
    seed = config.train_sample_seed
    train = sample_split(train, config.max_train_examples, seed)
    if "max_dev_examples" in family(task.kind).hyperparameters:
        dev = sample_split(dev, config.max_dev_examples, seed)
    return train, dev, labels


@dataclass(frozen=True)
class CardWords:
    """How a task family is named on the model card."""

    pipeline: str  # the hub pipeline tag
    head: str  # the head the encoder gets, for the card's summary
    units: str  # what a training unit is (examples, sentences, questions)
    loader: tuple[str, str]  # (module of weamcli.finetune, function) that loads the saved folder
    labels_word: str = "labels"  # "labels" or "tags"


@dataclass
class Family:
    """What a task family gives the common trainer."""

    model: Any  # an nn.Module with ``encoder``, ``head_parameters()`` and ``save(folder, tokenizer, meta)``
    tokenizer: Any
    train_dataset: Any  # a datasets.Dataset of features with labels (and "length")
    collator: Any
    dev_score: Callable[[Any], float]  # the model -> its English dev score (a fraction)
    meta: dict[str, Any]  # the family's facts for weam.json (labels, pooling, windows, answer length ...)
    words: CardWords
    # the training pieces, where a row's input_ids are not one sequence (multiple choice: one a choice)
    piece_ids: list[list[int]] | None = None


@dataclass
class TrainedSeed:
    selected_epoch: int
    dev_score: float
    dev_history: list[float]
    train_seconds: float
    params: int
    metrics: dict[str, Any]  # what the seed's run record holds (the outer run.jsonl adds to it)


def train_seed(
    ref: ModelRef,
    base_meta: dict[str, Any],
    task: TaskSpec,
    family: Family,
    config: FinetuneSettings,
    seed: int,
    target: Path,
    run_config: dict[str, Any],
    *,
    overwrite: bool,
    say: Progress,
) -> TrainedSeed:
    """Train one seed and save the folder (encoder, tokenizer, head, weam.json, a model card,
    run.jsonl; with --report-to tensorboard, runs/)."""
    from transformers import PrinterCallback, Trainer

    model = family.model
    _return_freed_memory()  # what encoding the data freed (the tokenizer), before training's peak
    optimizer = _optimizer(family, config, ref)
    metric = DEV_METRICS[task.kind]
    curve = DevCurve(config.patience)
    best: dict[str, Any] = {"state": None}
    started = time.perf_counter()

    def scored(epoch: int, score: float, improved: bool) -> None:
        say(
            f"seed {seed}: epoch {epoch}/{config.epochs:g} English dev {metric} {score:.3f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        if config.select == "best-dev" and improved:
            best["state"] = _snapshot(model)

    with atomic_dir(target, overwrite=overwrite) as tmp:
        work = tmp / ".trainer"
        trainer = Trainer(
            model=model,
            args=_training_args(config, seed, work, bf16=bool(run_config.get("bf16"))),
            train_dataset=family.train_dataset,
            data_collator=family.collator,
            callbacks=[
                _selection(family, curve, scored),
                trainer_steps(say, f"seed {seed}: training"),
            ],
            optimizers=(optimizer, None),
        )
        trainer.remove_callback(PrinterCallback)  # progress goes through `say`, not stdout dicts
        trainer.train()
        seconds = time.perf_counter() - started
        steps = trainer.state.max_steps, trainer.state.global_step
        selected, score = _select(model, config, curve, best)
        del trainer
        _after_training(model, optimizer, work, tmp)
        params = parameter_count(model)
        outcome = _outcome(metric, score, selected, curve, steps)
        meta = seed_metadata(ref, base_meta, task, family, config, seed, run_config, params, outcome)
        model.to("cpu").save(tmp, family.tokenizer, meta)
        write_model_card(tmp, _card(meta, family.words, config, run_config, ref, target))
        metrics = {**outcome, "train_seconds": seconds, "params": params}
        write_run_record(tmp, "finetune", run_config, seed=seed, metrics=metrics)
    stop = f", stopped early after {len(curve.history)} epochs" if curve.stopped_early else ""
    say(f"seed {seed}: saved epoch {selected} (English dev {metric} {score:.3f}{stop}) to {target}")
    return TrainedSeed(selected, score, curve.history, seconds, params, metrics)


def _optimizer(family: Family, config: FinetuneSettings, ref: ModelRef) -> Any:
    """Fused AdamW over the trainable parameters, the word embeddings frozen or cut to the rows the
    training data uses (only those get a gradient and optimiser state: embedding_rows)."""
    model = family.model
    if config.freeze_embeddings:
        # the word-embedding matrix (96M of e5-small's 118M parameters) dominates the update cost
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
        return adamw(parameter_groups(model, config))
    ids = family.piece_ids if family.piece_ids is not None else family.train_dataset["input_ids"]
    rows = train_used_rows(model.encoder, ids, family.tokenizer.pad_token_id, ref)
    optimizer = adamw(parameter_groups(model, config))
    if rows is not None:  # None: the whole matrix trains (the reference in tests)
        rows.follow(optimizer)
    return optimizer


def _select(model: Any, config: FinetuneSettings, curve: DevCurve, best: dict[str, Any]) -> tuple[int, float]:
    """The epoch kept (its weights put back with best-dev) and its English dev score."""
    if config.select == "best-dev" and best["state"] is not None:
        _restore(model, best.pop("state"))
        return curve.best_epoch, curve.best_score
    history = curve.history
    return len(history), history[-1] if history else float("nan")


def _after_training(model: Any, optimizer: Any, work: Path, tmp: Path) -> None:
    """Free the training state, put the full embedding matrix back, keep TensorBoard's files."""
    # the optimiser's moments and the gradients go before the full matrix is rebuilt for saving
    optimizer.state.clear()
    model.zero_grad(set_to_none=True)
    _return_freed_memory()
    restore_embeddings(model.encoder)
    if (work / "runs").is_dir():  # TensorBoard's event files stay with the model
        (work / "runs").rename(tmp / "runs")
    shutil.rmtree(work, ignore_errors=True)


def _outcome(
    metric: str, score: float, selected: int, curve: DevCurve, steps: tuple[int, int]
) -> dict[str, Any]:
    return {
        "dev_metric": metric,
        "dev_score": score,
        **({"dev_accuracy": score} if metric == "accuracy" else {}),  # the key classification had
        "selected_epoch": selected,
        **curve.record(),
        # the linear decay is planned over the --epochs cap: an early stop ends it part-way
        "lr_schedule": "linear",
        "schedule_steps": steps[0],
        "steps_run": steps[1],
    }


def _return_freed_memory() -> None:
    """Hand freed memory back to the system (glibc keeps freed heap pages of a process, so a peak
    after training would stack on the training's); a no-op where the C library has no malloc_trim."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


def _snapshot(model: Any) -> dict[str, Any]:
    """What training changes, on the CPU: the trainable parameters (not a frozen embedding matrix)
    and the weight-decay factor of the embedding rows no step touched."""

    return {
        "params": {
            k: p.detach().to("cpu", copy=True) for k, p in model.named_parameters() if p.requires_grad
        },
        "decay": {k: m.decay for k, m in model.named_modules() if isinstance(m, UsedRows)},
    }


def _restore(model: Any, snapshot: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in snapshot["params"].items():
            params[name].copy_(value)
    modules = dict(model.named_modules())
    for name, decay in snapshot["decay"].items():
        modules[name].decay = decay


@dataclass
class DevCurve:
    """The English dev score after each epoch, the best epoch so far, and early stopping: stop once
    ``patience`` epochs in a row brought no gain over the best (None: never)."""

    patience: int | None
    history: list[float] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = 0  # 1-based; 0 while no epoch has scored
    stopped_early: bool = False

    def add(self, score: float) -> bool:
        """Record the next epoch's score; True when it is the best so far (NaN never is)."""
        self.history.append(score)
        if score > self.best_score:
            self.best_score, self.best_epoch = score, len(self.history)
            return True
        return False

    def should_stop(self) -> bool:
        return bool(self.patience) and len(self.history) - self.best_epoch >= self.patience

    def record(self) -> dict[str, Any]:
        """The curve's keys in weam.json and run.jsonl, with the convergence verdict."""
        verdict = convergence(self.history, stopped_early=self.stopped_early)
        return {
            "dev_history": self.history,
            "epochs_run": len(self.history),
            "stopped_early": self.stopped_early,
            **verdict.record(),
        }


def _selection(family: Family, curve: DevCurve, scored: Callable[[int, float, bool], None]):
    """The TrainerCallback that scores English dev after each epoch, tells ``scored(epoch, score,
    improved)`` and stops the training when the curve says so (before the --epochs cap: early)."""
    from transformers import TrainerCallback

    class Selection(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            score = float(family.dev_score(family.model))
            family.model.train()
            improved = curve.add(score)
            scored(len(curve.history), score, improved)
            if curve.should_stop() and state.global_step < state.max_steps:
                curve.stopped_early = True
                control.should_training_stop = True

    return Selection()


def _training_args(config: FinetuneSettings, seed: int, work: Path, *, bf16: bool):
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        eval_strategy="no",  # Selection scores dev itself: QA needs spans decoded over windows
        save_strategy="no",
        logging_strategy="epoch",
        report_to=[] if config.report_to == "none" else [config.report_to],  # tensorboard: work/runs
        seed=seed,
        data_seed=seed,
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=bf16,
    )


def parameter_groups(model: Any, config: FinetuneSettings) -> list[dict[str, Any]]:
    """AdamW groups: the encoder's matrices (decayed), its biases and LayerNorms (not decayed), the
    head (its own learning rate); parameters that do not train are left out."""
    head_ids = {id(p) for p in model.head_parameters()}
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad or id(p) in head_ids:
            continue
        (no_decay if p.ndim < 2 else decay).append(p)  # no decay on biases and LayerNorm
    groups = [
        {"params": decay, "lr": config.lr, "weight_decay": config.weight_decay},
        {"params": no_decay, "lr": config.lr, "weight_decay": 0.0},
        {"params": model.head_parameters(), "lr": config.head_lr, "weight_decay": config.weight_decay},
    ]
    return [g for g in groups if g["params"]]


def seed_metadata(
    ref: ModelRef,
    base_meta: dict[str, Any],
    task: TaskSpec,
    family: Family,
    config: FinetuneSettings,
    seed: int,
    run_config: dict[str, Any],
    params: int,
    outcome: dict[str, Any],
) -> dict[str, Any]:
    """The weam.json of one fine-tuned seed: the base model's facts it carries, the task and the
    family's facts, how it was selected and its English dev outcome."""
    num_layers = family.model.encoder.config.num_hidden_layers
    meta = {k: base_meta[k] for k in CARRIED_KEYS if k in base_meta}
    meta.update(
        text_prefix=ref.text_prefix,
        method=base_meta.get("method", "baseline"),
        pretrain_langs=list(base_meta.get("pretrain_langs", [])),
        base_model=str(base_meta.get("base_model") or base_meta.get("preset") or ref.label.split("-L")[0]),
        num_layers=num_layers,
        label=model_label(ref, base_meta, num_layers),
        task=task.name,
        kind=task.kind,
        **family.meta,
        finetune_seed=seed,
        selection=config.select,
        params=params,
        **outcome,
        finetune_config=json.loads(json.dumps(run_config)),
    )
    return meta


def _card(
    meta: dict[str, Any],
    words: CardWords,
    config: FinetuneSettings,
    run_config: dict[str, Any],
    ref: ModelRef,
    folder: Path,
) -> str:
    """The model card of one fine-tuned seed, from its weam.json."""
    metric = meta["dev_metric"]
    pretrain = meta.get("pretrain_langs") or []
    method = meta.get("method", "baseline")
    encoder = meta["base_model"] + (f"+{method} ({', '.join(pretrain)})" if method != "baseline" else "")
    module, loader = words.loader
    labels = meta.get("labels")
    facts: list[tuple[str, Any]] = [
        ("encoder", f"{encoder} from {ref.path}"),
        ("continual pre-training", f"{method} on en–{', en–'.join(pretrain)}" if pretrain else "none"),
        ("task", meta["task"] + (f": {words.labels_word} {', '.join(map(str, labels))}" if labels else "")),
        ("training data", f"{run_config['n_train']:,} English {words.units} from {run_config['train_file']}"),
        (
            "model selection",
            f"{config.select} on {run_config['n_dev']:,} English dev {words.units} from "
            f"{run_config['dev_file']}",
        ),
    ]
    if "doc_stride" in meta:
        windows = f"{meta['max_length']} pieces, {meta['doc_stride']} shared between neighbours"
        facts.append(("windows", windows))
    epochs = f"{config.epochs:g} epochs"
    if config.patience:
        stop = ", stopped early" if meta["stopped_early"] else ""
        epochs = f"{meta['epochs_run']} of at most {epochs} (patience {config.patience}{stop})"
    facts += [
        (
            "training",
            f"{epochs}, batch {config.batch_size}, lr {config.lr:g} (head {config.head_lr:g}), linear "
            f"decay over {meta['schedule_steps']:,} steps ({meta['steps_run']:,} run)",
        ),
        ("seed", meta["finetune_seed"]),
        ("layers", meta["num_layers"]),
        ("parameters", f"{meta['params']:,}"),
    ]
    return render_card(
        title=f"{meta['label']} fine-tuned on {meta['task']} (English), seed {meta['finetune_seed']}",
        summary=(
            f"The encoder `{encoder}` with {words.head}, fine-tuned on ENGLISH data of {meta['task']} only "
            f"(the epoch chosen by English dev {metric}): every other language is zero-shot. "
            "`weam evaluate` scores it per language."
        ),
        facts=facts,
        results=[
            (
                f"English dev {metric} (selected epoch)",
                f"{meta['dev_score']:.4f} (epoch {meta['selected_epoch']})",
            ),
            (f"English dev {metric} per epoch", ", ".join(f"{a:.3f}" for a in meta["dev_history"])),
            ("English dev convergence", convergence_of(meta).words(meta.get("dev_metric", "score"))),
            (f"zero-shot {metric} per language", "run `weam evaluate`: rows go to results.jsonl"),
        ],
        languages=["en"],
        tags=["weam", "cross-lingual", "zero-shot", words.pipeline, meta["task"]],
        base_model=str(meta["base_model"]),
        pipeline_tag=words.pipeline,
        usage=(
            "# the head is weam's own: load it with weam\n"
            "from weamcli.common.models import resolve_model\n"
            f"from weamcli.finetune.{module} import {loader}\n\n"
            f'model, tokenizer, meta = {loader}(resolve_model("{folder}"))'
        ),
    )


def adamw(groups: list[dict[str, Any]]):
    """AdamW, fused where torch has the kernel (CPU included since torch 2.4): on 2 CPU cores the
    per-tensor update of e5-small's 21M trainable parameters took 0.66 s a step, fused 0.11 s."""
    import torch

    try:
        return torch.optim.AdamW(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(groups)
