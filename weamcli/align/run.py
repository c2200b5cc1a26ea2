"""Word alignment of a parallel corpus: the prior WEAM's cross-lingual prediction uses.

Backends
- ``eflomal`` (default): the eflomal 2.0 Bayesian aligner (IBM1+HMM+fertility, Gibbs sampling),
  run forward and reverse on the corpus plus any extra training text, then symmetrised here by
  ``grow-diag-final-and`` (Koehn et al. 2003), ``intersect`` or ``union``. eflomal 2.0 cannot be
  seeded: neither its Python API (``Aligner``, ``eflomal.cython.align``) nor its binary takes a
  seed, and the binary seeds its samplers from /dev/urandom, so links vary slightly between runs
  (align.json says ``"reproducible": false``; ``--seed`` covers weam's own Python/torch code).
  weam drives eflomal's binary itself (``eflomal_engine``): one run aligns both directions at
  once. ``fast=True`` runs it on a lighter schedule (``FAST_EFLOMAL``), trading AER for speed.
- ``simalign``: SimAlign (Jalili Sabet et al. 2020) over the hidden states of any model the
  registry resolves (default ``e5-small``), matching method ``inter`` (ArgMax), ``mwmf`` or
  ``itermax``. Deterministic, slow (one pair per forward pass): for small sets.

Output folder (written atomically; ``weam pretrain`` reads it with ``read_alignment_folder``)::

    source.tok, target.tok   pre-tokenised sides, one pair per line, single spaces between units
    alignment.txt            symmetrised links, Pharaoh ``i-j`` (0-based into the .tok units,
                             source first), one line per pair; an empty line means no links
    forward.txt, reverse.txt eflomal's directional links (statistical backend only)
    lexicon.tsv              the alignment prior, UTF-8, tab-separated, header
                             ``source  target  prob  count``: one row per aligned unit pair of
                             the corpus (extra training text excluded), ``count`` = number of
                             links between the two units, ``prob`` = p(target | source) =
                             count / (links from that source unit); sorted by source unit, then
                             by falling prob. Units are as in the .tok files (case kept).
    align.json               source_lang, target_lang, backend, fast, symmetrize, pairs, links,
                             segment {...}, inputs {...}, backend_options {...}, reproducible
    run.jsonl                the run record (config, versions, seed, metrics, incl.
                             ``phase_seconds``, ``eflomal_iterations``, ``postprocess_workers``)

Speed: only eflomal's own work should cost time. Nothing heavy is imported on this path (torch,
transformers and simalign only for ``simalign``, not even eflomal's Python package); eflomal's
numeric input is written in the pre-tokenisation pass, so its binary starts once the corpus is
read; it writes forward.txt/reverse.txt in place when it can; symmetrisation visits each point
once; and for ≥ 20,000 pairs the post-processing (symmetrise, format, count the lexicon) runs in
chunks on a forked pool when ≥ 2 cores are idle.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import multiprocessing
import os
import random
import re
import shutil
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from weamcli.align.eflomal_engine import EflomalInput, run_binary
from weamcli.align.gold import AlignmentScores, read_gold, score_alignments
from weamcli.align.settings import BACKENDS, SIMALIGN_METHODS, SYMMETRIZATIONS, AlignSettings
from weamcli.common.corpus import Pair, Pretokenizer, Tokenized, check_crlf_policy, input_words, read_pairs
from weamcli.common.errors import WeamError
from weamcli.common.files import (
    atomic_dir,
    check_output_dir,
    check_writable,
    missing_file,
    read_json,
    real_path,
)
from weamcli.common.languages import language
from weamcli.common.progress import Progress, quiet
from weamcli.common.run_records import write_run_record

ALIGN_META = "align.json"
ALIGNMENT_FILE = "alignment.txt"
LEXICON_FILE = "lexicon.tsv"
_BACKEND_DEFAULTS: dict[str, dict[str, Any]] = {
    # eflomal's own defaults (as its command line uses them)
    "eflomal": {"eflomal_model": 3, "eflomal_length": 1.0, "n_samplers": 3, "null_prior": 0.2},
    "simalign": {"simalign_method": "inter", "layer": 8},
}
# ``fast=True``: the same eflomal binary on a lighter schedule, one sampler and half the iterations
# (a sixth of the sampling work): several times faster at a few AER points more, still ahead of
# fast_align on both (bench/align_speed.py measures all three side by side)
FAST_EFLOMAL: dict[str, Any] = {"eflomal_model": 3, "eflomal_length": 0.5, "n_samplers": 1, "null_prior": 0.2}

Link = tuple[int, int]
# progress(stage, done, total): total None while the amount of work is unknown


@dataclass
class AlignmentResult:
    """What ``align_corpus`` produced: the folder, how many pairs and links, and its metrics."""

    out_dir: Path
    pairs: int
    links: int
    metrics: dict[str, Any] = field(default_factory=dict)
    scores: AlignmentScores | None = None


# --------------------------------------------------------------------------- symmetrisation

_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def symmetrize(
    forward: Iterable[Link], reverse: Iterable[Link], method: str = "grow-diag-final-and"
) -> set[Link]:
    """Combine two directional alignments (both as source-target index pairs).

    ``grow-diag-final-and`` is Koehn's textbook procedure: start from the intersection; GROW-DIAG
    scans the alignment points in (source, target) order, pass after pass until a pass adds
    nothing, adding every union link in a point's 8-neighbourhood whose source or target word is
    still unaligned (a point added ahead of the scan is visited in the same pass); then FINAL-AND
    adds, forward direction first, links whose source and target words are both unaligned.
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


