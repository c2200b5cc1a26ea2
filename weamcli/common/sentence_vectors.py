"""Sentence vectors from an encoder: masked mean pooling of one layer's hidden states."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weamcli.common.models import ModelRef, load_model, load_tokenizer


def inference_device():
    """Where evaluation runs: the GPU when there is one (where the Trainer fine-tunes), else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def mean_pool(hidden, attention_mask):
    """Average the vectors of real (non-padding) tokens: ``[batch, seq, dim] -> [batch, dim]``."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def encode_sentences(
    model,
    tokenizer,
    sentences: Sequence[str],
    *,
    layer: int = -1,
    batch_size: int = 64,
    max_length: int = 128,
    prefix: str = "",
) -> np.ndarray:
    """Mean-pooled vectors of ``sentences`` at hidden layer ``layer`` (-1 = last), in input order.

    Sentences are batched by length so padding stays small; the model runs in eval mode, no grad.
    """
    import torch

    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[np.ndarray | None] = [None] * len(sentences)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [prefix + sentences[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            batch = {k: v.to(model.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
            hidden = model(**batch, output_hidden_states=layer != -1)
            states = hidden.last_hidden_state if layer == -1 else hidden.hidden_states[layer]
            vecs = mean_pool(states.float(), batch["attention_mask"]).cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = vecs[row]
    return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)


def load_encoder(ref: ModelRef):
    """Model (no task head) and tokenizer for sentence encoding."""
    return load_model(ref), load_tokenizer(ref)
