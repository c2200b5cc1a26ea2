"""The explicit-alignment objectives (align-l2, contrastive, code-switch) on hand-made pairs and the
tiny model (random weights: each loss is checked against its definition, not for quality)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from weamcli.common.errors import WeamError
from weamcli.common.models import load_model, load_tokenizer
from weamcli.pretrain.masking import build_pair, split_layout, word_pieces
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives import loss_parts, make_collator
from weamcli.pretrain.objectives.align_l2 import anchor, l2_alignment, word_vectors
from weamcli.pretrain.objectives.code_switch import read_lexicon, switch_words
from weamcli.pretrain.objectives.contrastive import info_nce, sentence_vectors
from weamcli.pretrain.settings import OBJECTIVES, PretrainSettings

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`


@pytest.fixture(scope="module")
def tiny(tiny_ref):
    from transformers import AutoModelForMaskedLM

    return load_model(tiny_ref, AutoModelForMaskedLM).eval(), load_tokenizer(tiny_ref)


def _example(tok, src_words, tgt_words, links, **kw):
    s, t = word_pieces([src_words, tgt_words], tok, no_space=False)
    return build_pair(s, t, links, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, max_length=64, **kw)


def _wrap(model, tok, objective, **kw):
    return PretrainingModel(
        model,
        objective=objective,
        mask_id=tok.mask_token_id,
        pad_id=tok.pad_token_id,
        replace_pool=torch.tensor([100, 200]),
        **kw,
    )


# ------------------------------------------------------------------------------------ align-l2


def test_l2_is_zero_for_equal_vectors_and_grows_with_their_distance():
    u = torch.randn(5, 8)
    assert l2_alignment(u, u.clone()).item() == 0.0
    step = torch.randn(5, 8)
    losses = [l2_alignment(u, u + k * step).item() for k in (0.5, 1.0, 2.0)]
    assert losses[0] < losses[1] < losses[2]
    # the definition: mean over links of the squared Euclidean distance
    torch.testing.assert_close(torch.tensor(losses[1]), step.pow(2).sum(1).mean())
    assert l2_alignment(u[:0], u[:0]).item() == 0.0  # a batch without links


def test_word_vector_is_the_first_piece_or_the_mean_of_the_pieces():
    flat = torch.arange(12.0).reshape(6, 2)
    index = torch.tensor([[1, 2, 3], [4, -1, -1]])
    torch.testing.assert_close(word_vectors(flat, index, "first-piece"), flat[[1, 4]])
    torch.testing.assert_close(word_vectors(flat, index, "mean"), torch.stack([flat[1:4].mean(0), flat[4]]))


def test_link_indices_point_at_the_aligned_words_in_the_separate_sentences(tiny):
    """Links index the two-row layout: English word pieces in row 2r, their partner's in row 2r+1;
    with swap=all every link is kept (a word may have several partners)."""
    _, tok = tiny
    links = [(0, 1), (1, 0), (1, 2)]
    ex = _example(tok, ["houseboats", "sank"], ["gestern", "Hausboote", "sanken"], links, swap="all")
    batch = make_collator("align-l2", tok.pad_token_id)([ex, ex])
    rows, _ = split_layout(batch["input_ids"], batch["input_ids"], batch["split_index"], tok.pad_token_id)
    flat = rows.reshape(-1)

    def text(index_row):
        return tok.decode(flat[index_row[index_row >= 0]]).strip()

    assert batch["link_src"].shape[0] == 6  # 3 links x 2 pairs
    got = [(text(s), text(t)) for s, t in zip(batch["link_src"], batch["link_tgt"], strict=True)]
    assert got[:3] == [("houseboats", "Hausboote"), ("sank", "gestern"), ("sank", "sanken")]
    assert got[3:] == got[:3]  # the second pair's links point into rows 2 and 3
    assert int(batch["link_src"][3, 0]) // rows.shape[1] == 2
    # one-to-one (the default): "sank" has two links, so only houseboats-Hausboote is kept
    one = make_collator("align-l2", tok.pad_token_id)(
        [_example(tok, ["houseboats", "sank"], ["gestern", "Hausboote", "sanken"], links)]
    )
    assert one["link_src"].shape[0] == 1


def test_align_l2_on_a_pair(tiny):
    """Identical sentences have identical vectors (L_l2 = 0); different ones do not; at the start the
    model is its own reference (L_reg = 0), and one step on the loss lowers L_l2 and moves English
    away from the reference (L_reg > 0)."""
    model, tok = tiny
    same = make_collator("align-l2", tok.pad_token_id)(
        [_example(tok, ["Berlin", "Paris"], ["Berlin", "Paris"], [(0, 0), (1, 1)])]
    )
    pair = _example(
        tok, ["the", "house", "is", "red"], ["das", "Haus", "ist", "rot"], [(0, 0), (1, 1), (3, 3)]
    )
    batch = make_collator("align-l2", tok.pad_token_id)([pair])
    for how in ("first-piece", "mean"):
        wrapped = _wrap(copy.deepcopy(model), tok, "align-l2", l2_word_vector=how).eval()
        with torch.no_grad():
            out_same, out = wrapped(**same), wrapped(**batch)
        assert set(out) == {"loss", *loss_parts("align-l2")} == {"loss", "l2", "reg"}
        assert out_same["l2"].item() < 1e-9 and out["l2"].item() > 1e-3
        assert out["reg"].item() < 1e-9
        torch.testing.assert_close(out["loss"], out["l2"] + 1.0 * out["reg"])
    wrapped = _wrap(copy.deepcopy(model), tok, "align-l2", l2_reg=0.5).eval()
    opt = torch.optim.SGD([p for p in wrapped.parameters() if p.requires_grad], lr=0.5)
    before = wrapped(**batch)
    before["loss"].backward()
    opt.step()
    with torch.no_grad():
        after = wrapped(**batch)
    assert after["l2"] < before["l2"] and after["reg"] > 0
    torch.testing.assert_close(after["loss"], after["l2"] + 0.5 * after["reg"])
    # the reference did not move, and nothing of the head or of the reference takes a gradient
    ref = dict(wrapped.reference.named_parameters())
    base = dict(model.base_model.named_parameters())
    assert all(torch.equal(ref[k], base[k]) for k in ref)
    emb = wrapped.mlm.get_input_embeddings().weight
    head_params = [p for p in wrapped._parts[1].parameters() if p is not emb]
    assert head_params and not any(p.requires_grad for p in head_params)
    assert not any(p.requires_grad for p in wrapped.reference.parameters())


def test_align_l2_layer_choice_freezes_the_layers_above(tiny):
    model, tok = tiny
    wrapped = _wrap(copy.deepcopy(model), tok, "align-l2", l2_layer=1)
    layers = wrapped._parts[0].encoder.layer
    assert all(p.requires_grad for p in layers[0].parameters())
    assert not any(p.requires_grad for p in layers[1].parameters())
    batch = make_collator("align-l2", tok.pad_token_id)(
        [_example(tok, ["the", "house"], ["das", "Haus"], [(1, 1)])]
    )
    out = wrapped.eval()(**batch)
    out["loss"].backward()  # layer 1's output only: the loss reaches no parameter of layer 2
    assert all(p.grad is None for p in layers[1].parameters())
    with pytest.raises(WeamError, match="not a layer"):
        _wrap(copy.deepcopy(model), tok, "align-l2", l2_layer=3)


def test_align_l2_reference_moves_and_casts_with_the_model(tiny):
    model, tok = tiny
    wrapped = _wrap(copy.deepcopy(model), tok, "align-l2").to(torch.bfloat16)
    assert {p.dtype for p in wrapped.reference.parameters()} == {torch.bfloat16}
    wrapped.train()
    assert not wrapped.reference.training and wrapped.mlm.training  # no dropout in the reference


def test_anchor_counts_real_positions_only():
    h = torch.zeros(1, 3, 2)
    ref = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [9.0, 9.0]]])
    assert anchor(h, ref, torch.tensor([[1, 1, 0]])).item() == pytest.approx((1 + 4) / 2)


# ------------------------------------------------------------------------------------ contrastive


def test_info_nce_is_lowest_when_the_pairs_match():
    torch.manual_seed(0)
    a = torch.randn(6, 16)
    b = a + 0.01 * torch.randn(6, 16)
    matched = info_nce(a, b, 0.05)
    shuffled = info_nce(a, b[torch.tensor([1, 2, 3, 4, 5, 0])], 0.05)
    assert matched.item() < 0.01 < shuffled.item()
    # cosine: the scale of a vector does not matter; the temperature sharpens
    torch.testing.assert_close(info_nce(3 * a, b, 0.05), matched)
    assert info_nce(a, b, 1.0) > matched
    # uninformative vectors: every candidate alike, the loss is log(batch)
    same = torch.ones(4, 16)
    torch.testing.assert_close(info_nce(same, same, 0.1), torch.log(torch.tensor(4.0)))


def test_sentence_vectors_pool_real_pieces_or_take_cls():
    h = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert sentence_vectors(h, mask, "mean").item() == 2.0
    assert sentence_vectors(h, mask, "cls").item() == 1.0


@pytest.mark.parametrize("objective", ["contrastive", "tlm+contrastive", "weam+contrastive"])
def test_contrastive_objectives_on_a_batch(tiny, objective):
    model, tok = tiny
    rows = [
        (["the", "house", "is", "red"], ["das", "Haus", "ist", "rot"], [(0, 0), (1, 1), (2, 2), (3, 3)]),
        (["good", "morning"], ["guten", "Morgen"], [(0, 0), (1, 1)]),
        (["a", "cat"], ["eine", "Katze"], [(0, 0), (1, 1)]),
    ]
    batch = make_collator(objective, tok.pad_token_id)([_example(tok, *r) for r in rows])
    kw = {"contrastive_weight": 0.25} if "+" in objective else {}
    wrapped = _wrap(copy.deepcopy(model), tok, objective, lam=2.0, temperature=0.1, **kw)
    out = wrapped(**batch, mask_seed=3)
    assert set(out) == {"loss", *loss_parts(objective)}
    if objective == "contrastive":
        torch.testing.assert_close(out["loss"].detach(), out["contrastive"])
        emb = wrapped.mlm.get_input_embeddings().weight
        assert not any(p.requires_grad for p in wrapped._parts[1].parameters() if p is not emb)
    elif objective == "weam+contrastive":
        torch.testing.assert_close(
            out["loss"].detach(), out["mp"] + 2.0 * out["cp"] + 0.25 * out["contrastive"]
        )
    else:
        torch.testing.assert_close(out["loss"].detach(), out["mp"] + 0.25 * out["contrastive"])
    # the masked part sees the same masks as the objective alone (same mask seed)
    if objective != "contrastive":
        alone = _wrap(copy.deepcopy(model), tok, objective.removesuffix("+contrastive"), lam=2.0).eval()
        wrapped.eval()
        with torch.no_grad():
            torch.testing.assert_close(wrapped(**batch, mask_seed=3)["mp"], alone(**batch, mask_seed=3)["mp"])


def test_contrastive_training_separates_the_pairs(tiny):
    """A few steps on the loss of one batch lower it (the definition is differentiable and right-signed)."""
    model, tok = tiny
    rows = [
        (["the", "house"], ["das", "Haus"], [(0, 0), (1, 1)]),
        (["good", "morning"], ["guten", "Morgen"], [(0, 0), (1, 1)]),
        (["a", "black", "cat"], ["eine", "schwarze", "Katze"], [(0, 0), (1, 1), (2, 2)]),
        (["it", "rains"], ["es", "regnet"], [(0, 0), (1, 1)]),
    ]
    batch = make_collator("contrastive", tok.pad_token_id)([_example(tok, *r) for r in rows])
    wrapped = _wrap(copy.deepcopy(model), tok, "contrastive", temperature=0.1).eval()
    opt = torch.optim.Adam([p for p in wrapped.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(5):
        out = wrapped(**batch)
        losses.append(out["contrastive"].item())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------------------------ code-switch


def test_switch_words_replaces_linked_lexicon_words_with_the_given_probability():
    words = ["the", "house", "is", "red", "."]
    links = [(0, 0), (1, 1), (3, 3)]  # "is" and "." unlinked
    lexicon = {"the": "das", "house": "Haus", "is": "ist", ".": "."}
    assert switch_words(words, links, lexicon, prob=1.0, seed=1, index=0) == ["das", "Haus", "is", "red", "."]
    assert switch_words(words, links, lexicon, prob=0.0, seed=1, index=0) == words
    draws = [switch_words(words, links, lexicon, prob=0.5, seed=7, index=i) for i in range(400)]
    assert draws[3] == switch_words(words, links, lexicon, prob=0.5, seed=7, index=3)  # seeded per pair
    share = sum(d[1] == "Haus" for d in draws) / len(draws)
    assert 0.4 < share < 0.6
    assert any(d != draws[0] for d in draws)  # pairs draw differently


def test_read_lexicon_takes_the_most_probable_translation(tmp_path):
    path = tmp_path / "lexicon.tsv"
    path.write_text(
        "source\ttarget\tprob\tcount\nhouse\tHaus\t0.75\t3\nhouse\tGebäude\t0.25\t1\nred\trot\t1\t2\n",
        encoding="utf-8",
    )
    assert read_lexicon(path) == {"house": "Haus", "red": "rot"}
    with pytest.raises(WeamError, match="missing from the alignment folder") as exc:
        read_lexicon(tmp_path / "nope" / "lexicon.tsv")
    assert "nope" in str(exc.value)
    path.write_text("source\ttarget\tprob\tcount\nhouse\tHaus\tlots\t3\n", encoding="utf-8")
    with pytest.raises(WeamError, match="numbers"):
        read_lexicon(path)


def test_code_switch_is_mlm_on_the_switched_english(tiny):
    model, tok = tiny
    words, links = ["the", "house", "is", "red"], [(0, 0), (1, 1), (3, 3)]
    ex = _example(tok, words, ["das", "Haus", "ist", "rot"], links)
    switched = switch_words(words, links, {"house": "Haus", "red": "rot"}, prob=1.0, seed=0, index=0)
    (cs,) = word_pieces([switched], tok, no_space=False)
    ex["cs_input_ids"] = [tok.cls_token_id, *cs["ids"], tok.sep_token_id]
    batch = make_collator("code-switch", tok.pad_token_id)([ex])
    assert tok.decode(batch["input_ids"][0], skip_special_tokens=True) == "the Haus is rot"
    assert batch["maskable"][0].tolist() == [False] + [True] * len(cs["ids"]) + [False]
    wrapped = _wrap(copy.deepcopy(model), tok, "code-switch", mask_prob=0.5)
    out = wrapped(**batch, mask_seed=1)
    assert set(out) == {"loss", "mp"} and torch.isfinite(out["loss"])


# ------------------------------------------------------------------------------------ settings


def test_objective_options_only_with_their_objectives():
    base = dict(langs=["de"], out="x", alignments="a")
    assert PretrainSettings(
        **base, objective="weam+contrastive", contrastive_weight=0.5
    ).objective_values() == {
        "contrastive_weight": 0.5,
        "temperature": 0.05,
        "pooling": "mean",
    }
    assert PretrainSettings(**base, objective="weam").objective_values() == {}
    for objective, name, value in [
        ("contrastive", "contrastive_weight", 0.5),  # nothing to weigh it against
        ("weam", "temperature", 0.1),
        ("tlm", "l2_reg", 1.0),
        ("align-l2", "switch_prob", 0.3),
    ]:
        with pytest.raises(WeamError, match="is read only by --objective"):
            PretrainSettings(**base, objective=objective, **{name: value})
    assert not PretrainSettings(**base, objective="align-l2").uses_head
    assert not PretrainSettings(**base, objective="contrastive").uses_head
    assert all(
        PretrainSettings(**base, objective=o).uses_head
        for o in OBJECTIVES
        if o not in ("align-l2", "contrastive")
    )


# ------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def aligned_de(shared_data, tmp_path_factory):
    from pretrain_fixtures import make_alignment_folder

    return make_alignment_folder(
        shared_data, tmp_path_factory.mktemp("aligned") / "align-en-de", "de", "deu", 40
    )


@pytest.mark.parametrize(
    ("objective", "options"),
    [
        ("align-l2", {"l2_word_vector": "mean", "l2_reg": 0.5}),
        ("contrastive", {"temperature": 0.1}),
        ("weam+contrastive", {"contrastive_weight": 0.5}),
        ("code-switch", {"switch_prob": 0.5}),
    ],
)
def test_pretrain_logs_each_objectives_parts(aligned_de, tmp_path, tiny_ref, objective, options):
    """`weam pretrain` with a new objective: its parts logged under their names, its options (with
    defaults) recorded, a full-size model saved; a headless objective leaves the MLM head as it was,
    and code-switch trains with the switched sentences' pieces in the trimmed vocabulary."""
    from pretrain_fixtures import run_pretrain
    from safetensors.torch import load_file

    from weamcli.common.run_records import read_records

    out = tmp_path / objective
    result = run_pretrain(
        ["de"],
        out,
        alignments=str(aligned_de),
        cache_dir=tmp_path / "cache",
        model="tiny",
        objective=objective,
        batch_size=8,
        max_length=48,
        max_steps=4,
        logging_steps=2,
        save_steps=4,
        lr=1e-3,
        **options,
    )
    parts = loss_parts(objective)
    assert list(result.losses) == list(parts) and all(v[0] is not None for v in result.losses.values())
    records = read_records(out / "run.jsonl")
    logs = [r["metrics"] for r in records if r["event"] == "log"]
    assert len(logs) == 2
    assert all({k for k in entry if k.startswith("loss_")} == {f"loss_{p}" for p in parts} for entry in logs)
    final = records[-1]
    assert all(final["metrics"][f"loss_{p}_last"] is not None for p in parts)
    recorded = {
        k: final["config"][k]
        for k in PretrainSettings(
            langs=["de"], out="x", alignments="a", objective=objective, **options
        ).objective_values()
    }
    assert recorded and all(final["config"][k] == v for k, v in options.items())
    meta = json.loads((out / "weam.json").read_text())
    assert meta["method"] == objective
    trained = load_file(str(out / "model.safetensors"))
    base = load_file(str(Path(tiny_ref.path) / "model.safetensors"))
    assert (
        trained["bert.embeddings.word_embeddings.weight"].shape
        == base["bert.embeddings.word_embeddings.weight"].shape
    )
    head = [k for k in base if k.startswith("cls.") and "decoder.weight" not in k]
    assert head
    if objective in ("align-l2", "contrastive"):
        assert all(torch.equal(trained[k], base[k]) for k in head)  # the head was not used
        assert meta["has_mlm_head"] is True  # the tiny model's own head, kept
        assert not torch.equal(
            trained["bert.encoder.layer.0.attention.self.query.weight"],
            base["bert.encoder.layer.0.attention.self.query.weight"],
        )
    else:
        assert not all(torch.equal(trained[k], base[k]) for k in head)
    if objective == "code-switch":
        from datasets import load_from_disk

        cached = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("pairs-de-")]
        ds = load_from_disk(str(cached[0]))
        switched = {i for row in ds["cs_input_ids"] for i in row}
        keep = json.loads((out / "checkpoints" / "checkpoint-4" / "trimmed-vocab.json").read_text())
        assert switched <= set(keep["rows_are_tokenizer_ids"])
        assert any(a != b for a, b in zip(ds["cs_input_ids"], ds["input_ids"], strict=True))
