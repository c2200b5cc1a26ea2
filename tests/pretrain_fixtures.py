"""Small alignment folders for the pretrain tests, in `weam align`'s output format, built from the
first lines of real NTREX-128 data: words split by a simple regex (characters for Chinese) and
linked along the diagonal, with the lexicon those links give; or generated from a small word list
(`make_generated_alignment_folder`) where a test must also run without the real data. Link quality
does not matter to these tests, only the format."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

NTREX = "ntrex128/NTREX-128"
_WORDS = re.compile(r"\w+|[^\w\s]")


def make_alignment_folder(
    data: Path, out: Path, lang: str, ntrex: str, pairs: int, *, no_space: bool = False
) -> Path:
    src = (data / NTREX / "newstest2019-src.eng.txt").read_text(encoding="utf-8").splitlines()[:pairs]
    tgt = (data / NTREX / f"newstest2019-ref.{ntrex}.txt").read_text(encoding="utf-8").splitlines()[:pairs]
    src_tok = [_WORDS.findall(s) for s in src]
    tgt_tok = [list(t.replace(" ", "")) if no_space else _WORDS.findall(t) for t in tgt]
    links = []
    for s, t in zip(src_tok, tgt_tok, strict=True):
        pairs_ = {(i, round(i * len(t) / len(s))) for i in range(len(s))}
        links.append(" ".join(f"{i}-{j}" for i, j in sorted(pairs_) if j < len(t)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "source.tok").write_text("".join(" ".join(x) + "\n" for x in src_tok), encoding="utf-8")
    (out / "target.tok").write_text("".join(" ".join(x) + "\n" for x in tgt_tok), encoding="utf-8")
    (out / "alignment.txt").write_text("".join(x + "\n" for x in links), encoding="utf-8")
    (out / "lexicon.tsv").write_text(_lexicon(src_tok, tgt_tok, links), encoding="utf-8")
    meta = {
        "source_lang": "en",
        "target_lang": lang,
        "backend": "diagonal",
        "symmetrize": "none",
        "pairs": len(src),
    }
    (out / "align.json").write_text(json.dumps(meta), encoding="utf-8")
    return out


# English–German word pairs for generated corpora (common words: a few pieces each in XLM-R)
_WORD_PAIRS = [
    ("the", "der"), ("house", "Haus"), ("is", "ist"), ("small", "klein"), ("old", "alt"),
    ("woman", "Frau"), ("man", "Mann"), ("reads", "liest"), ("a", "ein"), ("book", "Buch"),
    ("today", "heute"), ("city", "Stadt"), ("water", "Wasser"), ("cold", "kalt"), ("and", "und"),
    ("we", "wir"), ("see", "sehen"), ("tree", "Baum"), ("green", "grün"), ("child", "Kind"),
    ("plays", "spielt"), ("garden", "Garten"), ("in", "im"), ("evening", "Abend"), ("dog", "Hund"),
    ("runs", "läuft"), ("fast", "schnell"), ("school", "Schule"), ("new", "neu"), ("train", "Zug"),
]  # fmt: skip


def make_generated_alignment_folder(out: Path, lang: str, pairs: int, *, seed: int = 0) -> Path:
    """An alignment folder of ``pairs`` generated sentence pairs (4–14 words, word by word from
    ``_WORD_PAIRS`` in English word order), linked along the diagonal: no real data needed."""
    rng = random.Random(seed)
    src_tok, tgt_tok, links = [], [], []
    for _ in range(pairs):
        words = [rng.choice(_WORD_PAIRS) for _ in range(rng.randint(4, 14))]
        src_tok.append([en for en, _ in words] + ["."])
        tgt_tok.append([de for _, de in words] + ["."])
        links.append(" ".join(f"{i}-{i}" for i in range(len(words) + 1)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "source.tok").write_text("".join(" ".join(x) + "\n" for x in src_tok), encoding="utf-8")
    (out / "target.tok").write_text("".join(" ".join(x) + "\n" for x in tgt_tok), encoding="utf-8")
    (out / "alignment.txt").write_text("".join(x + "\n" for x in links), encoding="utf-8")
    (out / "lexicon.tsv").write_text(_lexicon(src_tok, tgt_tok, links), encoding="utf-8")
    meta = {"source_lang": "en", "target_lang": lang, "backend": "generated", "symmetrize": "none"}
    (out / "align.json").write_text(json.dumps({**meta, "pairs": pairs}), encoding="utf-8")
    return out


def _lexicon(src_tok: list[list[str]], tgt_tok: list[list[str]], links: list[str]) -> str:
    """lexicon.tsv as `weam align` writes it (source, target, p(target | source), count)."""
    counts: Counter[tuple[str, str]] = Counter()
    for s, t, line in zip(src_tok, tgt_tok, links, strict=True):
        for link in line.split():
            i, j = map(int, link.split("-"))
            counts[(s[i], t[j])] += 1
    totals: Counter[str] = Counter()
    for (src, _), n in counts.items():
        totals[src] += n
    rows = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    return "source\ttarget\tprob\tcount\n" + "".join(
        f"{src}\t{tgt}\t{n / totals[src]:.6g}\t{n}\n" for (src, tgt), n in rows
    )


def run_pretrain(langs: list[str], out: Path, *, cache_dir=None, callbacks=None, progress=None, **options):
    """`pretrain()` with the settings given as keywords, as the tests write them."""
    from weamcli.pretrain.run import pretrain
    from weamcli.pretrain.settings import PretrainSettings

    settings = PretrainSettings(langs=list(langs), out=str(out), **options)
    return pretrain(settings, cache_dir=cache_dir, callbacks=callbacks, progress=progress)
