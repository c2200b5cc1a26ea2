"""The pooled classification model: an encoder, masked mean (or [CLS]) pooling, dropout, a linear head.

Saved as a save_pretrained folder: the encoder and tokenizer as transformers writes them, the head
as ``classifier.safetensors``, and weam's facts (labels, pooling, task, seed…) in ``weam.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file
from weamcli.common.models import METADATA_FILE, ModelRef, load_model, load_tokenizer
from weamcli.common.sentence_vectors import mean_pool
from weamcli.finetune.settings import POOLINGS

HEAD_FILE = "classifier.safetensors"


class PooledClassifier(nn.Module):
    """Encoder + pooling + dropout + linear head; ``forward`` returns (loss, logits) like HF models."""

    def __init__(self, encoder: nn.Module, num_labels: int, *, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if pooling not in POOLINGS:
            raise WeamError(f"unknown pooling '{pooling}' (choose from {', '.join(POOLINGS)})")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def pool(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None) -> dict[str, Any]:
        logits = self.head(self.dropout(self.pool(input_ids, attention_mask, token_type_ids)))
        out: dict[str, Any] = {"logits": logits}
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(logits, labels)
        return out

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def save(self, folder: str | Path, tokenizer, metadata: dict[str, Any]) -> None:
        """Write encoder, tokenizer, head and weam.json into ``folder`` (an atomic_dir temp folder)."""
        save_with_head(self, folder, tokenizer, metadata, HEAD_FILE)


def save_with_head(
    model: nn.Module, folder: str | Path, tokenizer, metadata: dict[str, Any], head_file: str
) -> None:
    """Encoder and tokenizer as transformers writes them, the head as safetensors, weam.json."""
    from safetensors.torch import save_file

    folder = Path(folder)
    model.encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in model.head.state_dict().items()},
        str(folder / head_file),
    )
    with atomic_file(folder / METADATA_FILE) as fh:
        json.dump(metadata, fh, indent=2)


_TOKENIZERS: dict[str, Any] = {}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def shared_tokenizer(ref: ModelRef):
    """``load_tokenizer`` once per distinct tokenizer: transformers 5 takes 5-8 s to rebuild the
    250k-piece XLM-R tokenizer, and every seed folder of a fine-tune holds the same files."""
    folder = Path(ref.path)
    if ref.kind == "hub" or not (folder / "tokenizer.json").is_file():
        return load_tokenizer(ref)
    digest = hashlib.sha1()
    for name in _TOKENIZER_FILES:
        if (folder / name).is_file():
            digest.update(name.encode() + (folder / name).read_bytes())
    key = digest.hexdigest()
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = load_tokenizer(ref)
    return _TOKENIZERS[key]


def encoder_for(ref: ModelRef):
    """The bare encoder of ``ref``: AutoModel also loads the encoder of an AutoModelForMaskedLM save."""
    return load_model(ref)


def load_classifier(ref: ModelRef) -> tuple[PooledClassifier, Any, dict[str, Any]]:
    """A fine-tuned folder as (classifier, tokenizer, weam.json); one line if it has no head."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    head_path = Path(ref.path) / HEAD_FILE
    if ref.kind != "folder" or not head_path.is_file():
        raise WeamError(
            f"no classification head ({HEAD_FILE}): fine-tune it first with `weam finetune`", ref.path
        )
    meta = ref.metadata()
    labels = meta.get("labels")
    if not isinstance(labels, list) or not labels:
        raise WeamError(f"{METADATA_FILE} has no 'labels' list for the classification head", ref.path)
    try:
        state = load_file(str(head_path))
    except (SafetensorError, OSError) as exc:
        raise WeamError(f"cannot read the head ({exc})", head_path) from None
    encoder = encoder_for(ref)
    model = PooledClassifier(encoder, len(labels), pooling=meta.get("pooling", "mean"))
    try:
        model.head.load_state_dict(state)
    except RuntimeError:
        shape = tuple(state["weight"].shape) if "weight" in state else "?"
        raise WeamError(
            f"head shape {shape} does not fit {len(labels)} labels and hidden size "
            f"{encoder.config.hidden_size}",
            head_path,
        ) from None
    model.eval()
    return model, shared_tokenizer(ref), meta


