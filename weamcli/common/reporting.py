"""``--report-to``: the Trainer's own experiment-tracking integrations (TensorBoard, Weights &
Biases), one option shared by `weam pretrain` and `weam finetune`."""

from __future__ import annotations

import importlib.util
from typing import Any

from weamcli.common.settings import option

REPORT_TO = ("none", "tensorboard", "wandb")
# what each integration imports (transformers takes tensorboardX where tensorboard is missing)
_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}


def reporter_missing(value: str) -> str | None:
    """A complaint when the library ``value`` needs is not installed (a check for ``option``)."""
    packages = _PACKAGES.get(value, ())
    if packages and not any(importlib.util.find_spec(p) is not None for p in packages):
        return f"{value} needs the {packages[0]} package, which is not installed (pip install {packages[0]})"
    return None


def report_to_option(where: str) -> Any:
    """The settings field; ``where`` says where the TensorBoard logs go."""
    return option(
        "none",
        help=f"Log the training losses to tensorboard (event files in {where}) or wandb (Weights & "
        "Biases; its own settings, e.g. WANDB_MODE=offline), through the Trainer's report_to.",
        choices=REPORT_TO,
        check=reporter_missing,
    )
