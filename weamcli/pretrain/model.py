"""The module the Trainer trains: a ``*ForMaskedLM`` model with one objective (``objectives``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from weamcli.common.models import encoder_and_head
from weamcli.pretrain.masking import row_keys
from weamcli.pretrain.objectives import Objective, build_objective
from weamcli.pretrain.objectives.base import Batch


class PretrainingModel(nn.Module):
    """Wraps a ``*ForMaskedLM`` model so the Trainer (and DDP) call one forward that hands the batch
    to the objective and returns its loss with its named parts. Masking's settings (mask and pad
    ids, the pool of random pieces, ``mask_prob``) are kept here for the objectives that mask.

    ``objective``: a built objective, or a registered name with its options as keywords
    (``lam=2.0``, ``temperature=0.1``; ``build_objective``)."""

    def __init__(
        self,
        mlm: nn.Module,
        *,
        objective: str | Objective,
        mask_id: int,
        pad_id: int,
        replace_pool: torch.Tensor,
        mask_prob: float = 0.3,
        **options: Any,
    ):
        super().__init__()
        if isinstance(objective, str):
            objective = build_objective(objective, options)
        elif options:
            raise TypeError("options go with an objective's name; this objective is built already")
        self.mlm = mlm
        # kept out of the module tree so the state dict holds each weight once (under ``mlm.``)
        object.__setattr__(self, "_parts", encoder_and_head(mlm))
        self.objective = objective
        self.mask_id, self.pad_id, self.mask_prob = mask_id, pad_id, mask_prob
        self.register_buffer("replace_pool", replace_pool.clone(), persistent=False)
        self._kept_frozen: list[str] = []
        objective.prepare(self)
        if not objective.masks:
            self._freeze_head()

    @property
    def encoder(self) -> nn.Module:
        return self._parts[0]

    @property
    def head(self) -> nn.Module:
        return self._parts[1]

    @property
    def config(self) -> Any:  # Trainer reads model.config in places
        return self.mlm.config

    def keep_frozen(self, name: str, module: nn.Module) -> None:
        """Add ``module`` as a frozen submodule that moves and casts with the model and stays in
        eval mode (no dropout), e.g. align-l2's reference copy of the starting encoder."""
        self.add_module(name, module.requires_grad_(False).eval())
        self._kept_frozen.append(name)

    def _freeze_head(self) -> None:
        """An objective without masked prediction never reaches the head (but for the decoder tied
        to the input embeddings): DDP (without find_unused_parameters) requires that it take no
        gradient, and AdamW then leaves it exactly as it was."""
        emb = self.mlm.get_input_embeddings().weight
        for p in self.head.parameters():
            if p is not emb:
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> PretrainingModel:
        super().train(mode)
        for name in self._kept_frozen:
            getattr(self, name).eval()
        return self

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

        Returns ``loss`` and each part of the objective's ``parts`` (detached)."""
        name, needs = self.objective.name, self.objective.needs
        if needs.split and split_index is None:
            raise ValueError(f"the {name} objective needs a batch collated with split=True")
        if needs.links and (link_src is None or link_tgt is None):
            raise ValueError(f"the {name} objective needs a batch collated with links=True")
        keys = None
        if mask_seed is not None and self.objective.masks:
            if example is None:
                example = torch.arange(len(input_ids), device=input_ids.device)
            keys = row_keys(int(mask_seed), example)
        batch = Batch(
            input_ids,
            attention_mask,
            maskable,
            swap_index,
            split_index,
            split_attention,
            link_src,
            link_tgt,
            keys,
        )
        loss, parts = self.objective.loss(self, batch)
        return {"loss": loss, **{k: v.detach() for k, v in parts.items()}}
