"""Models saved part-way through a pre-training run (``--snapshot-steps``): the steps axis of an
experiment fine-tunes and evaluates one run at several points instead of training once per point.

A snapshot is a complete ``save_pretrained`` folder (full vocabulary, tokenizer, ``weam.json`` with
the steps and epochs it had run, ``run.jsonl``) at ``OUT/snapshots/step-N``. It is written when
the optimiser step ends, before that step's checkpoint, so a run killed and resumed makes the same
snapshots as an uninterrupted one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file
from weamcli.common.models import METADATA_FILE
from weamcli.common.run_records import RUN_RECORD, append_records, make_record
from weamcli.pretrain.output_folder import snapshot_dir
from weamcli.pretrain.vocabulary import untrim_vocabulary


def snapshots_to_save(wanted: Sequence[int] | None, last_step: int, plan_text: str) -> list[int]:
    """The snapshot steps before the run's last step (the last one is the final model). A step
    after the last is an error: the run would never reach it."""
    steps = sorted(set(wanted or ()))
    late = [n for n in steps if n > last_step]
    if late:
        raise WeamError(
            f"--snapshot-steps {late[0]} is after the run's last step ({plan_text}); "
            "raise --max-steps/--epochs or drop it"
        )
    return [n for n in steps if n < last_step]


def check_resumed_snapshots(out: Path, steps: Sequence[int], resumed_at: int) -> None:
    """A resumed run cannot make the snapshots of steps it has already passed."""
    for n in steps:
        if n <= resumed_at and not (snapshot_dir(out, n) / METADATA_FILE).is_file():
            raise WeamError(
                f"the snapshot of step {n} is missing and the checkpoint to resume from is at step "
                f"{resumed_at}, past it: run again with --overwrite",
                snapshot_dir(out, n),
            )


def save_snapshot(
    mlm: Any,
    tokenizer: Any,
    folder: Path,
    *,
    keep: Sequence[int] | None,
    full: dict[str, Any] | None,
    meta: dict[str, Any],
    record: dict[str, Any],
) -> None:
    """Write ``mlm`` as it is now to ``folder`` at full vocabulary size; training goes on with the
    (trimmed) model untouched."""
    model = mlm
    if keep is not None:
        model = copy.deepcopy(mlm)  # untrimming is in place; the run keeps training the trimmed one
        untrim_vocabulary(model, keep, full)
    with atomic_dir(folder, overwrite=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        append_records(tmp / RUN_RECORD, [record])
        with atomic_file(tmp / METADATA_FILE) as fh:
            json.dump(meta, fh, indent=2)


def snapshot_callback(
    steps: Sequence[int],
    out: Path,
    save: Callable[[Path, int, float], None],
):
    """A TrainerCallback that calls ``save(folder, step, epochs)`` when an optimiser step in
    ``steps`` ends (on the main process only)."""
    from transformers import TrainerCallback

    wanted = set(steps)

    class SnapshotCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in wanted and state.is_world_process_zero:
                save(snapshot_dir(out, state.global_step), state.global_step, float(state.epoch or 0.0))

    return SnapshotCallback()


def snapshot_record(
    config: dict[str, Any], seed: int, step: int, epochs: float, final: Path
) -> dict[str, Any]:
    return make_record(
        "pretrain",
        config,
        seed=seed,
        metrics={"steps": step, "epochs": round(epochs, 4), "snapshot_of": str(final)},
        event="snapshot",
    )
