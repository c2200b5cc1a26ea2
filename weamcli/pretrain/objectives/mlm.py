"""``mlm``: L_mp on the same masked text as ``tlm``, the two sentences cut into unpaired rows."""

from __future__ import annotations

from typing import Any

from weamcli.pretrain.masking import split_layout
from weamcli.pretrain.objectives.base import Batch, Needs, objective
from weamcli.pretrain.objectives.masked import MaskedObjective


@objective("mlm")
class Mlm(MaskedObjective):
    rank = 10
    summary = "L_mp, the two sentences unpaired"
    needs = Needs(split=True)

    def layout(self, model: Any, batch: Batch, ids: Any, labels: Any) -> tuple[Any, Any, Any]:
        """``[CLS] en [SEP]`` and ``[CLS] xx [SEP]`` as two rows, masked as the pair was."""
        ids, labels = split_layout(ids, labels, batch.split_index, model.pad_id)
        return ids, labels, batch.split_attention
