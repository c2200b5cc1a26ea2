"""The pre-tokenisation pass: the corpus into source.tok/target.tok, and the corpus plus any extra
training text into eflomal's numeric input in the same pass, so its binary can start as soon as
the corpus is read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.align.eflomal_engine import EflomalInput
from weamcli.align.folder import tok_lines
from weamcli.common.corpus import Pair, Pretokenizer, Tokenized, input_words, read_pairs
from weamcli.common.errors import WeamError
from weamcli.common.progress import Progress

# a kept pair (only for gold scoring): its units' origins and the input's word counts
Kept = tuple[Tokenized, Tokenized, int, int]


@dataclass
class TokenisedCorpus:
    """What the pass over the corpus found: the pair count, the indices of pairs with an empty
    side, and (only for gold scoring) each pair's ``Kept``."""

    pairs: int
    empty: set[int]
    kept: list[Kept]


def tokenise_corpus(
    source: Path,
    target: Path | None,
    pretok: Pretokenizer,
    tmp: Path,
    encoder: EflomalInput | None,
    crlf: str,
    keep_origins: bool,
    say: Progress,
) -> TokenisedCorpus:
    """Write ``tmp``'s .tok files (and eflomal's input); a corpus with no lines or no pair with
    words on both sides is a one-line error."""
    with (
        open(tmp / "source.tok", "w", encoding="utf-8") as fs,
        open(tmp / "target.tok", "w", encoding="utf-8") as ft,
    ):
        pairs = read_pairs(source, target, crlf=crlf)
        n_pairs, empty_list, kept = _write_tokens(
            pairs, pretok, (source, target or source), fs, ft, keep_origins, say, encoder
        )
    if n_pairs == 0:
        raise WeamError("the corpus has no lines", source)
    if len(empty_list) == n_pairs:
        _no_words(source, target, tmp)
    return TokenisedCorpus(n_pairs, set(empty_list), kept)


def _write_tokens(
    pairs: Iterator[Pair],
    pretok: Pretokenizer,
    paths: tuple[Path, Path],
    src_out: Any,
    tgt_out: Any,
    keep_origins: bool,
    say: Progress,
    encoder: EflomalInput | None = None,
) -> tuple[int, list[int], list[Kept]]:
    """First pass: pre-tokenise and write the .tok files (and eflomal's input, so its binary can
    start as soon as the corpus is read); returns the pair count, the indices of pairs with an
    empty side, and (only for gold scoring) units' origins and input word counts."""
    count = 0
    empty: list[int] = []
    kept: list[Kept] = []
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


def write_extra(
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


def _no_words(source: Path, target: Path | None, tmp: Path) -> None:
    """Every pair has an empty side: nothing can be aligned. Names the side without words."""
    for side, name in ((source, "source.tok"), (target or source, "target.tok")):
        if not any(line.strip() for line in tok_lines(tmp / name)):
            raise WeamError("no words to align: every line is empty or whitespace", side)
    raise WeamError(
        "no words to align: no line has words on both sides (each pair has an empty side)", source
    )
