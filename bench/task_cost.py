"""What one fine-tune + zero-shot evaluation of a task costs on this machine, projected from timed
pieces of the real work, with three ways of treating the word embeddings timed in the same run.

    .venv/bin/python bench/task_cost.py --task udpos --threads 2
    .venv/bin/python bench/task_cost.py --task xquad --threads 2 --steps 4

For the task's default fine-tuning settings (`weam finetune --task T` without options: the English
training sub-sample, epochs, window length), it times optimiser steps on real training batches —
embedding matrix frozen, only the rows the training data uses trained (what `weam finetune` does),
and the whole matrix trained (the reference of the ratios); interleaved, the same batches, in the
precision `weam finetune` would pick — and inference on real test units, then projects: training
steps × s/step + (dev units per epoch + test units) × s/unit, the test units being those `weam
evaluate --task T` scores by default (XQuAD: its fixed sample of 150 questions a language;
"test_units_full" is the whole test set). The steps use random batches, padded longer than the
Trainer's length-grouped ones, so the projection errs high (XQuAD: 14.8 min projected, 10.4
measured). It prints one JSON object (appended to --out if given). Use `weam finetune` / `weam
evaluate` for the real thing: this only tells, in a minute or two, what they will cost and what
freezing would save.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VARIANTS = ("frozen", "used_rows", "whole_matrix")
SETTINGS = (
    "epochs",
    "batch_size",
    "max_length",
    "lr",
    "freeze_embeddings",
    "max_train_examples",
    "max_dev_examples",
    "train_sample_seed",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="udpos", choices=("udpos", "xquad", "sib200", "xnli", "paws-x"))
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--steps", type=int, default=6, help="timed optimiser steps per variant")
    parser.add_argument("--units", type=int, default=64, help="test units timed for inference")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from weamcli.common.models import resolve_model
    from weamcli.common.precision import bf16_choice_for
    from weamcli.common.run_records import append_records, library_versions
    from weamcli.common.task_splits import load_task_split, sample_split
    from weamcli.common.tasks import available_languages
    from weamcli.evaluate.fine_tuned import resolve_languages
    from weamcli.evaluate.settings import EvaluateSettings
    from weamcli.finetune.embedding_rows import train_used_rows
    from weamcli.finetune.settings import FinetuneSettings
    from weamcli.finetune.training import adamw, english_data, parameter_groups

    config = FinetuneSettings(task=args.task, model=args.model, out="unused")
    task = config.task_spec()
    ref = resolve_model(args.model)
    train, dev, labels = english_data(task, config)
    langs = resolve_languages(task, available_languages(task, "test"), "test")
    tests = {code: load_task_split(task, code, "test") for code in langs}
    test_units_full = sum(len(p) for p in tests.values())
    scored = EvaluateSettings(task=args.task, models=[args.model]).max_examples  # the task's default
    test_units = sum(min(len(p), scored or len(p)) for p in tests.values())
    family = _family(task.kind, ref, train, dev, labels, config)
    batches = _batches(family, config.batch_size, args.steps)
    # the training steps run in the precision `weam finetune` would choose here (bf16 autocast
    # where its cached measurement says it pays at this batch shape); inference runs in fp32, as in
    # the dev scoring and `weam evaluate`
    bf16 = bf16_choice_for(ref, config.batch_size, config.max_length, trimmed=True, requested=config.bf16)
    steps_per_epoch = math.ceil(len(family.train_dataset) / config.batch_size)

    timings: dict[str, list[float]] = {}
    for variant in VARIANTS * 2:  # interleaved: the machine's load hits all alike
        model = _fresh_model(task.kind, ref, labels, config)
        rows = None
        if variant == "frozen":
            model.encoder.get_input_embeddings().weight.requires_grad_(False)
        elif variant == "used_rows":
            ids = family.train_dataset["input_ids"]
            rows = train_used_rows(model.encoder, ids, family.tokenizer.pad_token_id)
        optimizer = adamw(parameter_groups(model, config))
        if rows is not None:
            rows.follow(optimizer)
        model.train()
        _step(model, optimizer, batches[0], bf16.enabled)  # warm-up, untimed
        started = time.perf_counter()
        for batch in batches[1:]:
            _step(model, optimizer, batch, bf16.enabled)
        timings.setdefault(variant, []).append((time.perf_counter() - started) / (len(batches) - 1))
        del model, optimizer, rows
    step_time = {variant: min(t) for variant, t in timings.items()}

    # inference: the first test language's first units, through the same code `weam evaluate` runs
    sample = sample_split(next(iter(tests.values())), args.units, None)
    started = time.perf_counter()
    _infer(task.kind, family, ref, sample, config)
    per_unit = (time.perf_counter() - started) / len(sample)

    step = step_time["frozen" if config.freeze_embeddings else "used_rows"]
    train_s = steps_per_epoch * config.epochs * step
    dev_s = len(dev) * config.epochs * per_unit
    test_s = test_units * per_unit
    result = {
        "bench": "task_cost",
        "task": args.task,
        "model": args.model,
        "threads": args.threads,
        "settings": {k: getattr(config, k) for k in SETTINGS},
        "bf16_training": bf16.enabled,
        "bf16_reason": bf16.reason,
        "train_units": len(train),
        "train_features": len(family.train_dataset),
        "dev_units": len(dev),
        "test_units": test_units,
        "test_units_full": test_units_full,
        "evaluate_max_examples": scored,
        "test_languages": len(tests),
        "seconds_per_step": {variant: round(t, 3) for variant, t in step_time.items()},
        "step_time_vs_whole_matrix": {
            variant: round(t / step_time["whole_matrix"], 3) for variant, t in step_time.items()
        },
        "seconds_per_test_unit": round(per_unit, 4),
        "projected_minutes": {
            "train": round(train_s / 60, 1),
            "dev_selection": round(dev_s / 60, 1),
            "test": round(test_s / 60, 1),
            "total": round((train_s + dev_s + test_s) / 60, 1),
        },
        "versions": library_versions(),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        append_records(args.out, [result])


def _family(kind, ref, train, dev, labels, config):
    import importlib

    from weamcli.finetune.run import FAMILY_MODULES

    module = importlib.import_module(FAMILY_MODULES[kind])
    return module.build_family(ref, train, dev, labels, config, lambda *a: None)


def _fresh_model(kind, ref, labels, config):
    from weamcli.finetune.classifier import PooledClassifier, encoder_for

    if kind == "classification":
        return PooledClassifier(encoder_for(ref), len(labels), pooling=config.pooling)
    if kind == "tagging":
        from weamcli.finetune.token_classification import TokenTagger

        return TokenTagger(encoder_for(ref), len(labels))
    from weamcli.finetune.question_answering import SpanExtractor

    return SpanExtractor(encoder_for(ref))


def _batches(family, batch_size: int, steps: int) -> list[dict]:
    """``steps + 1`` real training batches of typical length (a seeded draw of the features)."""
    import random

    ds = family.train_dataset.remove_columns(["length"])
    rng = random.Random(0)
    picks = [rng.sample(range(len(ds)), batch_size) for _ in range(steps + 1)]
    return [family.collator([ds[i] for i in idx]) for idx in picks]


def _step(model, optimizer, batch, bf16: bool) -> None:
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(**batch)["loss"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def _infer(kind, family, ref, part, config) -> None:
    if kind == "classification":
        from weamcli.finetune.classifier import predict

        predict(family.model, family.tokenizer, part.texts, part.pairs, prefix=ref.text_prefix)
    elif kind == "tagging":
        from weamcli.finetune.token_classification import make_windows, predict_tags

        words = [s.words for s in part.sentences]
        kw = {"prefix": ref.text_prefix, "max_length": config.max_length, "stride": config.doc_stride}
        windows = make_windows(family.tokenizer, words, **kw)
        predict_tags(family.model, family.tokenizer, windows)
    else:
        from weamcli.finetune.question_answering import make_features, predict_spans

        kw = {"prefix": ref.text_prefix, "max_length": config.max_length, "stride": config.doc_stride}
        features = make_features(family.tokenizer, part.examples, **kw)
        predict_spans(family.model, family.tokenizer, part.examples, features)


if __name__ == "__main__":
    main()
