"""Word→piece mapping, the swap map, collation and masking on real tokenizer output."""

from __future__ import annotations

import pytest
import torch

from weamcli.common.models import load_tokenizer
from weamcli.pretrain.masking import (
    NumberedExamples,
    PairCollator,
    build_pair,
    mask_tokens,
    row_keys,
    split_layout,
    word_pieces,
)


@pytest.fixture(scope="module")
def tok(tiny_ref):
    return load_tokenizer(tiny_ref)


def test_word_pieces_with_spaces(tok):
    words = ["Unbelievably", ",", "the", "Bundesverfassungsgericht", "ruled"]
    [enc] = word_pieces([words], tok, no_space=False)
    assert enc["ids"] == tok(" ".join(words), add_special_tokens=False)["input_ids"]
    assert all(f >= 0 for f in enc["first"])
    assert enc["count"][3] > 1  # a long compound splits into several pieces
    # each word's pieces decode back to the word
    starts = enc["first"] + [len(enc["ids"])]
    for w, word in enumerate(words):
        pieces = enc["ids"][enc["first"][w] : enc["first"][w] + enc["count"][w]]
        assert tok.decode(pieces).strip() == word
        assert enc["first"][w] + enc["count"][w] <= starts[w + 1]


def test_word_pieces_without_spaces_map_characters(tok):
    chars = list("威尔士国民议会")
    [enc] = word_pieces([chars], tok, no_space=True)
    assert enc["ids"] == tok("".join(chars), add_special_tokens=False)["input_ids"]
    assert sum(enc["count"]) <= len(enc["ids"])
    # a piece spanning several characters counts for its first character only
    assert all(f >= 0 or c == 0 for f, c in zip(enc["first"], enc["count"], strict=True))
    assert enc["first"][0] in (0, 1)


def _sent(ids, counts):
    first, pos = [], 0
    for c in counts:
        first.append(pos)
        pos += c
    return {"ids": ids, "first": first, "count": counts}


def test_build_pair_swap_policies():
    src = _sent([10, 11, 12, 13], [1, 2, 1])  # 3 words, word 1 has two pieces
    tgt = _sent([20, 21, 22], [1, 1, 1])
    links = [(0, 0), (1, 1), (2, 1), (2, 2)]
    one = build_pair(src, tgt, links, cls_id=0, sep_id=2, max_length=32)
    assert one["input_ids"] == [0, 10, 11, 12, 13, 2, 20, 21, 22, 2]
    assert one["sep"] == 5
    # only 0-0 is one-to-one (word 2 and target word 1 have two links each)
    assert dict(zip(one["swap_from"], one["swap_to"], strict=True)) == {1: 6, 6: 1}
    every = build_pair(src, tgt, links, cls_id=0, sep_id=2, max_length=32, swap="all")
    # word 1's first piece (position 2) and target word 1 (position 7); first-listed partner wins
    swapped = dict(zip(every["swap_from"], every["swap_to"], strict=True))
    assert swapped == {1: 6, 6: 1, 2: 7, 7: 2, 4: 7, 8: 4}
    single = build_pair(
        src, tgt, links, cls_id=0, sep_id=2, max_length=32, swap="all", subwords="single-piece"
    )
    assert 2 not in single["swap_from"]  # word 1 has two pieces


def test_build_pair_truncation_drops_links():
    src = _sent(list(range(10, 20)), [1] * 10)
    tgt = _sent(list(range(30, 34)), [1] * 4)
    ex = build_pair(src, tgt, [(0, 0), (9, 3)], cls_id=0, sep_id=2, max_length=11)
    assert len(ex["input_ids"]) == 11
    assert ex["swap_from"] == [1, ex["sep"] + 1]  # 9-3 fell off the end of the source


def test_collator_and_split_layout():
    a = {"input_ids": [0, 5, 6, 2, 7, 2], "sep": 3, "swap_from": [1, 4], "swap_to": [4, 1]}
    b = {"input_ids": [0, 8, 2, 9, 2], "sep": 2, "swap_from": [], "swap_to": []}
    batch = PairCollator(pad_id=1, split=True)([a, b])
    assert batch["input_ids"].tolist() == [[0, 5, 6, 2, 7, 2], [0, 8, 2, 9, 2, 1]]
    assert batch["maskable"].tolist()[0] == [False, True, True, False, True, False]
    assert batch["swap_index"][0].tolist() == [0, 4, 2, 3, 1, 5]
    assert batch["swap_index"][1].tolist() == list(range(6))
    ids, labels = split_layout(batch["input_ids"], batch["input_ids"], batch["split_index"], pad_id=1)
    assert ids.tolist() == [[0, 5, 6, 2], [0, 7, 2, 1], [0, 8, 2, 1], [0, 9, 2, 1]]
    assert batch["split_attention"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0]]
    assert labels[1, 3].item() == -100  # padding never carries a label


