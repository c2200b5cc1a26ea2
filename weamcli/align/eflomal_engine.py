"""eflomal's binary, driven directly: its input written while weam pre-tokenises, one process for
both directions.

Not ``eflomal.Aligner.align``: that reads the training text again and only then starts the binary;
here the binary's numeric input is written in the same pass that writes ``source.tok``/
``target.tok``, so the binary starts as soon as the corpus is read (``EflomalInput``). Everything
else stays as eflomal does it (lowercasing, sentence length limit, iteration schedule).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from math import sqrt
from pathlib import Path
from typing import TextIO

from weamcli.common.errors import WeamError

MAX_UNITS = 0x400  # the binary's MAX_SENT_LEN: longer sentences are passed as empty
_HEADER_WIDTH = 20  # header digits reserved up front, filled in once the counts are known


class _Vocabulary(dict[str, str]):
    """Unit → its 0-based id as text (what the file needs), a new id the first time it is seen."""

    def __missing__(self, unit: str) -> str:
        self[unit] = index = str(len(self))
        return index


class EflomalInput:
    """The binary's two numeric input files, written one pair at a time.

    Why not ``eflomal.Aligner.align``: it reads the training text again in Python (a dict lookup per
    token, a numpy array per sentence), writes the binary's numeric format to temporary files and
    only then starts the binary, all serially before any alignment work. These files are written
    in the same pass that writes ``source.tok``/``target.tok`` instead.

    File format (as eflomal's ``write_text``): a header ``sentences vocabulary`` then one line per
    sentence, ``length id id …`` (0-based ids). The header is written as fixed-width space-padded
    numbers first and overwritten at ``close`` (the binary reads it with ``fscanf``, which skips
    the padding), so the file is written in one pass."""

    def __init__(self, folder: Path) -> None:
        self.paths = (folder / "source.ids", folder / "target.ids")
        self._vocab = (_Vocabulary(), _Vocabulary())
        self._files: list[TextIO] = [open(p, "w", encoding="ascii") for p in self.paths]  # noqa: SIM115
        blank = " " * (2 * _HEADER_WIDTH + 1) + "\n"
        for fh in self._files:
            fh.write(blank)
        self.sentences = 0

    def add(self, source_line: str, target_line: str) -> None:
        """One pair, each side as its space-joined units. As eflomal does it: tokens are lowercased
        before indexing (eflomal's ``read_text`` with ``lowercase=True``); a sentence of 1024 or more
        units is given to the binary as empty (it cannot take longer ones). Empty sentences are given
        as length 0, which the binary skips and answers with an empty line, so its output lines stay
        one per input pair."""
        for fh, vocab, line in zip(self._files, self._vocab, (source_line, target_line), strict=True):
            # every unit gets its id, even in a sentence too long to pass: as eflomal numbers them
            ids = " ".join(map(vocab.__getitem__, line.lower().split()))
            n = ids.count(" ") + 1 if ids else 0
            fh.write(f"{n} {ids}\n" if 0 < n < MAX_UNITS else "0\n")
        self.sentences += 1

    def add_units(self, source: Sequence[str], target: Sequence[str]) -> None:
        self.add(" ".join(source), " ".join(target))

    def close(self) -> None:
        for fh, vocab in zip(self._files, self._vocab, strict=True):
            fh.seek(0)
            fh.write(f"{self.sentences:>{_HEADER_WIDTH}d} {len(vocab):>{_HEADER_WIDTH}d}")
            fh.close()

    def __enter__(self) -> EflomalInput:
        return self

    def __exit__(self, *exc: object) -> None:
        if not all(fh.closed for fh in self._files):
            self.close()


def iterations(sentences: int, model: int, length: float) -> tuple[int, int, int]:
    """Iterations of IBM1, HMM and fertility sampling: eflomal's default schedule (more sentences,
    fewer passes: ``length``·5000/√sentences for the last model, a quarter of that for the
    earlier ones, at least 2 and 1), scaled by ``length``."""
    last = max(2, round(length * 5000 / sqrt(max(sentences, 1))))
    early = max(1, last // 4)
    if model == 1:
        return (last, 0, 0)
    if model == 2:
        return (max(2, early), last, 0)
    return (max(2, early), early, last)


def binary_path() -> Path:
    """The ``eflomal`` executable of the installed eflomal package (found without importing it:
    importing eflomal loads numpy and its Cython module, which this path does not need)."""
    spec = importlib.util.find_spec("eflomal")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "eflomal"
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("eflomal")
    if found is None:
        raise WeamError("eflomal is not installed (pip install eflomal): its aligner binary is missing")
    return Path(found)


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills eflomal when weam dies, even by ``kill -9``
    (Ctrl-C and SIGTERM already stop it through ``subprocess.run``), so no orphan keeps writing
    into a ``.partial`` folder."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def run_binary(
    inputs: EflomalInput,
    forward: Path,
    reverse: Path,
    *,
    model: int,
    samplers: int,
    length: float,
    null_prior: float,
) -> tuple[int, int, int]:
    """Align both directions with one run of the binary; returns the iterations used.

    eflomal 2.0 (IBM1+HMM+fertility, Gibbs sampling) already aligns forward and reverse
    concurrently (an OpenMP loop over the two directions, each running its samplers in a nested
    OpenMP team), so there is nothing to gain from splitting it into two processes. It cannot be
    seeded: neither its Python API (``Aligner``, ``eflomal.cython.align``) nor its binary takes a
    seed, and the binary seeds its samplers from /dev/urandom, so links vary slightly between runs
    (align.json says ``"reproducible": false``; ``--seed`` covers weam's own Python/torch code).
    """
    iters = iterations(inputs.sentences, model, length)
    cmd = [
        str(binary_path()),
        "-q",
        "-m", str(model),
        "-s", str(inputs.paths[0]),
        "-t", str(inputs.paths[1]),
        "-n", str(samplers),
        "-N", str(null_prior),
        "-f", str(forward),
        "-r", str(reverse),
    ]  # fmt: skip
    for flag, count in zip(("-1", "-2", "-3"), iters[:model], strict=False):
        cmd += [flag, str(count)]
    done = subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise WeamError(f"eflomal failed (exit {done.returncode}): {lines[-1] if lines else 'no message'}")
    if not forward.is_file() or not reverse.is_file():
        raise WeamError("eflomal wrote no links")
    return iters
