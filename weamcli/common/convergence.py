"""Whether an English fine-tune had converged: read from its English dev curve (one score per epoch).

A fine-tune that was still improving on English dev at its last epoch was stopped by its budget, not
by the data: comparing zero-shot scores of such models measures how fast each model fine-tunes,
not how well it transfers. `weam finetune` records the curve; `weam compare` and `weam experiment`
flag the runs this module calls not converged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A last epoch that beats every earlier one by more than this (a fraction: 0.5 points) was still
# climbing. Half a point is below the seed-to-seed spread of a converged SIB-200 or UD-POS fine-tune
# (notes/baselines.md) but well above the wobble of a flat curve.
RISING_THRESHOLD = 0.005


@dataclass(frozen=True)
class Convergence:
    """``status``: "converged", "not converged" or "unknown" (one epoch: no curve to read)."""

    status: str
    last_gain: float | None  # last epoch's score minus the best earlier one (fraction); None: unknown
    epochs: int  # epochs run
    stopped_early: bool = False

    @property
    def converged(self) -> bool | None:
        return None if self.status == "unknown" else self.status == "converged"

    def describe(self, metric: str = "score") -> str:
        """'still rising: +1.2 points at its last epoch (3 epochs)' and the like."""
        if self.stopped_early:
            return f"stopped early after {self.epochs} epochs (no English dev gain)"
        if self.last_gain is None:
            return f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}: no dev curve to judge"
        verb = "still rising" if self.status == "not converged" else "flat or falling"
        gain = f"{100 * self.last_gain:+.1f}"
        return f"English dev {metric} {verb}: {gain} points at its last epoch ({self.epochs} epochs)"


def convergence(
    dev_history: Sequence[float] | None, *, stopped_early: bool = False, threshold: float = RISING_THRESHOLD
) -> Convergence:
    """The verdict on one fine-tune's English dev curve (fractions, one per epoch run)."""
    history = [float(x) for x in dev_history or ()]
    if stopped_early:
        # patience ran out: the curve stopped paying, by construction
        gain = history[-1] - max(history[:-1]) if len(history) > 1 else None
        return Convergence("converged", gain, len(history), stopped_early=True)
    if len(history) < 2:
        return Convergence("unknown", None, len(history))
    gain = history[-1] - max(history[:-1])
    return Convergence("not converged" if gain > threshold else "converged", gain, len(history))
