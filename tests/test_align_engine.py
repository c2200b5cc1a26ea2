"""weam's own driving of eflomal's binary (numeric input written in one pass, its iteration
schedule) and the fast alignment mode."""

from __future__ import annotations

import gzip
import io
import json
from itertools import islice
from pathlib import Path

import pytest

from weamcli.align.backend_options import FAST_EFLOMAL
from weamcli.align.eflomal_engine import MAX_UNITS, EflomalInput, iterations, run_binary
from weamcli.align.folder import read_alignment_folder
from weamcli.align.run import align_corpus
from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records


def _numbers(text: str) -> list[list[int]]:
    return [[int(x) for x in line.split()] for line in text.splitlines()]


def test_numeric_input_is_what_eflomal_itself_writes(tmp_path):
    """Same ids, lengths and header numbers as eflomal's own Python writer (lowercased units,
    empty and over-long sentences as length 0); only the header's padding differs."""
    from eflomal import Aligner

    src = ["Das Haus ist klein .", "", "das HAUS", " ".join(["x"] * MAX_UNITS), "ein Haus"]
    tgt = ["The house is small .", "a lone line", "the house", "y", ""]
    with EflomalInput(tmp_path) as encoder:
        for s, t in zip(src, tgt, strict=True):
            encoder.add(s, t)
    theirs = []
    for side, lines in (("src", src), ("tgt", tgt)):
        path = tmp_path / f"theirs.{side}"
        with open(path, "wb") as out, open(path.with_suffix(".other"), "wb") as other:
            # eflomal's writer needs real files (it writes through their descriptors)
            text = io.StringIO("".join(line + "\n" for line in lines))
            Aligner().prepare_files(text, out, io.StringIO("x\n" * len(lines)), other, None, None)
        theirs.append(path.read_text(encoding="ascii"))
    ours = [p.read_text(encoding="ascii") for p in encoder.paths]
    assert [_numbers(t) for t in theirs] == [_numbers(o) for o in ours]
    assert _numbers(ours[0])[:3] == [[5, 7], [5, 0, 1, 2, 3, 4], [0]]
    # "das HAUS" = ids 0 1; the over-long line is passed empty but its "x" has id 5
    assert _numbers(ours[0])[3:] == [[2, 0, 1], [0], [2, 6, 1]]


def test_iteration_schedule_is_eflomals():
    assert iterations(29000, 3, 1.0) == (7, 7, 29)
    assert iterations(29000, 2, 1.0) == (7, 29, 0)
    assert iterations(29000, 1, 1.0) == (29, 0, 0)
    assert iterations(29000, 3, 0.5) == (3, 3, 15)
    assert iterations(1, 3, 0.0001) == (2, 1, 2)  # floors


def test_binary_failure_is_a_one_line_error(tmp_path):
    with EflomalInput(tmp_path) as encoder:
        encoder.add("a b", "c d")
    bad = encoder.paths[0]
    bad.write_text("1 1\n2 0 5\n", encoding="ascii")  # id 5 is outside a 1-word vocabulary
    with pytest.raises(WeamError, match="eflomal failed"):
        run_binary(encoder, tmp_path / "f", tmp_path / "r", model=1, samplers=1, length=1.0, null_prior=0.2)


def _slice(shared_data: Path, tmp_path: Path, n: int) -> tuple[Path, Path]:
    root = shared_data / "multi30k/data/task1/raw"
    out = []
    for lang in ("en", "de"):
        with gzip.open(root / f"train.{lang}.gz", "rt", encoding="utf-8") as fh:
            path = tmp_path / f"m.{lang}"
            path.write_text("".join(islice(fh, n)), encoding="utf-8")
            out.append(path)
    return out[0], out[1]


def test_fast_mode_records_its_schedule_and_explicit_options_win(shared_data, tmp_path):
    en, de = _slice(shared_data, tmp_path, 60)
    result = align_corpus(en, de, tmp_path / "fast", source_lang="en", target_lang="de", fast=True)
    meta, _src, _tgt, links = read_alignment_folder(tmp_path / "fast")
    assert meta["fast"] is True and meta["backend_options"] == FAST_EFLOMAL
    record = read_records(tmp_path / "fast/run.jsonl")[-1]
    expected = list(iterations(60, FAST_EFLOMAL["eflomal_model"], FAST_EFLOMAL["eflomal_length"]))
    assert record["metrics"]["eflomal_iterations"] == expected
    assert result.links == sum(len(x) for x in links) > 60 * 4
    explicit = align_corpus(
        en, de, tmp_path / "two", source_lang="en", target_lang="de", fast=True, n_samplers=2
    )
    meta2 = json.loads((tmp_path / "two/align.json").read_text(encoding="utf-8"))
    assert meta2["backend_options"]["n_samplers"] == 2 and explicit.pairs == 60
    default = json.loads(
        (
            align_corpus(en, de, tmp_path / "d", source_lang="en", target_lang="de").out_dir / "align.json"
        ).read_text(encoding="utf-8")
    )
    assert default["fast"] is False and default["backend_options"]["n_samplers"] == 3


def test_fast_mode_is_for_eflomal_only(tmp_path):
    src = tmp_path / "a.en"
    src.write_text("a b\n", encoding="utf-8")
    with pytest.raises(WeamError, match="eflomal backend only"):
        align_corpus(
            src, src, tmp_path / "o", source_lang="en", target_lang="de", backend="simalign", fast=True
        )
