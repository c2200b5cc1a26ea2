"""Every setting of `weam finetune`, defined once (CLI flags, the core and the experiment TOML's
``[finetune]`` section; the task options are shared with `weam evaluate` and live in ``[task]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.reporting import report_to_option
from weamcli.common.settings import no_duplicates, option
from weamcli.common.task_settings import TaskSettings

SELECTIONS = ("best-dev", "last")
POOLINGS = ("mean", "cls")
# the options that shape the trained model: a seed folder made with other values is not reused
HYPERPARAMETERS = (
    "lr",
    "head_lr",
    "weight_decay",
    "batch_size",
    "max_length",
    "epochs",
    "dropout",
    "pooling",
    "select",
    "freeze_embeddings",
    "max_train_examples",
    "warmup_steps",
    "max_grad_norm",
)


@dataclass(kw_only=True)
class FinetuneSettings(TaskSettings):
    """Defaults are those of the hand-made baseline (notes/baselines.md)."""

    section = "finetune"

    model: str = option(
        help="Preset, save_pretrained folder (e.g. a `weam pretrain` output) or hub name.",
        short="-m",
        grid="[model] base, or the grid's pre-trained models",
    )
    out: str = option(
        help="Output folder; one model per seed in OUT/seed-<n>.",
        short="-o",
        grid="each grid cell has its own folder under [experiment] out",
    )
    seeds: list[int] = option(
        [13], help="Comma-separated seeds, e.g. 13,42.", check=no_duplicates, grid="[experiment] seeds"
    )
    num_layers: int | None = option(
        None, help="Keep only the first N encoder layers.", minimum=1, grid="[model] layers"
    )
    pooling: str = option("mean", help="Sentence vector: mean (masked mean) or cls.", choices=POOLINGS)
    select: str = option(
        "best-dev",
        help="best-dev (the epoch with the best ENGLISH dev accuracy) or last (the last epoch).",
        choices=SELECTIONS,
    )
    epochs: float = option(6.0, help="Training epochs.", above=0.0)
    lr: float = option(3e-5, help="Encoder learning rate.", above=0.0)
    head_lr: float = option(1e-3, help="Classification head learning rate.", above=0.0)
    weight_decay: float = option(0.01, help="AdamW weight decay.", minimum=0.0)
    batch_size: int = option(16, help="Examples per step.", minimum=1)
    max_length: int = option(128, help="Pieces per example (longer ones are cut).", minimum=8)
    dropout: float = option(0.1, help="Dropout before the head.", minimum=0.0, below=1.0)
    freeze_embeddings: bool = option(
        False, help="Do not update the word-embedding matrix (much cheaper for large vocabularies)."
    )
    max_train_examples: int | None = option(
        None, help="Use only the first N English training examples (quick runs).", minimum=1
    )
    warmup_steps: int = option(0, help="Linear learning-rate warm-up steps.", minimum=0)
    max_grad_norm: float = option(1.0, help="Gradient clipping norm.", above=0.0)
    overwrite: bool = option(
        False,
        help="Replace existing seed folders (each once its new model is complete).",
        grid="the grid re-runs a cell whose settings changed",
    )
    report_to: str = report_to_option("OUT/seed-<n>/runs")

    def check_together(self) -> None:
        super().check_together()
        if self.task == "tatoeba":
            self.fail("task", "tatoeba is a retrieval probe without training; use it with `weam evaluate`")
        if self.task == "custom" and (self.train is None or self.dev is None):
            self.fail("train", "and --dev (English) are needed to fine-tune --task custom")
        if not self.seeds:
            self.fail("seeds", "is empty")

    def hyperparameters(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in HYPERPARAMETERS}
