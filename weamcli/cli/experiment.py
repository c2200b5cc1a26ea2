"""`weam experiment`: the whole study from one TOML config, resumable."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from .app import WeamCommand, app
from .console import command, console, progress_display, say, setup_threads, threads_option
from .tables import print_comparison

_STATE_MARKS = {"done": "[green]done[/]   ", "changed": "[magenta]changed[/]", "todo": "[yellow]todo[/]   "}


@app.command("experiment", cls=WeamCommand)
@command
def experiment_command(
    config: Path = typer.Argument(..., help="Experiment config (TOML), e.g. examples/demo.toml."),
    plan: bool = typer.Option(
        False,
        "--plan",
        help="Only list the grid's steps: done, changed (settings differ: will re-run) or todo.",
        metavar="",  # a flag: no "<bool>" in the help
    ),
    threads: int | None = threads_option("CPU threads for torch (overrides \\[experiment] threads)."),
) -> None:
    """Run a grid: methods (baseline, mlm, tlm, weam) × pre-training language sets × model sizes ×
    seeds, through align → pretrain → finetune → evaluate → compare.

    Every variant gets the same data, steps and head warm-up. Every section of the config is
    checked before any step runs. Steps whose output is complete with the same settings are
    skipped, so a killed run resumes where it stopped; a step whose settings changed re-runs, with
    everything downstream of it. A failed step is recorded in experiment-status.jsonl and its cells
    show as missing in the comparison.
    """
    from weamcli.experiment.config import load_config
    from weamcli.experiment.plan import plan_experiment
    from weamcli.experiment.run import run_experiment

    cfg = load_config(config)
    if threads is not None and cfg.threads is not None and threads != cfg.threads:
        say(f"--threads {threads} overrides [experiment] threads = {cfg.threads}")
    setup_threads(threads or cfg.threads)
    steps = plan_experiment(cfg)
    if plan:
        for step in steps:
            console.print(f"{_STATE_MARKS[step.state]}  {step.kind:<9} {step.key}", highlight=False)
        return
    started = time.monotonic()
    say(f"experiment '{cfg.name}': {len(steps)} steps into {cfg.out}")
    with progress_display() as progress:
        result = run_experiment(config, progress=progress)
    minutes = (time.monotonic() - started) / 60
    say(
        f"finished in {minutes:.1f} min: {len(result.ran)} ran, {len(result.skipped)} already complete, "
        f"{len(result.failed)} failed, {len(result.blocked)} blocked"
    )
    for key, message in result.failed.items():
        say(f"failed: {key}: {message}")
    if result.comparison is not None:
        out = cfg.out / "compare"
        written = {p.name: p for p in sorted(out.iterdir()) if p.is_file()}
        print_comparison(result.comparisons or result.comparison, written)
    if result.failed:
        raise typer.Exit(1)
