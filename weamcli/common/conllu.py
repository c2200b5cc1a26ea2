"""Word-level tagging data: CoNLL-U (UD treebanks) and two-column CoNLL (``word<TAB>tag``).

A sentence is its words and one tag per word, with the line each word came from, so a bad tag can
be reported as ``file:line``. CoNLL-U multiword-token lines (ID ``3-4``) and empty nodes (ID
``5.1``) are not words: UD-POS scores the syntactic words, as XTREME(-R) does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from weamcli.common.errors import WeamError
from weamcli.common.files import missing_file

UPOS_COLUMN = 3  # 0-based: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC


@dataclass
class TaggedSentence:
    id: str
    words: list[str]
    tags: list[str]
    lines: list[int] = field(default_factory=list)  # the file line of each word

    def __len__(self) -> int:
        return len(self.words)


def read_tagged(path: str | Path) -> list[TaggedSentence]:
    """Sentences of a ``.conllu`` file (UPOS), else of a two-column CoNLL file."""
    path = Path(path)
    if not path.is_file():
        raise missing_file(path)
    if path.suffix.lower() == ".conllu":
        return read_conllu(path)
    return read_two_column(path)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise WeamError(f"not UTF-8 text ({exc.reason})", path) from None


def read_conllu(path: str | Path, tag_column: int = UPOS_COLUMN) -> list[TaggedSentence]:
    """Sentences with their word forms and UPOS tags; ids from ``# sent_id`` when every sentence
    has a distinct one, else the sentence's position (1-based)."""
    path = Path(path)
    sentences: list[TaggedSentence] = []
    sent_ids: list[str | None] = []
    current = TaggedSentence("", [], [], [])
    sent_id: str | None = None

    def close() -> None:
        nonlocal current, sent_id
        if current.words:
            sentences.append(current)
            sent_ids.append(sent_id)
        current, sent_id = TaggedSentence("", [], [], []), None

    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            close()
            continue
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() == "sent_id":
                sent_id = value.strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise WeamError(
                f"a CoNLL-U word line has 10 tab-separated columns, this one {len(cols)}", path, number
            )
        word_id = cols[0]
        if "-" in word_id or "." in word_id:  # multiword token range / empty node: not a word
            continue
        if not word_id.isdigit():
            raise WeamError(f"word ID '{word_id}' is not a number, a range or an empty node", path, number)
        form, tag = cols[1], cols[tag_column]
        if not form or tag in ("", "_"):
            raise WeamError("word without a form or a tag", path, number)
        current.words.append(form)
        current.tags.append(tag)
        current.lines.append(number)
    close()
    if not sentences:
        raise WeamError("no sentences in this CoNLL-U file", path)
    use_ids = all(sent_ids) and len(set(sent_ids)) == len(sent_ids)
    for k, sentence in enumerate(sentences):
        sentence.id = str(sent_ids[k]) if use_ids else str(k + 1)
    return sentences


def read_two_column(path: str | Path) -> list[TaggedSentence]:
    """``word<TAB>tag`` (or ``word tag``) per line, a blank line between sentences; the last column
    is the tag, so ``-DOCSTART-`` lines and comment lines (``#``) are skipped."""
    path = Path(path)
    sentences: list[TaggedSentence] = []
    current = TaggedSentence("", [], [], [])
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            if current.words:
                sentences.append(current)
                current = TaggedSentence("", [], [], [])
            continue
        if line.startswith("#") or line.startswith("-DOCSTART-"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) < 2 or not cols[0] or not cols[-1].strip():
            raise WeamError("a CoNLL line needs a word and a tag (word<TAB>tag)", path, number)
        current.words.append(cols[0])
        current.tags.append(cols[-1].strip())
        current.lines.append(number)
    if current.words:
        sentences.append(current)
    if not sentences:
        raise WeamError("no sentences in this CoNLL file", path)
    for k, sentence in enumerate(sentences):
        sentence.id = str(k + 1)
    return sentences
