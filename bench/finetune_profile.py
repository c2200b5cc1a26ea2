"""Where one `weam finetune` spends its time, part by part, with a reference workload timed in the
same run (so figures taken under different load compare), and optionally the same fine-tune run
by another checkout of weam as a before/after reference.

    .venv/bin/python bench/finetune_profile.py --task sib200 --threads 1
    .venv/bin/python bench/finetune_profile.py --task udpos --threads 1 --against ../weam-before
    .venv/bin/python bench/finetune_profile.py --task sib200 max_train_examples=64 epochs=2

It runs the real fine-tune (`weamcli.finetune.run.finetune`, the task's defaults unless settings are
given as KEY=VALUE, the `[finetune]` TOML keys; one seed) with timers around its parts: reading the
English data, loading the tokenizer and the encoder, building the training features (tokenising),
collating batches (padding), the forward and backward passes of training, the optimiser steps,
English dev scoring after each epoch, restoring the embedding matrix, saving (weights, tokenizer,
weam.json, card, run record) and the rest (the Trainer's own work: sampling, gradient clipping,
scheduling). The reference is one fp32 forward + backward pass of the same encoder on a fixed batch
(16 × 64 seeded random pieces), the median of 5 before and 5 after the fine-tune; every part is also
given in reference units. With --against TREE, `python -m weamcli finetune` with the same options is
then run from TREE and from this checkout, one after the other (TREE first), and their wall times
and the ratio this/TREE printed. Prints one JSON object (appended to --out if given).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARTS = (
    "read data",
    "load tokenizer",
    "load encoder",
    "tokenise",
    "collate",
    "forward",
    "backward",
    "optimiser",
    "dev scoring",
    "restore embeddings",
    "save",
)


class Timers:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, part: str, fn, when=None):
        """``fn`` timed into ``part`` (only the calls for which ``when()`` is true, if given)."""

        @functools.wraps(fn)  # the Trainer reads the forward's signature to keep the input columns
        def timed(*args, **kwargs):
            if when is not None and not when():
                return fn(*args, **kwargs)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started
                self.calls[part] += 1

        return timed


def instrument(timers: Timers) -> None:
    """Timers around the parts of a fine-tune (module attributes the loop looks up at call time)."""
    import importlib

    from transformers import Trainer

    from weamcli.finetune import classifier, embedding_rows, run, training

    training.english_data = timers.wrap("read data", training.english_data)
    classifier.shared_tokenizer = timers.wrap("load tokenizer", classifier.shared_tokenizer)
    classifier.encoder_for = timers.wrap("load encoder", classifier.encoder_for)
    classifier.save_with_head = timers.wrap("save", classifier.save_with_head)
    training.write_model_card = timers.wrap("save", training.write_model_card)
    training.write_run_record = timers.wrap("save", training.write_run_record)
    training.restore_embeddings = timers.wrap("restore embeddings", embedding_rows.restore_embeddings)
    real_adamw = training.adamw

    def adamw(groups):
        optimizer = real_adamw(groups)
        optimizer.step = timers.wrap("optimiser", optimizer.step)
        return optimizer

    training.adamw = adamw
    for name in run.FAMILY_MODULES.values():
        module = importlib.import_module(name)
        module.build_family = _timed_family(timers, module.build_family)
    real_step = Trainer.training_step

    def training_step(self, *args, **kwargs):
        started = time.perf_counter()
        forward_before = timers.seconds["forward"]
        try:
            return real_step(self, *args, **kwargs)
        finally:
            total = time.perf_counter() - started
            timers.seconds["backward"] += total - (timers.seconds["forward"] - forward_before)
            timers.calls["backward"] += 1

    Trainer.training_step = training_step


def _timed_family(timers: Timers, build):
    def build_family(*args, **kwargs):
        before = timers.seconds["load tokenizer"] + timers.seconds["load encoder"]
        started = time.perf_counter()
        family = build(*args, **kwargs)
        loads = timers.seconds["load tokenizer"] + timers.seconds["load encoder"] - before
        timers.seconds["tokenise"] += time.perf_counter() - started - loads
        model = family.model
        family.collator = timers.wrap("collate", family.collator)
        family.dev_score = timers.wrap("dev scoring", family.dev_score)
        model.forward = timers.wrap("forward", model.forward, when=lambda: model.training)
        return family

    return build_family


def reference_seconds(ref, repeats: int = 5) -> float:
    """Median seconds of one fp32 forward + backward of the encoder on a fixed 16 × 64 batch."""
    import torch

    from weamcli.common.models import load_model

    encoder = load_model(ref)
    encoder.train()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (16, 64), generator=generator)
    mask = torch.ones_like(ids)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float().square().mean().backward()
        times.append(time.perf_counter() - started)
        encoder.zero_grad(set_to_none=True)
    return statistics.median(times[1:])  # the first is a warm-up


def cli_wall(tree: Path, options: list[str], out: Path, threads: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "weamcli", "finetune", *options, "-o", str(out), "--overwrite"]
    started = time.perf_counter()
    subprocess.run([*command, "--threads", str(threads)], cwd=tree, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _value(text: str):
    """A KEY=VALUE setting's value: JSON (numbers, true/false), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sib200")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--against", type=Path, default=None, help="another checkout of weam to time")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("settings", nargs="*", help="more fine-tuning settings as KEY=VALUE")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from weamcli.common.models import resolve_model
    from weamcli.common.run_records import append_records, library_versions
    from weamcli.finetune.run import finetune
    from weamcli.finetune.settings import FinetuneSettings

    given = {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.settings)}
    options = ["--task", args.task, "-m", args.model, "--seeds", str(args.seed)]
    for key, value in given.items():
        flag = "--" + key.replace("_", "-")
        options += (
            ([flag] if value else ["--no-" + flag[2:]]) if isinstance(value, bool) else [flag, str(value)]
        )
    ref = resolve_model(args.model)
    reference = [reference_seconds(ref)]
    timers = Timers()
    instrument(timers)
    with tempfile.TemporaryDirectory(prefix="weam-profile-") as tmp:
        settings = FinetuneSettings(
            task=args.task, model=args.model, seeds=[args.seed], out=str(Path(tmp) / "ft"), **given
        )
        started = time.perf_counter()
        result = finetune(settings, model=ref)
        total = time.perf_counter() - started
        reference.append(reference_seconds(ref))
        against = None
        if args.against is not None:
            before = cli_wall(args.against.resolve(), options, Path(tmp) / "before", args.threads)
            after = cli_wall(ROOT, options, Path(tmp) / "after", args.threads)
            against = {"tree": str(args.against), "wall_s": round(before, 1), "this_wall_s": round(after, 1)}
            against["this_over_tree"] = round(after / before, 3)
    unit = statistics.mean(reference)
    parts = {part: timers.seconds.get(part, 0.0) for part in PARTS}
    parts["other"] = total - sum(parts.values())
    run = result.runs[0]
    report = {
        "bench": "finetune_profile",
        "task": args.task,
        "model": args.model,
        "threads": args.threads,
        "options": options,
        "total_s": round(total, 1),
        "reference_s": [round(r, 3) for r in reference],
        "total_in_reference_units": round(total / unit),
        "parts": {
            part: {
                "s": round(s, 1),
                "share": round(s / total, 3),
                "reference_units": round(s / unit, 1),
                "calls": timers.calls.get(part, 0),
            }
            for part, s in parts.items()
        },
        "dev_history": run.dev_history,
        "steps_run": run.metrics.get("steps_run"),
        "against": against,
        "load_average": os.getloadavg(),
        "versions": library_versions(),
    }
    print(json.dumps(report, indent=2))
    if args.out:
        append_records(args.out, [report])


if __name__ == "__main__":
    main()
