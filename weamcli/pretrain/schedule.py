"""How long pre-training runs: epochs or an optimiser-step count, never both silently.

``--epochs`` and ``--max-steps`` together mean "whichever comes first" (a true cap, unlike HF's
``max_steps``, which overrides the epochs). The plan is made once the pairs are counted, passed to
the Trainer as an exact step count, and recorded with the steps and epochs actually run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StepPlan:
    steps: int  # optimiser steps to run
    steps_per_epoch: int
    epochs: float  # the same length in passes over the pairs
    ended_by: str  # "epochs" or "max_steps": which setting decides the length

    def describe(self) -> str:
        why = {
            "epochs": "the epochs end it",
            "max_steps": "--max-steps ends it",
            "max_steps-cap": "--max-steps ends it before the epochs do",
        }[self.ended_by]
        return (
            f"{self.steps:,} optimiser steps = {self.epochs:.2f} epochs of "
            f"{self.steps_per_epoch:,} steps ({why})"
        )

    def record(self) -> dict[str, Any]:
        return asdict(self)


def plan_steps(
    pairs: int,
    *,
    batch_size: int,
    grad_accum: int,
    world_size: int,
    epochs: float | None,
    max_steps: int | None,
) -> StepPlan:
    """The step count for ``pairs`` examples; ``epochs`` None means the steps alone decide."""
    per_process = math.ceil(pairs / max(world_size, 1))
    batches = math.ceil(per_process / batch_size)
    per_epoch = max(math.ceil(batches / grad_accum), 1)
    if epochs is None:
        if max_steps is None:
            raise ValueError("give epochs or max_steps")
        return StepPlan(max_steps, per_epoch, max_steps / per_epoch, "max_steps")
    by_epochs = max(math.ceil(epochs * per_epoch), 1)
    if max_steps is not None and max_steps < by_epochs:
        return StepPlan(max_steps, per_epoch, max_steps / per_epoch, "max_steps-cap")
    return StepPlan(by_epochs, per_epoch, by_epochs / per_epoch, "epochs")
