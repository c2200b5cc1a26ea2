"""``tlm-joint``: TLM whose aligned pieces are masked together. A translation piece aligned to an
English piece (``swap_index``, the pair's first pieces under ``--swap``/``--subwords``) takes its
partner's masking draw, so a masked English word's translation is masked too and L_mp cannot copy
it across: the control that tells WEAM's gain from reading the visible translation (L_cp) apart
from plain TLM. The masking rate stays ``--mask-prob`` (one draw per aligned pair)."""

from __future__ import annotations

from typing import Any

from weamcli.pretrain.masking import MaskDraws
from weamcli.pretrain.objectives.base import Batch, objective
from weamcli.pretrain.objectives.masked import MaskedObjective


@objective("tlm-joint")
class TlmJoint(MaskedObjective):
    rank = 25
    summary = "L_mp on the pair, aligned pieces masked together"

    def draws(self, model: Any, batch: Batch) -> MaskDraws:
        import torch

        draws = super().draws(model, batch)  # TLM's draws, then each follower takes its partner's
        swap = batch.swap_index
        own = torch.arange(swap.shape[1], device=swap.device)
        follows = swap < own  # a translation piece whose (English) partner comes first in the pair
        draws.draw = torch.where(follows, draws.draw.gather(1, swap), draws.draw)
        return draws
