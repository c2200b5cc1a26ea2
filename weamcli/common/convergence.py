"""Whether a fine-tune had converged on English dev: the one definition `weam finetune` records
and `weam compare` reads.

A fine-tune is NOT converged when its dev score at the last epoch it ran beats the best of the
earlier epochs by more than a threshold (still rising: more epochs would likely have paid). A run
stopped early by --patience is converged by construction; a single epoch tells nothing (unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# points of a 0-100 score (dev scores are stored as fractions: 0.5 points = 0.005)
THRESHOLD_POINTS = 0.5


@dataclass(frozen=True)
class Convergence:
    converged: bool | None  # None: unknown (fewer than two epochs, or a score is missing)
    last_gain: float | None  # points: the last epoch's score minus the best earlier epoch's
    threshold: float  # points
    stopped_early: bool

    @property
    def verdict(self) -> str:
        return {True: "converged", False: "not converged", None: "unknown"}[self.converged]

    def words(self) -> str:
        """One line for a card or a table note."""
        if self.converged is None:
            return "unknown (one epoch: no earlier epoch to compare with)"
        gain = f"last epoch {self.last_gain:+.2f} points against the best earlier one"
        if self.stopped_early:
            return f"converged (stopped early: {gain})"
        if self.converged:
            return f"converged ({gain}; threshold {self.threshold:g})"
        return f"NOT converged: still rising ({gain}, more than {self.threshold:g})"

    def record(self) -> dict[str, Any]:
        """The keys weam.json and run.jsonl hold."""
        gain = None if self.last_gain is None else round(self.last_gain, 4)
        return {"converged": self.converged, "last_epoch_gain": gain, "convergence_threshold": self.threshold}


def convergence(
    history: Sequence[float], *, stopped_early: bool = False, threshold: float = THRESHOLD_POINTS
) -> Convergence:
    """The verdict on an English dev curve (one score per epoch run, fractions in [0, 1])."""
    scores = [float(s) for s in history]
    if len(scores) < 2 or any(math.isnan(s) for s in scores):
        return Convergence(None, None, threshold, stopped_early)
    # rounded: a fraction's float noise must not tip a gain of exactly the threshold over it
    gain = round(100.0 * (scores[-1] - max(scores[:-1])), 9)
    converged = True if stopped_early else gain <= threshold
    return Convergence(converged, gain, threshold, stopped_early)


def convergence_of(record: Mapping[str, Any], *, threshold: float = THRESHOLD_POINTS) -> Convergence:
    """The verdict on a fine-tune from its weam.json or run-record metrics, recomputed from the dev
    curve (so a folder made before the verdict was recorded, or another threshold, works too)."""
    return convergence(
        record.get("dev_history") or [],
        stopped_early=bool(record.get("stopped_early", False)),
        threshold=threshold,
    )
