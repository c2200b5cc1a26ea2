"""Zero-shot multiple choice (XCOPA, COPA-style files): accuracy per language, one result row per
model × task × language × seed, each example's picked choice kept for paired statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weamcli.common.models import ModelRef, parameter_count
from weamcli.common.progress import Progress, quiet
from weamcli.common.result_rows import make_row, model_facts
from weamcli.common.tasks import TaskSpec
from weamcli.evaluate.classification import resolve_languages, scored_data_column
from weamcli.evaluate.tagging import fine_tuned_models, load_languages


def evaluate_choice(
    models: Sequence[str | ModelRef],
    task: TaskSpec,
    langs: Sequence[str] | str,
    *,
    split: str = "test",
    name: str | None = None,
    batch_size: int = 32,
    max_examples: int | None = None,
    progress: Progress | None = None,
    done: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Accuracy of each multiple-choice model on ``split`` of each language. Every language is read
    and checked before any model runs; ``done`` gets each row as soon as its language is scored."""
    from weamcli.common.embedding_rows import rows_on_demand
    from weamcli.common.sentence_vectors import inference_device
    from weamcli.finetune.multiple_choice import HEAD_FILE, load_choice_model, predict_choices

    say = progress or quiet
    plans = fine_tuned_models(models, task, HEAD_FILE, "multiple-choice")
    codes = resolve_languages(task, langs, split)
    data = load_languages(task, codes, split, max_examples)
    rows: list[dict[str, Any]] = []
    for ref, _meta in plans:
        say(f"evaluating {ref.path} on {len(codes)} language(s)")
        model, tokenizer, meta = load_choice_model(ref)
        model.to(inference_device())
        facts = model_facts(
            ref,
            meta,
            params=parameter_count(model),
            num_layers=model.encoder.config.num_hidden_layers,
            name=name,
        )
        rows_on_demand(model, ref)  # after counting the parameters: the rows read stay few
        max_length = int(meta.get("max_length") or 128)
        stage = f"{facts['model']} seed {facts['seed']}: languages"
        say(stage, 0, len(codes))
        for index, code in enumerate(codes, 1):
            part = data[code]
            picks = predict_choices(
                model,
                tokenizer,
                part.examples,
                prefix=ref.text_prefix,
                batch_size=batch_size,
                max_length=max_length,
            )
            row = make_row(
                task.name,
                split,
                code,
                facts,
                ids=part.ids,
                predictions=picks,
                gold=part.labels,
                kind="multiple_choice",
                unit="example",
                **scored_data_column(task),
            )
            score = f"{row['accuracy']:.3f} ({row['correct']}/{row['n']})"
            say(f"{facts['model']} seed {facts['seed']} {code}: {score}")
            rows.append(row)
            if done is not None:
                done.append(row)
            say(stage, index, len(codes))
    return rows