# --------------------------------------------------------------------------- backends


def _check_options(backend: str, options: dict[str, Any], fast: bool = False) -> dict[str, Any]:
    if backend not in BACKENDS:
        raise WeamError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if fast and backend != "eflomal":
        raise WeamError("--fast applies to the eflomal backend only")
    known = FAST_EFLOMAL if fast else _BACKEND_DEFAULTS[backend]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise WeamError(f"option(s) {', '.join(unknown)} do not apply to the {backend} backend")
    merged = {**known, **options}
    if backend == "simalign" and merged["simalign_method"] not in SIMALIGN_METHODS:
        raise WeamError(
            f"--simalign-method must be one of {', '.join(SIMALIGN_METHODS)}, "
            f"got '{merged['simalign_method']}'"
        )
    if backend == "eflomal" and merged["eflomal_model"] not in (1, 2, 3):
        raise WeamError(f"the eflomal model must be 1, 2 or 3, got {merged['eflomal_model']}")
    return merged


def _tok_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield line.rstrip("\n")


# --------------------------------------------------------------------------- the pipeline


def _as_progress(progress: Progress | None) -> Progress:
    return progress or quiet


def _write_tokens(
    pairs: Iterator[Pair],
    pretok: Pretokenizer,
    paths: tuple[Path, Path],
    src_out: Any,
    tgt_out: Any,
    keep_origins: bool,
    say: Progress,
    encoder: EflomalInput | None = None,
) -> tuple[int, list[int], list[tuple[Tokenized, Tokenized, int, int]]]:
    """First pass: pre-tokenise and write the .tok files (and eflomal's input, so its binary can
    start as soon as the corpus is read); returns the pair count, the indices of pairs with an
    empty side, and (only for gold scoring) units' origins and input word counts."""
    count = 0
    empty: list[int] = []
    kept: list[tuple[Tokenized, Tokenized, int, int]] = []
    for pair in pairs:
        src, tgt = pretok.pair(pair, *paths)
        src_line, tgt_line = " ".join(src.tokens), " ".join(tgt.tokens)
        src_out.write(src_line + "\n")
        tgt_out.write(tgt_line + "\n")
        if encoder is not None:
            encoder.add(src_line, tgt_line)
        if not src.tokens or not tgt.tokens:
            empty.append(count)
        if keep_origins:
            kept.append((src, tgt, len(input_words(pair.source)), len(input_words(pair.target))))
        count += 1
        if count % 1000 == 0:
            say("pre-tokenising", count, None)
    say("pre-tokenising", count, count)
    return count, empty, kept


