"""The explicit-alignment losses, as plain functions of encoder outputs (``objectives`` wires them).

- ``l2_alignment``: mean over word links of ‖u − v‖², u and v the two aligned words' vectors
  (Cao, Kitaev & Klein 2020, "Multilingual alignment of contextual word representations"; they sum
  over links, a mean keeps the scale independent of the batch).
- ``anchor``: mean over English pieces of ‖h − h₀‖², h₀ from the frozen start model (their
  regulariser: English stays where it was, the other language moves to it).
- ``info_nce``: symmetric InfoNCE over the sentence vectors of a batch of translation pairs; the
  other sentences of the batch are the negatives (sentence-level contrastive alignment).

Every tensor made here is made on the device and in the dtype of the tensors it meets.
"""

from __future__ import annotations

import torch
from torch import nn

from weamcli.common.sentence_vectors import mean_pool


def word_vectors(flat_hidden: torch.Tensor, index: torch.Tensor, how: str = "first-piece") -> torch.Tensor:
    """One vector per row of ``index`` ``[links, K]`` (flat positions into ``flat_hidden``
    ``[N, dim]``, the word's pieces, padded with -1): its first piece's, or the mean of its pieces'."""
    if how == "first-piece":
        return flat_hidden[index[:, 0]]
    if how != "mean":
        raise ValueError("how must be first-piece or mean")
    valid = (index >= 0).unsqueeze(-1).to(flat_hidden.dtype)
    pieces = flat_hidden[index.clamp(min=0)]  # [links, K, dim]
    return (pieces * valid).sum(1) / valid.sum(1).clamp(min=1.0)


def l2_alignment(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Mean squared Euclidean distance between aligned vectors ``[links, dim]`` (0 without links)."""
    if len(src) == 0:
        return src.sum() * 0.0  # keeps the graph (and the device, dtype) of an empty batch
    return (src.float() - tgt.float()).pow(2).sum(-1).mean()


def anchor(hidden: torch.Tensor, reference: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real positions of ‖hidden − reference‖² (both ``[batch, seq, dim]``)."""
    real = attention_mask.bool()
    return (hidden.float() - reference.float()).pow(2).sum(-1)[real].mean()


def sentence_vectors(
    hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "mean"
) -> torch.Tensor:
    """``[batch, seq, dim]`` → ``[batch, dim]``: masked mean (as `weam evaluate` pools) or [CLS]."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling != "mean":
        raise ValueError("pooling must be mean or cls")
    return mean_pool(hidden, attention_mask)


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: row i of ``a`` should be closest (cosine) to row i of ``b`` among all rows
    of ``b``, and the other way round; the mean of the two cross-entropies."""
    a = nn.functional.normalize(a.float(), dim=-1)
    b = nn.functional.normalize(b.float(), dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
