"""Symmetrisation, gold scoring, the align pipeline and `weam align` (weamcli.alignment, gold_alignments)."""

from __future__ import annotations

import gzip
import json
import random
from itertools import islice
from pathlib import Path

import pytest
from typer.testing import CliRunner

from weamcli.align.folder import lexicon_rows, read_alignment_folder
from weamcli.align.gold import GoldAlignment, read_gold, score_alignments
from weamcli.align.links import parse_links, symmetrize
from weamcli.align.run import align_corpus
from weamcli.cli import app
from weamcli.common.corpus import pretokenize
from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

FAST = {"eflomal_length": 0.2}  # few sampler iterations: tests check plumbing, not quality


# ----------------------------------------------------------------- symmetrisation (hand-made)


def test_intersect_and_union():
    fwd, rev = {(0, 0), (1, 1), (2, 1)}, {(0, 0), (1, 1), (1, 2)}
    assert symmetrize(fwd, rev, "intersect") == {(0, 0), (1, 1)}
    assert symmetrize(fwd, rev, "union") == {(0, 0), (1, 1), (2, 1), (1, 2)}
    with pytest.raises(WeamError, match="--symmetrize"):
        symmetrize(fwd, rev, "grow")


def test_grow_diag_adds_neighbours_with_an_unaligned_end():
    # (1,2) is next to (1,1) and target 2 is unaligned: grown in
    assert symmetrize({(0, 0), (1, 1), (1, 2)}, {(0, 0), (1, 1)}) == {(0, 0), (1, 1), (1, 2)}
    # (0,2) is a diagonal neighbour of (1,1) but both its words are aligned already: left out
    fwd, rev = {(0, 0), (1, 1), (2, 2), (0, 2)}, {(0, 0), (1, 1), (2, 2)}
    assert symmetrize(fwd, rev) == {(0, 0), (1, 1), (2, 2)}
    assert symmetrize(fwd, rev, "union") == fwd


def test_final_and_adds_only_links_with_both_ends_unaligned():
    # (3,3) is far from the intersection but both words are free: added by final-and;
    # (3,0) has target 0 aligned: not added
    assert symmetrize({(0, 0), (3, 3), (3, 0)}, {(0, 0)}) == {(0, 0), (3, 3)}
    # growing goes on from grown links: (1,1) → (2,2) → (3,3)
    assert symmetrize({(0, 0)}, {(0, 0), (1, 1), (2, 2), (3, 3)}) == {(0, 0), (1, 1), (2, 2), (3, 3)}


def test_grow_diag_visits_points_in_textbook_scan_order():
    # intersection {(0,2)}. Scanning (0,2) adds (0,1) (behind the scan: next pass) and (1,1)
    # (ahead: visited in this same pass), and (1,1) then adds (1,0) while target 0 is free.
    # Visiting (0,1) first instead would take (0,0) and block (1,0).
    fwd, rev = {(0, 0), (0, 1), (0, 2)}, {(0, 2), (1, 0), (1, 1)}
    assert symmetrize(fwd, rev) == {(0, 1), (0, 2), (1, 0), (1, 1)}


