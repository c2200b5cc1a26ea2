"""Whether an English fine-tune had converged: read from its English dev curve (one score per epoch).

A fine-tune that was still improving on English dev at its last epoch was stopped by its budget, not
by the data: comparing zero-shot scores of such models measures how fast each model fine-tunes,
not how well it transfers. `weam finetune` records the curve and this verdict; `weam compare` and
`weam experiment` flag the runs this module calls not converged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A last epoch that beats every earlier one by more than this (a fraction: 0.5 points) was still
# climbing. Half a point is below the seed-to-seed spread of a converged SIB-200 or UD-POS fine-tune
# but well above the wobble of a flat curve.
RISING_THRESHOLD = 0.005


@dataclass(frozen=True)
class Convergence:
    """``status``: "converged", "not converged" or "unknown" (one epoch: no curve to read)."""

    status: str
    last_gain: float | None  # last epoch's score minus the best earlier one (fraction); None: unknown
    epochs: int  # epochs run
    stopped_early: bool = False
    threshold: float = RISING_THRESHOLD

    @property
    def converged(self) -> bool | None:
        return None if self.status == "unknown" else self.status == "converged"

    def describe(self, metric: str = "score") -> str:
        """'still rising: +1.2 points at its last epoch (3 epochs)' and the like."""
        if self.stopped_early:
            return f"stopped early after {self.epochs} epochs without an English dev gain"
        if self.last_gain is None:
            return f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}: no dev curve to judge"
        verb = "still rising" if self.status == "not converged" else "flat or falling"
        gain = f"{100 * self.last_gain:+.1f}"
        return f"English dev {metric} {verb}: {gain} points at its last epoch ({self.epochs} epochs)"

    def words(self, metric: str = "score") -> str:
        """The verdict and its reason on one line, for a model card or the CLI."""
        status = "NOT converged" if self.status == "not converged" else self.status
        return f"{status} ({self.describe(metric)}; threshold {100 * self.threshold:g} points)"

    def record(self) -> dict[str, Any]:
        """The keys weam.json and run.jsonl hold (fractions, like the dev scores)."""
        gain = None if self.last_gain is None else round(self.last_gain, 6)
        return {"converged": self.converged, "last_epoch_gain": gain, "convergence_threshold": self.threshold}


def convergence(
    dev_history: Sequence[float] | None, *, stopped_early: bool = False, threshold: float = RISING_THRESHOLD
) -> Convergence:
    """The verdict on one fine-tune's English dev curve (fractions, one per epoch run)."""
    history = [float(x) for x in dev_history or ()]
    # rounded: a fraction's float noise must not tip a gain of exactly the threshold over it
    gain = round(history[-1] - max(history[:-1]), 9) if len(history) > 1 else None
    if gain is not None and math.isnan(gain):
        return Convergence("unknown", None, len(history), stopped_early, threshold)
    if stopped_early:
        # patience ran out: the curve stopped paying, by construction
        return Convergence("converged", gain, len(history), True, threshold)
    if gain is None:
        return Convergence("unknown", None, len(history), False, threshold)
    status = "not converged" if gain > threshold else "converged"
    return Convergence(status, gain, len(history), False, threshold)


def convergence_of(record: Mapping[str, Any], *, threshold: float = RISING_THRESHOLD) -> Convergence:
    """The verdict on a fine-tune from its weam.json or run-record metrics, recomputed from the dev
    curve (so a folder made before the verdict was recorded, or another threshold, works too)."""
    return convergence(
        record.get("dev_history") or [],
        stopped_early=bool(record.get("stopped_early", False)),
        threshold=threshold,
    )
