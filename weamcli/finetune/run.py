"""English fine-tuning of an encoder + classification head through HF Trainer, one model per seed.

Model selection uses the English dev split only (or the last epoch): zero-shot means no
target-language label is seen in training or selection.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import (
    atomic_dir,
    check_not_protected,
    check_output_dir,
    check_writable,
    json_marker,
)
from weamcli.common.model_card import render_card, write_model_card
from weamcli.common.models import METADATA_FILE, ModelRef, model_label, parameter_count
from weamcli.common.progress import Progress, quiet, trainer_steps
from weamcli.common.run_records import write_run_record
from weamcli.common.tasks import TaskSpec, TaskSplit
from weamcli.finetune.settings import FinetuneSettings
from weamcli.finetune.training import CARRIED_KEYS

# weam.json keys of the base model that describe how its encoder came to be; carried into the fine-tune


@dataclass
class SeedRun:
    seed: int
    path: str
    selected_epoch: int
    dev_accuracy: float  # English dev accuracy of the saved model
    dev_history: list[float]  # English dev accuracy after each epoch
    train_seconds: float
    params: int
    skipped: bool = False  # already complete from an earlier run with the same configuration
    dev_metric: str = "accuracy"  # what dev_accuracy holds: accuracy, word accuracy (tagging), F1 (QA)


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
    out = Path(settings.out)
    if out.exists() and not out.is_dir():
        raise WeamError("output exists and is not a folder", out)
    check_writable(out)  # before the model, the data and the training, not after
    check_not_protected(out)
    inputs = [settings.model, settings.data_dir, settings.train, settings.dev]
    for seed in seeds:  # a seed folder is replaced only when it is a weam fine-tune, never an input
        fine_tune = {METADATA_FILE: json_marker(having="finetune_seed")}
        check_output_dir(out / f"seed-{seed}", command="weam finetune", markers=fine_tune, inputs=inputs)
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
    run_config = {
        "task": task.name,
        "model": model.name,
        "model_path": model.path,
        "num_layers": model.num_layers,
        "train_file": train.source,
        "dev_file": dev.source,
        "n_train": len(train),
        "n_dev": len(dev),
        "labels": list(labels),
        **settings.hyperparameters(),
        "bf16": bf16.enabled,
    }
    if getattr(train, "unlabelled", 0):  # only where it happens: older seed folders stay valid
        run_config["train_unlabelled"] = train.unlabelled
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
        train_one = _train_one if task.kind == "classification" else _train_family
        run = train_one(
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
            metrics={
                "dev_accuracy" if run.dev_metric == "accuracy" else "dev_score": run.dev_accuracy,
                "dev_metric": run.dev_metric,
                "selected_epoch": run.selected_epoch,
                "dev_history": run.dev_history,
                "train_seconds": run.train_seconds,
                "bf16_reason": bf16.reason,
                "path": run.path,
            },
        )
    return result


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
    )


def _train_family(
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
    """One seed of a word-level task family (tagging, QA): ``finetune.training``."""
    from transformers import set_seed

    from weamcli.finetune import question_answering, token_classification
    from weamcli.finetune.training import DEV_METRICS, train_seed

    set_seed(seed)
    family = (token_classification if task.kind == "tagging" else question_answering).build_family(
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
        dev_metric=DEV_METRICS[task.kind],
    )


def _encode(tokenizer, split: TaskSplit, labels: Sequence[str], prefix: str, max_length: int):
    import datasets

    from weamcli.finetune.classifier import tokenize

    index = {label: i for i, label in enumerate(labels)}
    enc = tokenize(tokenizer, split.texts, split.pairs, prefix=prefix, max_length=max_length)
    columns = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    columns["labels"] = [index[label] for label in split.labels]
    columns["length"] = [len(ids) for ids in enc["input_ids"]]  # for the length-grouped sampler
    return datasets.Dataset.from_dict(columns)


def _train_one(
    ref: ModelRef,
    base_meta: dict[str, Any],
    task: TaskSpec,
    train: TaskSplit,
    dev: TaskSplit,
    labels: tuple[str, ...],
    config: FinetuneSettings,
    seed: int,
    target: Path,
    settings: dict[str, Any],
    *,
    overwrite: bool,
    say: Callable[[str], None],
) -> SeedRun:
    import numpy as np
    import torch
    from transformers import (
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    from weamcli.finetune.classifier import PooledClassifier, encoder_for, shared_tokenizer

    set_seed(seed)
    tokenizer = shared_tokenizer(ref)
    encoder = encoder_for(ref)
    model = PooledClassifier(encoder, len(labels), pooling=config.pooling, dropout=config.dropout)
    if config.freeze_embeddings:
        # the word-embedding matrix (96M of e5-small's 118M parameters) dominates the update cost
        encoder.get_input_embeddings().weight.requires_grad_(False)
    prefix = ref.text_prefix
    train_ds = _encode(tokenizer, train, labels, prefix, config.max_length)
    dev_ds = _encode(tokenizer, dev, labels, prefix, config.max_length)

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
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]])

    history: list[float] = []
    best: dict[str, Any] = {"acc": -1.0, "epoch": 0, "state": None}
    started = time.perf_counter()

    class Selection(TrainerCallback):
        """Keep the weights of the epoch with the best English dev accuracy (in memory, on the CPU)."""

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            acc = float((metrics or {}).get("eval_accuracy", float("nan")))
            history.append(acc)
            epoch = len(history)
            say(
                f"seed {seed}: epoch {epoch}/{config.epochs:g} English dev accuracy {acc:.3f} "
                f"({time.perf_counter() - started:.0f} s)"
            )
            if config.select == "best-dev" and acc > best["acc"]:
                best.update(
                    acc=acc,
                    epoch=epoch,
                    state={k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
                )

    def accuracy(pred) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        return {"accuracy": float((np.asarray(logits).argmax(-1) == pred.label_ids).mean())}

    with atomic_dir(target, overwrite=overwrite) as tmp:
        work = tmp / ".trainer"
        args = TrainingArguments(
            output_dir=str(work),
            per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=64,
            num_train_epochs=config.epochs,
            learning_rate=config.lr,
            weight_decay=config.weight_decay,
            lr_scheduler_type="linear",
            warmup_steps=config.warmup_steps,
            max_grad_norm=config.max_grad_norm,
            eval_strategy="epoch",
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
            bf16=bool(settings.get("bf16")),
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=dev_ds,
            data_collator=DataCollatorWithPadding(tokenizer),  # dynamic padding per batch
            compute_metrics=accuracy,
            callbacks=[Selection(), trainer_steps(say, f"seed {seed}: training")],
            optimizers=(optimizer, None),
        )
        trainer.remove_callback(PrinterCallback)  # progress goes through `say`, not stdout dicts
        trainer.train()
        seconds = time.perf_counter() - started
        if config.select == "best-dev" and best["state"] is not None:
            model.load_state_dict(best["state"])
            selected, dev_acc = best["epoch"], best["acc"]
        else:
            selected, dev_acc = len(history), history[-1] if history else float("nan")
        if (work / "runs").is_dir():  # TensorBoard's event files stay with the model
            (work / "runs").rename(tmp / "runs")
        shutil.rmtree(work, ignore_errors=True)
        params = parameter_count(model)
        num_layers = encoder.config.num_hidden_layers
        meta = {k: base_meta[k] for k in CARRIED_KEYS if k in base_meta}
        meta.update(
            text_prefix=prefix,
            method=base_meta.get("method", "baseline"),
            pretrain_langs=list(base_meta.get("pretrain_langs", [])),
            base_model=str(
                base_meta.get("base_model") or base_meta.get("preset") or ref.label.split("-L")[0]
            ),
            num_layers=num_layers,
            label=model_label(ref, base_meta, num_layers),
            task=task.name,
            labels=list(labels),
            pooling=config.pooling,
            finetune_seed=seed,
            selection=config.select,
            params=params,
            selected_epoch=selected,
            dev_accuracy=dev_acc,
            dev_history=history,
            finetune_config=json.loads(json.dumps(settings)),
        )
        model.to("cpu").save(tmp, tokenizer, meta)
        write_model_card(tmp, _card(meta, config, train, dev, ref))
        write_run_record(
            tmp,
            "finetune",
            settings,
            seed=seed,
            metrics={
                "dev_accuracy": dev_acc,
                "selected_epoch": selected,
                "dev_history": history,
                "train_seconds": seconds,
                "params": params,
            },
        )
    say(f"seed {seed}: saved epoch {selected} (English dev accuracy {dev_acc:.3f}) to {target}")
    return SeedRun(seed, str(target), selected, dev_acc, history, seconds, params)


def _card(
    meta: dict[str, Any], config: FinetuneSettings, train: TaskSplit, dev: TaskSplit, ref: ModelRef
) -> str:
    """The model card of one fine-tuned seed, from its weam.json."""
    folder = Path(config.out) / f"seed-{meta['finetune_seed']}"
    pretrain = meta.get("pretrain_langs") or []
    method = meta.get("method", "baseline")
    history = ", ".join(f"{a:.3f}" for a in meta.get("dev_history", []))
    encoder = meta["base_model"] + (f"+{method} ({', '.join(pretrain)})" if method != "baseline" else "")
    return render_card(
        title=f"{meta['label']} fine-tuned on {meta['task']} (English), seed {meta['finetune_seed']}",
        summary=(
            f"The encoder `{encoder}` with a {meta['pooling']}-pooled classification head, fine-tuned on "
            f"the ENGLISH training split of {meta['task']} only (the epoch chosen by English dev "
            "accuracy): every other language is zero-shot. `weam evaluate` scores it per language."
        ),
        facts=[
            ("encoder", f"{encoder} from {ref.path}"),
            ("continual pre-training", f"{method} on en–{', en–'.join(pretrain)}" if pretrain else "none"),
            ("task", f"{meta['task']}: labels {', '.join(map(str, meta['labels']))}"),
            ("training data", f"{len(train):,} English examples from {train.source}"),
            ("model selection", f"{config.select} on {len(dev):,} English dev examples from {dev.source}"),
            (
                "training",
                f"{config.epochs:g} epochs, batch {config.batch_size}, "
                f"lr {config.lr:g} (head {config.head_lr:g})",
            ),
            ("seed", meta["finetune_seed"]),
            ("layers", meta["num_layers"]),
            ("parameters", f"{meta['params']:,}"),
        ],
        results=[
            (
                "English dev accuracy (selected epoch)",
                f"{meta['dev_accuracy']:.4f} (epoch {meta['selected_epoch']})",
            ),
            ("English dev accuracy per epoch", history),
            ("zero-shot accuracy per language", "run `weam evaluate`: rows go to results.jsonl"),
        ],
        languages=["en"],
        tags=["weam", "cross-lingual", "zero-shot", "text-classification", meta["task"]],
        base_model=str(meta["base_model"]),
        pipeline_tag="text-classification",
        usage=(
            "# the head is weam's own (classifier.safetensors): load it with weam\n"
            "from weamcli.common.models import resolve_model\n"
            "from weamcli.finetune.classifier import load_classifier\n\n"
            f'model, tokenizer, meta = load_classifier(resolve_model("{folder}"))'
        ),
    )
