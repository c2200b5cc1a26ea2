"""Word alignment of a parallel corpus: the prior WEAM's cross-lingual prediction uses.

Backends: ``eflomal`` (default), the eflomal 2.0 Bayesian aligner run forward and reverse
(``eflomal_engine``), then symmetrised here (``grow-diag-final-and``, ``intersect`` or ``union``);
``simalign``, SimAlign over a model's hidden states (``simalign_engine``), for small sets. This
module runs the pipeline: check the arguments (``job``), pre-tokenise (``pretokenise``), align,
post-process (``postprocess``), score against a gold file (``gold``) and write the records
(``job``). The output folder's files are described in ``folder``.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.align.eflomal_engine import EflomalInput, run_binary
from weamcli.align.folder import LEXICON_FILE, write_lexicon
from weamcli.align.gold import AlignmentScores, GoldAlignment, read_gold, score_alignments
from weamcli.align.job import AlignJob, check_paths, checked_job, write_records
from weamcli.align.postprocess import (
    Chunk,
    Written,
    eflomal_chunks,
    postprocess_workers,
    simalign_chunks,
    write_alignments,
)
from weamcli.align.pretokenise import TokenisedCorpus, tokenise_corpus, write_extra
from weamcli.align.settings import AlignSettings
from weamcli.align.simalign_engine import simalign_links
from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, real_path
from weamcli.common.output_folders import check_writable
from weamcli.common.progress import Progress, quiet


@dataclass
class AlignmentResult:
    """What ``align_corpus`` produced: the folder, how many pairs and links, and its metrics."""

    out_dir: Path
    pairs: int
    links: int
    metrics: dict[str, Any] = field(default_factory=dict)
    scores: AlignmentScores | None = None


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
    """Align a parallel corpus into ``out_dir`` (its files: ``folder``'s module docstring).

    ``target`` None reads ``source`` as ``src ||| tgt`` lines; likewise ``extra_source`` alone is a
    ``|||`` file of extra training text for eflomal (not written to the outputs). With ``gold``,
    the alignment is scored (links projected onto the input's whitespace words) and the scores
    are returned and recorded. ``crlf`` (``error`` or ``strip``) applies to every file read.
    ``metrics["phase_seconds"]`` times the phases (read+tokenise, eflomal, symmetrise+write).
    ``fast``: eflomal's options default to ``FAST_EFLOMAL`` instead of eflomal's own defaults
    (options given explicitly still win), trading AER for speed; recorded in align.json.
    """
    say = progress or quiet
    started = time.perf_counter()
    job = checked_job(
        source,
        target,
        source_lang=source_lang,
        target_lang=target_lang,
        backend=backend,
        symmetrize=symmetrize,
        segment=segment,
        model=model,
        seed=seed,
        pretokenized=pretokenized,
        max_tokens=max_tokens,
        empty_lines=empty_lines,
        extra_source=extra_source,
        extra_target=extra_target,
        gold=gold,
        gold_index_base=gold_index_base,
        gold_drop_invalid=gold_drop_invalid,
        crlf=crlf,
        fast=fast,
        backend_options=backend_options,
    )
    random.seed(seed)
    out_dir = Path(out_dir)
    check_paths(job, out_dir)
    return _run(job, out_dir, overwrite, started, say)


def _run(job: AlignJob, out_dir: Path, overwrite: bool, started: float, say: Progress) -> AlignmentResult:
    """The checked job: pre-tokenise, align, post-process, score and write the records, all in a
    temporary folder that becomes ``out_dir`` only when everything is written.

    Only eflomal's own work should cost time. Nothing heavy is imported on this path (torch,
    transformers and simalign only for ``simalign``, not even eflomal's Python package); eflomal's
    numeric input is written in the pre-tokenisation pass, so its binary starts once the corpus is
    read; it writes forward.txt/reverse.txt in place when it can; symmetrisation visits each point
    once; and for ≥ 20,000 pairs the post-processing (symmetrise, format, count the lexicon) runs in
    chunks on a forked pool when ≥ 2 cores are idle.
    """
    backend = job.backend
    with (
        atomic_dir(out_dir, overwrite=overwrite) as tmp,
        _work_dir(tmp) as work,
        contextlib.ExitStack() as stack,
    ):
        encoder = stack.enter_context(EflomalInput(work)) if backend == "eflomal" else None
        keep_origins = job.gold is not None
        corpus = tokenise_corpus(
            job.source, job.target, job.pretok, tmp, encoder, job.crlf, keep_origins, say
        )
        gold_links, gold_info = _read_gold(job, corpus)  # before the long alignment
        phases = {"read_tokenise": round(time.perf_counter() - started, 2)}

        metrics: dict[str, Any] = {"pairs": corpus.pairs, "pairs_with_empty_side": len(corpus.empty)}
        if encoder is not None:
            jobs = _align_eflomal(job, corpus, encoder, tmp, work, metrics, phases, say)
            workers = postprocess_workers(corpus.pairs)
        else:
            links = simalign_links(tmp, corpus.pairs, job.model, job.opts, job.seed, say)
            jobs = simalign_chunks(tmp, links)
            workers = 1  # the links are computed in this process already
        metrics["postprocess_workers"] = workers
        t0 = time.perf_counter()
        kept = corpus.kept if gold_links is not None else None
        written = write_alignments(jobs, workers, tmp, corpus.pairs, kept, say)
        _count_outputs(tmp, written, corpus.pairs, metrics)
        key = "symmetrise_write" if backend == "eflomal" else "simalign_write"
        phases[key] = round(time.perf_counter() - t0, 2)
        metrics["phase_seconds"] = phases

        scores = None
        if gold_links is not None:
            scores = score_alignments(written.predicted, gold_links)
            metrics["gold"] = {**scores.as_dict(), **(gold_info or {})}
        metrics["seconds"] = round(time.perf_counter() - started, 2)
        write_records(job, tmp, corpus.pairs, written.links, metrics)
    return AlignmentResult(out_dir, corpus.pairs, written.links, metrics, scores)


def _read_gold(
    job: AlignJob, corpus: TokenisedCorpus
) -> tuple[list[GoldAlignment] | None, dict[str, object] | None]:
    """The gold links (None without a gold file), checked against the corpus's word counts."""
    if job.gold is None:
        return None, None
    return read_gold(
        job.gold,
        [k[2] for k in corpus.kept],
        [k[3] for k in corpus.kept],
        index_base=job.gold_index_base,
        drop_invalid=job.gold_drop_invalid,
        crlf=job.crlf,
    )


def _align_eflomal(
    job: AlignJob,
    corpus: TokenisedCorpus,
    encoder: EflomalInput,
    tmp: Path,
    work: Path,
    metrics: dict[str, Any],
    phases: dict[str, float],
    say: Progress,
) -> Iterator[Chunk]:
    """Add the extra text to eflomal's input, run eflomal (unless no pair has words on both sides
    and there is no extra text) and return the post-processing chunks of its links; the metrics
    and phase times are recorded in ``metrics`` and ``phases``."""
    extra = job.extra
    t0 = time.perf_counter()
    metrics.update(write_extra(extra, job.pretok, encoder, job.crlf, say))
    encoder.close()
    if extra is not None:
        phases["extra_tokenise"] = round(time.perf_counter() - t0, 2)
    fwd_path = rev_path = None
    if len(corpus.empty) < corpus.pairs or extra is not None:
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
            model=job.opts["eflomal_model"],
            samplers=job.opts["n_samplers"],
            length=job.opts["eflomal_length"],
            null_prior=job.opts["null_prior"],
        )
        metrics["eflomal_iterations"] = list(iters)
        metrics["eflomal_seconds"] = phases["eflomal"] = round(time.perf_counter() - t0, 2)
    return eflomal_chunks(fwd_path, rev_path, corpus.pairs, job.symmetrize, tmp, job.gold is not None)


def _count_outputs(tmp: Path, written: Written, pairs: int, metrics: dict[str, Any]) -> None:
    """Write lexicon.tsv and record the link and lexicon counts."""
    write_lexicon(tmp / LEXICON_FILE, written.lexicon)
    metrics["links"] = written.links
    metrics["links_per_pair"] = round(written.links / pairs, 3)
    metrics["lexicon_entries"] = len(written.lexicon)


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
