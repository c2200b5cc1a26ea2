"""An alignment job: ``align_corpus``'s arguments checked once (before any file is written), and
what its records say of it (align.json, run.jsonl)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.align.backend_options import check_options
from weamcli.align.folder import ALIGN_META, ALIGNMENT_FILE, LEXICON_FILE
from weamcli.align.settings import SYMMETRIZATIONS
from weamcli.common.corpus import Pretokenizer, check_crlf_policy
from weamcli.common.errors import WeamError
from weamcli.common.files import missing_file
from weamcli.common.languages import Language, language
from weamcli.common.output_folders import check_output_dir
from weamcli.common.run_records import write_run_record


@dataclass(frozen=True)
class AlignJob:
    """``align_corpus``'s arguments once checked: what its steps and records need."""

    source: Path
    target: Path | None
    extra: tuple[Path, Path | None] | None
    gold: Path | str | None
    source_lang: Language
    target_lang: Language
    backend: str
    symmetrize: str
    model: str
    seed: int
    fast: bool
    crlf: str
    gold_index_base: str
    gold_drop_invalid: bool
    opts: dict[str, Any]
    pretok: Pretokenizer


def checked_job(
    source: Path | str,
    target: Path | str | None,
    *,
    source_lang: str,
    target_lang: str,
    backend: str,
    symmetrize: str,
    segment: str,
    model: str,
    seed: int,
    pretokenized: bool,
    max_tokens: int,
    empty_lines: str,
    extra_source: Path | str | None,
    extra_target: Path | str | None,
    gold: Path | str | None,
    gold_index_base: str,
    gold_drop_invalid: bool,
    crlf: str,
    fast: bool,
    backend_options: dict[str, Any],
) -> AlignJob:
    """Check the arguments that need no file (a one-line error each, in this order)."""
    src_lang, tgt_lang = language(source_lang), language(target_lang)
    opts = check_options(backend, backend_options, fast)
    if symmetrize not in SYMMETRIZATIONS:
        raise WeamError(f"--symmetrize must be one of {', '.join(SYMMETRIZATIONS)}, got '{symmetrize}'")
    if extra_target is not None and extra_source is None:
        raise WeamError("--extra-target needs --extra-source")
    if backend == "simalign" and extra_source is not None:
        raise WeamError("extra training text applies to the eflomal backend only")
    check_crlf_policy(crlf)
    pretok = Pretokenizer(src_lang, tgt_lang, segment, pretokenized, max_tokens, empty_lines)
    extra = (
        None
        if extra_source is None
        else (Path(extra_source), None if extra_target is None else Path(extra_target))
    )
    return AlignJob(
        source=Path(source),
        target=None if target is None else Path(target),
        extra=extra,
        gold=gold,
        source_lang=src_lang,
        target_lang=tgt_lang,
        backend=backend,
        symmetrize=symmetrize,
        model=model,
        seed=seed,
        fast=fast,
        crlf=crlf,
        gold_index_base=gold_index_base,
        gold_drop_invalid=gold_drop_invalid,
        opts=opts,
        pretok=pretok,
    )


def check_paths(job: AlignJob, out_dir: Path) -> None:
    """Every input exists, the two sides are different files, and ``out_dir`` may be written."""
    source, target = job.source, job.target
    inputs_given = [source, target, *(job.extra or ()), job.gold]
    for path in inputs_given:
        if path is not None and not Path(path).is_file():
            raise missing_file(path)
    if target is not None and os.path.samefile(source, target):
        raise WeamError(
            f"source and target are the same file ({target}): a parallel corpus has two sides", source
        )
    check_output_dir(out_dir, command="weam align", markers={ALIGN_META: None}, inputs=inputs_given)


def write_records(job: AlignJob, tmp: Path, pairs: int, links: int, metrics: dict[str, Any]) -> None:
    """align.json and the run record (run.jsonl: config, versions, seed, metrics, incl.
    ``phase_seconds``, ``eflomal_iterations``, ``postprocess_workers``)."""
    source, target, extra, backend = job.source, job.target, job.extra, job.backend
    inputs = {
        "source": str(source.resolve()),
        "target": None if target is None else str(target.resolve()),
        "extra_source": None if extra is None else str(extra[0].resolve()),
        "extra_target": None if extra is None or extra[1] is None else str(extra[1].resolve()),
    }
    meta = {
        "source_lang": job.source_lang.code,
        "target_lang": job.target_lang.code,
        "backend": backend,
        "fast": job.fast,
        "symmetrize": job.symmetrize if backend == "eflomal" else None,
        "pairs": pairs,
        "links": links,
        "segment": job.pretok.describe(),
        "inputs": inputs,
        "backend_options": {**job.opts, **({"model": job.model} if backend == "simalign" else {})},
        "reproducible": backend != "eflomal",  # eflomal 2.0 cannot be seeded (eflomal_engine.run_binary)
        "files": {
            "alignment": ALIGNMENT_FILE,
            "lexicon": LEXICON_FILE,
            "source": "source.tok",
            "target": "target.tok",
        },
    }
    (tmp / ALIGN_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    config = {k: v for k, v in meta.items() if k not in ("pairs", "links", "files")}
    config["gold"] = None if job.gold is None else str(Path(job.gold).resolve())
    config["gold_index_base"] = job.gold_index_base
    config["crlf"] = job.crlf
    write_run_record(tmp, "align", config, seed=job.seed, metrics=metrics)
