"""``weam``: L = L_mp + λ·L_cp. L_mp predicts each masked piece from its own output vector (TLM on
the pair); L_cp predicts it from the vector of its aligned partner (``swap_index``: the swap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.settings import option
from weamcli.pretrain.objectives.base import Batch, ObjectiveOptions, objective
from weamcli.pretrain.objectives.masked import CP_PARTNER_POLICIES, MaskedObjective, masked_losses


@dataclass(kw_only=True, frozen=True)
class WeamOptions(ObjectiveOptions):
    recorded = ("lam", "cp_unaligned", "cp_partner")

    lam: float = option(1.0, help="Weight λ of L_cp (weam, weam+contrastive).", key="lambda", minimum=0.0)
    cp_unaligned: bool = option(
        False, help="Also score masked pieces without a partner in L_cp (they are then counted twice)."
    )
    cp_partner: str = option(
        "unmasked",
        help="unmasked: L_cp scores a masked piece only when its aligned partner is not masked "
        "(predict it from the visible translation); any: also when the partner is masked.",
        choices=CP_PARTNER_POLICIES,
    )


@objective("weam", options=WeamOptions)
class Weam(MaskedObjective):
    rank = 30
    summary = "L_mp + λ·L_cp with the vector swap"
    parts = ("mp", "cp")

    def predict(self, model: Any, hidden: Any, labels: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        o = self.options
        out = masked_losses(
            hidden,
            model.head,
            labels,
            batch.swap_index,
            lam=o.lam,
            cp_unaligned=o.cp_unaligned,
            cp_partner=o.cp_partner,
        )
        return out.loss, {"mp": out.mp, "cp": out.cp}
