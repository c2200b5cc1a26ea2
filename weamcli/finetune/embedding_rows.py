"""Fine-tuning only the word-embedding rows the training data uses, with results equal to training
the whole matrix with AdamW.

An English training set touches a few thousand of XLM-R's 250k pieces, yet training the whole
matrix keeps a gradient and two AdamW moments for every row (3 × 384 MB for e5-small). Here the
full matrix stays frozen and a small trainable table holds the rows the training data uses
(``UsedRows``, whose docstring says why the results are equal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from weamcli.common.embedding_rows import RowsOnDemand, stored_rows
from weamcli.common.models import ModelRef


class UsedRows(nn.Module):
    """Stands in for an ``nn.Embedding`` while it trains: the full matrix frozen, a trainable table
    of ``rows``, and the weight-decay factor every other row has accumulated (``decay``). On a CPU
    the full matrix stays a read-only map of the model file, and rows are read with ``stored``
    (``pread``) where the file holds the matrix as loaded, so rows never read cost no memory.

    Why this equals full-matrix AdamW: a row that never gets a gradient has both moments at zero,
    so AdamW's update of it is 0 / (0 + eps) = 0 — except decoupled weight decay, which full-matrix
    AdamW applies to every row at every step (p ← p·(1 − lr_t·wd)). ``decay`` keeps the product of
    those factors over the optimiser steps actually run (with each step's scheduled learning rate,
    ``follow``); the untouched rows are multiplied by it whenever they are read (dev scoring between
    epochs, ``forward``) and once more when the matrix is merged back for saving (``merge``). The
    padding row is one of the untouched rows: the embedding's ``padding_idx`` gives it no gradient
    in full-matrix training either.
    """

    def __init__(self, embedding: nn.Embedding, rows: Sequence[int], stored: RowsOnDemand | None = None):
        super().__init__()
        weight = embedding.weight
        self.full = embedding
        self.padding_idx = embedding.padding_idx
        was = weight.requires_grad
        weight.requires_grad_(False)
        self._was_trainable = was
        index = torch.as_tensor(sorted(set(rows)), dtype=torch.long, device=weight.device)
        lookup = torch.full((embedding.num_embeddings,), -1, dtype=torch.long, device=weight.device)
        lookup[index] = torch.arange(len(index), device=weight.device)
        self.register_buffer("rows", index, persistent=False)
        self.register_buffer("lookup", lookup, persistent=False)
        # ``stored``: the matrix's rows read from the weights file (common.embedding_rows), not
        # through the loaded map of it, where each row read maps ~64 KB around it (the kernel's
        # fault-around): the first 2,000 rows made 270 MB of the file resident
        self.stored = stored
        if stored is not None and weight.is_cpu and len(index):
            initial = torch.from_numpy(stored.read(index.numpy()))
        else:
            initial = weight.detach()[index].clone()
        self.table = nn.Parameter(initial)
        self.decay = 1.0  # the product of (1 - lr_t * wd) over the optimiser steps run so far

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        slot = self.lookup[input_ids]
        trained = nn.functional.embedding(slot.clamp(min=0), self.table)
        if not input_ids.is_cpu:  # one lookup of every id in both: no host sync to find the others
            rest = self._rest(input_ids)
            return torch.where((slot >= 0).unsqueeze(-1), trained, rest)
        # on a CPU the full matrix is a map of the weights file: look up only the ids the table
        # lacks (dev scoring, the padding id), so training reads no page of the file
        missing = slot < 0
        if not bool(missing.any()):
            return trained
        return trained.index_put((missing,), self._rest(input_ids[missing]).to(trained.dtype))

    def _rest(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.stored is not None and input_ids.is_cpu:
            rest = self.stored(input_ids)
        else:
            rest = nn.functional.embedding(input_ids, self.full.weight)
        return rest * self.decay if self.decay != 1.0 else rest

    def follow(self, optimizer: torch.optim.Optimizer) -> None:
        """Multiply ``decay`` by (1 − lr·wd) of the table's parameter group after every step the
        optimiser takes (a step a gradient scaler skips is not taken, and does not count)."""

        def decayed(opt, *_):
            # the group is looked up at each step: accelerate reloads the optimiser's state dict,
            # which replaces the group dicts, and the scheduler sets the next lr after this hook
            group = next(g for g in opt.param_groups if any(p is self.table for p in g["params"]))
            self.decay *= 1.0 - float(group["lr"]) * float(group["weight_decay"])

        optimizer.register_step_post_hook(decayed)

    @torch.no_grad()
    def merge(self) -> nn.Embedding:
        """The full embedding with the trained rows in place and the decay applied to the rest."""
        weight = self.full.weight
        if self.decay != 1.0:
            weight.mul_(self.decay)
        weight[self.rows] = self.table.to(weight.dtype)
        weight.requires_grad_(self._was_trainable)
        return self.full


def used_ids(sequences: Iterable[Sequence[int]], extra: Iterable[int] = ()) -> list[int]:
    """Every id in ``sequences`` (the training features' input ids), with ``extra`` ones."""
    seen: set[int] = set(extra)
    for ids in sequences:
        seen.update(ids)
    return sorted(seen)


def train_used_rows(
    encoder: nn.Module, input_ids: Iterable[Sequence[int]], pad_id: int | None, ref: ModelRef | None = None
) -> UsedRows:
    """Put a ``UsedRows`` in place of ``encoder``'s input embeddings: trainable rows are those the
    training features use (and the pad id's, unless the embedding's padding_idx keeps it out of
    training anyway). With ``ref`` (where the encoder was loaded from), rows are read from its
    weights file where it stores the matrix as loaded."""
    embedding = encoder.get_input_embeddings()
    extra = [] if pad_id is None else [pad_id]
    rows = [i for i in used_ids(input_ids, extra) if i != embedding.padding_idx]
    stored = stored_rows(encoder, ref) if ref is not None else None
    swapped = UsedRows(embedding, rows, stored)
    encoder.set_input_embeddings(swapped)
    return swapped


def restore_embeddings(encoder: nn.Module) -> None:
    """Undo ``train_used_rows``: the merged full matrix back in the encoder (a no-op without it)."""
    embedding = encoder.get_input_embeddings()
    if isinstance(embedding, UsedRows):
        encoder.set_input_embeddings(embedding.merge())
