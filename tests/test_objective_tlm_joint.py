"""``tlm-joint``: TLM whose aligned pieces are masked together (tiny tokenizer; masking only)."""

from __future__ import annotations

import pytest
import torch

from weamcli.common.models import load_model, load_tokenizer
from weamcli.pretrain.masking import PairCollator, build_pair, row_keys, word_pieces
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives.base import Batch

EN = "the old man saw a small red house near the river".split()
DE = "der alte Mann sah ein kleines rotes Haus nahe dem Fluss".split()
LINKS = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (9, 9), (10, 10)]


@pytest.fixture(scope="module")
def batch_and_models(tiny_ref):
    from transformers import AutoModelForMaskedLM

    tok = load_tokenizer(tiny_ref)
    mlm = load_model(tiny_ref, AutoModelForMaskedLM).eval()
    s, t = word_pieces([EN, DE], tok, no_space=False)
    ex = build_pair(s, t, LINKS, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, max_length=64)
    collated = PairCollator(pad_id=tok.pad_token_id)([ex] * 4)
    kw = dict(mask_id=tok.mask_token_id, pad_id=tok.pad_token_id, replace_pool=torch.arange(5, 50))
    models = {
        name: PretrainingModel(mlm, objective=name, mask_prob=0.3, **kw) for name in ("tlm", "tlm-joint")
    }
    pairs = list(zip(ex["swap_from"], ex["swap_to"], strict=True))
    return collated, models, [(x, y) for x, y in pairs if x < y]


def _masks(model: PretrainingModel, collated: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked positions, rows that drew a mask: the others get one at their smallest draw)."""
    keys = row_keys(seed, torch.arange(len(collated["input_ids"])))
    batch = Batch(
        collated["input_ids"],
        collated["attention_mask"],
        collated["maskable"],
        collated["swap_index"],
        keys=keys,
    )
    drew = ((model.objective.draws(model, batch).draw < model.mask_prob) & batch.maskable).any(1)
    return model.objective.mask(model, batch)[1] != -100, drew


def test_aligned_pieces_are_masked_together_and_the_rest_as_tlm(batch_and_models):
    collated, models, aligned = batch_and_models
    assert len(aligned) >= 8  # the pair's words are linked one to one
    translation = [y for _, y in aligned]
    others = [p for p in range(collated["input_ids"].shape[1]) if p not in translation]
    split_by_tlm = checked = 0
    for seed in range(10):
        tlm, tlm_drew = _masks(models["tlm"], collated, seed)
        joint, drew = _masks(models["tlm-joint"], collated, seed)
        rows = drew & tlm_drew  # (a row that drew no mask gets a lone one: masking's rule)
        for x, y in aligned:
            assert torch.equal(joint[rows, x], joint[rows, y]), (seed, x, y)  # both or neither
            split_by_tlm += int((tlm[:, x] != tlm[:, y]).sum())
        # English pieces and unaligned pieces draw as in tlm: only the translations follow
        assert torch.equal(joint[rows][:, others], tlm[rows][:, others])
        checked += int(rows.sum())
    assert (
        checked >= 30 and split_by_tlm > 0
    )  # tlm masks an aligned piece without its partner; tlm-joint never does


def test_the_masking_rate_stays_mask_prob(batch_and_models):
    collated, models, _ = batch_and_models
    maskable = collated["maskable"]
    rates = {
        name: sum(int(_masks(m, collated, seed)[0].sum()) for seed in range(40)) / (40 * int(maskable.sum()))
        for name, m in models.items()
    }
    assert rates["tlm-joint"] == pytest.approx(0.3, abs=0.05)
    assert rates["tlm"] == pytest.approx(0.3, abs=0.05)
