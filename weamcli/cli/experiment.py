"""`weam experiment`: the whole study from one TOML config, resumable."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from weamcli.experiment.settings import ExperimentSettings

from .app import WeamCommand, app
from .console import command, console, escaped, progress_display, say, setup_threads, threads_option
from .options import settings_option
from .tables import print_comparison

if TYPE_CHECKING:
    from weamcli.compare.power import SampleSize
    from weamcli.experiment.grid import ExperimentConfig
    from weamcli.experiment.plan import Step
    from weamcli.experiment.run import ExperimentResult

_STATE_MARKS = {"done": "[green]done[/]   ", "changed": "[magenta]changed[/]", "todo": "[yellow]todo[/]   "}


@app.command("experiment", cls=WeamCommand)
@command
def experiment_command(
    config: Path = typer.Argument(..., help="Experiment config (TOML), e.g. examples/demo.toml."),
    plan: bool = typer.Option(
        False,
        "--plan",
        help="Only check every input the grid will read and list its steps: done, changed (with what "
        "changed, old → new: will re-run) or todo; with a finished comparison in the output folder, also "
        "the mean row's minimum detectable effect and the seeds and test units a 1-point effect would need.",
        metavar="",  # a flag: no "<bool>" in the help
    ),
    threads: int | None = threads_option(
        "CPU threads for torch in each step (overrides \\[experiment] threads)."
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        help="Steps run at once, each in its own process (overrides \\[experiment] jobs; default: one per "
        "GPU, each on its own GPU; on a CPU one per core up to 4).",
        metavar="N",
        min=1,
        show_default=False,
    ),
    share_gpus: bool | None = settings_option(ExperimentSettings, "share_gpus"),
    executor: str | None = settings_option(ExperimentSettings, "executor"),
) -> None:
    """Run a grid: methods (baseline, mlm, tlm, weam) × pre-training language sets × model sizes ×
    seeds, through align → pretrain → finetune → evaluate → compare.

    Every variant gets the same data, steps and head warm-up. Every section of the config is
    checked before any step runs, and every input it reads. Steps whose output is complete with the
    same settings are skipped, so a killed run resumes where it stopped (run it again); a step whose
    settings changed re-runs, with everything downstream of it. A failed step is recorded in
    experiment-status.jsonl and its cells show as missing in the comparison. Several processes
    started on one config split its steps (each step is claimed before it runs).
    """
    from weamcli.experiment.config import load_config
    from weamcli.experiment.plan import plan_experiment
    from weamcli.experiment.run import run_experiment

    cfg = load_config(config)
    _say_overrides(cfg, threads=threads, jobs=jobs, share_gpus=share_gpus, executor=executor)
    setup_threads(threads or cfg.threads)
    steps = plan_experiment(cfg)
    if plan:
        _print_plan(cfg, steps)
        return
    started = time.monotonic()
    say(f"experiment '{cfg.name}': {len(steps)} steps into {cfg.out}")
    try:
        with progress_display() as progress:
            result = run_experiment(
                config,
                progress=progress,
                jobs=jobs,
                threads=threads,
                share_gpus=share_gpus,
                executor=executor,
            )
    except KeyboardInterrupt:
        say(f"run `weam experiment {config}` again to continue where it stopped")
        raise
    _print_result(cfg, result, (time.monotonic() - started) / 60)
    if result.failed:
        raise typer.Exit(1)


def _say_overrides(
    cfg: ExperimentConfig,
    *,
    threads: int | None,
    jobs: int | None,
    share_gpus: bool | None,
    executor: str | None,
) -> None:
    """Name each option that overrides a different value of the config's [experiment] section."""
    if threads is not None and cfg.threads is not None and threads != cfg.threads:
        say(f"--threads {threads} overrides [experiment] threads = {cfg.threads}")
    if jobs is not None and cfg.jobs is not None and jobs != cfg.jobs:
        say(f"--jobs {jobs} overrides [experiment] jobs = {cfg.jobs}")
    if share_gpus is not None and share_gpus != cfg.share_gpus:
        flag = "--share-gpus" if share_gpus else "--no-share-gpus"
        say(f"{flag} overrides [experiment] share_gpus = {str(cfg.share_gpus).lower()}")
    if executor is not None:
        ExperimentSettings(executor=executor)  # checked like the TOML's value, --plan too
    if executor is not None and executor != cfg.executor:
        say(f"--executor {executor} overrides [experiment] executor = {cfg.executor}")