def tokenize(
    tokenizer,
    texts: Sequence[str],
    pairs: Sequence[str] | None,
    *,
    prefix: str = "",
    max_length: int = 128,
    **kwargs: Any,
):
    """Tokenize texts (with their pair segment), prepending the model's text prefix to the first segment."""
    first = [prefix + t for t in texts]
    if pairs is None:
        return tokenizer(first, truncation=True, max_length=max_length, **kwargs)
    return tokenizer(first, list(pairs), truncation="longest_first", max_length=max_length, **kwargs)


def predict_logits(
    model: PooledClassifier,
    tokenizer,
    texts: Sequence[str],
    pairs: Sequence[str] | None = None,
    *,
    prefix: str = "",
    batch_size: int = 32,
    max_length: int = 128,
) -> np.ndarray:
    """Head logits per input (``[n, labels]``), in input order.

    Everything is tokenized once, then batched in order of token count, so a batch pads to
    almost nothing; the model runs in eval mode under inference_mode."""
    enc = tokenize(tokenizer, texts, pairs, prefix=prefix, max_length=max_length)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    order = sorted(range(len(texts)), key=lambda i: len(enc["input_ids"][i]))
    out = np.zeros((len(texts), model.head.out_features), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer.pad([{k: enc[k][i] for k in keys} for i in idx], return_tensors="pt")
            batch = {k: v.to(model.device) for k, v in batch.items() if k in keys}
            out[idx] = model(**batch)["logits"].float().cpu().numpy()
    return out


def predict(
    model: PooledClassifier,
    tokenizer,
    texts: Sequence[str],
    pairs: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[int]:
    """Predicted label index per input, in input order (see ``predict_logits`` for the options)."""
    return predict_logits(model, tokenizer, texts, pairs, **kwargs).argmax(-1).tolist()


def encode_split(tokenizer, split, labels: Sequence[str], prefix: str, max_length: int):
    """A datasets.Dataset of a classification split: the model inputs, label indices and lengths."""
    import datasets

    index = {label: i for i, label in enumerate(labels)}
    enc = tokenize(tokenizer, split.texts, split.pairs, prefix=prefix, max_length=max_length)
    columns = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    columns["labels"] = [index[label] for label in split.labels]
    columns["length"] = [len(ids) for ids in enc["input_ids"]]  # for the length-grouped sampler
    return datasets.Dataset.from_dict(columns)


DEV_BATCH = 32


def dev_accuracy(model: PooledClassifier, dev, collator) -> float:
    """Accuracy on the encoded English dev set, in batches of 32 in order of length (little
    padding: 0.57x the time of the Trainer's length-grouped random batches of 64 on SIB-200 dev).
    It still reads the data through a DataLoader, whose one draw of torch's global generator keeps
    the dropout masks of later epochs those of the Trainer's own evaluation, which classification
    used before every family shared one loop."""
    from torch.utils.data import DataLoader

    order = sorted(range(len(dev)), key=dev["length"].__getitem__)
    loader = DataLoader(
        dev.remove_columns(["length"]), batch_size=DEV_BATCH, sampler=order, collate_fn=collator
    )
    right = total = 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            gold = batch.pop("labels")
            logits = model(**{k: v.to(model.device) for k, v in batch.items()})["logits"]
            right += int((logits.argmax(-1).cpu() == gold).sum())
            total += len(gold)
    model.train(was_training)
    return right / total if total else float("nan")


def build_family(ref: ModelRef, train, dev, labels: tuple[str, ...], config, say) -> Any:
    """The classification family for ``training.train_seed``: selection by English dev accuracy."""
    from transformers import DataCollatorWithPadding

    from weamcli.finetune.padding import PaddingOnly
    from weamcli.finetune.training import CardWords, Family

    tokenizer = load_tokenizer(ref)
    train_ds = encode_split(tokenizer, train, labels, ref.text_prefix, config.max_length)
    dev_ds = encode_split(tokenizer, dev, labels, ref.text_prefix, config.max_length)
    tokenizer = PaddingOnly(tokenizer)  # the tokenizer itself is freed before the model loads
    model = PooledClassifier(encoder_for(ref), len(labels), pooling=config.pooling, dropout=config.dropout)
    collator = DataCollatorWithPadding(tokenizer)  # dynamic padding per batch

    return Family(
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_ds,
        collator=collator,
        dev_score=lambda m: dev_accuracy(m, dev_ds, collator),
        meta={"labels": list(labels), "pooling": config.pooling},
        words=CardWords(
            pipeline="text-classification",
            head=f"a {config.pooling}-pooled classification head",
            units="examples",
            loader=("classifier", "load_classifier"),
        ),
    )
