"""Gold word alignments and the scores against them: AER, precision, recall, F1.

One gold file per corpus, Pharaoh or NAACL/WPT (``_raw_links``); its indices refer to the input's
whitespace tokens, source side first, 0- or 1-based, and each is checked against the pair's token
counts (``read_gold``). Scores as Och & Ney 2003 (``score_alignments``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from weamcli.common.corpus import read_lines
from weamcli.common.errors import WeamError

INDEX_BASES = ("auto", "0", "1")
_PHARAOH_LINK = re.compile(r"^(\d+)([-?p])(\d+)(p?)$")
_NAACL_LINE = re.compile(r"^(\d+)\s+(\d+)\s+(\d+)(?:\s+([SP]))?(?:\s+[\d.]+)?$")

Link = tuple[int, int]


@dataclass
class GoldAlignment:
    """Sure and possible links of one pair (``possible`` includes ``sure``)."""

    sure: set[Link]
    possible: set[Link]


@dataclass(frozen=True)
class AlignmentScores:
    aer: float
    precision: float
    recall: float
    f1: float
    predicted: int
    sure: int
    possible: int
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "aer": self.aer,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "predicted_links": self.predicted,
            "sure_links": self.sure,
            "possible_links": self.possible,
            "pairs": self.pairs,
        }


def _raw_links(
    path: Path, pairs: int, crlf: str = "error"
) -> tuple[list[list[tuple[int, int, bool, int]]], str]:
    """Links per pair as (i, j, sure, file line), before the index base is applied. Formats:

    - Pharaoh: one line per pair, ``i-j`` links separated by spaces; a possible (not sure) link is
      written ``ipj`` (awesome-align's gold files, e.g. ``4p5``), ``i-jp`` or ``i?j``. An empty
      line means no links.
    - NAACL/WPT: one link per line, ``pair i j [S|P] [confidence]`` with a 1-based pair number
      (the de–en bicici ``de-en.ref.wa`` file); a link without S/P counts as sure.
    """
    lines = list(read_lines(path, crlf=crlf))
    non_empty = [line for line in lines if line.strip()]
    naacl = bool(non_empty) and all(_NAACL_LINE.match(line.strip()) for line in non_empty[:5])
    out: list[list[tuple[int, int, bool, int]]] = [[] for _ in range(pairs)]
    if naacl:
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            m = _NAACL_LINE.match(line.strip())
            if m is None:
                raise WeamError(f"not a 'pair i j [S|P]' gold line: {line.strip()[:40]!r}", path, lineno)
            pair = int(m.group(1))
            if not 1 <= pair <= pairs:
                raise WeamError(
                    f"pair number {pair} is outside 1..{pairs} (the corpus has {pairs} pairs)", path, lineno
                )
            out[pair - 1].append((int(m.group(2)), int(m.group(3)), m.group(4) != "P", lineno))
        return out, "naacl"
    if len(lines) != pairs:
        raise WeamError(f"the gold file has {len(lines)} lines but the corpus has {pairs} pairs", path)
    for lineno, line in enumerate(lines, 1):
        for item in line.split():
            m = _PHARAOH_LINK.match(item)
            if m is None:
                raise WeamError(f"not a Pharaoh link 'i-j' or 'ipj': {item[:40]!r}", path, lineno)
            sure = m.group(2) == "-" and not m.group(4)
            out[lineno - 1].append((int(m.group(1)), int(m.group(3)), sure, lineno))
    return out, "pharaoh"


def read_gold(
    path: str | PathLike,
    source_lengths: Sequence[int],
    target_lengths: Sequence[int],
    *,
    index_base: str = "auto",
    drop_invalid: bool = False,
    crlf: str = "error",
) -> tuple[list[GoldAlignment], dict[str, object]]:
    """Read a gold file for a corpus whose pairs have these token counts; 0-based links out.

    ``index_base``: ``0``, ``1`` or ``auto`` (``_detect_index_base``: a 1-based file never contains
    0; a 0-based file of real sentences nearly always does, since first words usually align).
    Every index is then checked against the pair's token counts: a one-line error names the gold
    file and line.
    ``drop_invalid`` drops (and counts) out-of-range links instead of failing: real gold files
    have the odd link from a different tokenisation (de–en bicici line 63 has ``12-16`` for a
    13-word sentence). ``crlf`` as for ``corpus.read_lines``."""
    path = Path(path)
    if index_base not in INDEX_BASES:
        raise WeamError(f"--gold-index-base must be one of {', '.join(INDEX_BASES)}, got '{index_base}'")
    raw, fmt = _raw_links(path, len(source_lengths), crlf)
    if index_base == "auto":
        base = _detect_index_base(path, raw, source_lengths, target_lengths)
    else:
        base = int(index_base)
    gold: list[GoldAlignment] = []
    dropped = 0
    for pair, links in enumerate(raw):
        sure: set[Link] = set()
        possible: set[Link] = set()
        for i, j, is_sure, lineno in links:
            i, j = i - base, j - base
            if not (0 <= i < source_lengths[pair] and 0 <= j < target_lengths[pair]):
                if drop_invalid:
                    dropped += 1
                    continue
                raise WeamError(
                    f"link {i + base}-{j + base} is out of range for pair {pair + 1} "
                    f"({source_lengths[pair]} source, {target_lengths[pair]} target words; "
                    f"{base}-based indices; --gold-drop-invalid skips such links)",
                    path,
                    lineno,
                )
            possible.add((i, j))
            if is_sure:
                sure.add((i, j))
        gold.append(GoldAlignment(sure, possible))
    info = {"path": str(path), "format": fmt, "index_base": base, "index_base_option": index_base}
    return gold, {**info, "dropped_invalid_links": dropped}


def _detect_index_base(
    path: Path,
    raw: Sequence[Sequence[tuple[int, int, bool, int]]],
    source_lengths: Sequence[int],
    target_lengths: Sequence[int],
) -> int:
    """0 or 1 from the evidence of the whole file, never from a single value: an index 0 fits only
    0-based files, an index equal to the sentence length only 1-based ones. Evidence both ways (a
    stray 0 in a 1-based file) is an error asking for ``--gold-index-base``, not a silent guess."""
    zero_at = one_at = None
    for pair, links in enumerate(raw):
        for i, j, _, lineno in links:
            if zero_at is None and (i == 0 or j == 0):
                zero_at = lineno
            if one_at is None and (i == source_lengths[pair] or j == target_lengths[pair]):
                one_at = lineno
    if zero_at is not None and one_at is not None:
        raise WeamError(
            f"index base unclear: line {zero_at} has an index 0 (0-based) and line {one_at} an index "
            "equal to the sentence length (1-based); pass --gold-index-base 0 or 1",
            path,
        )
    return 0 if zero_at is not None else 1


def score_alignments(predicted: Sequence[set[Link]], gold: Sequence[GoldAlignment]) -> AlignmentScores:
    """AER, precision, recall and F1 summed over all pairs (micro-averaged, as in the literature).

    Och & Ney 2003, with sure links S ⊆ possible links P and predicted links A:
    precision = |A∩P|/|A|, recall = |A∩S|/|S|, AER = 1 − (|A∩S| + |A∩P|)/(|A| + |S|)."""
    if len(predicted) != len(gold):
        raise WeamError(f"{len(predicted)} predicted alignments for {len(gold)} gold ones")
    a_total = s_total = p_total = a_and_s = a_and_p = 0
    for links, ref in zip(predicted, gold, strict=True):
        a_total += len(links)
        s_total += len(ref.sure)
        p_total += len(ref.possible)
        a_and_s += len(links & ref.sure)
        a_and_p += len(links & ref.possible)
    precision = a_and_p / a_total if a_total else 0.0
    recall = a_and_s / s_total if s_total else 0.0
    denominator = a_total + s_total
    aer = 1.0 - (a_and_s + a_and_p) / denominator if denominator else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return AlignmentScores(aer, precision, recall, f1, a_total, s_total, p_total, len(gold))