def _print_plan(cfg: ExperimentConfig, steps: list[Step]) -> None:
    """``--plan``: the checks a run makes first, then each step's state (a changed one with what
    changed), then the power of a finished comparison."""
    from weamcli.experiment.inputs import check_plan

    check_plan(cfg, steps)  # what a run checks before its first step, checked now
    by_key = {s.key: s for s in steps}
    for step in steps:
        state = step.state
        line = f"{_STATE_MARKS[state]}  {step.kind:<9} {escaped(step.key)}"
        if state == "changed":
            line += f"[dim]: {escaped('; '.join(step.changes(by_key)))}[/]"
        console.print(line, highlight=False, soft_wrap=True)
    _print_power_plan(cfg.out / "compare")


def _print_result(cfg: ExperimentConfig, result: ExperimentResult, minutes: float) -> None:
    """What ran, was skipped or failed, step time by kind, and the comparison's tables."""
    say(
        f"finished in {minutes:.1f} min: {len(result.ran)} ran, {len(result.skipped)} already complete, "
        + (f"{len(result.elsewhere)} run by other processes, " if result.elsewhere else "")
        + f"{len(result.failed)} failed, {len(result.blocked)} blocked"
    )
    if result.seconds:
        # step time by kind (summed over steps that ran side by side, so it can exceed the wall time)
        spent = ", ".join(f"{kind} {sec / 60:.1f} min" for kind, sec in result.seconds.items())
        say(f"step time by kind: {spent}")
    for key, message in result.failed.items():
        say(f"failed: {key}: {message}")
    if result.comparison is not None:
        out = cfg.out / "compare"
        written = {p.name: p for p in sorted(out.iterdir()) if p.is_file()}
        print_comparison(result.comparisons or result.comparison, written)


def _print_power_plan(compare_dir: Path) -> None:
    """One line per table of the finished comparison in ``compare_dir`` (the pilot): its mean-row
    MDE and the test units per language and seeds a 1-point effect would need."""
    from weamcli.compare.power import ALPHA, POWER, pilot_plans

    plans = pilot_plans(compare_dir)
    for p in plans:
        head = f"[cyan]power[/]    {escaped(p.task)} {escaped(p.metric)}:"
        if p.estimate is None:
            console.print(f"{head} {escaped(p.reason)}", highlight=False)
            continue
        e, units = p.estimate, f"{p.unit}s/lang"
        target = f"{100 * e.target:g}-point"
        now = f"{e.units:.0f} {units}, {e.seeds} seed{'s' if e.seeds != 1 else ''}"
        which = escaped(f"{p.column} vs {p.reference}") + (
            f", the largest of {p.compared}" if p.compared > 1 else ""
        )
        line = f"{head} mean-row MDE {100 * e.mde:.1f} points ({which}; {now})"
        if e.reached:
            line += f": a {target} effect is already detectable"
        else:
            line += f"; a {target} effect needs: " + "; ".join(_needs(e, units))
        console.print(line, highlight=False, soft_wrap=True)
    if any(p.estimate is not None for p in plans):
        console.print(
            f"[dim]power: {POWER:.0%} power, two-sided α = {ALPHA}; an estimate from this comparison's "
            "bootstrap, assuming the unit-to-unit and seed-to-seed parts of Δ's variance add up and shrink "
            "as 1/units and 1/seeds.[/]",
            highlight=False,
            soft_wrap=True,
        )


def _needs(e: SampleSize, units: str) -> list[str]:
    """The ways to the target MDE: more units, more seeds, or both by one factor."""
    seeds_now, units_now = f"{e.seeds} seed{'s' if e.seeds != 1 else ''}", f"{e.units:.0f} {units}"
    if e.units_needed is not None:
        out = [f"≈{e.units_needed:,} {units} at {seeds_now}"]
    else:
        out = [f"no test-set size at {seeds_now} (the seed part alone is {100 * e.mde_seeds:.1f} points)"]
    if e.mde_seeds is None:
        out[0] += " (seed part unknown: one seed per model shows no seed-to-seed variance; run ≥ 2)"
        return out
    if e.seeds_needed is not None:
        out.append(f"≈{e.seeds_needed} seeds at {units_now}")
    else:
        out.append(f"no seed count at {units_now} (the unit part alone is {100 * e.mde_units:.1f} points)")
    out.append(
        f"both ×{e.scale:.1f}: ≈{math.ceil(e.units * e.scale):,} {units} and "
        f"{math.ceil(e.seeds * e.scale)} seeds"
    )
    return out
