"""Every setting of `weam compare`, defined once (CLI flags, the core and the experiment TOML's
``[compare]`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from weamcli.common.settings import Settings, option

BY_CHOICES = ("model", "method")


@dataclass(kw_only=True)
class CompareSettings(Settings):
    section = "compare"

    results: list[str] = option(
        help="results*.jsonl files from `weam evaluate`, or folders searched for them (comma-separated).",
        argument=True,
        grid="the grid compares its own evaluate/ folder",
    )
    baseline: str = option(
        "baseline",
        help="Model label or method to measure Δ against (e5-small, mbert, tlm, ...; 'baseline' is the "
        "method of every model without continual pre-training).",
        short="-b",
    )
    task: str | None = option(
        None, help="Only this task (default: every task in the results, one table per task and metric)."
    )
    split: str | None = option(None, help="Split to compare (default: test).")
    by: str = option("model", help="Columns: each model label, or each method.", choices=BY_CHOICES)
    bootstrap: int = option(1000, help="Bootstrap resamples per confidence interval.", minimum=100)
    seed: int = option(0, help="Seed of the bootstrap's random draws.")
    out: str | None = option(
        None,
        help="Output folder for table.md/csv, plots, run.jsonl (default: compare/ in the first folder "
        "given, or beside the first results file given).",
        short="-o",
        grid="the grid writes into its compare/ folder",
    )
    overwrite: bool = option(
        False,
        help="Replace an earlier comparison in the output folder (the new one is swapped in once complete).",
        grid="the grid replaces its compare/ folder",
    )
