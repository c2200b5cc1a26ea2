"""Post-processing, the Python work after the aligner: symmetrise eflomal's two directions, write
alignment.txt (and forward.txt/reverse.txt), and count the lexicon, in chunks of pairs that a
small pool of forked processes can share for a large corpus."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from weamcli.align.folder import ALIGNMENT_FILE, tok_lines
from weamcli.align.links import Link, format_links, parse_links, symmetrize
from weamcli.align.pretokenise import Kept
from weamcli.common.progress import Progress

# chunks, so that a large corpus can use a small pool of forked processes (on an idle multi-core
# machine this would otherwise be serial time that eflomal's own CLI does not spend)
_CHUNK_PAIRS = 4000
_PARALLEL_MIN_PAIRS = 20000
_MAX_WORKERS = 4


@dataclass
class Chunk:
    """Consecutive pairs: their .tok lines and either eflomal's two link lines or ready links."""

    src: list[str]
    tgt: list[str]
    fwd: list[str] = field(default_factory=list)
    rev: list[str] = field(default_factory=list)
    links: list[set[Link]] | None = None
    method: str = "grow-diag-final-and"
    first_line: int = 1  # 1-based line of the first pair, for error messages
    fwd_file: Path = Path("forward.txt")
    rev_file: Path = Path("reverse.txt")
    keep_links: bool = False


def _pair_links(
    f_line: str, r_line: str, method: str, fwd_file: Path, rev_file: Path, lineno: int
) -> set[Link]:
    fwd = parse_links(f_line, fwd_file, lineno)
    if f_line == r_line or set(f_line.split()) == set(r_line.split()):
        return set(fwd)  # both directions agree (about 40% of pairs): every method gives fwd
    return symmetrize(fwd, parse_links(r_line, rev_file, lineno), method)


def _process_chunk(chunk: Chunk) -> tuple[str, Counter[tuple[str, str]], int, list[set[Link]]]:
    """alignment.txt text, lexicon counts and link count of a chunk (and its links if asked)."""
    if chunk.links is None:
        rows = zip(chunk.fwd, chunk.rev, strict=True)
        links_list = [
            _pair_links(f, r, chunk.method, chunk.fwd_file, chunk.rev_file, chunk.first_line + k)
            for k, (f, r) in enumerate(rows)
        ]
    else:
        links_list = chunk.links
    lines: list[str] = []
    counts: Counter[tuple[str, str]] = Counter()
    n_links = 0
    for src_line, tgt_line, links in zip(chunk.src, chunk.tgt, links_list, strict=True):
        lines.append(format_links(links))
        if links:  # C-level lookups: this loop runs once per corpus pair
            n_links += len(links)
            src_toks, tgt_toks = src_line.split(), tgt_line.split()
            ii, jj = zip(*links, strict=True)
            counts.update(zip(map(src_toks.__getitem__, ii), map(tgt_toks.__getitem__, jj), strict=True))
    text = "\n".join(lines) + "\n"
    return text, counts, n_links, links_list if chunk.keep_links else []


def postprocess_workers(pairs: int) -> int:
    """Processes for post-processing: a pool only for a large corpus and only on idle cores (like
    ``make -l``: on a loaded machine extra processes just queue for the same cores and add work)."""
    if pairs < _PARALLEL_MIN_PAIRS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    idle = int(cores - os.getloadavg()[0])
    return min(idle, _MAX_WORKERS) if idle >= 2 else 1


def _run_chunks(
    jobs: Iterator[Chunk], workers: int
) -> Iterator[tuple[str, Counter[tuple[str, str]], int, list[set[Link]]]]:
    """Results of ``_process_chunk`` in corpus order; at most 2 chunks per worker are in flight, so
    memory stays bounded (Pool.imap would read the whole corpus ahead)."""
    if workers < 2:
        yield from map(_process_chunk, jobs)
        return
    # fork: the workers need only this module's functions, and start in milliseconds
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque[Any] = deque()
        for job in jobs:
            pending.append(pool.apply_async(_process_chunk, (job,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _directional_lines(path: Path | None, pairs: int) -> Iterator[str]:
    """eflomal's links for the corpus pairs: its first ``pairs`` lines (extra text follows; a pair
    with an empty side was given to it as such and has an empty line)."""
    if path is None:
        yield from ("" for _ in range(pairs))
        return
    with open(path, encoding="utf-8") as fh:
        for line in islice(fh, pairs):
            yield line.rstrip("\n")


def eflomal_chunks(
    fwd_path: Path | None,
    rev_path: Path | None,
    pairs: int,
    method: str,
    tmp: Path,
    keep_links: bool,
) -> Iterator[Chunk]:
    """Chunks of eflomal's links with their .tok lines, writing forward.txt and reverse.txt
    unless eflomal already wrote them there."""
    fwd_out, rev_out = tmp / "forward.txt", tmp / "reverse.txt"
    copy = fwd_path != fwd_out
    with (
        open(fwd_out if copy else os.devnull, "w", encoding="utf-8") as ff,
        open(rev_out if copy else os.devnull, "w", encoding="utf-8") as fr,
    ):
        rows = zip(
            _directional_lines(fwd_path, pairs),
            _directional_lines(rev_path, pairs),
            tok_lines(tmp / "source.tok"),
            tok_lines(tmp / "target.tok"),
            strict=True,
        )
        first = 1
        while block := list(islice(rows, _CHUNK_PAIRS)):
            fwd, rev, src, tgt = (list(column) for column in zip(*block, strict=True))
            if copy:
                ff.write("".join(line + "\n" for line in fwd))
                fr.write("".join(line + "\n" for line in rev))
            yield Chunk(
                src, tgt, fwd, rev, None, method, first, fwd_path or fwd_out, rev_path or rev_out, keep_links
            )
            first += len(block)


def simalign_chunks(tmp: Path, links: Iterator[set[Link]]) -> Iterator[Chunk]:
    """Chunks of SimAlign's ready links (one set per pair) with their .tok lines."""
    rows = zip(tok_lines(tmp / "source.tok"), tok_lines(tmp / "target.tok"), links, strict=True)
    while block := list(islice(rows, _CHUNK_PAIRS)):
        src, tgt, links = (list(column) for column in zip(*block, strict=True))
        yield Chunk(src, tgt, links=links, keep_links=True)


@dataclass
class Written:
    """What ``write_alignments`` wrote: the lexicon counts, the link count and (for gold scoring)
    the links per pair projected onto the input's words."""

    lexicon: Counter[tuple[str, str]]
    links: int
    predicted: list[set[Link]]


def write_alignments(
    jobs: Iterator[Chunk], workers: int, tmp: Path, pairs: int, kept: list[Kept] | None, say: Progress
) -> Written:
    """Post-process the chunks into ``tmp``'s alignment.txt; ``kept`` (the pairs' units' origins)
    projects each pair's links onto the input's words for gold scoring."""
    lexicon: Counter[tuple[str, str]] = Counter()
    predicted: list[set[Link]] = []
    total_links = done = 0
    with open(tmp / ALIGNMENT_FILE, "w", encoding="utf-8") as fa:
        for text, counts, n_links, links_list in _run_chunks(jobs, workers):
            fa.write(text)
            lexicon.update(counts)
            total_links += n_links
            if kept is not None:
                for index, links in enumerate(links_list, done):
                    src_k, tgt_k = kept[index][0], kept[index][1]
                    predicted.append({(src_k.origin[i], tgt_k.origin[j]) for i, j in links})
            done += text.count("\n")
            say("writing alignments", done, pairs)
    return Written(lexicon, total_links, predicted)
