"""The output folder's policy: refuse to clobber a finished or foreign run, find the checkpoint to
resume from, replace a run only once the new one is complete, leave nothing behind a failed one,
and check the inputs that would otherwise fail late (Windows line endings, a corpus without
words)."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from weamcli.common.corpus import read_lines
from weamcli.common.errors import WeamError
from weamcli.common.files import read_json
from weamcli.common.languages import Language
from weamcli.common.models import (
    METADATA_FILE,
)
from weamcli.common.output_folders import check_output_dir, json_marker
from weamcli.common.progress import Progress

CONFIG_FILE = "pretrain-config.json"  # the settings --resume must match
CHECKPOINTS = "checkpoints"
SNAPSHOTS = "snapshots"  # models saved part-way (--snapshot-steps): OUT/snapshots/step-N


def snapshot_dir(out: str | Path, step: int) -> Path:
    """The folder of the model saved at optimiser step ``step`` of the run in ``out``."""
    return Path(out) / SNAPSHOTS / f"step-{step}"


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (a kill during a save leaves an incomplete one behind)."""
    needed = ("trainer_state.json", "model.safetensors", "optimizer.pt", "config.json")
    found = []
    for p in folder.glob("checkpoint-*"):
        with contextlib.suppress(ValueError):
            if all((p / n).is_file() for n in needed):
                found.append((int(p.name.split("-")[1]), p))
    return max(found)[1] if found else None


def check_out_dir(
    out: Path, config: dict[str, Any], *, resume: bool, overwrite: bool, clear: bool = True
) -> Path | None:
    """Refuse to clobber a finished or foreign run; return the checkpoint to resume from. With
    ``clear`` False only check (inputs are validated before anything in ``out`` is removed)."""
    cfg_file = out / CONFIG_FILE
    if resume:
        if not cfg_file.is_file():
            raise WeamError(f"nothing to resume: no {CONFIG_FILE} here", out)
        old = read_json(cfg_file)
        diff = [k for k in sorted(set(old) | set(config)) if old.get(k) != config.get(k)]
        if diff:
            k = diff[0]
            raise WeamError(
                f"resume refused: this run was made with {k}={old.get(k)!r}, now {k}={config.get(k)!r} "
                f"({len(diff)} setting(s) differ)",
                cfg_file,
            )
        if (out / METADATA_FILE).is_file():
            raise WeamError("this run has already finished (pass --overwrite to train again)", out)
        return last_checkpoint(out / CHECKPOINTS)
    if out.exists():
        leftovers = run_leftovers(out)
        if leftovers and not overwrite:
            hint = "pass --resume to continue it or --overwrite" if cfg_file.is_file() else "pass --overwrite"
            raise WeamError(f"output folder is not empty ({hint})", out)
        for p in leftovers if clear else []:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return None


ALIGN_PREFIX = "align-en-"  # alignments of raw files made by a run: caches every run may reuse


def run_leftovers(out: Path) -> list[Path]:
    """What a run left in ``out``, apart from the alignment caches."""
    if not out.is_dir():
        return []
    return [p for p in out.iterdir() if not p.name.startswith((ALIGN_PREFIX, f".{ALIGN_PREFIX}"))]


def is_alignment_cache(entry: Path) -> bool:
    return entry.is_dir() and entry.name.startswith(ALIGN_PREFIX)


def check_replaceable(out: Path, inputs: list[str | Path | None]) -> None:
    """The output rule of every command (``output_folders.check_output_dir``) for a pretrain run: the
    folder is new, empty, or a weam pretrain run (its config, or a weam.json that is not a
    fine-tune's); never ``-o ~``, ``/`` or a folder holding one of the run's ``inputs``."""
    check_output_dir(
        out,
        command="weam pretrain",
        markers={CONFIG_FILE: None, METADATA_FILE: json_marker(lacking="finetune_seed")},
        inputs=inputs,
        ignore=lambda name: name.startswith((ALIGN_PREFIX, f".{ALIGN_PREFIX}")),
    )


def clean_after_failure(
    out: Path, *, created: bool, progress: Progress, resume_hint: str = "run the same command with --resume"
) -> None:
    """After a failed or interrupted new run in ``out``: keep a complete checkpoint (the run can
    be resumed), else remove what the run made, and the folder itself when it made it and it is
    empty: a failed run leaves no empty or half-made output folder."""
    if not out.is_dir():
        return
    checkpoint = last_checkpoint(out / CHECKPOINTS)
    if checkpoint is not None:
        progress(f"{checkpoint.name} kept in {out}: {resume_hint} to continue")
        return
    (out / CONFIG_FILE).unlink(missing_ok=True)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    shutil.rmtree(out / SNAPSHOTS, ignore_errors=True)  # without a checkpoint they cannot be continued
    if created and not any(out.iterdir()):
        out.rmdir()


def _first_lines(path: Path, crlf: str, limit: int | None) -> Iterator[str]:
    return itertools.islice(read_lines(path, crlf=crlf), limit)


def check_corpus(files: list[Path], *, crlf: str, max_pairs: int | None) -> None:
    """Fail before any work on a corpus that cannot train: invalid UTF-8 or Windows line endings
    under ``crlf`` error (as `weam align`), each naming file and line, or no word at all in the
    pairs used (every line empty or whitespace). ``files``: the source and target text first.
    Files that do not exist are left to the step that reads them."""
    present = [p for p in files if p.is_file()]
    for path in present:
        for _ in read_lines(path, crlf=crlf):
            pass
    texts = [p for p in files[:2] if p.is_file()]
    if texts and not any(line.strip() for p in texts for line in _first_lines(p, "strip", max_pairs)):
        raise WeamError(
            "no words to train on: every line"
            + (f" of the first {max_pairs}" if max_pairs else "")
            + " is empty or whitespace",
            texts[0],
        )


def corpus_files(
    alignments: str | None, source: str | None, target: str | None, lang: Language
) -> list[Path]:
    """The text files a run reads for ``lang``: an alignment folder's token files, or the raw files."""
    from weamcli.pretrain.pairs import expand_pattern

    if alignments is not None:
        folder = Path(expand_pattern(alignments, lang)).expanduser()
        return [folder / "source.tok", folder / "target.tok", folder / "alignment.txt"]
    return [Path(expand_pattern(p, lang)).expanduser() for p in (source, target) if p is not None]