def _textbook_gdfa(fwd: set[tuple[int, int]], rev: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Koehn's pseudo-code, literally: full grid scans until a pass adds nothing, then FINAL-AND."""
    neighbours = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
    union, a = fwd | rev, fwd & rev
    size = 1 + max((max(i, j) for i, j in union), default=0)

    def aligned_src(e: int) -> bool:
        return any(i == e for i, _ in a)

    def aligned_tgt(f: int) -> bool:
        return any(j == f for _, j in a)

    added = True
    while added:
        added = False
        for e in range(size):
            for f in range(size):
                if (e, f) in a:
                    for de, df in neighbours:
                        new = (e + de, f + df)
                        if (
                            (not aligned_src(new[0]) or not aligned_tgt(new[1]))
                            and new in union
                            and new not in a
                        ):
                            a.add(new)
                            added = True
    for direction in (fwd, rev):
        for e in range(size):
            for f in range(size):
                if not aligned_src(e) and not aligned_tgt(f) and (e, f) in direction:
                    a.add((e, f))
    return a


def test_grow_diag_final_and_equals_the_literal_textbook_algorithm():
    rng = random.Random(7)
    for _ in range(3000):
        m, n = rng.randint(1, 6), rng.randint(1, 6)
        grid = [(i, j) for i in range(m) for j in range(n)]
        fwd = set(rng.sample(grid, rng.randint(0, min(len(grid), 9))))
        rev = set(rng.sample(grid, rng.randint(0, min(len(grid), 9))))
        assert symmetrize(fwd, rev) == _textbook_gdfa(fwd, rev), (sorted(fwd), sorted(rev))


def test_parse_links_accepts_pharaoh_and_names_the_bad_item(tmp_path):
    path = tmp_path / "alignment.txt"
    assert parse_links(" 0-1 2-3\t10-4 ", path, 1) == [(0, 1), (2, 3), (10, 4)]
    assert parse_links("", path, 1) == []
    for bad, item in (("0-1 2-x", "2-x"), ("0-1 \u00b2-1", "\u00b2-1"), ("0-1-2", "0-1-2"), ("3", "3")):
        with pytest.raises(WeamError, match="not a Pharaoh link") as err:
            parse_links(bad, path, 7)
        assert repr(item) in str(err.value) and err.value.line == 7


# ----------------------------------------------------------------- gold files and AER


def test_aer_on_a_hand_computed_case():
    gold = [GoldAlignment(sure={(0, 0), (1, 1)}, possible={(0, 0), (1, 1), (2, 2)})]
    s = score_alignments([{(0, 0), (2, 2), (2, 1)}], gold)
    # |A∩S| = 1, |A∩P| = 2, |A| = 3, |S| = 2
    assert s.aer == pytest.approx(1 - 3 / 5)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(1 / 2)
    assert s.f1 == pytest.approx(4 / 7)
    assert score_alignments([{(0, 0), (1, 1)}], gold).aer == 0.0


def test_gold_formats_and_index_base(tmp_path):
    one = tmp_path / "one.gold"
    one.write_text("1-1 2p3 3-2\n\n1-2\n", encoding="utf-8")
    gold, info = read_gold(one, [3, 2, 2], [3, 1, 2])
    assert info["index_base"] == 1 and info["format"] == "pharaoh"
    assert gold[0].sure == {(0, 0), (2, 1)} and gold[0].possible == {(0, 0), (1, 2), (2, 1)}
    assert gold[1].possible == set() and gold[2].sure == {(0, 1)}
    zero = tmp_path / "zero.gold"
    zero.write_text("0-0 1-2\n1-0\n", encoding="utf-8")
    gold, info = read_gold(zero, [2, 2], [3, 1])
    assert info["index_base"] == 0 and gold[0].sure == {(0, 0), (1, 2)}
    with pytest.raises(WeamError, match="link 0-0 is out of range"):  # forced 1-based: 0 is invalid
        read_gold(zero, [2, 2], [3, 1], index_base="1")
    # one stray 0 in a 1-based file (index 3 = length is 1-based evidence) must not flip the base
    stray = tmp_path / "stray.gold"
    stray.write_text("1-1 3-3\n0-1\n", encoding="utf-8")
    unclear = r"index base unclear: line 2 has an index 0 .* line 1 .*--gold-index-base"
    with pytest.raises(WeamError, match=unclear):
        read_gold(stray, [3, 2], [3, 2])
    gold, info = read_gold(stray, [3, 2], [3, 2], index_base="1", drop_invalid=True)
    assert info["index_base"] == 1 and info["dropped_invalid_links"] == 1
    naacl = tmp_path / "ref.wa"
    naacl.write_text("1 0 0 S\n1 1 2 P\n2 1 0 S\n", encoding="utf-8")
    gold, info = read_gold(naacl, [2, 2], [3, 1])
    assert info["format"] == "naacl"
    assert gold[0].sure == {(0, 0)} and gold[0].possible == {(0, 0), (1, 2)} and gold[1].sure == {(1, 0)}


def test_bad_gold_files_name_file_and_line(tmp_path):
    gold = tmp_path / "g.gold"
    gold.write_text("1-1\n1-3\n", encoding="utf-8")
    with pytest.raises(WeamError, match="link 1-3 is out of range") as err:
        read_gold(gold, [2, 2], [2, 2])
    assert err.value.line == 2 and err.value.path == str(gold)
    gold_list, info = read_gold(gold, [2, 2], [2, 2], drop_invalid=True)
    assert info["dropped_invalid_links"] == 1 and gold_list[1].sure == set()
    with pytest.raises(WeamError, match="has 2 lines but the corpus has 3"):
        read_gold(gold, [2, 2, 2], [2, 2, 2])
    gold.write_text("1-1\n1=2\n", encoding="utf-8")
    with pytest.raises(WeamError, match="not a Pharaoh link") as err:
        read_gold(gold, [2, 2], [2, 2])
    assert err.value.line == 2
    with pytest.raises(WeamError, match="index-base"):
        read_gold(gold, [2, 2], [2, 2], index_base="2")


def test_gold_file_with_crlf_endings(tmp_path):
    gold = tmp_path / "g.gold"
    gold.write_bytes(b"1-1 2p2\r\n2-1\r\n")
    with pytest.raises(WeamError, match="CRLF") as err:
        read_gold(gold, [2, 2], [2, 2])
    assert err.value.line == 1
    links, _info = read_gold(gold, [2, 2], [2, 2], crlf="strip")
    assert links[0].sure == {(0, 0)} and links[0].possible == {(0, 0), (1, 1)} and links[1].sure == {(1, 0)}


def test_real_gold_files_read_with_their_sentences(shared_data):
    g = shared_data / "gold-alignments"
    lines = (g / "zhen.src-tgt").read_text(encoding="utf-8").splitlines()
    src = [len(line.split(" ||| ")[0].split()) for line in lines]
    tgt = [len(line.split(" ||| ")[1].split()) for line in lines]
    gold, info = read_gold(g / "zhen.gold", src, tgt)
    assert info["index_base"] == 1 and len(gold) == 450
    assert sum(len(x.sure) for x in gold) == 11238 and sum(len(x.possible) for x in gold) == 11416


# ----------------------------------------------------------------- the pipeline on real slices


def _slice(shared_data: Path, tmp_path: Path, n: int, start: int = 0) -> tuple[Path, Path]:
    root = shared_data / "multi30k/data/task1/raw"
    out = []
    for lang in ("en", "de"):
        with gzip.open(root / f"train.{lang}.gz", "rt", encoding="utf-8") as fh:
            text = "".join(islice(fh, start, start + n))
        path = tmp_path / f"m{start}.{lang}"
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out[0], out[1]


def test_align_corpus_writes_a_consistent_folder(shared_data, tmp_path):
    en, de = _slice(shared_data, tmp_path, 80)
    lines = de.read_text(encoding="utf-8").splitlines()
    lines[5] = ""  # the empty-line policy: kept, no links
    de.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "al"
    result = align_corpus(en, de, out, source_lang="en", target_lang="de", seed=3, **FAST)
    assert result.pairs == 80 and result.links > 80 * 5
    meta, src, tgt, links = read_alignment_folder(out)
    assert meta["backend"] == "eflomal" and meta["symmetrize"] == "grow-diag-final-and"
    assert meta["pairs"] == 80 and meta["segment"]["mode"] == "auto" and meta["inputs"]["source"] == str(en)
    assert src[0][-1] == "." and "." not in src[0][-2]  # punctuation split off
    assert tgt[5] == [] and links[5] == []
    assert sum(len(x) for x in links) == result.links
    fwd = (out / "forward.txt").read_text(encoding="utf-8").splitlines()
    assert len(fwd) == 80 and fwd[5] == ""
    # each target unit has at most one link in the forward (IBM-style) direction
    assert all(len(js) == len(set(js)) for js in ([int(x.split("-")[1]) for x in f.split()] for f in fwd))
    rows = list(lexicon_rows(out / "lexicon.tsv"))
    assert sum(count for *_, count in rows) == result.links
    per_source: dict[str, float] = {}
    for s, _t, prob, _c in rows:
        per_source[s] = per_source.get(s, 0.0) + prob
    assert all(abs(total - 1.0) < 1e-4 for total in per_source.values())
    record = read_records(out / "run.jsonl")[-1]
    assert record["seed"] == 3 and record["metrics"]["links"] == result.links
    assert record["metrics"]["pairs_with_empty_side"] == 1 and record["versions"]["eflomal"]
    with pytest.raises(WeamError, match="already exists"):
        align_corpus(en, de, out, source_lang="en", target_lang="de", **FAST)


def test_chunked_pool_postprocessing_matches_pair_by_pair_symmetrisation(shared_data, tmp_path, monkeypatch):
    import weamcli.align.postprocess as postprocess
    import weamcli.align.run as alignment

    monkeypatch.setattr(postprocess, "_CHUNK_PAIRS", 7)  # 60 pairs: 9 chunks, several in flight
    monkeypatch.setattr(alignment, "postprocess_workers", lambda pairs: 2)
    en, de = _slice(shared_data, tmp_path, 60)
    out = tmp_path / "al"
    result = align_corpus(en, de, out, source_lang="en", target_lang="de", **FAST)
    assert result.metrics["postprocess_workers"] == 2
    meta, src, tgt, links = read_alignment_folder(out)
    fwd = (out / "forward.txt").read_text(encoding="utf-8").splitlines()
    rev = (out / "reverse.txt").read_text(encoding="utf-8").splitlines()
    expected = [
        symmetrize(parse_links(f, out, 1), parse_links(r, out, 1)) for f, r in zip(fwd, rev, strict=True)
    ]
    assert [set(x) for x in links] == expected and meta["pairs"] == 60
    counts: dict[tuple[str, str], int] = {}
    for s, t, pair_links in zip(src, tgt, expected, strict=True):
        for i, j in pair_links:
            counts[s[i], t[j]] = counts.get((s[i], t[j]), 0) + 1
    assert {(a, b): c for a, b, _p, c in lexicon_rows(out / "lexicon.tsv")} == counts


def test_extra_text_trains_but_is_not_written(shared_data, tmp_path):
    en, de = _slice(shared_data, tmp_path, 30)
    xen, xde = _slice(shared_data, tmp_path, 200, start=1000)
    joint = tmp_path / "extra.txt"
    xsrc, xtgt = xen.read_text("utf-8").splitlines(), xde.read_text("utf-8").splitlines()
    joint.write_text("".join(f"{a} ||| {b}\n" for a, b in zip(xsrc, xtgt, strict=True)), encoding="utf-8")
    out = tmp_path / "al"
    result = align_corpus(
        en, de, out, source_lang="en", target_lang="de", extra_source=joint, symmetrize="intersect", **FAST
    )
    assert result.metrics["extra_pairs_used"] == 200 and result.pairs == 30
    meta, src, _tgt, _links = read_alignment_folder(out)
    assert len(src) == 30 and meta["inputs"]["extra_source"] == str(joint)
    assert len((out / "reverse.txt").read_text(encoding="utf-8").splitlines()) == 30


def test_gold_scoring_on_real_de_en(shared_data, tmp_path):
    g = shared_data / "gold-alignments/deen-bicici"
    result = align_corpus(
        g / "test.de", g / "test.en", tmp_path / "al", source_lang="de", target_lang="en",
        gold=g / "de-en.wa", gold_drop_invalid=True, **FAST,
    )  # fmt: skip
    s = result.scores
    assert s is not None and s.pairs == 100 and s.sure == 1232  # 1233 links, one out of range
    assert 0.0 < s.aer < 0.7 and s.precision > 0.3  # eflomal on 100 sentences: far better than chance
    gold_metrics = read_records(tmp_path / "al/run.jsonl")[-1]["metrics"]["gold"]
    assert gold_metrics["aer"] == s.aer and gold_metrics["dropped_invalid_links"] == 1


def test_bad_input_leaves_no_output_folder(shared_data, tmp_path):
    en, de = _slice(shared_data, tmp_path, 20)
    lines = de.read_text(encoding="utf-8").split("\n")
    lines[2] += "\r"  # a CRLF ending on line 3
    de.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "al"
    with pytest.raises(WeamError, match="CRLF") as err:
        align_corpus(en, de, out, source_lang="en", target_lang="de", **FAST)
    assert err.value.line == 3
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".al")]
    with pytest.raises(WeamError, match="unknown language"):
        align_corpus(en, de, out, source_lang="en", target_lang="xx", **FAST)
    with pytest.raises(WeamError, match="do not apply"):
        align_corpus(en, de, out, source_lang="en", target_lang="de", layer=3)