@pytest.mark.parametrize("keyed", [False, True], ids=["generator", "per-example keys"])
def test_mask_tokens_rates_and_invariants(keyed):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (64, 128), generator=gen)
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = False
    pool = torch.arange(500, 510)
    randomness = {"keys": row_keys(11, torch.arange(64))} if keyed else {"generator": gen}
    out, labels = mask_tokens(ids, maskable, mask_prob=0.3, mask_id=4, replace_pool=pool, **randomness)
    masked = labels != -100
    assert abs(masked.float().mean().item() - 0.3 * 127 / 128) < 0.01
    assert not masked[:, 0].any()
    assert torch.equal(labels[masked], ids[masked])
    assert torch.equal(out[~masked], ids[~masked])
    as_mask = (out[masked] == 4).float().mean().item()
    random = ((out[masked] != 4) & (out[masked] != ids[masked])).float().mean().item()
    assert abs(as_mask - 0.8) < 0.02 and abs(random - 0.1) < 0.02
    assert set(out[masked & (out != 4) & (out != ids)].tolist()) <= set(pool.tolist())


def test_mask_tokens_masks_at_least_one_per_row():
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    maskable = torch.tensor([[False, True, True, False], [False, True, False, False]])
    for seed in range(20):
        _, labels = mask_tokens(
            ids,
            maskable,
            mask_prob=0.01,
            mask_id=4,
            replace_pool=torch.tensor([9]),
            generator=torch.Generator().manual_seed(seed),
        )
        assert ((labels != -100).sum(1) >= 1).all()
        assert not (labels != -100)[~maskable].any()


def test_an_example_is_masked_alike_in_any_batch_or_padding():
    """Keyed masking: a row's masks are a function of (step seed, example) alone — the batch it
    shares, its place in it and the padded length change nothing (2 torchrun processes mask an
    example as 1 process does); another step or example draws other masks."""
    gen = torch.Generator().manual_seed(1)
    rows = [torch.randint(10, 1000, (n,), generator=gen) for n in (9, 30, 17, 30)]
    pool = torch.arange(500, 700)

    def masked(order: list[int], width: int, seed: int = 5) -> dict[int, tuple[list[int], list[int]]]:
        ids = torch.ones((len(order), width), dtype=torch.long)
        maskable = torch.zeros_like(ids, dtype=torch.bool)
        for r, e in enumerate(order):
            ids[r, : len(rows[e])] = rows[e]
            maskable[r, 1 : len(rows[e]) - 1] = True
        keys = row_keys(seed, torch.tensor(order))
        out, labels = mask_tokens(ids, maskable, mask_prob=0.3, mask_id=4, replace_pool=pool, keys=keys)
        return {
            e: (out[r, : len(rows[e])].tolist(), labels[r, : len(rows[e])].tolist())
            for r, e in enumerate(order)
        }

    whole = masked([0, 1, 2, 3], 30)
    assert masked([2, 0], 17) | masked([3, 1], 40) == whole  # split in two, reordered, padded otherwise
    assert masked([1], 30)[1] == whole[1]
    assert masked([0, 1, 2, 3], 30, seed=6)[1] != whole[1]  # the next step masks anew
    positions = {e: [p for p, x in enumerate(whole[e][1]) if x != -100] for e in (1, 3)}
    assert positions[1] != positions[3]  # two examples of the same length: their own masks


def test_numbered_examples_carry_their_index_into_the_batch():
    from datasets import Dataset

    data = Dataset.from_list(
        [{"input_ids": [0, 5 + i, 2, 6, 2], "sep": 2, "swap_from": [], "swap_to": []} for i in range(4)]
    )
    numbered = NumberedExamples(data)
    assert len(numbered) == 4 and numbered[2]["example"] == 2 and numbered[2]["input_ids"][1] == 7
    batch = PairCollator(pad_id=1)(numbered.__getitems__([3, 1]))
    assert batch["example"].tolist() == [3, 1]
    assert batch["input_ids"][:, 1].tolist() == [8, 6]


def test_lone_boundary_marker_belongs_to_no_word(tok):
    """XLM-R gives a lone "▁" the offsets of the next character; it must not be the word's first piece."""
    marker = tok.convert_tokens_to_ids("▁")
    [enc] = word_pieces([["heavily", "."]], tok, no_space=False)
    assert marker in enc["ids"]  # the tokenizer does emit the lone marker here
    assert enc["ids"][enc["first"][1]] == tok.convert_tokens_to_ids(".")
    assert enc["count"][1] == 1
    [zh] = word_pieces([list("天在下雨。")], tok, no_space=True)
    assert zh["ids"][0] == marker
    assert zh["ids"][zh["first"][0]] == tok.convert_tokens_to_ids("天")
    assert all(zh["ids"][f] != marker for f in zh["first"] if f >= 0)
