"""Multiple choice (XCOPA and COPA-style files): each choice is read with the premise and its
question as one sentence pair, pooled, and scored by a linear head to one number; the choices'
scores are the logits of a softmax over the choices (as transformers' ``…ForMultipleChoice``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from weamcli.common.choice_data import ChoiceExample, ChoiceSplit
from weamcli.common.models import ModelRef
from weamcli.finetune.classifier import PooledClassifier, encoder_for, save_with_head, shared_tokenizer

HEAD_FILE = "choice_head.safetensors"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ChoiceScorer(PooledClassifier):
    """The pooled classifier with one output: each (context, choice) pair is scored, and the
    choices' scores are one example's logits. Inputs are ``[examples, choices, pieces]``."""

    def __init__(self, encoder: nn.Module, *, pooling: str = "mean", dropout: float = 0.1):
        super().__init__(encoder, 1, pooling=pooling, dropout=dropout)

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None) -> dict[str, Any]:
        examples, choices = input_ids.shape[:2]
        flat = token_type_ids.flatten(0, 1) if token_type_ids is not None else None
        pooled = self.pool(input_ids.flatten(0, 1), attention_mask.flatten(0, 1), flat)
        logits = self.head(self.dropout(pooled)).view(examples, choices)
        out: dict[str, Any] = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out

    def save(self, folder: str | Path, tokenizer, metadata: dict[str, Any]) -> None:
        save_with_head(self, folder, tokenizer, metadata, HEAD_FILE)


def encode_choices(
    tokenizer, examples: Sequence[ChoiceExample], *, prefix: str = "", max_length: int = 128
) -> list[dict[str, list[list[int]]]]:
    """Per example, its choices' model inputs: (prefix + premise + question, choice) pairs; a pair
    too long for ``max_length`` loses pieces from its longer segment first."""
    firsts = [prefix + e.context for e in examples for _ in e.choices]
    seconds = [c for e in examples for c in e.choices]
    enc = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length)
    keys = [k for k in _INPUTS if k in enc]
    out, at = [], 0
    for e in examples:
        n = len(e.choices)
        out.append({k: enc[k][at : at + n] for k in keys})
        at += n
    return out


class ChoiceCollator:
    """Pads every choice of a batch to the batch's longest: tensors of ``[examples, choices, pieces]``."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        choices = len(features[0]["input_ids"])
        keys = [k for k in _INPUTS if k in features[0]]
        flat = [{k: f[k][c] for k in keys} for f in features for c in range(choices)]
        batch = self.tokenizer.pad(flat, return_tensors="pt")
        out = {k: batch[k].view(len(features), choices, -1) for k in keys}
        if "labels" in features[0]:
            out["labels"] = torch.tensor([int(f["labels"]) for f in features])
        return out


def _dataset(tokenizer, split: ChoiceSplit, prefix: str, max_length: int):
    import datasets

    encoded = encode_choices(tokenizer, split.examples, prefix=prefix, max_length=max_length)
    columns: dict[str, list[Any]] = {k: [e[k] for e in encoded] for k in encoded[0]}
    columns["labels"] = split.labels
    columns["length"] = [max(len(ids) for ids in e["input_ids"]) for e in encoded]  # length-grouped batches
    return datasets.Dataset.from_dict(columns)


def predict_choices(
    model: ChoiceScorer,
    tokenizer,
    examples: Sequence[ChoiceExample],
    *,
    prefix: str = "",
    batch_size: int = 32,
    max_length: int = 128,
) -> list[int]:
    """The index of the best-scoring choice of every example, in input order (batched by length)."""
    encoded = encode_choices(tokenizer, examples, prefix=prefix, max_length=max_length)
    return pick_choices(model, tokenizer, encoded, batch_size=batch_size)


def pick_choices(
    model: ChoiceScorer, tokenizer, encoded: list[dict[str, Any]], *, batch_size: int = 32
) -> list[int]:
    """``predict_choices`` on examples already encoded (``encode_choices``)."""
    order = sorted(range(len(encoded)), key=lambda i: max(len(x) for x in encoded[i]["input_ids"]))
    collate = ChoiceCollator(tokenizer)
    best = [0] * len(encoded)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = {k: v.to(model.device) for k, v in collate([encoded[i] for i in idx]).items()}
            for i, pick in zip(idx, model(**batch)["logits"].argmax(-1).tolist(), strict=True):
                best[i] = pick
    model.train(was_training)
    return best


def load_choice_model(ref: ModelRef) -> tuple[ChoiceScorer, Any, dict[str, Any]]:
    """A multiple-choice fine-tune as (model, tokenizer, weam.json); one line if it is not one."""
    from weamcli.finetune.token_classification import load_head_model

    def build(encoder, meta):
        return ChoiceScorer(encoder, pooling=meta.get("pooling", "mean"))

    model, meta = load_head_model(ref, HEAD_FILE, build, "multiple-choice")
    return model, shared_tokenizer(ref), meta


def build_family(ref: ModelRef, train: ChoiceSplit, dev: ChoiceSplit, labels, config, say) -> Any:
    """The multiple-choice family for ``training.train_seed``: selection by English dev accuracy."""
    from weamcli.common.models import load_tokenizer
    from weamcli.finetune.padding import PaddingOnly
    from weamcli.finetune.training import CardWords, Family

    del labels, say  # no label set: the right choice is an index
    tokenizer = load_tokenizer(ref)
    train_ds = _dataset(tokenizer, train, ref.text_prefix, config.max_length)
    gold = dev.labels
    dev_encoded = encode_choices(
        tokenizer, dev.examples, prefix=ref.text_prefix, max_length=config.max_length
    )
    tokenizer = PaddingOnly(tokenizer)  # the tokenizer itself is freed before the model loads
    model = ChoiceScorer(encoder_for(ref), pooling=config.pooling, dropout=config.dropout)

    def dev_accuracy(m: ChoiceScorer) -> float:  # the dev set is encoded once, scored every epoch
        picks = pick_choices(m, tokenizer, dev_encoded)
        return sum(p == g for p, g in zip(picks, gold, strict=True)) / len(gold)

    return Family(
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_ds,
        collator=ChoiceCollator(tokenizer),
        dev_score=dev_accuracy,
        meta={"pooling": config.pooling, "num_choices": train.num_choices, "max_length": config.max_length},
        words=CardWords(
            pipeline="multiple-choice",
            head=f"a {config.pooling}-pooled scoring head over (premise + question, choice) pairs",
            units="examples",
            loader=("multiple_choice", "load_choice_model"),
        ),
        piece_ids=[ids for row in train_ds["input_ids"] for ids in row],
    )
