"""The one progress protocol of weam's core functions.

A core function never prints: it reports through ``progress(message)`` for a line of news, or
``progress(stage, done, total)`` for counted work (``total`` None while unknown). The CLI renders
the first as a line and the second as a bar on a terminal (plain lines in a log); the experiment
grid keeps one line per stage.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, message: str, done: int | None = None, total: int | None = None, /) -> None: ...


def quiet(message: str, done: int | None = None, total: int | None = None, /) -> None:
    """Progress that goes nowhere (the default of every core function)."""


def trainer_steps(progress: Progress, stage: str):
    """A transformers TrainerCallback reporting optimiser steps as counted work: ``progress(stage,
    step, max_steps)`` (from the resumed step on a resumed run), by the first process only."""
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero and state.max_steps:
                progress(stage, state.global_step, state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                progress(stage, state.global_step, state.max_steps)

    return StepProgress()
