"""Code-switched English for the ``code-switch`` objective, in the spirit of CoSDA-ML (Qin et al.
2020): words of the English sentence are replaced by their translations before masked-LM training.

Which words and which translation: an English word that is linked in its pair (it has a
counterpart in the translation) and has an entry in the alignment prior (``lexicon.tsv`` of the
``weam align`` folder) is replaced with probability ``switch_prob`` by its most probable target
unit there (highest ``prob``, then ``count``). The prior gives a context-free translation, as a
bilingual dictionary does in CoSDA-ML; the pair's own link only says the word was translated.

The draw is fixed per (seed, pair): the switched sentences are made once, when the pairs are mapped
to pieces (and cached with them), so every epoch sees the same switched text and a resumed run the
same as an uninterrupted one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from weamcli.align.run import LEXICON_FILE as LEXICON_FILE  # re-exported: pairs.py finds it here
from weamcli.align.run import lexicon_rows
from weamcli.common.errors import WeamError


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
