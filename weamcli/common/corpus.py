"""Parallel text in, validated and pre-tokenised pairs out (streamed, one pair at a time).

Accepted input: two line-aligned files (line *i* of one translates line *i* of the other) or one
file with ``source ||| target`` per line; either may be gzipped (detected by its magic bytes).
Each check fails with a one-line WeamError naming the file and line (``read_lines``,
``read_pairs``, ``Pretokenizer.pair``). Pre-tokenisation (``pretokenize``) makes what a statistical
aligner needs, and only ever splits *within* the input's whitespace tokens, so every unit knows
which input word it came from.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import zip_longest
from os import PathLike
from pathlib import Path

import regex

from weamcli.common.errors import WeamError
from weamcli.common.files import missing_file
from weamcli.common.languages import Language, language

PAIR_SEPARATOR = "|||"
SEGMENT_MODES = ("auto", "chars", "none")
EMPTY_POLICIES = ("keep", "error")
CRLF_POLICIES = ("error", "strip")
DEFAULT_MAX_TOKENS = 200

_WORD = r"[\p{L}\p{M}\p{N}_]"
# a word (letters, marks, digits; word-internal connectors kept) or any single other character
_PUNCT_SPLIT = regex.compile(rf"{_WORD}+(?:[-'’.,·]{_WORD}+)*|\S")
_NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
# one character of a script written without spaces (with its combining marks), or a run of others
_CHAR_SPLIT = regex.compile(rf"[{_NO_SPACE_SCRIPTS}]\p{{M}}*|[^{_NO_SPACE_SCRIPTS}]+")
_BOM = "\ufeff"


@dataclass(frozen=True)
class Pair:
    """One input pair: 1-based line number and the raw text of each side."""

    line: int
    source: str
    target: str


@dataclass(frozen=True)
class Tokenized:
    """Pre-tokenised text, and for each unit the index of the input whitespace token it came from
    (gold alignments index input words; weam projects its links back through ``origin``)."""

    tokens: list[str]
    origin: list[int]


def check_crlf_policy(crlf: str) -> None:
    if crlf not in CRLF_POLICIES:
        raise WeamError(f"--crlf must be one of {', '.join(CRLF_POLICIES)}, got '{crlf}'")


def read_lines(path: str | PathLike, *, crlf: str = "error") -> Iterator[str]:
    """Lines of a UTF-8 text file (gzipped or not) without their newline, validated one by one:
    invalid UTF-8 is an error; a UTF-8 byte-order mark at the start of a file is dropped (the de–en
    gold set has one).

    ``crlf``: ``error`` (default) rejects a line ending in ``\\r\\n`` (or a last line ending in a
    bare ``\\r``), since a stray ``\\r`` would otherwise become part of the last word; ``strip``
    reads ``\\r\\n`` as ``\\n`` (real data such as NTREX-128 ships with CRLF endings). A ``\\r``
    inside a line is never touched."""
    check_crlf_policy(crlf)
    strip_cr = crlf == "strip"
    path = Path(path)
    if not path.is_file():
        raise missing_file(path)
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                # a bare trailing \r can only be the last line of a CRLF file that lacks a final \n
                if raw.endswith(b"\r\n") or raw.endswith(b"\r"):
                    if not strip_cr:
                        raise WeamError(
                            "Windows line ending (CRLF); pass --crlf strip or convert the file with dos2unix",
                            path,
                            lineno,
                        )
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise WeamError(
                        f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", path, lineno
                    ) from None
                if lineno == 1 and text.startswith(_BOM):
                    text = text[1:]
                yield text.rstrip("\n")
    except (OSError, EOFError) as exc:  # e.g. a truncated gzip file
        raise WeamError(f"cannot read the file ({exc})", path) from None


def read_pairs(
    source: str | PathLike, target: str | PathLike | None = None, *, crlf: str = "error"
) -> Iterator[Pair]:
    """Stream pairs from two line-aligned files, or from one ``src ||| tgt`` file if ``target`` is None.

    Errors: different line counts, a ``|||`` line without exactly one separator."""
    if target is None:
        for lineno, line in enumerate(read_lines(source, crlf=crlf), 1):
            parts = line.split(PAIR_SEPARATOR)
            if len(parts) != 2:
                raise WeamError(
                    f"expected one '{PAIR_SEPARATOR}' separating source and target, found {len(parts) - 1}",
                    source,
                    lineno,
                )
            yield Pair(lineno, parts[0].strip(), parts[1].strip())
        return
    sentinel = object()
    pairs = zip_longest(read_lines(source, crlf=crlf), read_lines(target, crlf=crlf), fillvalue=sentinel)
    for lineno, (src, tgt) in enumerate(pairs, 1):
        if src is sentinel or tgt is sentinel:
            short, long_ = (source, target) if src is sentinel else (target, source)
            raise WeamError(
                f"line counts differ: {Path(short).name} has {lineno - 1} lines, {Path(long_).name} has more",
                long_,
                lineno,
            )
        yield Pair(lineno, src, tgt)  # type: ignore[arg-type]


def segment_units(lang: Language, segment: str) -> bool:
    """Whether ``segment`` means per-character units for ``lang``."""
    if segment not in SEGMENT_MODES:
        raise WeamError(f"--segment must be one of {', '.join(SEGMENT_MODES)}, got '{segment}'")
    return segment == "chars" or (segment == "auto" and lang.no_space)


def input_words(text: str) -> list[str]:
    """The input's words: split on ASCII spaces and tabs only, as gold files count them (the ja
    gold file indexes an ideographic space U+3000 as a word of its own)."""
    return [word for word in text.replace("\t", " ").split(" ") if word]


def pretokenize(text: str, *, char_units: bool = False, pretokenized: bool = False) -> Tokenized:
    """Split ``text`` into aligner units, only ever *within* its whitespace tokens. A word made only
    of other whitespace (U+3000, NBSP) gives no unit.

    - punctuation and symbols (Unicode categories P* and S*) become tokens of their own, except a
      hyphen, apostrophe, period, comma or middle dot between two letters/digits ("eu-haushalts",
      "3.5", "1,000" stay whole);
    - ``char_units`` cuts into per-character units (a character with its combining marks; runs of
      other scripts, e.g. Latin or digits, stay together);
    - ``pretokenized=True`` skips all of this and takes the whitespace tokens as they are.
    """
    words = input_words(text)
    if pretokenized:
        tokens = text.split()
        if tokens == words:  # the usual case: no other whitespace inside words, one unit per word
            return Tokenized(tokens, list(range(len(tokens))))
    tokens = []
    origin: list[int] = []
    for index, word in enumerate(words):
        pieces = word.split() if pretokenized else _PUNCT_SPLIT.findall(word)
        if char_units and not pretokenized:
            pieces = [unit for piece in pieces for unit in _CHAR_SPLIT.findall(piece)]
        tokens.extend(pieces)
        origin.extend([index] * len(pieces))
    return Tokenized(tokens, origin)


@dataclass(frozen=True)
class Pretokenizer:
    """Pre-tokenisation settings for one language pair.

    ``segment``: ``auto`` gives per-character units to languages written without spaces
    (``Language.no_space``: zh, ja, th, my, km); ``chars`` does that for any language; ``none``
    keeps the given whitespace tokens (use it for already-segmented text such as the zh/ja gold
    files). ``max_tokens``: a line with more tokens after pre-tokenisation is an error. ``empty``
    (a line empty on one or both sides): ``keep`` (default) keeps the pair, writes an empty token
    line and an empty alignment for it; ``error`` rejects it.
    """

    source_lang: Language
    target_lang: Language
    segment: str = "auto"
    pretokenized: bool = False
    max_tokens: int = DEFAULT_MAX_TOKENS
    empty: str = "keep"

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise WeamError(f"--max-tokens must be at least 1, got {self.max_tokens}")
        if self.empty not in EMPTY_POLICIES:
            raise WeamError(f"--on-empty must be one of {', '.join(EMPTY_POLICIES)}, got '{self.empty}'")
        segment_units(self.source_lang, self.segment)  # validates the mode

    def describe(self) -> dict[str, object]:
        """What align.json records about the units (pretrain must tokenise new text the same way)."""
        return {
            "mode": self.segment,
            "source_char_units": self.source_char_units,
            "target_char_units": self.target_char_units,
            "pretokenized": self.pretokenized,
            "punctuation_split": not self.pretokenized,
            "max_tokens": self.max_tokens,
            "empty_lines": self.empty,
        }

    @cached_property  # read for every pair
    def source_char_units(self) -> bool:
        return not self.pretokenized and segment_units(self.source_lang, self.segment)

    @cached_property
    def target_char_units(self) -> bool:
        return not self.pretokenized and segment_units(self.target_lang, self.segment)

    def pair(
        self, pair: Pair, source_path: str | PathLike, target_path: str | PathLike
    ) -> tuple[Tokenized, Tokenized]:
        """Pre-tokenise both sides of ``pair``, enforcing the length limit and the empty-line policy."""
        src = pretokenize(pair.source, char_units=self.source_char_units, pretokenized=self.pretokenized)
        tgt = pretokenize(pair.target, char_units=self.target_char_units, pretokenized=self.pretokenized)
        for side, path in ((src, source_path), (tgt, target_path)):
            if len(side.tokens) > self.max_tokens:
                raise WeamError(
                    f"{len(side.tokens)} tokens after pre-tokenisation, over --max-tokens {self.max_tokens} "
                    "(raise the limit or remove the line)",
                    path,
                    pair.line,
                )
            if not side.tokens and self.empty == "error":
                raise WeamError(
                    "empty line (pass --on-empty keep to keep it with no alignment)", path, pair.line
                )
        return src, tgt


def guess_language(path: str | PathLike) -> str | None:
    """The language code a file name ends with (``train.de.gz`` → ``de``), if it is a known one."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix.lstrip(".")
    if not suffix:
        return None
    try:
        return language(suffix).code
    except WeamError:
        return None
