"""From aligned words to model inputs: word→subword mapping, the swap map, masking, collation.

The pair layout is ``[CLS] en [SEP] xx [SEP]`` (TLM, no language or segment embeddings: token types
stay 0 and positions run on). A batch carries ``swap_index`` [batch, seq]: position j's vector for
L_cp is taken from position ``swap_index[j]`` (identity where unaligned), so L_cp is one gather.
The open choices of the WEAM recipe (see the project's weam-method note) are options: ``swap`` and
``subwords`` (``build_pair``), ``mask_prob`` (``mask_tokens``). Masking is done at step time from
hashed random numbers, so weam, tlm and mlm, and a resumed run, mask alike (``mask_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SWAP_POLICIES = ("one-to-one", "all")
SUBWORD_POLICIES = ("first-piece", "single-piece")


def word_pieces(
    texts_tokens: Sequence[Sequence[str]], tokenizer, *, no_space: bool
) -> list[dict[str, list[int]]]:
    """Tokenise pre-tokenised sentences; map each word to its pieces through the offset mapping.

    Words are joined with single spaces, or with nothing for languages written without spaces
    (their .tok holds per-character units). Returns per sentence ``ids`` (pieces, no specials),
    ``first`` (index of each word's first piece, -1 if it produced none) and ``count`` (pieces).
    A piece that covers only the joining space, or that is only sentencepiece's word-boundary
    marker, belongs to no word: XLM-R's fast tokenizer gives a lone "▁" (before "." or at the start
    of Chinese text) the offsets of the next character, and it must not become that word's first
    piece (it would be swapped and scored in L_cp instead of the real piece).
    """
    joiner = "" if no_space else " "
    texts, owners = [], []
    for tokens in texts_tokens:
        owner: list[int] = []
        for w, tok in enumerate(tokens):
            if w and joiner:
                owner.append(-1)
            owner.extend([w] * len(tok))
        texts.append(joiner.join(tokens))
        owners.append(owner)
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False)
    marker: dict[int, bool] = {}  # id → is it only a word-boundary marker (cached per call)

    def is_marker(i: int) -> bool:
        if i not in marker:
            piece = tokenizer.convert_ids_to_tokens(i)
            marker[i] = isinstance(piece, str) and not piece.replace("\u2581", "").strip()
        return marker[i]

    out = []
    rows = zip(enc["input_ids"], enc["offset_mapping"], owners, texts_tokens, strict=True)
    for ids, offsets, owner, tokens in rows:
        first = [-1] * len(tokens)
        count = [0] * len(tokens)
        for p, (a, b) in enumerate(offsets):
            if is_marker(ids[p]):
                continue
            word = next((owner[c] for c in range(a, min(b, len(owner))) if owner[c] >= 0), -1)
            if word < 0:
                continue
            if first[word] < 0:
                first[word] = p
            count[word] += 1
        out.append({"ids": list(ids), "first": first, "count": count})
    return out


def _budget(a: int, b: int, budget: int) -> tuple[int, int]:
    """Longest-first truncation of two sides to ``budget`` pieces in all."""
    while a + b > budget:
        if a >= b:
            a -= 1
        else:
            b -= 1
    return a, b


def build_pair(
    src: dict[str, list[int]],
    tgt: dict[str, list[int]],
    links: Sequence[tuple[int, int]],
    *,
    cls_id: int,
    sep_id: int,
    max_length: int,
    swap: str = "one-to-one",
    subwords: str = "first-piece",
) -> dict[str, Any]:
    """One training example: ``input_ids`` in the pair layout, ``sep`` (the first [SEP]'s position),
    the directed swap map ``swap_from``/``swap_to`` (positions in ``input_ids``) and the word links
    at piece level.

    - ``swap``: which word links are swapped. ``one-to-one`` (default) keeps only links whose source
      word and target word each have exactly one link, so every swapped position has one partner;
      ``all`` keeps every link, and a word with several partners takes the vector of its
      first-listed partner (the map is then not a permutation).
    - ``subwords``: alignments link words, the model sees pieces. ``first-piece`` (default) swaps the
      vectors of the two words' first pieces and scores L_cp on first pieces; ``single-piece`` swaps
      only words that are exactly one piece on both sides.

    Word links at piece level (``link_src``/``link_tgt``: a word's first piece in ``input_ids``;
    ``link_src_n``/``link_tgt_n``: how many pieces it has, truncation counted) are filtered by
    ``swap`` but not by ``subwords`` (align-l2 reads them; a word's pieces are consecutive).
    """
    if swap not in SWAP_POLICIES:
        raise ValueError(f"swap must be one of {SWAP_POLICIES}")
    if subwords not in SUBWORD_POLICIES:
        raise ValueError(f"subwords must be one of {SUBWORD_POLICIES}")
    a, b = _budget(len(src["ids"]), len(tgt["ids"]), max_length - 3)
    input_ids = [cls_id, *src["ids"][:a], sep_id, *tgt["ids"][:b], sep_id]
    tgt_base = a + 2
    if swap == "one-to-one":
        n_src: dict[int, int] = {}
        n_tgt: dict[int, int] = {}
        for i, j in links:
            n_src[i] = n_src.get(i, 0) + 1
            n_tgt[j] = n_tgt.get(j, 0) + 1
        links = [(i, j) for i, j in links if n_src[i] == 1 and n_tgt[j] == 1]
    partner: dict[int, int] = {}
    word_links: list[tuple[int, int, int, int]] = []
    for i, j in links:
        pi, pj = src["first"][i], tgt["first"][j]
        if pi < 0 or pj < 0 or pi >= a or pj >= b:
            continue  # the word produced no piece, or was truncated away
        word_links.append((1 + pi, min(src["count"][i], a - pi), tgt_base + pj, min(tgt["count"][j], b - pj)))
        if subwords == "single-piece" and (src["count"][i] != 1 or tgt["count"][j] != 1):
            continue
        x, y = 1 + pi, tgt_base + pj
        partner.setdefault(x, y)  # first-listed partner wins (only matters for swap="all")
        partner.setdefault(y, x)
    order = sorted(partner)
    return {
        "input_ids": input_ids,
        "sep": a + 1,
        "swap_from": order,
        "swap_to": [partner[p] for p in order],
        "link_src": [x[0] for x in word_links],
        "link_src_n": [x[1] for x in word_links],
        "link_tgt": [x[2] for x in word_links],
        "link_tgt_n": [x[3] for x in word_links],
    }


@dataclass
class PairCollator:
    """Pads pair examples into tensors; no randomness (masking is done at step time). Examples
    numbered by ``NumberedExamples`` keep their number (``example``).

    ``id_map`` (a LongTensor full-vocabulary id → training id) remaps ids when the vocabulary is
    trimmed. ``split`` adds the unpaired two-row layout used by the MLM baseline: the same pair batch
    (same masks) cut into ``[CLS] en [SEP]`` and ``[CLS] xx [SEP]`` through ``split_index``; the
    objectives that encode the two sentences separately without masks (align-l2, contrastive) use
    the same rows. ``links`` (with ``split``) adds the word links as indices into it.
    ``code_switch`` collates the code-switched English sentences (``cs_input_ids``, one row each)
    instead of the pairs.
    """

    pad_id: int
    id_map: Any = None
    split: bool = False
    links: bool = False
    code_switch: bool = False

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        if self.links and not self.split:
            raise ValueError("links index the two-row layout: collate with split=True")
        column = "cs_input_ids" if self.code_switch else "input_ids"
        n = len(features)
        seq = max(len(f[column]) for f in features)
        ids = torch.full((n, seq), self.pad_id, dtype=torch.long)
        attention = torch.zeros((n, seq), dtype=torch.long)
        maskable = torch.zeros((n, seq), dtype=torch.bool)
        swap_index = torch.arange(seq).repeat(n, 1)
        for r, f in enumerate(features):
            length = len(f[column])
            ids[r, :length] = torch.tensor(f[column], dtype=torch.long)
            attention[r, :length] = 1
            if self.code_switch:  # one sentence: every piece between [CLS] and [SEP]
                maskable[r, 1 : length - 1] = True
                continue
            sep = f["sep"]
            maskable[r, 1:sep] = True
            maskable[r, sep + 1 : length - 1] = True
            if f["swap_from"]:
                swap_index[r, torch.tensor(f["swap_from"])] = torch.tensor(f["swap_to"])
        if self.id_map is not None:
            ids = self.id_map[ids]
        batch = {
            "input_ids": ids,
            "attention_mask": attention,
            "maskable": maskable,
            "swap_index": swap_index,
        }
        if "example" in features[0]:  # numbered by the trainer: masking's per-example keys
            batch["example"] = torch.tensor([f["example"] for f in features], dtype=torch.long)
        if self.split:
            batch.update(self._split(features, seq))
        if self.links:
            batch.update(self._links(features, batch["split_index"].shape[1]))
        return batch

    @staticmethod
    def _links(features: list[dict[str, Any]], width: int) -> dict[str, Any]:
        """Word links as flat indices into the two-row layout (``[2n, width]`` flattened): row
        ``link_src[k]`` lists the pieces of link k's English word, ``link_tgt[k]`` its partner's,
        padded with -1. In row 2r+1 a pair position p sits at p - sep ([CLS] stays at 0)."""
        import torch

        src_rows, tgt_rows = [], []
        for r, f in enumerate(features):
            en, xx, sep = 2 * r * width, (2 * r + 1) * width, f["sep"]
            for p, k, q, m in zip(
                f["link_src"], f["link_src_n"], f["link_tgt"], f["link_tgt_n"], strict=True
            ):
                src_rows.append([en + p + i for i in range(k)])
                tgt_rows.append([xx + q - sep + i for i in range(m)])

        def pad(rows: list[list[int]]) -> torch.Tensor:
            out = torch.full((len(rows), max((len(x) for x in rows), default=1)), -1, dtype=torch.long)
            for k, row in enumerate(rows):
                out[k, : len(row)] = torch.tensor(row, dtype=torch.long)
            return out

        return {"link_src": pad(src_rows), "link_tgt": pad(tgt_rows)}

    @staticmethod
    def _split(features: list[dict[str, Any]], seq: int) -> dict[str, Any]:
        """Index of each position of the two-row layout into the flattened pair batch
        (``n * seq`` = padding sentinel): row 2r = ``[CLS] en [SEP]``, row 2r+1 = ``[CLS] xx [SEP]``."""
        import torch

        rows = []
        for r, f in enumerate(features):
            base, length, sep = r * seq, len(f["input_ids"]), f["sep"]
            rows.append([base + p for p in range(sep + 1)])
            rows.append([base] + [base + p for p in range(sep + 1, length)])
        width = max(len(x) for x in rows)
        pad = len(features) * seq
        index = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):
            index[k, : len(row)] = torch.tensor(row)
            attention[k, : len(row)] = 1
        return {"split_index": index, "split_attention": attention}


# splitmix64's constants as signed int64 (torch's int64 arithmetic wraps like uint64's)
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)
_MIX1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MIX2 = 0x94D049BB133111EB - (1 << 64)


def _shift(x, k: int):
    """Logical right shift of an int64 tensor (``>>`` is arithmetic: it copies the sign bit)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def _mix(x):
    """splitmix64's finaliser: every bit of the output depends on every bit of the input."""
    x = (x ^ _shift(x, 30)) * _MIX1
    x = (x ^ _shift(x, 27)) * _MIX2
    return x ^ _shift(x, 31)


def row_keys(seed: int, examples):
    """One int64 key per row from a step's masking seed and the rows' example numbers."""
    return _mix(_mix(examples.long()) + seed)


def hashed_bits(keys, length: int, draw: int):
    """[rows, length] hashed int64 values for draw number ``draw``: position p of row r is the
    (p * 4 + draw + 1)-th output of splitmix64 started at ``keys[r]``, so it does not depend on the
    batch's padded length or on the other rows."""
    import torch

    pos = torch.arange(length, device=keys.device, dtype=torch.long)
    return _mix(keys.unsqueeze(1) + (pos * 4 + draw + 1).unsqueeze(0) * _GOLDEN)


def hashed_uniform(keys, length: int, draw: int):
    """Uniform floats in [0, 1) (24 random bits, float32) from ``hashed_bits``."""
    return _shift(hashed_bits(keys, length, draw), 40).float() * (1.0 / (1 << 24))


@dataclass
class MaskDraws:
    """The random numbers of one masking, each [rows, length]: ``draw`` (a position is masked when
    its draw is below the masking probability), ``how`` (then [MASK] below 0.8, a random piece below
    0.9, else unchanged) and ``picks`` (the random piece's index into the pool)."""

    draw: Any
    how: Any
    picks: Any


def mask_draws(shape, device, n_pool: int, *, keys=None, generator=None) -> MaskDraws:
    """Masking's random numbers: from ``keys`` (``row_keys``, one per row: each row's numbers are a
    function of its key alone), else ``generator``, else torch's global RNG."""
    import torch

    if keys is not None:
        keys = keys.to(device)
        return MaskDraws(
            hashed_uniform(keys, shape[1], 0),
            hashed_uniform(keys, shape[1], 1),
            _shift(hashed_bits(keys, shape[1], 2), 1) % n_pool,
        )
    kw = {"generator": generator} if generator is not None else {}
    draw = torch.rand(shape, device=device, **kw)
    how = torch.rand(shape, device=device, **kw)
    return MaskDraws(draw, how, torch.randint(n_pool, shape, device=device, **kw))


def apply_masks(input_ids, maskable, draws: MaskDraws, *, mask_prob: float, mask_id: int, replace_pool):
    """BERT masking over ``maskable`` positions with the given draws: returns (masked input ids,
    labels with -100 at unmasked positions). Every row with a maskable position gets at least one
    mask (an all-unmasked batch would make the loss NaN)."""
    draw = draws.draw
    masked = (draw < mask_prob) & maskable
    # rows that drew no mask: mask their maskable position with the smallest draw
    empty = ~masked.any(dim=1) & maskable.any(dim=1)
    if empty.any():
        pick = draw.masked_fill(~maskable, 2.0).argmin(dim=1)
        masked[empty.nonzero().squeeze(1), pick[empty]] = True
    labels = input_ids.masked_fill(~masked, -100)
    ids = input_ids.clone()
    ids[masked & (draws.how < 0.8)] = mask_id
    rnd = masked & (draws.how >= 0.8) & (draws.how < 0.9)
    ids[rnd] = replace_pool.to(input_ids.device)[draws.picks[rnd]]
    return ids, labels


def mask_tokens(
    input_ids, maskable, *, mask_prob: float, mask_id: int, replace_pool, generator=None, keys=None
):
    """BERT masking over ``maskable`` positions (``mask_draws``, then ``apply_masks``): returns
    (masked input ids, labels with -100 at unmasked positions). ``replace_pool``: LongTensor of ids
    for the 10% random case. Randomness: ``keys``, else ``generator``, else torch's global RNG.

    Each piece is masked with probability ``mask_prob`` (default 0.3, the paper's value), then
    BERT's 80/10/10: [MASK], a random piece, or unchanged. Random pieces are drawn from the pieces
    the corpus uses, so a vocabulary trimmed to those pieces sees exactly the same inputs.

    Masking happens here, at step time, not in the collator: the data loader fetches one batch
    ahead, and randomness there would make a resumed run differ. Its random numbers are never drawn
    from torch's global RNG (which dropout also consumes, differently for the MLM layout's shape):
    in training each number is a hash of (seed, optimizer step, example, position, draw)
    (``row_keys``, ``hashed_uniform``), the example being its index in the training set (the
    trainer numbers them). So weam, tlm and mlm mask the same positions with the same replacements
    at every step, a resumed run masks exactly as an uninterrupted one, and an example is masked
    alike whichever micro-batch, process or padding it lands in: 2 torchrun processes of 4 pairs
    mask as 1 process of 4 pairs with 2 accumulation steps. Hashing (splitmix64 on int64 tensors)
    draws on the batch's own device with no host round trip, and the same numbers on any device.
    """
    draws = mask_draws(input_ids.shape, input_ids.device, len(replace_pool), keys=keys, generator=generator)
    return apply_masks(
        input_ids, maskable, draws, mask_prob=mask_prob, mask_id=mask_id, replace_pool=replace_pool
    )


class NumberedExamples:
    """A map-style dataset that adds each example's index (``example``) to it: masking keys on it,
    so an example is masked alike whichever batch or process it lands in."""

    def __init__(self, data):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.data[index], "example": int(index)}

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        # datasets.Dataset fetches a batch in one call; the DataLoader uses it when present
        rows = self.data.__getitems__(indices) if hasattr(self.data, "__getitems__") else None
        if rows is None:
            rows = [self.data[i] for i in indices]
        return [{**row, "example": int(i)} for row, i in zip(rows, indices, strict=True)]


def split_layout(ids, labels, split_index, pad_id: int):
    """Cut a masked pair batch into the MLM baseline's unpaired rows (same masks, same tokens)."""
    import torch

    flat_ids = torch.cat([ids.reshape(-1), ids.new_full((1,), pad_id)])
    flat_labels = torch.cat([labels.reshape(-1), labels.new_full((1,), -100)])
    return flat_ids[split_index], flat_labels[split_index]
