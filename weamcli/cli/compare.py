"""`weam compare`: accuracy and Δ against a baseline with paired bootstrap CIs, as a rich table,
Markdown, CSV and plots."""

from __future__ import annotations

from weamcli.compare.settings import CompareSettings

from .console import say
from .options import settings_command
from .tables import print_comparison


@settings_command("compare", CompareSettings)
def compare_command(settings: CompareSettings) -> None:
    """Compare models against a baseline: the metric and Δ per language with 95% paired bootstrap
    CIs, one table per task and metric (accuracy; word accuracy for udpos; F1 and EM for QA).

    ▲/▼ mark differences whose interval excludes 0. Writes table.md, table.csv, plots, run.jsonl.
    """
    from weamcli.compare.run import run_comparison

    result = run_comparison(settings)
    for c in result.comparisons:
        say(
            f"compared {len(c.columns)} columns on {c.task} ({c.metric}, {c.unit}s resampled), "
            f"{settings.bootstrap} bootstrap resamples"
        )
    print_comparison(result.comparisons, result.written)
