"""F1 and exact match of predicted answer spans, per question (the max over its gold answers).

Answers are compared after normalisation by ``style`` (``normalise``): the official SQuAD v1.1
rules, the MLQA evaluation's, or (``auto``) SQuAD's with MLQA's per-character segmentation for
languages written without spaces, so F1 gives partial credit there. The style used is recorded in
each result row ("normalisation").
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

STYLES = ("auto", "squad", "mlqa")
_ASCII_PUNCT = set(string.punctuation)
_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "ar": r"\sال^|ال",
}
_LATIN_RUN = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=1)
def _unicode_punct() -> frozenset[str]:
    return frozenset(
        chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)).startswith("P")
    ) | frozenset(_ASCII_PUNCT)


def _written_without_spaces(lang: str) -> bool:
    from weamcli.common.tasks import known_language

    known = known_language(lang)
    return bool(known and known.no_space)


def style_for(lang: str, style: str = "auto") -> str:
    """What ``style`` means for ``lang``: squad, squad+chars or mlqa (recorded in result rows).

    ``auto`` (the default): ``squad`` for languages written with spaces (so XQuAD figures match the
    official script and XTREME), and for languages written without spaces (zh, ja, th, my, km in
    weam's table) SQuAD's rules with MLQA's mixed segmentation (``squad+chars``), so F1 gives
    partial credit there."""
    if style == "auto":
        return "squad+chars" if _written_without_spaces(lang) else "squad"
    return style


def _mixed_segmentation(text: str) -> list[str]:
    """Each character outside Latin letters, digits and spaces is a token; Latin runs stay words."""
    tokens: list[str] = []
    for chunk in text.split():
        at = 0
        for match in _LATIN_RUN.finditer(chunk):
            tokens.extend(chunk[at : match.start()])
            tokens.append(match.group())
            at = match.end()
        tokens.extend(chunk[at:])
    return tokens


def normalise(text: str, lang: str, style: str = "auto") -> list[str]:
    """The tokens an answer is compared by, by ``style`` (see ``style_for``):

    - ``squad``: the official SQuAD v1.1 rules for every language: lower-case, drop ASCII
      punctuation, drop the English articles a/an/the, split on whitespace. On text written without
      spaces (Chinese, Japanese, Thai …) a whole answer is then one token, so F1 collapses to
      exact match.
    - ``mlqa``: the MLQA evaluation's rules: lower-case, drop every Unicode punctuation character,
      drop the language's articles (``_ARTICLES``: en, es, de, vi, ar), split on whitespace; for
      Chinese (and here every language written without spaces) each character of the script is a
      token, runs of Latin letters and digits stay words ("mixed segmentation").
    """
    used = style_for(lang, style)
    text = text.lower()
    code = lang.split("_")[0][:2]
    if used == "mlqa":
        punct = _unicode_punct()
        text = "".join(ch for ch in text if ch not in punct)
        if code in _ARTICLES:
            text = re.sub(_ARTICLES[code], " ", text)
        return _mixed_segmentation(text) if _written_without_spaces(lang) else text.split()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    text = re.sub(_ARTICLES["en"], " ", text)
    return _mixed_segmentation(text) if used == "squad+chars" else text.split()


def f1_and_exact(
    prediction: str, golds: Sequence[str], lang: str, style: str = "auto"
) -> tuple[float, float]:
    """(F1, exact match) of one prediction: the best over the gold answers (SQuAD v1.1: no overlap
    is 0, also for two empty answers)."""
    pred = normalise(prediction, lang, style)
    best_f1 = best_em = 0.0
    for gold in golds:
        ref = normalise(gold, lang, style)
        best_em = max(best_em, float(pred == ref))
        same = sum((Counter(pred) & Counter(ref)).values())
        if same:
            precision, recall = same / len(pred), same / len(ref)
            best_f1 = max(best_f1, 2 * precision * recall / (precision + recall))
    return best_f1, best_em


def score_answers(
    predictions: Sequence[str], golds: Sequence[Sequence[str]], lang: str, style: str = "auto"
) -> tuple[list[float], list[float]]:
    """Per-question F1 and exact match lists (fractions)."""
    pairs = [f1_and_exact(p, g, lang, style) for p, g in zip(predictions, golds, strict=True)]
    return [f for f, _ in pairs], [e for _, e in pairs]