def _write_extra(
    extra: tuple[Path, Path | None] | None,
    pretok: Pretokenizer,
    encoder: EflomalInput,
    crlf: str,
    say: Progress,
) -> dict[str, int]:
    """Pre-tokenise the extra training text into eflomal's input, after the corpus; empty or
    over-long extra pairs are skipped (counted)."""
    if extra is None:
        return {}
    src_path, tgt_path = extra
    paths = (src_path, tgt_path or src_path)
    used = skipped = 0
    lenient = Pretokenizer(pretok.source_lang, pretok.target_lang, pretok.segment, pretok.pretokenized, 10**9)
    for pair in read_pairs(src_path, tgt_path, crlf=crlf):
        src, tgt = lenient.pair(pair, *paths)
        n_src, n_tgt = len(src.tokens), len(tgt.tokens)
        if not n_src or not n_tgt or n_src > pretok.max_tokens or n_tgt > pretok.max_tokens:
            skipped += 1
            continue
        encoder.add_units(src.tokens, tgt.tokens)
        used += 1
        if used % 5000 == 0:
            say("pre-tokenising extra text", used, None)
    return {"extra_pairs_used": used, "extra_pairs_skipped": skipped}


def _directional_lines(path: Path | None, pairs: int) -> Iterator[str]:
    """eflomal's links for the corpus pairs: its first ``pairs`` lines (extra text follows; a pair
    with an empty side was given to it as such and has an empty line)."""
    if path is None:
        yield from ("" for _ in range(pairs))
        return
    with open(path, encoding="utf-8") as fh:
        for line in islice(fh, pairs):
            yield line.rstrip("\n")


