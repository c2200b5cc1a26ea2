"""Pre-training input: path patterns, raw files aligned on the fly, and pair examples mapped to
pieces once and cached with ``datasets``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from weamcli.align.folder import read_alignment_folder
from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, building, missing_file
from weamcli.common.languages import Language, language
from weamcli.common.progress import Progress, quiet
from weamcli.pretrain.masking import build_pair, word_pieces
from weamcli.pretrain.objectives.code_switch import LEXICON_FILE, CodeSwitch, read_lexicon, switch_words

# 2: lone "▁" pieces belong to no word (masking.word_pieces); 3: word links at piece level (link_*)
DATA_VERSION = 3


def expand_pattern(pattern: str, lang: Language) -> str:
    """Substitute ``{lang}``, ``{iso3}``, ``{ntrex}``, ``{flores}``, ``{tatoeba}`` in a path pattern."""
    values = {
        "lang": lang.code,
        "iso3": lang.iso3,
        "ntrex": lang.ntrex,
        "flores": lang.flores,
        "tatoeba": lang.tatoeba,
    }
    try:
        return pattern.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise WeamError(
            f"bad placeholder in path pattern '{pattern}' ({exc}); use {{lang}}, {{iso3}}, {{ntrex}}"
        ) from None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def check_parallel_files(source: Path, target: Path) -> int:
    """Both files of a raw parallel corpus are there with as many lines; returns the count."""
    for p in (source, target):
        if not p.is_file():
            raise missing_file(p, "parallel file")
    if os.path.samefile(source, target):
        raise WeamError(
            f"source and target are the same file ({target}): a parallel corpus has two sides", source
        )
    ns, nt = _count_lines(source), _count_lines(target)
    if ns != nt:
        short = source if ns < nt else target
        raise WeamError(
            f"has {min(ns, nt)} lines but its parallel file has {max(ns, nt)}", short, min(ns, nt) + 1
        )
    return ns


def align_raw(source: Path, target: Path, out_dir: Path, lang: Language, progress: Progress) -> Path:
    """Align raw parallel files into ``out_dir`` (intersection: 1-to-1 links for the swap), or
    reuse a complete alignment already there."""
    ns = check_parallel_files(source, target)
    meta_file = out_dir / "align.json"
    if meta_file.is_file() and (out_dir / "alignment.txt").is_file():
        with contextlib.suppress(json.JSONDecodeError, OSError):
            if json.loads(meta_file.read_text(encoding="utf-8")).get("pairs") == ns:
                progress(f"reusing alignment {out_dir}")
                return out_dir
    from weamcli.align.run import align_corpus

    progress(f"aligning {source.name} ↔ {target.name} into {out_dir} (eflomal, intersection)")
    align_corpus(
        source,
        target,
        out_dir,
        source_lang="en",
        target_lang=lang.code,
        symmetrize="intersect",
        overwrite=True,
        crlf="strip",  # NTREX-128 ships with Windows line endings
        progress=quiet,  # one line above suffices
    )
    return out_dir


def sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    return sha(tokenizer.backend_tokenizer.to_str().encode(), type(tokenizer).__name__)


def _encode_batch(
    batch, indices, *, tokenizer, src_no_space, tgt_no_space, max_length, swap, subwords, switch, lexicon
):
    src = word_pieces(batch["src"], tokenizer, no_space=src_no_space)
    tgt = word_pieces(batch["tgt"], tokenizer, no_space=tgt_no_space)
    out: dict[str, list] = {
        k: []
        for k in (
            "input_ids",
            "sep",
            "swap_from",
            "swap_to",
            "link_src",
            "link_src_n",
            "link_tgt",
            "link_tgt_n",
        )
    }
    for s, t, links in zip(src, tgt, batch["links"], strict=True):
        ex = build_pair(
            s,
            t,
            [tuple(x) for x in links],
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            max_length=max_length,
            swap=swap,
            subwords=subwords,
        )
        for k in out:
            out[k].append(ex[k])
    if switch is not None:
        switched = [
            switch_words(words, links, lexicon, prob=switch.prob, seed=switch.seed, index=index)
            for words, links, index in zip(batch["src"], batch["links"], indices, strict=True)
        ]
        pieces = word_pieces(switched, tokenizer, no_space=src_no_space)
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        out["cs_input_ids"] = [[cls_id, *x["ids"][: max_length - 2], sep_id] for x in pieces]
    return out


def prepare_pairs(
    folder: Path,
    lang: Language,
    tokenizer,
    *,
    max_length: int,
    swap: str,
    subwords: str,
    cache_dir: Path,
    progress: Progress,
    code_switch: CodeSwitch | None = None,
):
    """The folder's pairs as a ``datasets.Dataset`` of pair examples, mapped to pieces once and
    cached on disk (keyed by the alignment files, tokenizer and options). Returns (dataset, corpus
    fingerprint); the fingerprint ignores the swap options (they do not change the text) and the
    code-switching (the pairs are the same). With ``code_switch`` the examples also hold the
    code-switched English sentence, ``cs_input_ids`` (``[CLS] … [SEP]``, at most ``max_length``)."""
    from datasets import Dataset, disable_progress_bars, load_from_disk

    disable_progress_bars()  # progress is reported through ``progress``

    files = [folder / n for n in ("source.tok", "target.tok", "alignment.txt")]
    text_key = sha(
        [_file_sha(f) for f in files], tokenizer_fingerprint(tokenizer), max_length, lang.code, DATA_VERSION
    )
    key = sha(text_key, swap, subwords)[:20]
    lexicon = None
    if code_switch is not None:
        lexicon_file = folder / LEXICON_FILE
        lexicon = read_lexicon(lexicon_file)  # checked before the cache: a run needs the file
        key = sha(key, _file_sha(lexicon_file), code_switch.prob, code_switch.seed)[:20]
    target = cache_dir / f"pairs-{lang.code}-{key}"
    waiting = f"waiting for another run mapping the same {lang.code} pairs ({target})"
    with building(target, lambda: progress(waiting)):  # mapped once, even by runs side by side
        if (target / "dataset_info.json").is_file():
            progress(f"using cached pieces {target}")
            return load_from_disk(str(target)), text_key
    meta, src, tgt, links = read_alignment_folder(folder)
    if meta.get("target_lang"):
        try:
            found = language(str(meta["target_lang"]))
        except WeamError:
            found = None
        if found is not None and found.code != lang.code:
            raise WeamError(
                f"holds target language '{meta['target_lang']}', not '{lang.code}'", folder / "align.json"
            )
    raw = Dataset.from_dict({"src": src, "tgt": tgt, "links": [[list(x) for x in ls] for ls in links]})
    progress(f"mapping {len(raw)} {lang.code} pairs to pieces (once; cached in {target})")
    ds = raw.map(
        _encode_batch,
        batched=True,
        batch_size=512,
        with_indices=True,
        remove_columns=raw.column_names,
        new_fingerprint=key,
        fn_kwargs={
            "tokenizer": tokenizer,
            "src_no_space": language("en").no_space,
            "tgt_no_space": lang.no_space,
            "max_length": max_length,
            "swap": swap,
            "subwords": subwords,
            "switch": code_switch,
            "lexicon": lexicon,
        },
    )
    with atomic_dir(target, overwrite=True) as tmp:
        ds.save_to_disk(str(tmp))
    return load_from_disk(str(target)), text_key


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        if Path(path).is_file():  # there, but unreadable: the system's own words
            raise WeamError(f"cannot read it ({exc.strerror})", path) from None
        raise missing_file(path) from None
    return h.hexdigest()
