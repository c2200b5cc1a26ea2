"""Vocabulary trimming: train with only the corpus's pieces in the embedding and output layers
(exact for the kept pieces), then write the trained rows back at full size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weamcli.pretrain.objectives import encoder_and_head

TRIM_AUTO_VOCAB = 100_000  # trim by default above this many pieces (CPU speed)


def corpus_vocabulary(dataset, tokenizer) -> list[int]:
    """Sorted ids the corpus uses, plus the tokenizer's special tokens."""
    import numpy as np

    used = set(tokenizer.all_special_ids)
    for chunk in dataset.iter(batch_size=4096):
        used.update(np.unique(np.concatenate([np.asarray(x) for x in chunk["input_ids"]])).tolist())
    return sorted(used)


def _vocab_params(mlm):
    emb = mlm.get_input_embeddings()
    dec = mlm.get_output_embeddings()
    return emb, dec, dec is not None and dec.weight is emb.weight


def trim_vocabulary(mlm, keep: Sequence[int]) -> dict[str, Any]:
    """Keep only rows ``keep`` of the input embeddings and the output layer (in place); returns
    the full-size originals for ``untrim_vocabulary``. Exact for the kept pieces: their rows and
    the encoder are unchanged; the softmax runs over the kept set."""
    import torch
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    idx = torch.tensor(list(keep), dtype=torch.long)
    full = {"emb": emb.weight.detach().clone(), "tied": tied, "vocab": emb.weight.shape[0]}
    new_emb = nn.Embedding(len(idx), emb.weight.shape[1])
    new_emb.weight = nn.Parameter(emb.weight.detach()[idx].clone())
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        full["dec"] = None if tied else dec.weight.detach().clone()
        full["bias"] = None if dec.bias is None else dec.bias.detach().clone()
        new_dec = nn.Linear(dec.in_features, len(idx), bias=dec.bias is not None)
        new_dec.weight = new_emb.weight if tied else nn.Parameter(dec.weight.detach()[idx].clone())
        if dec.bias is not None:
            new_dec.bias = nn.Parameter(dec.bias.detach()[idx].clone())
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = len(idx)
    return full


def _swap_output_layer(mlm, old, new) -> None:
    """Install a new decoder and re-point the head's own ``bias`` attribute (BERT and RoBERTa keep
    the decoder bias there too), so no stale full-size tensor is left behind."""
    mlm.set_output_embeddings(new)
    _, head = encoder_and_head(mlm)
    for module in head.modules():
        if module is not new and isinstance(getattr(module, "bias", None), type(new.bias)):
            if module.bias is old.bias and new.bias is not None:
                module.bias = new.bias


def untrim_vocabulary(mlm, keep: Sequence[int], full: dict[str, Any]) -> None:
    """Write the trained rows back into the full-size matrices; untouched rows keep their values."""
    import torch
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    idx = torch.tensor(list(keep), dtype=torch.long)
    weight = full["emb"].clone()
    weight[idx] = emb.weight.detach().to(weight.dtype)
    new_emb = nn.Embedding(weight.shape[0], weight.shape[1])
    new_emb.weight = nn.Parameter(weight)
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        new_dec = nn.Linear(dec.in_features, weight.shape[0], bias=dec.bias is not None)
        if tied:
            new_dec.weight = new_emb.weight
        else:
            w = full["dec"].clone()
            w[idx] = dec.weight.detach()
            new_dec.weight = nn.Parameter(w)
        if dec.bias is not None:
            b = full["bias"].clone()
            b[idx] = dec.bias.detach()
            new_dec.bias = nn.Parameter(b)
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = weight.shape[0]