def align_corpus(
    source: Path | str,
    target: Path | str | None,
    out_dir: Path | str,
    *,
    source_lang: str,
    target_lang: str,
    backend: str = "eflomal",
    symmetrize: str = "grow-diag-final-and",
    segment: str = "auto",
    model: str = "e5-small",
    seed: int = 1,
    overwrite: bool = False,
    progress: Progress | None = None,
    pretokenized: bool = False,
    max_tokens: int = 200,
    empty_lines: str = "keep",
    extra_source: Path | str | None = None,
    extra_target: Path | str | None = None,
    gold: Path | str | None = None,
    gold_index_base: str = "auto",
    gold_drop_invalid: bool = False,
    crlf: str = "error",
    fast: bool = False,
    **backend_options: Any,
) -> AlignmentResult:
    """Align a parallel corpus into ``out_dir`` (see the module docstring for the files).

    ``target`` None reads ``source`` as ``src ||| tgt`` lines; likewise ``extra_source`` alone is a
    ``|||`` file of extra training text for eflomal (not written to the outputs). With ``gold``,
    the alignment is scored (links projected onto the input's whitespace words) and the scores
    are returned and recorded. ``crlf`` (``error`` or ``strip``) applies to every file read.
    ``metrics["phase_seconds"]`` times the phases (read+tokenise, eflomal, symmetrise+write).
    ``fast``: eflomal's options default to ``FAST_EFLOMAL`` instead of eflomal's own defaults
    (options given explicitly still win); recorded in align.json.
    """
    say = _as_progress(progress)
    started = time.perf_counter()
    src_lang, tgt_lang = language(source_lang), language(target_lang)
    opts = _check_options(backend, backend_options, fast)
    if symmetrize not in SYMMETRIZATIONS:
        raise WeamError(f"--symmetrize must be one of {', '.join(SYMMETRIZATIONS)}, got '{symmetrize}'")
    if extra_target is not None and extra_source is None:
        raise WeamError("--extra-target needs --extra-source")
    if backend == "simalign" and extra_source is not None:
        raise WeamError("extra training text applies to the eflomal backend only")
    check_crlf_policy(crlf)
    pretok = Pretokenizer(src_lang, tgt_lang, segment, pretokenized, max_tokens, empty_lines)
    source = Path(source)
    target = None if target is None else Path(target)
    in_paths = (source, target or source)
    extra = (
        None
        if extra_source is None
        else (Path(extra_source), None if extra_target is None else Path(extra_target))
    )
    random.seed(seed)
    out_dir = Path(out_dir)
    inputs_given = [source, target, *(extra or ()), gold]
    for path in inputs_given:
        if path is not None and not Path(path).is_file():
            raise missing_file(path)
    if target is not None and os.path.samefile(source, target):
        raise WeamError(
            f"source and target are the same file ({target}): a parallel corpus has two sides", source
        )
    check_output_dir(out_dir, command="weam align", markers={ALIGN_META: None}, inputs=inputs_given)

    with (
        atomic_dir(out_dir, overwrite=overwrite) as tmp,
        _work_dir(tmp) as work,
        contextlib.ExitStack() as stack,
    ):
        encoder = stack.enter_context(EflomalInput(work)) if backend == "eflomal" else None
        with (
            open(tmp / "source.tok", "w", encoding="utf-8") as fs,
            open(tmp / "target.tok", "w", encoding="utf-8") as ft,
        ):
            pairs = read_pairs(source, target, crlf=crlf)
            n_pairs, empty_list, kept = _write_tokens(
                pairs, pretok, in_paths, fs, ft, gold is not None, say, encoder
            )
        if n_pairs == 0:
            raise WeamError("the corpus has no lines", source)
        if len(empty_list) == n_pairs:
            _no_words(source, target, tmp)
        empty = set(empty_list)
        gold_links = gold_info = None
        if gold is not None:  # validate the gold file before the long alignment
            gold_links, gold_info = read_gold(
                gold,
                [k[2] for k in kept],
                [k[3] for k in kept],
                index_base=gold_index_base,
                drop_invalid=gold_drop_invalid,
                crlf=crlf,
            )
        phases = {"read_tokenise": round(time.perf_counter() - started, 2)}

        metrics: dict[str, Any] = {"pairs": n_pairs, "pairs_with_empty_side": len(empty)}
        fwd_path = rev_path = None
        if encoder is not None:
            t0 = time.perf_counter()
            metrics.update(_write_extra(extra, pretok, encoder, crlf, say))
            encoder.close()
            if extra is not None:
                phases["extra_tokenise"] = round(time.perf_counter() - t0, 2)
            if len(empty) < n_pairs or extra is not None:
                say("aligning with eflomal (forward and reverse)", 0, None)
                t0 = time.perf_counter()
                # eflomal's links are the output files themselves unless extra text must be cut
                # off their end (saves a copy of both files)
                links_dir = tmp if extra is None else work
                fwd_path, rev_path = links_dir / "forward.txt", links_dir / "reverse.txt"
                iters = run_binary(
                    encoder,
                    fwd_path,
                    rev_path,
                    model=opts["eflomal_model"],
                    samplers=opts["n_samplers"],
                    length=opts["eflomal_length"],
                    null_prior=opts["null_prior"],
                )
                metrics["eflomal_iterations"] = list(iters)
                metrics["eflomal_seconds"] = phases["eflomal"] = round(time.perf_counter() - t0, 2)
            jobs = _eflomal_chunks(fwd_path, rev_path, n_pairs, symmetrize, tmp, gold is not None)
            workers = _postprocess_workers(n_pairs)
        else:
            jobs = _simalign_chunks(tmp, n_pairs, model, opts, seed, say)
            workers = 1  # the links are computed in this process already
        metrics["postprocess_workers"] = workers
        t0 = time.perf_counter()

        lexicon: Counter[tuple[str, str]] = Counter()
        predicted: list[set[Link]] = []
        total_links = done = 0
        with open(tmp / ALIGNMENT_FILE, "w", encoding="utf-8") as fa:
            for text, counts, n_links, links_list in _run_chunks(jobs, workers):
                fa.write(text)
                lexicon.update(counts)
                total_links += n_links
                if gold_links is not None:
                    for index, links in enumerate(links_list, done):
                        src_k, tgt_k = kept[index][0], kept[index][1]
                        predicted.append({(src_k.origin[i], tgt_k.origin[j]) for i, j in links})
                done += text.count("\n")
                say("writing alignments", done, n_pairs)
        _write_lexicon(tmp / LEXICON_FILE, lexicon)
        metrics["links"] = total_links
        metrics["links_per_pair"] = round(total_links / n_pairs, 3)
        metrics["lexicon_entries"] = len(lexicon)

        key = "symmetrise_write" if backend == "eflomal" else "simalign_write"
        phases[key] = round(time.perf_counter() - t0, 2)
        metrics["phase_seconds"] = phases

        scores = None
        if gold_links is not None:
            scores = score_alignments(predicted, gold_links)
            metrics["gold"] = {**scores.as_dict(), **(gold_info or {})}
        metrics["seconds"] = round(time.perf_counter() - started, 2)

        inputs = {
            "source": str(source.resolve()),
            "target": None if target is None else str(target.resolve()),
            "extra_source": None if extra is None else str(extra[0].resolve()),
            "extra_target": None if extra is None or extra[1] is None else str(extra[1].resolve()),
        }
        meta = {
            "source_lang": src_lang.code,
            "target_lang": tgt_lang.code,
            "backend": backend,
            "fast": fast,
            "symmetrize": symmetrize if backend == "eflomal" else None,
            "pairs": n_pairs,
            "links": total_links,
            "segment": pretok.describe(),
            "inputs": inputs,
            "backend_options": {**opts, **({"model": model} if backend == "simalign" else {})},
            "reproducible": backend != "eflomal",  # eflomal 2.0 cannot be seeded (module docstring)
            "files": {
                "alignment": ALIGNMENT_FILE,
                "lexicon": LEXICON_FILE,
                "source": "source.tok",
                "target": "target.tok",
            },
        }
        (tmp / ALIGN_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        config = {k: v for k, v in meta.items() if k not in ("pairs", "links", "files")}
        config["gold"] = None if gold is None else str(Path(gold).resolve())
        config["gold_index_base"] = gold_index_base
        config["crlf"] = crlf
        write_run_record(tmp, "align", config, seed=seed, metrics=metrics)
    return AlignmentResult(out_dir, n_pairs, total_links, metrics, scores)


@contextlib.contextmanager
def _work_dir(tmp: Path) -> Iterator[Path]:
    """eflomal's work files, inside the output's temporary folder: a ``kill -9`` leaves them in
    the ``.partial`` that the next run removes (a folder in /tmp would stay for ever)."""
    work = tmp / ".work"
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _no_words(source: Path, target: Path | None, tmp: Path) -> None:
    """Every pair has an empty side: nothing can be aligned. Names the side without words."""
    for side, name in ((source, "source.tok"), (target or source, "target.tok")):
        if not any(line.strip() for line in _tok_lines(tmp / name)):
            raise WeamError("no words to align: every line is empty or whitespace", side)
    raise WeamError(
        "no words to align: no line has words on both sides (each pair has an empty side)", source
    )


# Post-processing (symmetrise, format, count the lexicon) is the Python work after eflomal; it is
# done in chunks so that a large corpus can use a small pool of forked processes (on an idle
# multi-core machine this would otherwise be serial time that eflomal's own CLI does not spend)
_CHUNK_PAIRS = 4000
_PARALLEL_MIN_PAIRS = 20000
_MAX_WORKERS = 4


@dataclass
class _Chunk:
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


def _process_chunk(chunk: _Chunk) -> tuple[str, Counter[tuple[str, str]], int, list[set[Link]]]:
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


def _postprocess_workers(pairs: int) -> int:
    """Processes for post-processing: a pool only for a large corpus and only on idle cores (like
    ``make -l``: on a loaded machine extra processes just queue for the same cores and add work)."""
    if pairs < _PARALLEL_MIN_PAIRS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    idle = int(cores - os.getloadavg()[0])
    return min(idle, _MAX_WORKERS) if idle >= 2 else 1


def _run_chunks(
    jobs: Iterator[_Chunk], workers: int
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


def _eflomal_chunks(
    fwd_path: Path | None,
    rev_path: Path | None,
    pairs: int,
    method: str,
    tmp: Path,
    keep_links: bool,
) -> Iterator[_Chunk]:
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
            _tok_lines(tmp / "source.tok"),
            _tok_lines(tmp / "target.tok"),
            strict=True,
        )
        first = 1
        while block := list(islice(rows, _CHUNK_PAIRS)):
            fwd, rev, src, tgt = (list(column) for column in zip(*block, strict=True))
            if copy:
                ff.write("".join(line + "\n" for line in fwd))
                fr.write("".join(line + "\n" for line in rev))
            yield _Chunk(
                src, tgt, fwd, rev, None, method, first, fwd_path or fwd_out, rev_path or rev_out, keep_links
            )
            first += len(block)


def _simalign_chunks(
    tmp: Path, pairs: int, model: str, opts: dict[str, Any], seed: int, say: Progress
) -> Iterator[_Chunk]:
    rows = zip(
        _tok_lines(tmp / "source.tok"),
        _tok_lines(tmp / "target.tok"),
        _simalign_links(tmp, pairs, model, opts, seed, say),
        strict=True,
    )
    while block := list(islice(rows, _CHUNK_PAIRS)):
        src, tgt, links = (list(column) for column in zip(*block, strict=True))
        yield _Chunk(src, tgt, links=links, keep_links=True)


def _simalign_links(
    tmp: Path, pairs: int, model: str, opts: dict[str, Any], seed: int, say: Progress
) -> Iterator[set[Link]]:
    """SimAlign over the .tok units, one pair per forward pass."""
    from weamcli.common.models import quiet_transformers, resolve_model

    ref = resolve_model(model)
    quiet_transformers()
    import torch

    torch.manual_seed(seed)
    say(f"loading {ref.label} for SimAlign (layer {opts['layer']})", 0, None)
    from simalign import SentenceAligner  # slow import: only when this backend is used

    code = {"inter": "a", "mwmf": "m", "itermax": "i"}[opts["simalign_method"]]
    try:
        aligner = SentenceAligner(
            model=ref.path, token_type="bpe", matching_methods=code, layer=opts["layer"]
        )
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeamError(f"SimAlign cannot load the model ({first})", ref.path) from None
    rows = zip(_tok_lines(tmp / "source.tok"), _tok_lines(tmp / "target.tok"), strict=True)
    for index, (src_line, tgt_line) in enumerate(rows):
        src, tgt = src_line.split(), tgt_line.split()
        if not src or not tgt:
            yield set()
        else:
            try:
                found = aligner.get_word_aligns(src, tgt)[opts["simalign_method"]]
            except ValueError as exc:  # e.g. a layer the model does not have
                raise WeamError(f"SimAlign failed: {exc}", ref.path) from None
            yield {(int(i), int(j)) for i, j in found}
        say("aligning with SimAlign", index + 1, pairs)


def _write_lexicon(path: Path, counts: Counter[tuple[str, str]]) -> None:
    totals: Counter[str] = Counter()
    for (src, _tgt), n in counts.items():
        totals[src] += n
    rows = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("source\ttarget\tprob\tcount\n")
        for (src, tgt), n in rows:
            fh.write(f"{src}\t{tgt}\t{n / totals[src]:.6g}\t{n}\n")


# --------------------------------------------------------------------------- reading a folder


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
    src = [line.split() for line in _tok_lines(files[0])]
    tgt = [line.split() for line in _tok_lines(files[1])]
    align_lines = list(_tok_lines(files[2]))
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


def _language_of(given: str | None, path: Path | None, side: str) -> str:
    from weamcli.common.corpus import guess_language

    if given:
        return given
    guessed = guess_language(path) if path is not None else None
    if guessed is None:
        flag = "--src-lang" if side == "source" else "--tgt-lang"
        raise WeamError(f"cannot tell the {side} language from the file name; pass {flag}")
    return guessed


def align(settings: AlignSettings, *, progress: Progress | None = None) -> AlignmentResult:
    """`weam align`'s core: languages guessed from file suffixes where not given, the default
    output folder, then ``align_corpus`` with the settings' values."""
    s = settings
    target = Path(s.target) if s.target is not None else None
    src = _language_of(s.src_lang, Path(s.source) if target is not None else None, "source")
    tgt = _language_of(s.tgt_lang, target, "target")
    out = Path(s.out) if s.out else Path("runs") / f"align-{src}-{tgt}"
    inputs = [
        real_path(p) for p in (s.source, s.target, s.extra, s.extra_source, s.extra_target, s.gold) if p
    ]
    if real_path(out) in inputs:
        raise WeamError("is one of the input files; choose another output folder (-o)", out)
    check_writable(out.parent if not out.exists() else out)  # fail before the alignment, not after
    return align_corpus(
        s.source,
        target,
        out,
        source_lang=src,
        target_lang=tgt,
        backend=s.backend,
        symmetrize=s.symmetrize,
        segment=s.segment,
        model=s.model,
        seed=s.seed,
        overwrite=s.overwrite,
        progress=progress,
        pretokenized=s.pretokenized,
        max_tokens=s.max_tokens,
        empty_lines=s.on_empty,
        extra_source=s.extra if s.extra is not None else s.extra_source,
        extra_target=s.extra_target,
        gold=s.gold,
        gold_index_base=s.gold_index_base,
        gold_drop_invalid=s.gold_drop_invalid,
        crlf=s.crlf,
        fast=s.fast,
        **s.backend_options(),
    )
