"""``align-l2`` (Cao, Kitaev & Klein 2020, "Multilingual alignment of contextual word
representations"): L = L_l2 + μ·L_reg on the two sentences encoded separately, unmasked.

L_l2 pulls the vectors of aligned words together (at layer ``l2_layer``; a word's first piece or
the mean of its pieces); L_reg keeps the English vectors near those of a frozen copy of the starting
encoder. The MLM head is not used (frozen, saved unchanged), nor are the layers above ``l2_layer``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.settings import option
from weamcli.pretrain.objectives.base import Batch, Needs, Objective, ObjectiveOptions, objective

WORD_VECTORS = ("first-piece", "mean")


@dataclass(kw_only=True, frozen=True)
class AlignL2Options(ObjectiveOptions):
    l2_layer: int | None = option(
        None, help="the encoder layer whose output vectors are aligned (default: the last).", minimum=1
    )
    l2_word_vector: str = option(
        "first-piece",
        help="a word's vector is its first piece's or the mean of its pieces'.",
        choices=WORD_VECTORS,
    )
    l2_reg: float = option(
        1.0,
        help="weight of the regulariser keeping English vectors near the frozen start model's (L_reg, "
        "as Cao et al. weigh it).",
        minimum=0.0,
    )


@objective("align-l2", options=AlignL2Options)
class AlignL2(Objective):
    rank = 50
    summary = "aligned words' vectors pulled together, Cao et al. 2020"
    parts = ("l2", "reg")
    needs = Needs(split=True, links=True)

    def prepare(self, model: Any) -> None:
        """A frozen copy of the encoder as it is now (after head loading and vocabulary trimming,
        so it reads the same ids) as ``model.reference``; the layers above ``l2_layer`` frozen."""
        layers = model.config.num_hidden_layers
        chosen = self.options.l2_layer
        if chosen is not None and not 1 <= chosen <= layers:
            raise WeamError(f"--l2-layer {chosen} is not a layer of this model (it has {layers})")
        self.layer = layers if chosen is None else chosen
        model.keep_frozen("reference", copy.deepcopy(model.encoder))
        stack = getattr(getattr(model.encoder, "encoder", None), "layer", None)
        if stack is not None:
            for layer in list(stack)[self.layer :]:
                layer.requires_grad_(False)

    def loss(self, model: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        import torch

        rows, attention = batch.sentences(model.pad_id), batch.split_attention
        hidden = self._layer(model.encoder, rows, attention)
        flat = hidden.reshape(-1, hidden.shape[-1])
        how = self.options.l2_word_vector
        l2 = l2_alignment(word_vectors(flat, batch.link_src, how), word_vectors(flat, batch.link_tgt, how))
        with torch.no_grad():  # English rows only: the regulariser anchors the source side
            ref = self._layer(model.reference, rows[0::2], attention[0::2])
        reg = anchor(hidden[0::2], ref, attention[0::2])
        return l2 + self.options.l2_reg * reg, {"l2": l2, "reg": reg}

    def _layer(self, encoder: Any, ids: Any, attention: Any) -> Any:
        """Output vectors of layer ``l2_layer`` (the last unless set)."""
        out = encoder(
            input_ids=ids,
            attention_mask=attention,
            output_hidden_states=self.layer != encoder.config.num_hidden_layers,
        )
        return out.last_hidden_state if out.hidden_states is None else out.hidden_states[self.layer]


def word_vectors(flat_hidden: Any, index: Any, how: str = "first-piece") -> Any:
    """One vector per row of ``index`` ``[links, K]`` (flat positions into ``flat_hidden``
    ``[N, dim]``, the word's pieces, padded with -1): its first piece's, or the mean of its pieces'."""
    if how == "first-piece":
        return flat_hidden[index[:, 0]]
    if how != "mean":
        raise ValueError("how must be first-piece or mean")
    valid = (index >= 0).unsqueeze(-1).to(flat_hidden.dtype)
    pieces = flat_hidden[index.clamp(min=0)]  # [links, K, dim]
    return (pieces * valid).sum(1) / valid.sum(1).clamp(min=1.0)


def l2_alignment(src: Any, tgt: Any) -> Any:
    """Mean over links of the squared Euclidean distance between aligned vectors ``[links, dim]``
    (Cao et al. sum over links; a mean keeps the scale independent of the batch); 0 without links."""
    if len(src) == 0:
        return src.sum() * 0.0  # keeps the graph (and the device, dtype) of an empty batch
    return (src.float() - tgt.float()).pow(2).sum(-1).mean()


def anchor(hidden: Any, reference: Any, attention_mask: Any) -> Any:
    """Mean over real positions of ‖hidden − reference‖² (both ``[batch, seq, dim]``): Cao et al.'s
    regulariser (English stays where it was, the other language moves to it)."""
    real = attention_mask.bool()
    return (hidden.float() - reference.float()).pow(2).sum(-1)[real].mean()
