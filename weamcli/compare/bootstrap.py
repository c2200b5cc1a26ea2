"""The paired bootstrap behind every Δ and its 95% CI (see ``compare.language_rows`` for the design)."""

from __future__ import annotations

import zlib

import numpy as np


def example_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of n examples is drawn in each of n_boot resamples: (n_boot, n)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def seed_counts(n_seeds: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each seed (training run) is drawn per resample: (n_boot, n_seeds). One seed: all 1."""
    if n_seeds == 1:
        return np.ones((n_boot, 1))
    return rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot).astype(np.float64)


def boot_ratio(num: np.ndarray, den: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Resampled metric of one side: per unit numerators ``num`` and denominators ``den`` (seeds, n)
    (an example: right?/1; a sentence: words right/words; a question: F1/1), ``weights`` (n_boot, n)
    unit draws, ``counts`` (n_boot, seeds) seed draws → (n_boot,): per seed the ratio of the drawn
    sums, averaged over the drawn seeds."""
    per_seed = (weights @ num.T) / (weights @ den.T)  # (n_boot, seeds)
    return (per_seed * counts).sum(axis=1) / counts.sum(axis=1)


def boot_accuracy(correct: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``boot_ratio`` of 0/1 outcomes, one per example."""
    return boot_ratio(correct, np.ones_like(correct), weights, counts)


def ratio(num: np.ndarray, den: np.ndarray) -> float:
    """The metric of a (seeds, n) side: per seed sum(num) / sum(den), averaged over seeds."""
    return float(np.mean(num.sum(axis=1) / den.sum(axis=1)))


def paired_draws(
    a: np.ndarray,
    b: np.ndarray,
    weights: np.ndarray,
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    den_a: np.ndarray | None = None,
    den_b: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Δ metric (a − b) of two (seeds, n) numerator matrices paired by column (unit), and its
    resampled values: both sides see the same unit draws ``weights``; each side's seeds are drawn by
    its ``counts``. Denominators default to 1 per unit (accuracy over examples)."""
    den_a = np.ones_like(a) if den_a is None else den_a
    den_b = np.ones_like(b) if den_b is None else den_b
    draws = boot_ratio(a, den_a, weights, counts_a) - boot_ratio(b, den_b, weights, counts_b)
    return ratio(a, den_a) - ratio(b, den_b), draws


def percentile_ci(draws: np.ndarray) -> tuple[float, float]:
    """The 95% percentile interval of bootstrap draws."""
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_se(draws: np.ndarray) -> float:
    """Standard error of Δ: the standard deviation of its bootstrap draws."""
    return float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0


def bootstrap_p_value(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "Δ = 0": 2 × min(share of draws ≤ 0, share of draws ≥ 0),
    capped at 1. It agrees with the percentile CI (p < 0.05 where the 95% CI excludes 0, up to
    ties). No draw on the far side of 0 does not mean p = 0, only that p is below what n_boot
    resamples can resolve, so the value is floored at 1 / n_boot."""
    n = len(draws)
    below, above = np.count_nonzero(draws <= 0) / n, np.count_nonzero(draws >= 0) / n
    return float(min(1.0, max(2 * min(below, above), 1 / n)))


def paired_bootstrap_draws(
    model: np.ndarray,
    baseline: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    denominators: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Δ metric (model − baseline) of one language and its (n_boot,) bootstrap draws.

    ``model`` and ``baseline`` are per-unit numerators of shape (seeds, n) or (n,), columns paired
    by unit; ``denominators`` (n,) are the units' sizes (words per sentence for tagging; default 1:
    0/1 outcomes per example)."""
    a = np.atleast_2d(np.asarray(model, dtype=np.float64))
    b = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError("model and baseline must cover the same examples")
    den = np.ones(a.shape[1]) if denominators is None else np.asarray(denominators, dtype=np.float64)
    rng = np.random.default_rng(seed)
    weights = example_weights(a.shape[1], n_boot, rng)
    counts_a = seed_counts(len(a), n_boot, rng)
    return paired_draws(
        a,
        b,
        weights,
        counts_a,
        seed_counts(len(b), n_boot, rng),
        np.broadcast_to(den, a.shape),
        np.broadcast_to(den, b.shape),
    )


def paired_bootstrap(
    model: np.ndarray,
    baseline: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    denominators: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Δ metric (model − baseline) and its 95% percentile CI for one language (arguments as
    ``paired_bootstrap_draws``)."""
    delta, draws = paired_bootstrap_draws(
        model, baseline, n_boot=n_boot, seed=seed, denominators=denominators
    )
    return (delta, *percentile_ci(draws))


def cell_rng(seed: int, *parts: str) -> np.random.Generator:
    # A stable stream per language/column, so adding a model does not change others' intervals.
    return np.random.default_rng([seed, *(zlib.crc32(p.encode("utf-8")) for p in parts)])
