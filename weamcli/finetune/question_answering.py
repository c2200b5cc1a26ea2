"""Extractive QA (XQuAD, MLQA, TyDiQA-GoldP, any SQuAD-format data): an encoder with a start/end
span head, trained and decoded the way transformers' run_qa example does.

A (question, context) pair longer than ``max_length`` becomes several windows ("features") over the
context, overlapping by ``doc_stride`` pieces; offset mappings tie pieces back to characters. In
training a window that does not hold the whole answer points at the first ([CLS]) piece. In
prediction the best span of any window wins: the ``n_best`` highest start and end logits are paired,
spans outside the context, reversed or longer than ``max_answer_length`` pieces are skipped, and the
span's characters are cut from the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef
from weamcli.finetune.classifier import save_with_head
from weamcli.finetune.token_classification import load_head_model

HEAD_FILE = "span_head.safetensors"
N_BEST = 20  # start and end candidates per window (run_qa's default)


class SpanExtractor(nn.Module):
    """Encoder + a linear layer giving each piece a start and an end logit."""

    def __init__(self, encoder: nn.Module, *, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, 2)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(
        self, input_ids, attention_mask, token_type_ids=None, start_positions=None, end_positions=None
    ) -> dict[str, Any]:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        logits = self.head(self.dropout(self.encoder(**kwargs).last_hidden_state))
        start, end = logits[..., 0], logits[..., 1]
        # padding can never be a span end
        start = start.masked_fill(attention_mask == 0, torch.finfo(start.dtype).min)
        end = end.masked_fill(attention_mask == 0, torch.finfo(end.dtype).min)
        out: dict[str, Any] = {"start_logits": start, "end_logits": end}
        if start_positions is not None and end_positions is not None:
            loss = nn.functional.cross_entropy(start, start_positions) + nn.functional.cross_entropy(
                end, end_positions
            )
            out["loss"] = loss / 2
        return out

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def save(self, folder, tokenizer, metadata: dict[str, Any]) -> None:
        save_with_head(self, folder, tokenizer, metadata, HEAD_FILE)


def load_span_model(ref: ModelRef) -> tuple[SpanExtractor, Any, dict[str, Any]]:
    """A QA fine-tune as (model, tokenizer, weam.json); one line if it is not one."""
    from weamcli.finetune.classifier import shared_tokenizer

    model, meta = load_head_model(ref, HEAD_FILE, lambda encoder, meta: SpanExtractor(encoder), "span (QA)")
    return model, shared_tokenizer(ref), meta


# ----------------------------------------------------------------------------- features


@dataclass
class Features:
    """Windows over (question, context) pairs, with what decoding and training need."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    example: list[int]  # the question each window belongs to
    offsets: list[list[tuple[int, int] | None]]  # character span of each context piece; None elsewhere
    cut_questions: int  # questions longer than half the window, cut to fit


