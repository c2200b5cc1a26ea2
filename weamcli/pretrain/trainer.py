"""The HF Trainer that runs every objective: loss parts logged, masks seeded per step, checkpoints
as save_pretrained folders of the inner masked-LM model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file
from weamcli.common.progress import Progress
from weamcli.pretrain.masking import NumberedExamples
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives import Objective, make_collator
from weamcli.pretrain.vocabulary import corpus_vocabulary

TRIM_FILE = "trimmed-vocab.json"


def _trainer_class():
    from transformers import Trainer

    class PretrainTrainer(Trainer):
        """compute_loss returns the objective's loss and logs its named parts (``loss_mp``,
        ``loss_cp``, ``loss_l2``, ...); checkpoints hold the inner masked-LM model as a
        save_pretrained folder."""

        trim_keep: list[int] | None = None

        def mask_seed(self) -> int:
            """Masking's own seed for this (seed, optimizer step); the batch's example numbers
            tell its rows apart (``masking.row_keys``): every objective masks a batch alike, a
            resumed run masks as an uninterrupted one, and an example is masked alike whichever
            micro-batch or process it lands in."""
            return (self.args.seed * 1_000_003 + self.state.global_step) % (1 << 62)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(**inputs, mask_seed=self.mask_seed())
            # the parts stay (detached) tensors until log time: a float() here would make the CPU
            # wait for the GPU at every micro-batch
            parts = getattr(self, "_parts", None) or {}
            for name, value in out.items():
                if name != "loss":
                    parts.setdefault(name, []).append(value)
            self._parts = parts
            return (out["loss"], out) if return_outputs else out["loss"]

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            parts = getattr(self, "_parts", None)
            if "loss" in logs and parts:
                import torch

                means = torch.stack([torch.stack(values).float().mean() for values in parts.values()])
                if self.args.world_size > 1:
                    # every process logs at the same step (Trainer's own loss is gathered there
                    # too): the parts are the mean over all processes' micro-batches, as "loss" is
                    means = self.accelerator.reduce(means, reduction="mean")
                for name, value in zip(parts, means.tolist(), strict=True):
                    logs[f"loss_{name}"] = value
                self._parts = None
            super().log(logs, start_time)

        def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
            output_dir = output_dir or self.args.output_dir
            if not self.args.should_save:
                return
            os.makedirs(output_dir, exist_ok=True)
            inner = self.accelerator.unwrap_model(self.model).mlm
            inner.save_pretrained(output_dir)
            if self.trim_keep is not None:
                with atomic_file(Path(output_dir) / TRIM_FILE) as fh:
                    json.dump({"rows_are_tokenizer_ids": self.trim_keep}, fh)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
            from safetensors.torch import load_file

            inner = self.accelerator.unwrap_model(model or self.model).mlm
            state = load_file(os.path.join(resume_from_checkpoint, "model.safetensors"), device="cpu")
            result = inner.load_state_dict(state, strict=False)
            tied = {k for k, v in inner.state_dict().items() if k not in state}
            if result.unexpected_keys or set(result.missing_keys) - tied:
                raise WeamError("checkpoint does not match the model", resume_from_checkpoint)
            inner.tie_weights()

    return PretrainTrainer


def training_args(
    out: Path,
    *,
    batch_size,
    grad_accum,
    lr,
    epochs,
    max_steps,
    save_steps,
    logging_steps,
    seed,
    bf16,
    report_to: str = "none",
):
    import torch
    from transformers import TrainingArguments

    cpu = not torch.cuda.is_available()
    kwargs: dict[str, Any] = {}
    if cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        kwargs["ddp_backend"] = "gloo"  # torchrun on CPUs: Trainer's own DDP over gloo
    return TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=lr,
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=2,
        logging_steps=logging_steps,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        use_cpu=cpu,
        report_to=[] if report_to == "none" else [report_to],  # tensorboard logs: OUT/checkpoints/runs
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        **kwargs,
    )


def logged_parts(logs: dict[str, float]) -> dict[str, float]:
    """The loss parts of one log entry (``loss_mp`` → ``mp``), in logging order."""
    return {k.removeprefix("loss_"): v for k, v in logs.items() if k.startswith("loss_")}


def progress_callback(progress: Progress):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            parts = logged_parts(logs or {})
            if parts and state.is_world_process_zero:
                text = "  ".join(f"L_{name} {value:.4f}" for name, value in parts.items())
                progress(f"step {state.global_step}/{state.max_steps}  {text}")

    return ProgressCallback()


def build_trainer(
    mlm,
    dataset,
    tokenizer,
    keep,
    args,
    *,
    objective: Objective,
    mask_prob: float,
    callbacks,
):
    """The Trainer for one built objective (``PretrainSettings.make_objective()``)."""
    import torch

    # id_map stays on the CPU with the collator; the pool becomes a buffer that moves with the model
    if keep is not None:
        id_map = torch.full((max(len(tokenizer), max(keep) + 1),), tokenizer.unk_token_id, dtype=torch.long)
        id_map[torch.tensor(keep)] = torch.arange(len(keep))
        to_train = {t: int(id_map[t]) for t in (tokenizer.mask_token_id, tokenizer.pad_token_id)}
    else:
        id_map = None
        to_train = {t: t for t in (tokenizer.mask_token_id, tokenizer.pad_token_id)}
    specials = set(tokenizer.all_special_ids)
    pool_ids = [
        i for i in (keep if keep is not None else corpus_vocabulary(dataset, tokenizer)) if i not in specials
    ]
    pool = torch.tensor([int(id_map[i]) if id_map is not None else i for i in pool_ids], dtype=torch.long)
    model = PretrainingModel(
        mlm,
        objective=objective,
        mask_id=to_train[tokenizer.mask_token_id],
        pad_id=to_train[tokenizer.pad_token_id],
        replace_pool=pool,
        mask_prob=mask_prob,
    )
    collator = make_collator(objective, tokenizer.pad_token_id, id_map)
    from transformers.trainer_callback import PrinterCallback

    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=NumberedExamples(dataset),  # masking keys on the example numbers
        data_collator=collator,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through our own callback
    trainer.trim_keep = list(keep) if keep is not None else None
    return trainer


def seed_everything(seed: int) -> None:
    import torch
    from transformers import set_seed

    torch.manual_seed(seed)
    set_seed(seed)
