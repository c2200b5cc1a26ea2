"""``code-switch``, in the spirit of CoSDA-ML (Qin et al. 2020): MLM on the English sentence alone,
in which words aligned in their pair are replaced by their translations from the alignment prior.

An English word that is linked in its pair and has an entry in ``lexicon.tsv`` of the `weam align`
folder is replaced with probability ``switch_prob`` by its most probable target unit there (highest
``prob``, then ``count``): a context-free translation, as CoSDA-ML's bilingual dictionary gives. The
draw is fixed per (seed, pair) and made once, when the pairs are mapped to pieces (and cached with
them), so every epoch and a resumed run see the same switched text.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from weamcli.align.folder import LEXICON_FILE as LEXICON_FILE  # re-exported: pairs.py finds it here
from weamcli.align.folder import lexicon_rows
from weamcli.common.errors import WeamError
from weamcli.common.settings import option
from weamcli.pretrain.objectives.base import Needs, ObjectiveOptions, objective
from weamcli.pretrain.objectives.masked import MaskedObjective


@dataclass(frozen=True)
class CodeSwitch:
    """How the pairs' English side is switched (``pairs.prepare_pairs`` makes ``cs_input_ids``)."""

    prob: float
    seed: int


@dataclass(kw_only=True, frozen=True)
class CodeSwitchOptions(ObjectiveOptions):
    switch_prob: float = option(
        0.5,
        help="probability that an aligned English word is replaced by its lexicon translation.",
        minimum=0.0,
        maximum=1.0,
    )


@objective("code-switch", options=CodeSwitchOptions)
class CodeSwitchMlm(MaskedObjective):
    rank = 40
    summary = "MLM on English with aligned words replaced from the lexicon"
    needs = Needs(code_switch=True)

    def switched_english(self, seed: int) -> CodeSwitch:
        return CodeSwitch(self.options.switch_prob, seed)


def read_lexicon(path: Path) -> dict[str, str]:
    """Each source unit's most probable target unit in a ``lexicon.tsv``."""
    if not path.is_file():
        raise WeamError(
            "missing from the alignment folder (code-switch replaces words from this alignment prior; "
            "`weam align` writes it)",
            path,
        )
    best: dict[str, tuple[float, int, str]] = {}
    for src, tgt, prob, count in lexicon_rows(path):
        if src not in best or (prob, count) > best[src][:2]:
            best[src] = (prob, count, tgt)
    if not best:
        raise WeamError("the lexicon is empty", path)
    return {src: tgt for src, (_, _, tgt) in best.items()}


def switch_words(
    words: Sequence[str],
    links: Sequence[Sequence[int]],
    lexicon: dict[str, str],
    *,
    prob: float,
    seed: int,
    index: int,
) -> list[str]:
    """``words`` with each linked word that the lexicon knows replaced with probability ``prob``;
    the draw depends only on (``seed``, ``index``), the pair's position in its alignment folder."""
    rng = random.Random(seed * 1_000_003 + index)
    linked = {int(i) for i, _ in links}
    out = list(words)
    for i, word in enumerate(words):
        draw = rng.random()  # one draw per word, so a word's fate does not depend on the others
        if i in linked and word in lexicon and draw < prob:
            out[i] = lexicon[word]
    return out
