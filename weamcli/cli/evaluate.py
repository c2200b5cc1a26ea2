"""`weam evaluate`: zero-shot accuracy per language of fine-tuned models, or the Tatoeba probe."""

from __future__ import annotations

from weamcli.evaluate.settings import EvaluateSettings

from .console import console, progress_display, say, setup_threads, threads_option
from .options import settings_command
from .tables import results_table


@settings_command("evaluate", EvaluateSettings)
def evaluate_command(
    settings: EvaluateSettings,
    threads: int | None = threads_option(),
) -> None:
    """Zero-shot accuracy per language (rows appended to --results), or Tatoeba retrieval accuracy."""
    from weamcli.evaluate.run import run_evaluation

    setup_threads(threads)
    with progress_display() as progress:
        result = run_evaluation(settings, progress=progress)
    say(f"precision: {result.precision}")
    for path, count in result.written.items():
        say(f"appended {count} row(s) to {path}")
    console.print(results_table(result.rows, result.source_lang))
