"""Fine-tuning keeps only what it needs of a tokenizer once the data is encoded (batch padding, the
files to save) and reads its trainable embedding rows from the weights file: the batches, the
saved files and the rows are the same as with the tokenizer and the loaded matrix."""

from __future__ import annotations

import errno
import filecmp

import numpy as np
import pytest
import torch
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

from weamcli.common.models import load_model, load_tokenizer
from weamcli.finetune.embedding_rows import train_used_rows
from weamcli.finetune.multiple_choice import ChoiceCollator
from weamcli.finetune.padding import PaddingOnly

TEXTS = ["Guten Morgen, wie geht es dir heute?", "Habari.", "今天天气很好。", "An English sentence, longer."]


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), key


@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_only_pads_as_the_tokenizer_does(tiny_ref, side):
    tok = load_tokenizer(tiny_ref)
    tok.padding_side = side
    lean = PaddingOnly(tok)
    enc = tok(TEXTS, truncation=True, max_length=16)
    rows = [{k: enc[k][i] for k in enc} | {"label": i % 2} for i in range(len(TEXTS))]
    assert len({len(r["input_ids"]) for r in rows}) > 1  # lengths differ: padding happens
    _same(DataCollatorWithPadding(tok)(rows), DataCollatorWithPadding(lean)(rows))
    _same(
        DataCollatorWithPadding(tok, pad_to_multiple_of=8)(rows),
        DataCollatorWithPadding(lean, pad_to_multiple_of=8)(rows),
    )
    tagged = [{k: v for k, v in r.items() if k != "label"} for r in rows]
    for r in tagged:
        r["labels"] = [-100] + [1] * (len(r["input_ids"]) - 2) + [-100]
    _same(DataCollatorForTokenClassification(tok)(tagged), DataCollatorForTokenClassification(lean)(tagged))
    choices = [{"input_ids": [enc["input_ids"][0], enc["input_ids"][1]], "label": 1}]
    choices[0]["attention_mask"] = [[1] * len(x) for x in choices[0]["input_ids"]]
    _same(ChoiceCollator(tok)(choices), ChoiceCollator(lean)(choices))


def test_padding_only_saves_the_tokenizers_files(tiny_ref, tmp_path):
    tok = load_tokenizer(tiny_ref)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    tok.save_pretrained(tmp_path / "a")
    PaddingOnly(tok).save_pretrained(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and "tokenizer.json" in names
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert not mismatch and not errors


def test_padding_only_keeps_the_tokenizer_when_its_files_cannot_be_stashed(tiny_ref, tmp_path, monkeypatch):
    """A full temporary disk while stashing the files is not the fine-tune's error: the tokenizer is
    kept and writes its files into the output folder itself (where a lasting failure is named)."""
    tok = load_tokenizer(tiny_ref)
    save = type(tok).save_pretrained
    calls = []

    def full_once(self, folder, *args, **kwargs):
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(errno.EFBIG, "File too large")
        return save(self, folder, *args, **kwargs)

    monkeypatch.setattr(type(tok), "save_pretrained", full_once)
    lean = PaddingOnly(tok)
    lean.save_pretrained(tmp_path)
    assert len(calls) == 2 and (tmp_path / "tokenizer.json").is_file()

    def broken(self, folder, *args, **kwargs):
        raise ValueError("not a storage problem")

    monkeypatch.setattr(type(tok), "save_pretrained", broken)
    with pytest.raises(ValueError):  # any other failure is not hidden
        PaddingOnly(tok)


def test_trainable_rows_are_read_from_the_weights_file_with_the_same_values(tiny_ref):
    encoder = load_model(tiny_ref)
    matrix = encoder.get_input_embeddings().weight.detach().clone()
    ids = [[5, 9, 300, 17], [42, 9, 1000]]
    rows = train_used_rows(encoder, ids, 1, tiny_ref)
    assert rows.stored is not None  # the tiny model's safetensors file holds the matrix as loaded
    assert torch.equal(rows.table.detach(), matrix[rows.rows])
    batch = torch.tensor([[5, 9, 300, 17, 1], [42, 9, 1000, 2, 1]])  # 2 and 1: not in the table
    torch.testing.assert_close(rows(batch), matrix[batch], rtol=0, atol=0)
    assert rows.stored.loaded == len(np.unique([2, 1]))  # only ids outside the table were read
