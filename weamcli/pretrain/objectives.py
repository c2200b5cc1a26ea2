"""The three continual pre-training objectives over one masked-LM model (encoder + shared head).

- ``weam``: L = L_mp + λ·L_cp. L_mp predicts each masked piece from its own output vector (TLM on
  the pair); L_cp predicts it from the vector of its aligned partner (``swap_index``). By default
  L_cp scores only masked positions that have a partner; ``cp_unaligned=True`` also scores the
  others (they keep their own vector, so they are counted twice, as the paper's figure shows).
  ``cp_partner``: which aligned masked positions L_cp scores. ``unmasked`` (default, the method
  note's reading of Figure 1: the masked "raining" is predicted from its unmasked aligned "下雨")
  scores only those whose partner is not masked itself; ``any`` also scores those whose partner is
  masked (the prediction then comes from a [MASK]-input vector).
- ``tlm``: L_mp alone on the pair ``[CLS] en [SEP] xx [SEP]``.
- ``mlm``: L_mp on the same masked text cut into two unpaired sequences.

The head is applied only to the gathered masked rows (never to every position), and the L_mp and
L_cp rows go through the head in one call: on a CPU the output layer dominates the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from weamcli.common.errors import WeamError
from weamcli.pretrain.masking import mask_tokens, split_layout
from weamcli.pretrain.settings import CP_PARTNER_POLICIES, OBJECTIVES


def encoder_and_head(mlm: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The encoder (``base_model``) and the MLM head of a ``*ForMaskedLM`` model.

    The head is the one child module besides the encoder (``cls`` for BERT, ``lm_head`` for
    RoBERTa/XLM-R); both map hidden vectors ``[..., dim]`` to vocabulary logits.
    """
    encoder = mlm.base_model
    others = [m for name, m in mlm.named_children() if m is not encoder]
    if encoder is mlm or len(others) != 1:
        raise WeamError(
            f"unsupported masked-LM architecture {type(mlm).__name__} (expected an encoder and one head)"
        )
    return encoder, others[0]


@dataclass
class Losses:
    loss: torch.Tensor
    mp: torch.Tensor
    cp: torch.Tensor | None
    mp_logits: torch.Tensor | None = None
    cp_logits: torch.Tensor | None = None
    mp_positions: torch.Tensor | None = None  # flat positions (batch * seq) of the L_mp rows
    cp_positions: torch.Tensor | None = None  # flat positions scored by L_cp
    cp_sources: torch.Tensor | None = None  # flat positions whose vectors L_cp used


def masked_losses(
    hidden: torch.Tensor,
    head: nn.Module,
    labels: torch.Tensor,
    swap_index: torch.Tensor | None = None,
    *,
    lam: float = 1.0,
    cp_unaligned: bool = False,
    cp_partner: str = "unmasked",
    return_logits: bool = False,
) -> Losses:
    """L_mp (and L_cp when ``swap_index`` is given) from encoder outputs ``hidden`` [batch, seq, dim].

    ``labels`` hold the original id at masked positions and -100 elsewhere.
    """
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


class PretrainingModel(nn.Module):
    """Wraps a ``*ForMaskedLM`` model so the Trainer (and DDP) call one forward that masks the
    batch and returns the objective's loss with its two parts."""

    def __init__(
        self,
        mlm: nn.Module,
        *,
        objective: str,
        mask_id: int,
        pad_id: int,
        replace_pool: torch.Tensor,
        mask_prob: float = 0.3,
        lam: float = 1.0,
        cp_unaligned: bool = False,
        cp_partner: str = "unmasked",
    ):
        super().__init__()
        if objective not in OBJECTIVES:
            raise WeamError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVES)})")
        self.mlm = mlm
        # kept out of the module tree so the state dict holds each weight once (under ``mlm.``)
        object.__setattr__(self, "_parts", encoder_and_head(mlm))
        self.objective = objective
        self.mask_id, self.pad_id = mask_id, pad_id
        self.register_buffer("replace_pool", replace_pool.clone(), persistent=False)
        self.mask_prob, self.lam, self.cp_unaligned = mask_prob, lam, cp_unaligned
        if cp_partner not in CP_PARTNER_POLICIES:
            choices = ", ".join(CP_PARTNER_POLICIES)
            raise WeamError(f"unknown cp_partner '{cp_partner}' (choose from {choices})")
        self.cp_partner = cp_partner

    @property
    def config(self) -> Any:  # Trainer reads model.config in places
        return self.mlm.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        maskable: torch.Tensor,
        swap_index: torch.Tensor,
        split_index: torch.Tensor | None = None,
        split_attention: torch.Tensor | None = None,
        mask_seed: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """``mask_seed``: seeds a generator of masking's own (the trainer passes one per step and
        micro-batch), so the masks do not depend on how much of torch's global RNG dropout used."""
        generator = None
        if mask_seed is not None:
            generator = torch.Generator(device=input_ids.device).manual_seed(int(mask_seed))
        ids, labels = mask_tokens(
            input_ids,
            maskable,
            mask_prob=self.mask_prob,
            mask_id=self.mask_id,
            replace_pool=self.replace_pool,
            generator=generator,
        )
        if self.objective == "mlm":
            if split_index is None:
                raise ValueError("the mlm objective needs a batch collated with split=True")
            ids, labels = split_layout(ids, labels, split_index, self.pad_id)
            attention_mask = split_attention
        encoder, head = self._parts
        hidden = encoder(input_ids=ids, attention_mask=attention_mask).last_hidden_state
        out = masked_losses(
            hidden,
            head,
            labels,
            swap_index if self.objective == "weam" else None,
            lam=self.lam,
            cp_unaligned=self.cp_unaligned,
            cp_partner=self.cp_partner,
        )
        result = {"loss": out.loss, "mp": out.mp.detach()}
        if out.cp is not None:
            result["cp"] = out.cp.detach()
        return result