def _ntrex_slice(shared_data: Path, tmp_path: Path, n: int) -> tuple[Path, Path]:
    """The first n lines of NTREX-128 en/de, bytes as shipped: CRLF line endings."""
    root = shared_data / "ntrex128/NTREX-128"
    out = []
    for name, lang in (("newstest2019-src.eng.txt", "en"), ("newstest2019-ref.deu.txt", "de")):
        with open(root / name, "rb") as fh:
            data = b"".join(islice(fh, n))
        assert data.endswith(b"\r\n")
        out.append(tmp_path / f"ntrex.{lang}")
        out[-1].write_bytes(data)
    return out[0], out[1]


def test_crlf_input_is_an_error_by_default_and_usable_with_strip(shared_data, tmp_path):
    en, de = _ntrex_slice(shared_data, tmp_path, 40)
    out = tmp_path / "al"
    with pytest.raises(WeamError, match="CRLF.*--crlf strip") as err:
        align_corpus(en, de, out, source_lang="en", target_lang="de", **FAST)
    assert err.value.path == str(en) and err.value.line == 1 and not out.exists()
    result = align_corpus(en, de, out, source_lang="en", target_lang="de", crlf="strip", **FAST)
    assert result.pairs == 40 and result.links > 40 * 5
    for name in ("source.tok", "target.tok", "alignment.txt", "forward.txt"):
        assert b"\r" not in (out / name).read_bytes()
    meta, src, _tgt, _links = read_alignment_folder(out)
    first = en.read_bytes().split(b"\r\n")[0].decode("utf-8")
    assert src[0] == pretokenize(first).tokens and meta["reproducible"] is False  # eflomal: no seed
    record = read_records(out / "run.jsonl")[-1]
    assert record["config"]["crlf"] == "strip"
    phases = record["metrics"]["phase_seconds"]
    assert set(phases) == {"read_tokenise", "eflomal", "symmetrise_write"} and phases["eflomal"] > 0
    with pytest.raises(WeamError, match="--crlf must be one of"):
        align_corpus(en, de, tmp_path / "x", source_lang="en", target_lang="de", crlf="dos2unix")


