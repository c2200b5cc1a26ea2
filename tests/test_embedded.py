"""The embedded multilingual-e5-small, checked on real data."""

import numpy as np
import pytest

from weamcli.common.embedded_model import read_e5_file, weights_file
from weamcli.common.sentence_vectors import load_encoder
from weamcli.evaluate.retrieval import read_tatoeba_pair, retrieval_accuracy

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`


def test_q4_dequantisation_matches_format():
    header, tensors = read_e5_file(weights_file())
    assert (header.hidden, header.layers, header.heads, header.ffn) == (384, 12, 12, 1536)
    assert tensors["emb.word"].shape == (header.vocab * header.hidden,)
    # Q4_0 values are (nibble - 8) * scale: at most 16 distinct magnitudes per 32-weight block
    block = tensors["l0.q.w"][:32]
    assert len(np.unique(block)) <= 16 and np.isfinite(block).all()


def test_e5_small_tatoeba_deu_eng_retrieval(e5_ref, shared_data):
    model, tok = load_encoder(e5_ref)
    deu, eng = read_tatoeba_pair(shared_data / "tatoeba", "deu")
    assert len(deu) == 1000
    results = retrieval_accuracy(model, tok, deu, eng, "deu", prefix=e5_ref.text_prefix)
    x_to_en = next(r for r in results if r.direction == "deu->eng")
    assert x_to_en.total == 1000
    assert x_to_en.accuracy >= 0.95, x_to_en


def test_e5_small_loads_without_weam(e5_ref):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(e5_ref.path)
    tok = AutoTokenizer.from_pretrained(e5_ref.path)
    batch = tok(
        ["query: Der Hund schläft.", "query: The dog sleeps.", "query: Aktienkurse fallen."],
        padding=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    v = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    sim = v @ v.T
    # the translation pair is closer than the unrelated sentence
    assert sim[0, 1] > sim[0, 2]  # e5 cosines are all high; the ranking is what counts
