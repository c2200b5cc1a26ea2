"""The paired bootstrap behind every Δ and its 95% CI (see ``compare.table`` for the design)."""

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


def boot_accuracy(correct: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Resampled accuracy of one side: ``correct`` (seeds, n) 0/1, ``weights`` (n_boot, n) example
    draws, ``counts`` (n_boot, seeds) seed draws → (n_boot,), the mean over drawn seeds."""
    per_seed = (weights @ correct.T) / weights.sum(axis=1, keepdims=True)  # (n_boot, seeds)
    return (per_seed * counts).sum(axis=1) / counts.sum(axis=1)


def paired_draws(
    a: np.ndarray, b: np.ndarray, weights: np.ndarray, counts_a: np.ndarray, counts_b: np.ndarray
) -> tuple[float, np.ndarray]:
    """Δ accuracy (a − b) of two (seeds, n) 0/1 matrices paired by column, and its resampled values:
    both sides see the same example draws ``weights``; each side's seeds are drawn by its ``counts``."""
    draws = boot_accuracy(a, weights, counts_a) - boot_accuracy(b, weights, counts_b)
    return float(a.mean() - b.mean()), draws


def percentile_ci(draws: np.ndarray) -> tuple[float, float]:
    """The 95% percentile interval of bootstrap draws."""
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def paired_bootstrap(
    model: np.ndarray, baseline: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Δ accuracy (model − baseline) and its 95% percentile CI for one language.

    ``model`` and ``baseline`` are 0/1 arrays of shape (seeds, n) or (n,), columns paired by example.
    """
    a = np.atleast_2d(np.asarray(model, dtype=np.float64))
    b = np.atleast_2d(np.asarray(baseline, dtype=np.float64))
    if a.shape[1] != b.shape[1]:
        raise ValueError("model and baseline must cover the same examples")
    rng = np.random.default_rng(seed)
    weights = example_weights(a.shape[1], n_boot, rng)
    counts_a = seed_counts(len(a), n_boot, rng)
    delta, draws = paired_draws(a, b, weights, counts_a, seed_counts(len(b), n_boot, rng))
    return (delta, *percentile_ci(draws))


def cell_rng(seed: int, *parts: str) -> np.random.Generator:
    # A stable stream per language/column, so adding a model does not change others' intervals.
    return np.random.default_rng([seed, *(zlib.crc32(p.encode("utf-8")) for p in parts)])
