"""`weam experiment`: the whole study from one TOML config, resumable."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from weamcli.experiment.run import load_config, plan_experiment, run_experiment

from .app import app
from .console import command, console, say, setup_threads
from .tables import print_comparison


@app.command("experiment")
@command
def experiment_command(
    config: Path = typer.Argument(..., help="Experiment config (TOML), e.g. examples/demo.toml."),
    plan: bool = typer.Option(False, "--plan", help="Only list the grid's steps and which are complete."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
) -> None:
    """Run a grid: methods (baseline, mlm, tlm, weam) × pre-training language sets × model sizes ×
    seeds, through align → pretrain → finetune → evaluate → compare.

    Every variant gets the same data, steps and head warm-up. Steps whose output is complete are
    skipped, so a killed run resumes where it stopped; a failed step is recorded in
    experiment-status.jsonl and its cells show as missing in the comparison.
    """
    setup_threads(threads)
    cfg = load_config(config)
    steps = plan_experiment(cfg)
    if plan:
        for step in steps:
            mark = "[green]done[/]" if step.done else "[yellow]todo[/]"
            console.print(f"{mark}  {step.kind:<9} {step.key}", highlight=False)
        return
    started = time.monotonic()
    say(f"experiment '{cfg.name}': {len(steps)} steps into {cfg.out}")
    result = run_experiment(config, progress=say)
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
        print_comparison(result.comparison, written)
    if result.failed:
        raise typer.Exit(1)
