"""Masked prediction, shared by the masked objectives: mask the batch, encode it, and predict the
masked pieces with the MLM head (L_mp; weam adds L_cp from the aligned partners' vectors).

The head is applied only to the gathered masked rows, never to every position, and the L_mp and
L_cp rows go through it in one call: on a CPU the output layer dominates the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.pretrain.masking import MaskDraws, apply_masks, mask_draws
from weamcli.pretrain.objectives.base import Batch, Objective

CP_PARTNER_POLICIES = ("unmasked", "any")


@dataclass
class Losses:
    loss: Any
    mp: Any
    cp: Any | None
    mp_logits: Any | None = None
    cp_logits: Any | None = None
    mp_positions: Any | None = None  # flat positions (batch * seq) of the L_mp rows
    cp_positions: Any | None = None  # flat positions scored by L_cp
    cp_sources: Any | None = None  # flat positions whose vectors L_cp used


def masked_losses(
    hidden: Any,
    head: Any,
    labels: Any,
    swap_index: Any | None = None,
    *,
    lam: float = 1.0,
    cp_unaligned: bool = False,
    cp_partner: str = "unmasked",
    return_logits: bool = False,
) -> Losses:
    """L_mp (and L_cp when ``swap_index`` is given) from encoder outputs ``hidden`` [batch, seq, dim].

    ``labels`` hold the original id at masked positions and -100 elsewhere. L_cp scores a masked
    piece from the vector at ``swap_index`` (its aligned partner's; its own where unaligned): only
    aligned pieces unless ``cp_unaligned`` (the others are then counted twice), and with
    ``cp_partner="unmasked"`` only those whose partner is not masked itself."""
    import torch
    from torch import nn

    n, seq, dim = hidden.shape
    flat_h = hidden.reshape(n * seq, dim)
    flat_labels = labels.reshape(-1)
    mp_pos = (flat_labels != -100).nonzero().squeeze(1)
    rows = [mp_pos]
    cp_pos = cp_src = None
    if swap_index is not None:
        own = torch.arange(seq, device=labels.device).expand(n, seq)
        scored = labels != -100
        aligned = swap_index != own
        if not cp_unaligned:
            scored = scored & aligned
        if cp_partner == "unmasked":  # drop aligned positions whose partner is masked too
            scored = scored & (~aligned | (labels.gather(1, swap_index) == -100))
        elif cp_partner != "any":
            raise ValueError(f"cp_partner must be one of {CP_PARTNER_POLICIES}")
        cp_pos = scored.reshape(-1).nonzero().squeeze(1)
        offsets = (torch.arange(n, device=labels.device) * seq).unsqueeze(1)
        cp_src = (swap_index + offsets).reshape(-1)[cp_pos]  # the swap: a gather, no loop
        rows.append(cp_src)
    logits = head(flat_h[torch.cat(rows)]).float()
    mp_logits = logits[: len(mp_pos)]
    mp = nn.functional.cross_entropy(mp_logits, flat_labels[mp_pos])
    cp = cp_logits = None
    loss = mp
    if cp_pos is not None:
        cp_logits = logits[len(mp_pos) :]
        if len(cp_pos):
            cp = nn.functional.cross_entropy(cp_logits, flat_labels[cp_pos])
        else:
            cp = logits.sum() * 0.0  # no aligned masked piece in this batch
        loss = mp + lam * cp
    if not return_logits:
        mp_logits = cp_logits = None
    return Losses(loss, mp, cp, mp_logits, cp_logits, mp_pos, cp_pos, cp_src)


class MaskedObjective(Objective):
    """L_mp on the masked pair ``[CLS] en [SEP] xx [SEP]``. Subclasses change which rows are
    encoded (``layout``), how masks are drawn (``draws``) or what is predicted (``predict``)."""

    masks = True
    parts = ("mp",)

    def draws(self, model: Any, batch: Batch) -> MaskDraws:
        ids = batch.input_ids
        return mask_draws(ids.shape, ids.device, len(model.replace_pool), keys=batch.keys)

    def mask(self, model: Any, batch: Batch) -> tuple[Any, Any]:
        """(masked ids, labels): 80/10/10 BERT masking of ``model.mask_prob`` of the pieces."""
        return apply_masks(
            batch.input_ids,
            batch.maskable,
            self.draws(model, batch),
            mask_prob=model.mask_prob,
            mask_id=model.mask_id,
            replace_pool=model.replace_pool,
        )

    def layout(self, model: Any, batch: Batch, ids: Any, labels: Any) -> tuple[Any, Any, Any]:
        """The rows the encoder reads: (ids, labels, attention mask)."""
        return ids, labels, batch.attention_mask

    def predict(self, model: Any, hidden: Any, labels: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        out = masked_losses(hidden, model.head, labels)
        return out.loss, {"mp": out.mp}

    def loss(self, model: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        ids, labels = self.mask(model, batch)
        ids, labels, attention = self.layout(model, batch, ids, labels)
        hidden = model.encoder(input_ids=ids, attention_mask=attention).last_hidden_state
        return self.predict(model, hidden, labels, batch)
