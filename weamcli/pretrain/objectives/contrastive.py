"""``contrastive``: symmetric InfoNCE over the sentence vectors of the batch's translation pairs (the
other sentences of the batch are the negatives); and the composition ``WithContrastive``, a masked
objective plus ``contrastive_weight`` × that loss, registered as ``tlm+contrastive`` and
``weam+contrastive``. The contrastive pass encodes the unmasked sentences separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.sentence_vectors import mean_pool
from weamcli.common.settings import option
from weamcli.pretrain.objectives.base import Batch, Needs, Objective, ObjectiveOptions, objective
from weamcli.pretrain.objectives.tlm import Tlm
from weamcli.pretrain.objectives.weam import Weam

POOLINGS = ("mean", "cls")


@dataclass(kw_only=True, frozen=True)
class ContrastiveOptions(ObjectiveOptions):
    temperature: float = option(0.05, help="InfoNCE temperature.", above=0.0)
    pooling: str = option(
        "mean",
        help="sentence vector = mean of the pieces' vectors (as `weam evaluate` pools) or the [CLS] vector.",
        choices=POOLINGS,
    )


@dataclass(kw_only=True, frozen=True)
class AddedContrastiveOptions(ContrastiveOptions):
    contrastive_weight: float = option(1.0, help="weight of the contrastive loss.", minimum=0.0)


def contrastive_loss(model: Any, batch: Batch, options: ContrastiveOptions) -> Any:
    """InfoNCE between the English and the translated rows of the batch."""
    attention = batch.split_attention
    hidden = model.encoder(
        input_ids=batch.sentences(model.pad_id), attention_mask=attention
    ).last_hidden_state
    vectors = sentence_vectors(hidden, attention, options.pooling)
    return info_nce(vectors[0::2], vectors[1::2], options.temperature)


@objective("contrastive", options=ContrastiveOptions)
class Contrastive(Objective):
    rank = 60
    summary = "InfoNCE over sentence vectors"
    parts = ("contrastive",)
    needs = Needs(split=True)

    def loss(self, model: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        loss = contrastive_loss(model, batch, self.options)
        return loss, {"contrastive": loss}


class WithContrastive(Objective):
    """``inner`` (a masked objective, its masks as alone) + ``contrastive_weight`` × L_contrastive."""

    @classmethod
    def over(cls, inner: type[Objective], rank: int) -> type[WithContrastive]:
        return type(
            f"{inner.__name__}WithContrastive",
            (cls,),
            {
                "inner": inner,
                "rank": rank,
                "summary": f"{inner.summary}, + contrastive",
                "parts": (*inner.parts, "contrastive"),
                "masks": inner.masks,
                "needs": Needs(split=True, links=inner.needs.links),
                "__module__": __name__,
            },
        )

    def prepare(self, model: Any) -> None:
        self.wrapped.prepare(model)

    def loss(self, model: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        loss, parts = self.wrapped.loss(model, batch)
        contrastive = contrastive_loss(model, batch, self.options)
        return loss + self.options.contrastive_weight * contrastive, {**parts, "contrastive": contrastive}


objective("tlm+contrastive", options=AddedContrastiveOptions)(WithContrastive.over(Tlm, 70))
objective("weam+contrastive", options=AddedContrastiveOptions)(WithContrastive.over(Weam, 80))


def sentence_vectors(hidden: Any, attention_mask: Any, pooling: str = "mean") -> Any:
    """``[batch, seq, dim]`` → ``[batch, dim]``: masked mean (as `weam evaluate` pools) or [CLS]."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling != "mean":
        raise ValueError("pooling must be mean or cls")
    return mean_pool(hidden, attention_mask)


def info_nce(a: Any, b: Any, temperature: float) -> Any:
    """Symmetric InfoNCE: row i of ``a`` should be closest (cosine) to row i of ``b`` among all rows
    of ``b``, and the other way round; the mean of the two cross-entropies."""
    import torch
    from torch import nn

    a = nn.functional.normalize(a.float(), dim=-1)
    b = nn.functional.normalize(b.float(), dim=-1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
