"""Zero-shot extractive QA (XQuAD, MLQA, TyDiQA-GoldP, any SQuAD-format files): F1 and exact match
per language, one result row per model × task × language × seed, each question's predicted answer
and scores kept for paired statistics (the question is the unit `weam compare` resamples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weamcli.common.models import ModelRef, parameter_count
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import make_qa_row, model_facts
from weamcli.common.tasks import TaskSpec
from weamcli.evaluate.classification import resolve_languages
from weamcli.evaluate.squad_metric import score_answers, style_for
from weamcli.evaluate.tagging import fine_tuned_models, load_languages


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
    from weamcli.common.sentence_vectors import inference_device
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
    data = load_languages(task, codes, split, max_examples)
    rows: list[dict[str, Any]] = []
    for ref, _ in plans:
        say(f"evaluating {ref.path} on {len(codes)} language(s)")
        model, tokenizer, meta = load_span_model(ref)
        model.to(inference_device())
        facts = model_facts(
            ref,
            meta,
            params=parameter_count(model),
            num_layers=model.encoder.config.num_hidden_layers,
            name=name,
        )
        max_length = int(meta.get("max_length") or 256)
        stride = int(meta.get("doc_stride") or max_length // 3)
        stage = f"{facts['model']} seed {facts['seed']}: languages"
        say(stage, 0, len(codes))
        for index, code in enumerate(codes, 1):
            examples = data[code].examples
            features = make_features(
                tokenizer, examples, prefix=ref.text_prefix, max_length=max_length, stride=stride
            )
            predicted = predict_spans(
                model,
                tokenizer,
                examples,
                features,
                batch_size=batch_size,
                max_answer_length=int(meta.get("max_answer_length") or 30),
                n_best=int(meta.get("n_best") or N_BEST),
            )
            golds = [e.answers for e in examples]
            f1, em = score_answers(predicted, golds, code, normalisation)
            row = make_qa_row(
                task.name,
                split,
                code,
                facts,
                ids=[e.id for e in examples],
                predictions=predicted,
                gold=golds,
                f1=f1,
                exact_match=em,
                normalisation=style_for(code, normalisation),
                windows=len(features.input_ids),
            )
            say(
                f"{facts['model']} seed {facts['seed']} {code}: F1 {row['f1']:.3f}, exact match "
                f"{row['exact_match']:.3f} ({row['n']} questions, {len(features.input_ids)} windows)"
            )
            rows.append(row)
            if done is not None:
                done.append(row)
            say(stage, index, len(codes))
    return rows