def test_read_alignment_folder_rejects_out_of_range_links(shared_data, tmp_path):
    en, de = _slice(shared_data, tmp_path, 20)
    out = tmp_path / "al"
    align_corpus(en, de, out, source_lang="en", target_lang="de", **FAST)
    lines = (out / "alignment.txt").read_text(encoding="utf-8").splitlines()
    lines[3] += " 0-99"
    (out / "alignment.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(WeamError, match="link 0-99 is out of range") as err:
        read_alignment_folder(out)
    assert err.value.path == str(out / "alignment.txt") and err.value.line == 4


def test_simalign_backend_with_a_registry_model(shared_data, tmp_path, tiny_ref):
    en, de = _slice(shared_data, tmp_path, 3)
    lines = de.read_text(encoding="utf-8").splitlines()
    lines[2] = en.read_text(encoding="utf-8").splitlines()[2]  # pair 3: a sentence and its exact copy
    de.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "sim"
    result = align_corpus(
        en, de, out, source_lang="en", target_lang="de", backend="simalign", model=tiny_ref.path,
        simalign_method="inter", layer=1,
    )  # fmt: skip
    meta, src, tgt, links = read_alignment_folder(out)
    assert meta["backend"] == "simalign" and meta["backend_options"]["simalign_method"] == "inter"
    assert meta["symmetrize"] is None and not (out / "forward.txt").exists()
    assert all(links[:2]) and result.links == sum(len(x) for x in links)
    # identical sentences give identical vectors: each word's best match is its own copy
    assert sorted(links[2]) == [(i, i) for i in range(len(src[2]))]


# ----------------------------------------------------------------- the CLI

runner = CliRunner()


def test_cli_align_with_gold_prints_scores(shared_data, tmp_path):
    g = shared_data / "gold-alignments/deen-bicici"
    out = tmp_path / "cli"
    args = ["align", str(g / "test.de"), str(g / "test.en"), "-o", str(out), "--gold", str(g / "de-en.wa")]
    result = runner.invoke(app, [*args, "--eflomal-length", "0.2", "--symmetrize", "intersect"])
    assert result.exit_code == 2 and "out of range" in result.output and "Traceback" not in result.output
    assert not out.exists()
    result = runner.invoke(app, [*args, "--eflomal-length", "0.2", "--gold-drop-invalid"])
    assert result.exit_code == 0, result.output
    assert "AER" in result.output and "precision" in result.output
    meta = json.loads((out / "align.json").read_text(encoding="utf-8"))
    assert (meta["source_lang"], meta["target_lang"]) == ("de", "en")  # guessed from .de / .en
    result = runner.invoke(app, [*args, "--gold-drop-invalid"])
    assert result.exit_code == 2 and "already exists" in result.output


def test_cli_crlf_option(shared_data, tmp_path):
    en, de = _ntrex_slice(shared_data, tmp_path, 15)
    out = tmp_path / "cli"
    args = ["align", str(en), str(de), "-o", str(out), "--eflomal-length", "0.2", "--eflomal-samplers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "CRLF" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    result = runner.invoke(app, [*args, "--crlf", "strip"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "align.json").read_text(encoding="utf-8"))
    assert meta["pairs"] == 15 and meta["backend_options"]["n_samplers"] == 1


def test_cli_bad_options_are_one_line_errors(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("a ||| b\n", encoding="utf-8")
    result = runner.invoke(app, ["align", str(src)])
    assert result.exit_code == 2 and "--src-lang" in result.output
    result = runner.invoke(app, ["align", str(src), "--src-lang", "en", "--tgt-lang", "de", "--backend", "x"])
    assert result.exit_code == 2 and "--backend must be one of" in result.output


def test_output_over_an_input_file_is_refused_and_the_input_kept(tmp_path):
    src, tgt = tmp_path / "c.en", tmp_path / "c.de"
    src.write_text("a house\n", encoding="utf-8")
    tgt.write_text("ein Haus\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["align", str(src), str(tgt), "-o", str(tgt), "--overwrite"])
    assert result.exit_code == 2 and "is one of the input files" in result.output
    assert tgt.read_text(encoding="utf-8") == "ein Haus\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.de", "c.en"]


def test_kill_9_of_weam_align_takes_eflomal_with_it(shared_data, tmp_path):
    """eflomal runs as a child process: weam killed hard must not leave it running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, tgt = _slice(shared_data, tmp_path, 20000)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "weamcli", "align", str(src), str(tgt), "--src-lang", "en", "--tgt-lang", "de",
         "-o", str(tmp_path / "out")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def children() -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in found.split()]

    deadline = time.monotonic() + 120
    while not children() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    kids = children()
    if not kids:
        proc.kill()
        pytest.skip("alignment finished before eflomal could be seen running")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() for k in kids):
        time.sleep(0.1)
    alive = [
        k for k in kids if Path(f"/proc/{k}").exists() and " Z " not in Path(f"/proc/{k}/stat").read_text()
    ]
    assert not alive, f"eflomal still running after weam was killed: {alive}"