def make_features(
    tokenizer, examples: Sequence[Any], *, prefix: str = "", max_length: int = 256, stride: int = 85
) -> Features:
    """Tokenize (prefix + question, context) pairs into overlapping context windows."""
    if tokenizer.padding_side != "right":
        raise WeamError("QA needs a tokenizer that pads on the right (question first, then context)")
    questions = [prefix + e.question for e in examples]
    # a question takes at most half the window, so every window still shows a stretch of context
    limit = max_length // 2
    lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
    cut = sum(n > limit for n in lengths)
    if cut:
        questions = [
            tokenizer.decode(tokenizer(q, add_special_tokens=False)["input_ids"][:limit]) if n > limit else q
            for q, n in zip(questions, lengths, strict=True)
        ]
    enc = tokenizer(
        questions,
        [e.context for e in examples],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    offsets = []
    for i, pairs in enumerate(enc["offset_mapping"]):
        seq = enc.sequence_ids(i)
        offsets.append([tuple(p) if seq[k] == 1 else None for k, p in enumerate(pairs)])
    return Features(
        input_ids=enc["input_ids"],
        token_type_ids=enc.get("token_type_ids"),
        example=list(enc["overflow_to_sample_mapping"]),
        offsets=offsets,
        cut_questions=cut,
    )


def training_features(features: Features, examples: Sequence[Any]):
    """A datasets.Dataset of windows with the first answer's start/end piece (0: not in this window)."""
    import datasets

    starts, ends = [], []
    for i, offsets in enumerate(features.offsets):
        ex = examples[features.example[i]]
        char_start = ex.starts[0]
        char_end = char_start + len(ex.answers[0])
        context = [k for k, o in enumerate(offsets) if o is not None]
        if not context or offsets[context[0]][0] > char_start or offsets[context[-1]][1] < char_end:
            starts.append(0)
            ends.append(0)
            continue
        start = next(k for k in context if offsets[k][1] > char_start)
        end = next(k for k in reversed(context) if offsets[k][0] < char_end)
        starts.append(start)
        ends.append(max(end, start))
    columns: dict[str, Any] = {
        "input_ids": features.input_ids,
        "attention_mask": [[1] * len(ids) for ids in features.input_ids],
        "start_positions": starts,
        "end_positions": ends,
        "length": [len(ids) for ids in features.input_ids],
    }
    if features.token_type_ids is not None:
        columns["token_type_ids"] = features.token_type_ids
    return datasets.Dataset.from_dict(columns)


def predict_spans(
    model: SpanExtractor,
    tokenizer,
    examples: Sequence[Any],
    features: Features,
    *,
    batch_size: int = 32,
    max_answer_length: int = 30,
    n_best: int = N_BEST,
) -> list[str]:
    """The predicted answer text of every example (the best-scoring valid span over its windows)."""
    order = sorted(range(len(features.input_ids)), key=lambda i: len(features.input_ids[i]))
    best: list[tuple[float, str]] = [(-np.inf, "") for _ in examples]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            feats = []
            for i in idx:
                f = {"input_ids": features.input_ids[i], "attention_mask": [1] * len(features.input_ids[i])}
                if features.token_type_ids is not None:
                    f["token_type_ids"] = features.token_type_ids[i]
                feats.append(f)
            batch = {k: v.to(model.device) for k, v in tokenizer.pad(feats, return_tensors="pt").items()}
            out = model(**batch)
            starts = out["start_logits"].float().cpu().numpy()
            ends = out["end_logits"].float().cpu().numpy()
            for row, i in enumerate(idx):
                k = features.example[i]
                score, text = _best_span(
                    starts[row],
                    ends[row],
                    features.offsets[i],
                    examples[k].context,
                    max_answer_length,
                    n_best,
                )
                if score > best[k][0]:
                    best[k] = (score, text)
    model.train(was_training)
    return [text for _, text in best]


def _best_span(
    start: np.ndarray,
    end: np.ndarray,
    offsets: list[tuple[int, int] | None],
    context: str,
    max_answer_length: int,
    n_best: int,
) -> tuple[float, str]:
    n = len(offsets)
    top_start = np.argsort(start[:n])[::-1][:n_best]
    top_end = np.argsort(end[:n])[::-1][:n_best]
    found = (-np.inf, "")
    for s in top_start:
        if offsets[s] is None:
            continue
        for e in top_end:
            if offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                continue
            score = float(start[s] + end[e])
            if score > found[0]:
                found = (score, context[offsets[s][0] : offsets[e][1]])
    return found


def build_family(ref: ModelRef, train, dev, labels, config, say) -> Any:
    """The QA family for ``training.train_seed``: selection by English dev F1."""
    from transformers import DataCollatorWithPadding

    from weamcli.common.models import load_tokenizer
    from weamcli.common.squad_metric import score_answers
    from weamcli.finetune.classifier import encoder_for
    from weamcli.finetune.padding import PaddingOnly
    from weamcli.finetune.training import CardWords, Family

    tokenizer = load_tokenizer(ref)
    kw = {"prefix": ref.text_prefix, "max_length": config.max_length, "stride": config.doc_stride}
    train_features = make_features(tokenizer, train.examples, **kw)
    dev_features = make_features(tokenizer, dev.examples, **kw)
    if train_features.cut_questions or dev_features.cut_questions:
        say(
            f"{train_features.cut_questions} training and {dev_features.cut_questions} dev question(s) "
            f"longer than {config.max_length // 2} pieces were cut to fit the window"
        )
    say(
        f"{len(train.examples)} training questions → {len(train_features.input_ids)} windows of at most "
        f"{config.max_length} pieces; {len(dev.examples)} dev questions → {len(dev_features.input_ids)}"
    )
    tokenizer = PaddingOnly(tokenizer)  # the tokenizer itself is freed before the model loads
    model = SpanExtractor(encoder_for(ref), dropout=config.dropout)

    def dev_score(m: SpanExtractor) -> float:
        predicted = predict_spans(
            m, tokenizer, dev.examples, dev_features, max_answer_length=config.max_answer_length
        )
        f1, _ = score_answers(predicted, [e.answers for e in dev.examples], "en")
        return float(np.mean(f1))

    return Family(
        model=model,
        tokenizer=tokenizer,
        train_dataset=training_features(train_features, train.examples),
        collator=DataCollatorWithPadding(tokenizer),
        dev_score=dev_score,
        meta={
            "max_length": config.max_length,
            "doc_stride": config.doc_stride,
            "max_answer_length": config.max_answer_length,
            "n_best": N_BEST,
        },
        words=CardWords(
            pipeline="question-answering",
            head="a start/end span head (extractive QA)",
            units="questions",
            loader=("question_answering", "load_span_model"),
        ),
    )
