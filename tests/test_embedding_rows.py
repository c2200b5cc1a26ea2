"""Inference models read their word-embedding rows from the weights file as inputs use them: the
same outputs as the loaded matrix, only the rows used kept, and the matrix kept where the file
does not hold it as loaded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weamcli.common.embedding_rows import RowsOnDemand, rows_on_demand
from weamcli.common.models import load_model, parameter_count, resolve_model
from weamcli.common.sentence_vectors import encode_sentences
from weamcli.finetune.classifier import PooledClassifier, load_classifier, predict_logits, shared_tokenizer

TEXTS = [
    "Guten Morgen, wie geht es?",
    "Habari ya asubuhi.",
    "今天天气很好。",
    "A sentence in English.",
    "¿Qué tal?",
]


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory, tiny_ref):
    """A `weam finetune`-style folder (encoder saved as transformers writes it, a head)."""
    folder = tmp_path_factory.mktemp("rows") / "seed-1"
    folder.mkdir()
    model = PooledClassifier(load_model(tiny_ref), 3)
    torch.manual_seed(1)
    torch.nn.init.normal_(model.head.weight, std=1.0)
    model.save(folder, shared_tokenizer(tiny_ref), {"labels": ["a", "b", "c"], "task": "sib200"})
    return folder


def test_a_classifier_gives_the_same_logits_reading_only_the_rows_it_uses(classifier_folder):
    ref = resolve_model(str(classifier_folder))
    full, tok, _ = load_classifier(ref)
    lean, _, _ = load_classifier(ref)
    params = parameter_count(lean)
    assert rows_on_demand(lean, ref) is True
    swapped = lean.encoder.get_input_embeddings()
    assert isinstance(swapped, RowsOnDemand) and swapped.loaded == 0
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            expected = predict_logits(full, tok, TEXTS, batch_size=2)
            got = predict_logits(lean, tok, TEXTS, batch_size=2)
        assert np.array_equal(expected, got)
    used = {tok.pad_token_id} | {i for text in TEXTS for i in tok(text)["input_ids"]}  # batches pad
    assert swapped.loaded == len(used) < swapped.num_embeddings / 1000  # each row read once
    assert params == parameter_count(full)  # counted before the swap, as evaluate does


def test_an_encoder_saved_inside_a_masked_lm_model_reads_its_rows_too(tiny_ref):
    """tiny is a BertForMaskedLM save (keys under "bert."); the Tatoeba probe loads it as an
    encoder and reads every layer's hidden states, the embedding layer's included."""
    tok = shared_tokenizer(tiny_ref)
    full, lean = load_model(tiny_ref), load_model(tiny_ref)
    assert rows_on_demand(lean, tiny_ref) is True
    for layer in (0, -1):
        a = encode_sentences(full, tok, TEXTS, layer=layer, batch_size=2)
        b = encode_sentences(lean, tok, TEXTS, layer=layer, batch_size=2)
        assert np.array_equal(a, b)


def test_a_matrix_not_stored_as_loaded_is_kept(classifier_folder, tiny_ref):
    ref = resolve_model(str(classifier_folder))
    model, _, _ = load_classifier(ref)
    with torch.no_grad():
        model.encoder.get_input_embeddings().weight[-1] += 1.0  # changed since loading
    assert rows_on_demand(model, ref) is False
    assert isinstance(model.encoder.get_input_embeddings(), torch.nn.Embedding)
    other = resolve_model(str(classifier_folder))
    (classifier_folder.parent / "no-weights").mkdir()
    moved = type(other)(other.name, str(classifier_folder.parent / "no-weights"), "folder")
    assert rows_on_demand(load_classifier(ref)[0], moved) is False  # no safetensors file there
    assert rows_on_demand(torch.nn.Linear(2, 2), tiny_ref) is False  # no word embeddings at all


def test_rows_outside_the_vocabulary_are_an_error_as_with_the_matrix(classifier_folder):
    ref = resolve_model(str(classifier_folder))
    model, _, _ = load_classifier(ref)
    rows_on_demand(model, ref)
    embedding = model.encoder.get_input_embeddings()
    with pytest.raises(IndexError):
        embedding(torch.tensor([[1, embedding.num_embeddings]]))
    assert embedding.loaded == 0
