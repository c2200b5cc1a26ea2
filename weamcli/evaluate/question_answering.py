"""Zero-shot extractive QA (XQuAD, MLQA, TyDiQA-GoldP, any SQuAD-format files): F1 and exact match
per language, one result row per model × task × language × seed, each question's predicted answer
and scores kept for paired statistics (the question is the unit `weam compare` resamples).

``max_examples`` scores a fixed random sample of questions: their ids are drawn once from the
English file (else the first language's) with ``SAMPLE_SEED`` and every language keeps those ids,
so XQuAD's parallel languages answer the same questions and a language's difference from English
is not a difference of questions. Drawn at random, not the first N: XQuAD's files run article by
article, and the first 200 questions come from a handful of its 48 articles."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import make_qa_row
from weamcli.common.squad_metric import score_answers, style_for
from weamcli.common.task_splits import QASplit, load_task_split
from weamcli.common.tasks import TaskSpec, resolve_language
from weamcli.evaluate.fine_tuned import (
    Loaded,
    fine_tuned_models,
    load_languages,
    resolve_languages,
    score_languages,
    scored_data_column,
)

# the question sample's seed: fixed, so every model, fine-tuning seed and run scores the same
# questions (only --max-examples sets its size) and `weam compare` pairs them all
SAMPLE_SEED = 0


def sample_questions(
    task: TaskSpec, data: dict[str, QASplit], n: int | None, split: str
) -> tuple[dict[str, QASplit], dict[str, dict[str, Any]]]:
    """At most ``n`` questions of each language, the same question ids in all (see the module
    docstring), and per language what was kept: ``questions``, ``of`` (the file's count), ``seed``
    and ``ids_from`` (the language the ids were drawn from; the language itself where it shares
    none of them, e.g. files that are not translations of each other)."""
    if not n or all(len(part) <= n for part in data.values()):
        return data, {}
    code, _ = resolve_language(task, task.source_lang)
    reference = data.get(code)
    if reference is None:
        try:
            reference = load_task_split(task, code, split)
        except WeamError:  # no English file for this split (e.g. squad-format's own patterns)
            reference = next(iter(data.values()))
    ids = [e.id for e in reference.examples]
    drawn = {ids[i] for i in random.Random(SAMPLE_SEED).sample(range(len(ids)), min(n, len(ids)))}
    sampled: dict[str, QASplit] = {}
    info: dict[str, dict[str, Any]] = {}
    for lang, part in data.items():
        kept, source = [e for e in part.examples if e.id in drawn], reference.lang
        if not kept:
            rows = sorted(random.Random(SAMPLE_SEED).sample(range(len(part)), min(n, len(part))))
            kept, source = [part.examples[i] for i in rows], lang
        sampled[lang] = replace(part, examples=kept)
        info[lang] = {"questions": len(kept), "of": len(part), "seed": SAMPLE_SEED, "ids_from": source}
    return sampled, info


def evaluate_qa(
    models: Sequence[str | ModelRef],
    task: TaskSpec,
    langs: Sequence[str] | str,
    *,
    split: str = "test",
    name: str | None = None,
    batch_size: int = 32,
    max_examples: int | None = None,
    normalisation: str = "auto",
    progress: Progress | None = None,
    done: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """F1 and exact match of each QA model on ``split`` of each language (rows: make_qa_row).

    Windows, stride and the longest answer are those the model was fine-tuned with (weam.json)."""
    from weamcli.finetune.question_answering import (
        HEAD_FILE,
        N_BEST,
        load_span_model,
        make_features,
        predict_spans,
    )

    say = progress or quiet
    plans = fine_tuned_models(models, task, HEAD_FILE, "span (QA)")
    codes = resolve_languages(task, langs, split)
    data, sample = sample_questions(task, load_languages(task, codes, split, None), max_examples, split)
    if sample:
        largest = max(info["of"] for info in sample.values())
        say(
            f"scoring a fixed sample of at most {max_examples} questions a language (the same question "
            f"ids in every language, seed {SAMPLE_SEED}; --max-examples 0 scores all {largest:,})"
        )

    def score(m: Loaded, code: str) -> tuple[dict[str, Any], str]:
        max_length = int(m.meta.get("max_length") or 256)
        stride = int(m.meta.get("doc_stride") or max_length // 3)
        examples = data[code].examples
        features = make_features(
            m.tokenizer, examples, prefix=m.ref.text_prefix, max_length=max_length, stride=stride
        )
        predicted = predict_spans(
            m.model,
            m.tokenizer,
            examples,
            features,
            batch_size=batch_size,
            max_answer_length=int(m.meta.get("max_answer_length") or 30),
            n_best=int(m.meta.get("n_best") or N_BEST),
        )
        golds = [e.answers for e in examples]
        f1, em = score_answers(predicted, golds, code, normalisation)
        row = make_qa_row(
            task.name,
            split,
            code,
            m.facts,
            ids=[e.id for e in examples],
            predictions=predicted,
            gold=golds,
            f1=f1,
            exact_match=em,
            normalisation=style_for(code, normalisation),
            windows=len(features.input_ids),
            **({"sample": sample[code]} if code in sample else {}),
            **scored_data_column(task),
        )
        of = f" of {sample[code]['of']:,}" if code in sample else ""
        words = f"({row['n']}{of} questions, {len(features.input_ids)} windows)"
        return row, f"F1 {row['f1']:.3f}, exact match {row['exact_match']:.3f} {words}"

    return score_languages(plans, codes, load_span_model, score, name=name, progress=progress, done=done)
