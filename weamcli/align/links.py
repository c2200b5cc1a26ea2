"""Word links of one pair: symmetrising two directional alignments, and Pharaoh ``i-j`` text.

``symmetrize`` combines eflomal's forward and reverse links (``grow-diag-final-and``,
``intersect`` or ``union``); ``format_links`` and ``parse_links`` write and read one line of
alignment.txt, forward.txt or reverse.txt.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from pathlib import Path

from weamcli.align.settings import SYMMETRIZATIONS
from weamcli.common.errors import WeamError

Link = tuple[int, int]

# --------------------------------------------------------------------------- symmetrisation

_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def symmetrize(
    forward: Iterable[Link], reverse: Iterable[Link], method: str = "grow-diag-final-and"
) -> set[Link]:
    """Combine two directional alignments (both as source-target index pairs).

    ``grow-diag-final-and`` is Koehn's textbook procedure (Koehn et al. 2003): start from the
    intersection; GROW-DIAG scans the alignment points in (source, target) order, pass after pass
    until a pass adds nothing, adding every union link in a point's 8-neighbourhood whose source or
    target word is still unaligned (a point added ahead of the scan is visited in the same pass);
    then FINAL-AND adds, forward direction first, links whose source and target words are both
    unaligned.
    """
    fwd, rev = set(forward), set(reverse)
    if method == "intersect":
        return fwd & rev
    if method == "union":
        return fwd | rev
    if method != "grow-diag-final-and":
        raise WeamError(f"--symmetrize must be one of {', '.join(SYMMETRIZATIONS)}, got '{method}'")
    links = fwd & rev
    union = fwd | rev
    remaining = union - links  # the only links grow-diag and final-and can add
    if not remaining:
        return links
    src_aligned = {i for i, _ in links}
    tgt_aligned = {j for _, j in links}
    _grow_diag(links, remaining, src_aligned, tgt_aligned)
    for direction in (fwd, rev):  # final-and (a link already in ``links`` has both words aligned)
        for i, j in sorted(direction - links):
            if i not in src_aligned and j not in tgt_aligned:
                links.add((i, j))
                src_aligned.add(i)
                tgt_aligned.add(j)
    return links


def _grow_diag(links: set[Link], remaining: set[Link], src_aligned: set[int], tgt_aligned: set[int]) -> None:
    """GROW-DIAG in place (``remaining`` = union links not yet added), visiting each point once,
    in the order the textbook's repeated grid scans reach it.

    Why once is enough: a neighbour rejected when a point is visited stays rejected (the aligned
    sets only grow), so rescanning old points in a later pass adds nothing; only points added
    behind the scan position need the next pass. For the same reason a point with no remaining
    union link next to it can be skipped altogether: what is left only shrinks."""
    near = {(ci - di, cj - dj) for ci, cj in remaining for di, dj in _NEIGHBOURS}
    this_pass = sorted(near & links)  # a sorted list is a valid heap
    while this_pass:
        next_pass: list[Link] = []
        while this_pass and remaining:
            point = heapq.heappop(this_pass)
            i, j = point
            for di, dj in _NEIGHBOURS:
                cand = (i + di, j + dj)
                if cand in remaining and (cand[0] not in src_aligned or cand[1] not in tgt_aligned):
                    remaining.discard(cand)
                    links.add(cand)
                    src_aligned.add(cand[0])
                    tgt_aligned.add(cand[1])
                    if cand > point:  # ahead of the scan: reached later in this pass
                        heapq.heappush(this_pass, cand)
                    else:
                        next_pass.append(cand)
        if not remaining:
            return
        next_pass.sort()
        this_pass = next_pass


# --------------------------------------------------------------------------- Pharaoh text

# a whole line of 0-based links: checked in one C-level match, then parsed without a Python loop
_PHARAOH_LINE = re.compile(r"[0-9]+-[0-9]+(?:[ \t]+[0-9]+-[0-9]+)*")
_PHARAOH_ITEM = re.compile(r"[0-9]+-[0-9]+")


def format_links(links: Iterable[Link]) -> str:
    return " ".join(map("%d-%d".__mod__, sorted(links)))


def parse_links(text: str, path: Path, lineno: int) -> list[Link]:
    """Links of one Pharaoh line ``i-j i-j ...``; a malformed item is a one-line error."""
    text = text.strip()
    if not text:
        return []
    if _PHARAOH_LINE.fullmatch(text) is None:
        bad = next((item for item in text.split() if not _PHARAOH_ITEM.fullmatch(item)), text)
        raise WeamError(f"not a Pharaoh link 'i-j': {bad[:40]!r}", path, lineno)
    numbers = map(int, text.replace("-", " ").split())
    return list(zip(numbers, numbers, strict=False))  # one iterator twice: consecutive (i, j)
