"""Vocabulary trimming: train with only the corpus's pieces in the embedding and output layers
(exact for the kept pieces), then write the trained rows back at full size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from weamcli.common.models import encoder_and_head

if TYPE_CHECKING:
    import torch

TRIM_AUTO_VOCAB = 100_000  # trim by default above this many pieces (CPU speed)


ID_COLUMNS = ("input_ids", "cs_input_ids")  # the pairs, and code-switch's switched English


def corpus_vocabulary(dataset, tokenizer) -> list[int]:
    """Sorted ids the corpus uses (every id column it has), plus the tokenizer's special tokens."""
    import numpy as np

    used = set(tokenizer.all_special_ids)
    columns = [c for c in ID_COLUMNS if c in dataset.column_names]
    for chunk in dataset.select_columns(columns).iter(batch_size=4096):
        for column in columns:
            used.update(np.unique(np.concatenate([np.asarray(x) for x in chunk[column]])).tolist())
    return sorted(used)


def _vocab_params(mlm):
    emb = mlm.get_input_embeddings()
    dec = mlm.get_output_embeddings()
    return emb, dec, dec is not None and dec.weight is emb.weight


def _index(keep: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """``keep`` as an index tensor on the device of ``like``, the tensor it indexes."""
    import torch

    return torch.tensor(list(keep), dtype=torch.long, device=like.device)


def kept_rows(full: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """Rows ``keep`` of ``full`` as a new tensor, on ``full``'s device and dtype."""
    return full.detach()[_index(keep, full)].clone()


def merge_rows(full: torch.Tensor, trained: torch.Tensor, keep: Sequence[int]) -> torch.Tensor:
    """A full-size copy of ``full`` with rows ``keep`` replaced by ``trained``, on ``trained``'s
    device and dtype: ``full`` was saved before the Trainer moved the model (to a GPU, say)."""
    merged = full.detach().to(device=trained.device, dtype=trained.dtype, copy=True)
    merged[_index(keep, merged)] = trained.detach()
    return merged


def trim_vocabulary(mlm, keep: Sequence[int]) -> dict[str, Any]:
    """Keep only rows ``keep`` of the input embeddings and the output layer (in place); returns
    the full-size originals for ``untrim_vocabulary``. Exact for the kept pieces: their rows and
    the encoder are unchanged; the softmax runs over the kept set."""
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    full = {"emb": emb.weight.detach().clone(), "tied": tied, "vocab": emb.weight.shape[0]}
    new_emb = nn.Embedding(len(keep), emb.weight.shape[1], _weight=kept_rows(emb.weight, keep))
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        full["dec"] = None if tied else dec.weight.detach().clone()
        full["bias"] = None if dec.bias is None else dec.bias.detach().clone()
        # built on meta: every parameter is replaced, so nothing is allocated or initialised twice
        new_dec = nn.Linear(dec.in_features, len(keep), bias=dec.bias is not None, device="meta")
        new_dec.weight = new_emb.weight if tied else nn.Parameter(kept_rows(dec.weight, keep))
        if dec.bias is not None:
            new_dec.bias = nn.Parameter(kept_rows(dec.bias, keep))
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = len(keep)
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
    """Write the trained rows back into the full-size matrices; untouched rows keep their values.
    The full-size matrices are built where the trained model now is, in its dtype."""
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    weight = merge_rows(full["emb"], emb.weight, keep)
    new_emb = nn.Embedding(weight.shape[0], weight.shape[1], _weight=weight)
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        new_dec = nn.Linear(dec.in_features, weight.shape[0], bias=dec.bias is not None, device="meta")
        new_dec.weight = new_emb.weight if tied else nn.Parameter(merge_rows(full["dec"], dec.weight, keep))
        if dec.bias is not None:
            new_dec.bias = nn.Parameter(merge_rows(full["bias"], dec.bias, keep))
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = weight.shape[0]
