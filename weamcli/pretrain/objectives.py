"""The continual pre-training objectives over one masked-LM model (encoder + shared head).

Masked prediction (the MLM head is trained):

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
- ``code-switch``: L_mp on the English sentence alone, some aligned words replaced by their
  lexicon translations (``code_switch``).

Explicit alignment on the two sentences encoded separately, unmasked (``alignment_losses``):

- ``align-l2`` (Cao et al. 2020): L = L_l2 + μ·L_reg. L_l2 pulls the vectors of aligned words
  (``l2_layer``, default the last; a word's first piece or the mean of its pieces) together; L_reg
  keeps the English vectors near those of a frozen copy of the starting encoder. The MLM head is
  not used (frozen, saved unchanged), and layers above ``l2_layer`` are frozen too.
- ``contrastive``: InfoNCE over the sentence vectors of the batch's pairs (L_contrastive); no head.
- ``tlm+contrastive``, ``weam+contrastive``: the masked objective plus ``contrastive_weight`` ×
  L_contrastive (the contrastive pass encodes the unmasked sentences separately).

Every objective returns its loss and its named parts (``loss_parts``), logged as ``loss_<part>``.
The head is applied only to the gathered masked rows (never to every position), and the L_mp and
L_cp rows go through the head in one call: on a CPU the output layer dominates the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from weamcli.common.errors import WeamError
from weamcli.common.models import encoder_and_head
from weamcli.pretrain.alignment_losses import anchor, info_nce, l2_alignment, sentence_vectors, word_vectors
from weamcli.pretrain.masking import PairCollator, mask_tokens, row_keys, split_layout
from weamcli.pretrain.settings import (
    CONTRASTIVE_OBJECTIVES,
    CP_PARTNER_POLICIES,
    DEFAULT_CONTRASTIVE_WEIGHT,
    DEFAULT_L2_REG,
    DEFAULT_L2_WORD_VECTOR,
    DEFAULT_POOLING,
    DEFAULT_TEMPERATURE,
    OBJECTIVES,
)


@dataclass(frozen=True)
class ObjectivePlan:
    """What an objective computes: a masked-prediction loss on some layout, and/or the explicit
    alignment losses on the separately encoded sentences."""

    masked: str | None  # weam, tlm, mlm, code-switch, or None (no masked prediction, no head)
    l2: bool = False
    contrastive: bool = False

    @property
    def needs_split(self) -> bool:
        return self.masked == "mlm" or self.l2 or self.contrastive


def objective_plan(objective: str) -> ObjectivePlan:
    if objective not in OBJECTIVES:
        raise WeamError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVES)})")
    if objective == "align-l2":
        return ObjectivePlan(None, l2=True)
    if objective == "contrastive":
        return ObjectivePlan(None, contrastive=True)
    masked = objective.removesuffix("+contrastive")
    return ObjectivePlan(masked, contrastive=objective in CONTRASTIVE_OBJECTIVES)


def loss_parts(objective: str) -> tuple[str, ...]:
    """The named parts an objective logs (``loss_<part>``), in display order."""
    plan = objective_plan(objective)
    parts = []
    if plan.masked:
        parts.append("mp")
    if plan.masked == "weam":
        parts.append("cp")
    if plan.l2:
        parts += ["l2", "reg"]
    if plan.contrastive:
        parts.append("contrastive")
    return tuple(parts)


def make_collator(objective: str, pad_id: int, id_map: Any = None) -> PairCollator:
    """The collator whose batches ``PretrainingModel(objective=...)`` takes."""
    plan = objective_plan(objective)
    return PairCollator(
        pad_id=pad_id,
        id_map=id_map,
        split=plan.needs_split,
        links=plan.l2,
        code_switch=plan.masked == "code-switch",
    )


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
    batch (where the objective masks) and returns the objective's loss with its named parts.

    ``align-l2`` keeps a frozen copy of the encoder as it is when the wrapper is built (after head
    loading and vocabulary trimming, so it reads the same ids) as the submodule ``reference``: it
    moves and casts with the model, and stays in eval mode (no dropout)."""

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
        l2_layer: int | None = None,
        l2_word_vector: str = DEFAULT_L2_WORD_VECTOR,
        l2_reg: float = DEFAULT_L2_REG,
        contrastive_weight: float = DEFAULT_CONTRASTIVE_WEIGHT,
        temperature: float = DEFAULT_TEMPERATURE,
        pooling: str = DEFAULT_POOLING,
    ):
        super().__init__()
        self.plan = objective_plan(objective)
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
        layers = mlm.config.num_hidden_layers
        if l2_layer is not None and not 1 <= l2_layer <= layers:
            raise WeamError(f"--l2-layer {l2_layer} is not a layer of this model (it has {layers})")
        self.l2_layer = layers if l2_layer is None else l2_layer
        self.l2_word_vector, self.l2_reg = l2_word_vector, l2_reg
        # a pure contrastive objective has nothing to weigh its loss against
        self.contrastive_weight = contrastive_weight if self.plan.masked else 1.0
        self.temperature, self.pooling = temperature, pooling
        if self.plan.l2:
            import copy

            self.reference = copy.deepcopy(self._parts[0]).requires_grad_(False).eval()
        self._freeze_unused()

    def _freeze_unused(self) -> None:
        """Parameters the objective never reaches get no gradient: DDP (without
        find_unused_parameters) requires it, and AdamW then leaves them exactly as they were."""
        encoder, head = self._parts
        if not self.plan.masked:  # the head (not the decoder tied to the input embeddings)
            emb = self.mlm.get_input_embeddings().weight
            for p in head.parameters():
                if p is not emb:
                    p.requires_grad_(False)
        stack = getattr(getattr(encoder, "encoder", None), "layer", None)
        if self.plan.l2 and not self.plan.contrastive and stack is not None:
            for layer in list(stack)[self.l2_layer :]:
                layer.requires_grad_(False)

    def train(self, mode: bool = True) -> PretrainingModel:
        super().train(mode)
        if self.plan.l2:
            self.reference.eval()  # the regulariser's target must not change with dropout
        return self

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
        link_src: torch.Tensor | None = None,
        link_tgt: torch.Tensor | None = None,
        example: torch.Tensor | None = None,
        mask_seed: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """``mask_seed`` (the trainer passes one per optimizer step) with ``example`` (each row's
        index in the training set; the row's position in the batch when absent) keys masking's own
        random numbers (``masking.row_keys``), so the masks depend neither on how much of torch's
        global RNG dropout used nor on which batch or process an example is in. Without
        ``mask_seed``: torch's global RNG.

        Returns ``loss`` and each part of ``loss_parts(objective)`` (detached)."""
        plan = self.plan
        encoder = self._parts[0]
        parts: dict[str, torch.Tensor] = {}
        loss = None
        if plan.needs_split and split_index is None:
            raise ValueError(f"the {self.objective} objective needs a batch collated with split=True")
        if plan.masked:
            layout = (split_index, split_attention) if plan.masked == "mlm" else None
            keys = None
            if mask_seed is not None:
                if example is None:
                    example = torch.arange(len(input_ids), device=input_ids.device)
                keys = row_keys(int(mask_seed), example)
            loss, parts = self._masked(input_ids, attention_mask, maskable, swap_index, layout, keys)
        if plan.l2 or plan.contrastive:
            rows, _ = split_layout(input_ids, input_ids, split_index, self.pad_id)
        if plan.l2:
            if link_src is None or link_tgt is None:
                raise ValueError("the align-l2 objective needs a batch collated with links=True")
            hidden = self._layer(encoder, rows, split_attention)
            flat = hidden.reshape(-1, hidden.shape[-1])
            l2 = l2_alignment(
                word_vectors(flat, link_src, self.l2_word_vector),
                word_vectors(flat, link_tgt, self.l2_word_vector),
            )
            with torch.no_grad():  # English rows only: the regulariser anchors the source side
                ref = self._layer(self.reference, rows[0::2], split_attention[0::2])
            reg = anchor(hidden[0::2], ref, split_attention[0::2])
            parts["l2"], parts["reg"] = l2, reg
            loss = l2 + self.l2_reg * reg
        if plan.contrastive:
            hidden = encoder(input_ids=rows, attention_mask=split_attention).last_hidden_state
            vectors = sentence_vectors(hidden, split_attention, self.pooling)
            contrastive = info_nce(vectors[0::2], vectors[1::2], self.temperature)
            parts["contrastive"] = contrastive
            loss = (
                self.contrastive_weight * contrastive
                if loss is None
                else loss + self.contrastive_weight * contrastive
            )
        return {"loss": loss, **{k: v.detach() for k, v in parts.items()}}

    def _layer(self, encoder: nn.Module, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Output vectors of layer ``l2_layer`` (the last unless set)."""
        out = encoder(
            input_ids=ids,
            attention_mask=attention,
            output_hidden_states=self.l2_layer != self.config.num_hidden_layers,
        )
        return out.last_hidden_state if out.hidden_states is None else out.hidden_states[self.l2_layer]

    def _masked(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        maskable: torch.Tensor,
        swap_index: torch.Tensor,
        layout: tuple[torch.Tensor, torch.Tensor] | None,
        keys: torch.Tensor | None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The masked-prediction loss and its parts (mp, and cp for weam); ``layout``: the MLM
        baseline's split index and attention, to cut the masked pairs into unpaired rows;
        ``keys``: masking's per-row keys (None: torch's global RNG)."""
        ids, labels = mask_tokens(
            input_ids,
            maskable,
            mask_prob=self.mask_prob,
            mask_id=self.mask_id,
            replace_pool=self.replace_pool,
            keys=keys,
        )
        if layout is not None:
            ids, labels = split_layout(ids, labels, layout[0], self.pad_id)
            attention_mask = layout[1]
        encoder, head = self._parts
        hidden = encoder(input_ids=ids, attention_mask=attention_mask).last_hidden_state
        out = masked_losses(
            hidden,
            head,
            labels,
            swap_index if self.plan.masked == "weam" else None,
            lam=self.lam,
            cp_unaligned=self.cp_unaligned,
            cp_partner=self.cp_partner,
        )
        parts = {"mp": out.mp} if out.cp is None else {"mp": out.mp, "cp": out.cp}
        return out.loss, parts
