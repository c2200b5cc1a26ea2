"""English dev curves: the convergence verdict, early stopping (--patience) and what is recorded."""

from __future__ import annotations

import json

import pytest

from weamcli.common.convergence import RISING_THRESHOLD, convergence, convergence_of
from weamcli.common.run_records import read_records
from weamcli.finetune import classifier
from weamcli.finetune.run import finetune
from weamcli.finetune.settings import FinetuneSettings


def test_verdict_on_hand_made_curves():
    assert RISING_THRESHOLD == 0.005
    rising = convergence([0.60, 0.70, 0.80])
    assert rising.converged is False and rising.last_gain == pytest.approx(0.10)
    assert "NOT converged" in rising.words()
    # a last-epoch gain at the threshold is converged, just above it is not
    assert convergence([0.800, 0.805]).converged is True
    assert convergence([0.800, 0.8051]).converged is False
    flat = convergence([0.70, 0.72, 0.71])
    assert flat.converged is True and flat.last_gain == pytest.approx(-0.01)
    # the gain is over the best EARLIER epoch, not the one before the last
    assert convergence([0.9, 0.5, 0.8]).converged is True
    # another threshold is an argument
    assert convergence([0.800, 0.81], threshold=0.02).converged is True
    # one epoch: no verdict; a stopped run is converged by construction
    assert convergence([0.9]).converged is None and convergence([]).status == "unknown"
    assert convergence([0.5, 0.9, 0.95], stopped_early=True).converged is True
    assert convergence([0.5, float("nan")]).converged is None
    # recomputed from a record that predates the recorded verdict
    assert convergence_of({"dev_history": [0.1, 0.3]}).converged is False
    assert convergence_of({"dev_history": [0.1, 0.3], "stopped_early": True}).converged is True
    assert rising.record() == {"converged": False, "last_epoch_gain": 0.1, "convergence_threshold": 0.005}


def _settings(folder, out, **kw) -> FinetuneSettings:
    return FinetuneSettings(
        task="custom",
        train=str(folder / "train.tsv"),
        dev=str(folder / "dev.tsv"),
        text_column="text",
        label_column="label",
        model="tiny",
        out=str(out),
        seeds=[1],
        batch_size=8,
        max_length=32,
        bf16=False,
        **kw,
    )


def test_patience_stops_a_plateau_before_the_cap(small_task, tmp_path, tiny_ref):
    # a learning rate so small the dev accuracy cannot move: no epoch after the first gains
    settings = _settings(small_task, tmp_path / "out", epochs=5, patience=1, lr=1e-12, head_lr=1e-12)
    run = finetune(settings, model=tiny_ref).runs[0]
    assert len(run.dev_history) == 2 and run.dev_history[0] == run.dev_history[1]
    assert run.stopped_early and run.convergence.converged is True
    meta = json.loads((tmp_path / "out" / "seed-1" / "weam.json").read_text(encoding="utf-8"))
    assert (meta["epochs_run"], meta["stopped_early"], meta["converged"]) == (2, True, True)
    assert meta["finetune_config"]["patience"] == 1 and meta["finetune_config"]["epochs"] == 5
    # the schedule was planned for the 5-epoch cap (2 steps an epoch) and ended part-way
    assert (meta["schedule_steps"], meta["steps_run"], meta["lr_schedule"]) == (10, 4, "linear")
    card = (tmp_path / "out" / "seed-1" / "README.md").read_text(encoding="utf-8")
    assert "2 of at most 5 epochs (patience 1, stopped early)" in card
    assert "converged (stopped early" in card


def test_without_patience_every_epoch_runs(small_task, tmp_path, tiny_ref):
    settings = _settings(small_task, tmp_path / "out", epochs=3, lr=1e-12, head_lr=1e-12)
    run = finetune(settings, model=tiny_ref).runs[0]
    assert len(run.dev_history) == 3 and not run.stopped_early
    assert "patience" not in settings.hyperparameters()  # off: recorded as before it existed


def test_a_rising_curve_is_flagged_and_stopping_keeps_the_best_epoch(
    small_task, tmp_path, tiny_ref, monkeypatch
):
    curves = {"rising": [0.50, 0.60, 0.70], "peak": [0.50, 0.70, 0.60, 0.65, 0.9, 0.9]}
    for name, curve in curves.items():
        scores = iter(curve)
        monkeypatch.setattr(classifier, "dev_accuracy", lambda *a, scores=scores: next(scores))
        patience = 2 if name == "peak" else None
        settings = _settings(small_task, tmp_path / name, epochs=len(curve), patience=patience)
        run = finetune(settings, model=tiny_ref).runs[0]
        meta = json.loads((tmp_path / name / "seed-1" / "weam.json").read_text(encoding="utf-8"))
        metrics = read_records(tmp_path / name / "run.jsonl")[0]["metrics"]
        card = (tmp_path / name / "seed-1" / "README.md").read_text(encoding="utf-8")
        if name == "rising":  # still 10 points up at the last of 3 epochs: flagged everywhere
            assert run.dev_history == curve and not run.stopped_early
            assert meta["converged"] is False and metrics["converged"] is False
            assert meta["last_epoch_gain"] == pytest.approx(0.10) == metrics["last_epoch_gain"]
            assert "NOT converged (English dev accuracy still rising: +10.0 points at its last epoch" in card
        else:  # no gain over 0.70 at epochs 3 and 4: stops, keeps epoch 2
            assert run.dev_history == curve[:4] and run.stopped_early
            assert (meta["selected_epoch"], meta["dev_score"], meta["epochs_run"]) == (2, 0.70, 4)
            assert meta["converged"] is True and metrics["stopped_early"] is True
