"""The ``weam align`` output folder: its file names, the lexicon, and reading a folder back.

Written atomically by ``run.align_corpus``; ``weam pretrain`` reads it (``read_alignment_folder``).
Files: ``source.tok``/``target.tok`` (pre-tokenised sides, one pair per line, single spaces between
units); ``alignment.txt`` (symmetrised links, Pharaoh ``i-j``, 0-based into the .tok units, source
first, one line per pair; an empty line means no links); ``forward.txt``/``reverse.txt`` (eflomal's
directional links, statistical backend only); ``lexicon.tsv`` (the alignment prior,
``write_lexicon``); ``align.json`` and ``run.jsonl`` (the records, ``job.write_records``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from weamcli.align.links import Link, parse_links
from weamcli.common.errors import WeamError
from weamcli.common.files import read_json

ALIGN_META = "align.json"
ALIGNMENT_FILE = "alignment.txt"
LEXICON_FILE = "lexicon.tsv"


def tok_lines(path: Path) -> Iterator[str]:
    """Lines of a .tok or links file, without their newline."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield line.rstrip("\n")


def write_lexicon(path: Path, counts: Counter[tuple[str, str]]) -> None:
    """lexicon.tsv from the link counts of aligned unit pairs: UTF-8, tab-separated, header
    ``source  target  prob  count``, one row per aligned unit pair of the corpus (extra training
    text excluded); ``count`` = number of links between the two units, ``prob`` = p(target | source)
    = count / (links from that source unit); sorted by source unit, then by falling prob. Units are
    as in the .tok files (case kept)."""
    totals: Counter[str] = Counter()
    for (src, _tgt), n in counts.items():
        totals[src] += n
    rows = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("source\ttarget\tprob\tcount\n")
        for (src, tgt), n in rows:
            fh.write(f"{src}\t{tgt}\t{n / totals[src]:.6g}\t{n}\n")


def read_alignment_folder(
    path: Path | str,
) -> tuple[dict[str, Any], list[list[str]], list[list[str]], list[list[Link]]]:
    """Read a ``weam align`` folder: (align.json, source units, target units, links per pair).

    Every link is checked against the pair's unit counts (one-line error naming alignment.txt and
    the line)."""
    folder = Path(path)
    if not folder.is_dir():
        raise WeamError("alignment folder not found (run `weam align` first)", folder)
    meta_path = folder / ALIGN_META
    if not meta_path.is_file():
        raise WeamError(f"not a `weam align` output folder (no {ALIGN_META})", folder)
    meta = read_json(meta_path)
    files = [folder / "source.tok", folder / "target.tok", folder / ALIGNMENT_FILE]
    for f in files:
        if not f.is_file():
            raise WeamError("missing from the alignment folder", f)
    src = [line.split() for line in tok_lines(files[0])]
    tgt = [line.split() for line in tok_lines(files[1])]
    align_lines = list(tok_lines(files[2]))
    for f, lines in ((files[1], tgt), (files[2], align_lines)):
        if len(lines) != len(src):
            raise WeamError(
                f"has {len(lines)} lines but source.tok has {len(src)}: the files do not match",
                f,
                min(len(lines), len(src)) + 1,
            )
    links: list[list[Link]] = []
    for index, line in enumerate(align_lines):
        pair_links = parse_links(line, files[2], index + 1)
        for i, j in pair_links:
            if i >= len(src[index]) or j >= len(tgt[index]):
                raise WeamError(
                    f"link {i}-{j} is out of range "
                    f"({len(src[index])} source, {len(tgt[index])} target units)",
                    files[2],
                    index + 1,
                )
        links.append(pair_links)
    return meta, src, tgt, links


def lexicon_rows(path: Path | str) -> Iterator[tuple[str, str, float, int]]:
    """Rows of a lexicon.tsv (source, target, prob, count)."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n")
        if header != "source\ttarget\tprob\tcount":
            raise WeamError("not a weam lexicon (bad header)", path, 1)
        for lineno, line in enumerate(fh, 2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                raise WeamError("expected 4 tab-separated fields", path, lineno)
            try:
                yield parts[0], parts[1], float(parts[2]), int(parts[3])
            except ValueError:
                raise WeamError("prob and count must be numbers", path, lineno) from None
