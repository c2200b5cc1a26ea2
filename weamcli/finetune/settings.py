"""Every setting of `weam finetune`, defined once (CLI flags, the core and the experiment TOML's
``[finetune]`` section; the task options are shared with `weam evaluate` and live in ``[task]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.families import all_families
from weamcli.common.reporting import report_to_option
from weamcli.common.settings import no_duplicates, option
from weamcli.common.task_settings import TaskSettings
from weamcli.common.tasks import TASKS

SELECTIONS = ("best-dev", "last")
POOLINGS = ("mean", "cls")
# what a task kind fine-tunes with unless told otherwise (a task entry may add its own, e.g. UD-POS
# and XQuAD sub-sample their English training data: see common.tasks); chosen so one fine-tune and
# evaluation of e5-small stays near 10 minutes on 2 CPU cores (bench/task_cost.py)
KIND_DEFAULTS: dict[str, dict[str, Any]] = {f.name: f.finetune_defaults for f in all_families()}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "frozen" if value else "trained"
    if isinstance(value, float) and value.is_integer() and value >= 1:
        return str(int(value))
    if isinstance(value, float) and 0 < value < 0.01:  # 1e-4, not 0.0001
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def defaults_text(name: str) -> str:
    """What `weam finetune` gives ``name`` when it is unset, per family then per task, read from the
    family registry and the task table (so a new family or task needs no help text edited)."""
    by_value: dict[str, list[str]] = {}
    for fam in all_families():
        if name in fam.finetune_defaults:
            by_value.setdefault(_shown(fam.finetune_defaults[name]), []).append(fam.name)
    text = ", ".join(f"{value} for {_listed(names)}" for value, names in by_value.items())
    tasks = ", ".join(
        f"{t.name} {_shown(t.finetune_defaults[name])}" for t in TASKS.values() if name in t.finetune_defaults
    )
    return "; ".join(part for part in (text, tasks) if part)


def _families_reading(name: str) -> str:
    return ", ".join(f.name for f in all_families() if name in f.hyperparameters)


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
# the options only tagging / QA read: recorded (and compared on resume) for those kinds only, so a
# classification seed folder made before they existed is still recognised
KIND_HYPERPARAMETERS = {f.name: f.hyperparameters for f in all_families()}


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
        help="best-dev (the epoch with the best ENGLISH dev score: accuracy, word accuracy, F1) or "
        "last (the last epoch).",
        choices=SELECTIONS,
    )
    epochs: float | None = option(
        None,
        help=f"Training epochs; with --patience the most it may run (default: {defaults_text('epochs')}).",
        above=0.0,
    )
    patience: int | None = option(
        None,
        help="Stop after N epochs in a row without a gain in English dev score (--epochs is then the cap; "
        "the learning rate still decays over the cap). Default: off (every epoch runs).",
        minimum=1,
    )
    lr: float | None = option(
        None,
        help=f"Encoder learning rate (default: {defaults_text('lr')}).",
        above=0.0,
    )
    head_lr: float = option(1e-3, help="Classification head learning rate.", above=0.0)
    weight_decay: float = option(0.01, help="AdamW weight decay.", minimum=0.0)
    batch_size: int = option(16, help="Examples per step.", minimum=1)
    max_length: int | None = option(
        None,
        help=f"Pieces per input (default: {defaults_text('max_length')}). Classification cuts longer inputs; "
        "tagging and QA split them into overlapping windows (--doc-stride), so no word or context is lost.",
        minimum=16,
    )
    doc_stride: int | None = option(
        None,
        help="tagging and QA: pieces shared by consecutive windows of a long sentence or context "
        "(default: a third of --max-length, as HF's 128 of 384).",
        minimum=0,
    )
    max_answer_length: int = option(30, help="QA: the longest answer span considered, in pieces.", minimum=1)
    dropout: float = option(0.1, help="Dropout before the head.", minimum=0.0, below=1.0)
    freeze_embeddings: bool | None = option(
        None,
        help="Do not update the word-embedding matrix (much cheaper for large vocabularies; default: "
        f"{defaults_text('freeze_embeddings')}).",
    )
    bf16: bool | None = option(
        None,
        help="bf16 autocast (default: on where the GPU supports it; on a CPU, chosen by the short cached "
        "measurement `weam pretrain` makes for this encoder at this batch shape).",
    )
    max_train_examples: int | None = option(
        None,
        help="Use only N English training units (examples; sentences for tagging; questions for QA): "
        "the first N, or a random N with --train-sample-seed; 0 = all (default: all, except "
        f"{defaults_text('max_train_examples')}, sampled with seed 0).",
        minimum=0,
    )
    train_sample_seed: int | None = option(
        None,
        help="Draw the --max-train-examples (and --max-dev-examples) sample at random with this seed "
        "(the same sample for every model and fine-tuning seed) instead of taking the first N.",
    )
    max_dev_examples: int | None = option(
        None,
        help=f"{_families_reading('max_dev_examples')}: select on at most N English dev units, sampled "
        f"like the training set (default: all; {defaults_text('max_dev_examples')}).",
        minimum=1,
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
        self._task_defaults()
        if self.task == "tatoeba":
            self.fail("task", "tatoeba is a retrieval probe without training; use it with `weam evaluate`")
        if self.task == "custom" and (self.train is None or self.dev is None):
            self.fail("train", "and --dev (English) are needed to fine-tune --task custom")
        if not self.seeds:
            self.fail("seeds", "is empty")

        if self.doc_stride is not None and self.doc_stride * 2 > self.max_length:
            self.fail(
                "doc_stride",
                f"must be at most half of --max-length ({self.max_length}), got {self.doc_stride}",
            )

    def task_defaults(self) -> dict[str, Any]:
        """The values the task kind (then the task itself) gives options left unset."""
        if self.task == "tatoeba":
            return {}
        defaults = {
            **KIND_DEFAULTS[self.kind],
            **(TASKS[self.task].finetune_defaults if self.task in TASKS else {}),
        }
        max_length = self.max_length if self.max_length is not None else defaults["max_length"]
        return {**defaults, "doc_stride": max_length // 3}

    def _task_defaults(self) -> None:
        for name, value in self.task_defaults().items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def non_defaults(self) -> dict[str, Any]:
        """The options that differ from their default, a task default counting as one: a value
        the task would have chosen anyway identifies no other run."""
        from weamcli.common.settings import _plain

        resolved = self.task_defaults()
        return {
            o.key: _plain(getattr(self, o.name))
            for o in self.options()
            if o.required or _plain(getattr(self, o.name)) != _plain(resolved.get(o.name, o.default))
        }

    def hyperparameters(self) -> dict[str, Any]:
        keys = HYPERPARAMETERS + KIND_HYPERPARAMETERS.get(self.kind, ())
        # patience only when set, so a seed folder made before it existed is still recognised
        keys += ("patience",) if self.patience else ()
        return {k: getattr(self, k) for k in keys}
