"""The WEAM swap and the three objectives on the tiny model (random weights: the maths, not the
quality, is under test)."""

from __future__ import annotations

import pytest
import torch

from weamcli.common.models import encoder_and_head, load_model, load_tokenizer
from weamcli.pretrain.masking import PairCollator, build_pair, word_pieces
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives.masked import masked_losses


@pytest.fixture(scope="module")
def tiny(tiny_ref):
    from transformers import AutoModelForMaskedLM

    model = load_model(tiny_ref, AutoModelForMaskedLM).eval()
    return model, load_tokenizer(tiny_ref)


def _pair(tok, src_words, tgt_words, links, swap="one-to-one"):
    s, t = word_pieces([src_words, tgt_words], tok, no_space=False)
    return build_pair(s, t, links, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, max_length=64, swap=swap)


def test_cp_logits_come_from_the_aligned_target_vector(tiny):
    model, tok = tiny
    # "the house is red" / "das Haus ist rot": house↔Haus, red↔rot; "is" and "ist" left unaligned
    ex = _pair(tok, ["the", "house", "is", "red"], ["das", "Haus", "ist", "rot"], [(0, 0), (1, 1), (3, 3)])
    batch = PairCollator(pad_id=tok.pad_token_id)([ex])
    ids = batch["input_ids"]
    partner = dict(zip(ex["swap_from"], ex["swap_to"], strict=True))
    house = ex["swap_from"][1]  # first piece of "house"
    haus = partner[house]
    assert ids[0, haus].item() == tok.convert_tokens_to_ids("▁Haus")
    is_pos = house + 1  # "is": masked but unaligned
    labels = torch.full_like(ids, -100)
    labels[0, [house, is_pos]] = ids[0, [house, is_pos]]
    masked = ids.clone()
    masked[0, [house, is_pos]] = tok.mask_token_id
    encoder, head = encoder_and_head(model)
    with torch.no_grad():
        hidden = encoder(input_ids=masked, attention_mask=batch["attention_mask"]).last_hidden_state
        out = masked_losses(hidden, head, labels, batch["swap_index"], lam=0.5, return_logits=True)
        expected_cp = head(hidden[0, haus])
        expected_mp = head(hidden[0, [house, is_pos]])
    # L_cp scores only the aligned masked piece, from its partner's vector
    assert out.cp_positions.tolist() == [house]
    assert out.cp_sources.tolist() == [haus]
    torch.testing.assert_close(out.cp_logits[0], expected_cp, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.mp_logits, expected_mp, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out.cp_logits[0], out.mp_logits[0])  # the swap changed the vector
    target = ids[0, house].unsqueeze(0)
    cp = torch.nn.functional.cross_entropy(expected_cp.unsqueeze(0), target)
    torch.testing.assert_close(out.cp, cp)
    torch.testing.assert_close(out.loss, out.mp + 0.5 * out.cp)
    # with --cp-unaligned the unaligned masked "is" is scored too, from its own vector
    both = masked_losses(hidden, head, labels, batch["swap_index"], cp_unaligned=True, return_logits=True)
    assert both.cp_positions.tolist() == [house, is_pos]
    torch.testing.assert_close(both.cp_logits[1], expected_mp[1], rtol=1e-5, atol=1e-5)


def test_mlm_rows_do_not_see_the_other_sentence(tiny):
    """The MLM baseline: the English row's vectors do not depend on the German sentence."""
    model, tok = tiny
    a = _pair(tok, ["the", "house"], ["das", "Haus"], [])
    b = _pair(tok, ["the", "house"], ["ein", "ganz", "anderer", "Satz"], [])
    pool = torch.tensor([100, 200])
    mlm = PretrainingModel(
        model, objective="mlm", mask_id=tok.mask_token_id, pad_id=tok.pad_token_id, replace_pool=pool
    )
    batch = PairCollator(pad_id=tok.pad_token_id, split=True)([a, b])
    from weamcli.pretrain.masking import split_layout

    ids, _ = split_layout(batch["input_ids"], batch["input_ids"], batch["split_index"], tok.pad_token_id)
    encoder, _ = encoder_and_head(model)
    with torch.no_grad():
        h = encoder(input_ids=ids, attention_mask=batch["split_attention"]).last_hidden_state
    n = int(batch["split_attention"][0].sum())
    torch.testing.assert_close(h[0, :n], h[2, :n], rtol=1e-5, atol=1e-5)  # rows 0 and 2: same English
    with torch.no_grad():
        torch.manual_seed(0)
        out = mlm(**batch)
    assert set(out) == {"loss", "mp"} and torch.isfinite(out["loss"])


@pytest.mark.parametrize("objective", ["weam", "tlm"])
def test_pair_objectives_on_a_batch(tiny, objective):
    model, tok = tiny
    ex = _pair(
        tok, ["the", "house", "is", "red"], ["das", "Haus", "ist", "rot"], [(0, 0), (1, 1), (2, 2), (3, 3)]
    )
    batch = PairCollator(pad_id=tok.pad_token_id)([ex, ex])
    wrapped = PretrainingModel(
        model,
        objective=objective,
        mask_id=tok.mask_token_id,
        pad_id=tok.pad_token_id,
        replace_pool=torch.tensor([100]),
        mask_prob=0.5,
        lam=2.0,
    )
    torch.manual_seed(1)
    out = wrapped(**batch)
    assert torch.isfinite(out["loss"])
    if objective == "weam":
        torch.testing.assert_close(out["loss"].detach(), out["mp"] + 2.0 * out["cp"])
    else:
        assert "cp" not in out
        torch.testing.assert_close(out["loss"].detach(), out["mp"])
    # the wrapper's state dict holds each weight once, under the inner model's names
    assert all(k.startswith("mlm.") for k in wrapped.state_dict())


def test_cp_partner_masked_is_excluded_unless_any(tiny):
    """house↔Haus with both masked: "unmasked" (default) leaves them out of L_cp, "any" scores them."""
    model, tok = tiny
    ex = _pair(tok, ["the", "house", "is", "red"], ["das", "Haus", "ist", "rot"], [(0, 0), (1, 1), (3, 3)])
    batch = PairCollator(pad_id=tok.pad_token_id)([ex])
    ids = batch["input_ids"]
    partner = dict(zip(ex["swap_from"], ex["swap_to"], strict=True))
    house = ex["swap_from"][1]
    haus = partner[house]
    red = ex["swap_from"][2]  # masked, its partner "rot" is not
    labels = torch.full_like(ids, -100)
    labels[0, [house, haus, red]] = ids[0, [house, haus, red]]
    masked = ids.clone()
    masked[0, [house, haus, red]] = tok.mask_token_id
    encoder, head = encoder_and_head(model)
    with torch.no_grad():
        hidden = encoder(input_ids=masked, attention_mask=batch["attention_mask"]).last_hidden_state
        default = masked_losses(hidden, head, labels, batch["swap_index"])
        every = masked_losses(hidden, head, labels, batch["swap_index"], cp_partner="any")
    assert default.cp_positions.tolist() == [red]
    assert default.cp_sources.tolist() == [partner[red]]
    assert every.cp_positions.tolist() == sorted([house, haus, red])
    assert every.cp_sources.tolist() == [partner[p] for p in sorted([house, haus, red])]
    with pytest.raises(ValueError):
        masked_losses(hidden, head, labels, batch["swap_index"], cp_partner="both")
