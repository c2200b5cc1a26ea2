"""``tlm``: translation language modelling, L_mp on the masked pair ``[CLS] en [SEP] xx [SEP]``."""

from __future__ import annotations

from weamcli.pretrain.objectives.base import objective
from weamcli.pretrain.objectives.masked import MaskedObjective


@objective("tlm")
class Tlm(MaskedObjective):
    rank = 20
    summary = "L_mp on the pair"
