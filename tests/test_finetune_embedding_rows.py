"""Training only the embedding rows the data uses equals training the whole matrix with AdamW."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from weamcli.finetune import training
from weamcli.finetune.classifier import shared_tokenizer
from weamcli.finetune.embedding_rows import UsedRows
from weamcli.finetune.run import finetune
from weamcli.finetune.settings import FinetuneSettings


def test_used_rows_read_trained_rows_and_decay_the_rest():
    torch.manual_seed(0)
    embedding = nn.Embedding(10, 4, padding_idx=0)
    original = embedding.weight.detach().clone()
    rows = UsedRows(embedding, [2, 5, 7])
    assert rows.table.shape == (3, 4) and not embedding.weight.requires_grad
    with torch.no_grad():
        rows.table += 1.0
    rows.decay = 0.5
    ids = torch.tensor([[5, 3, 0], [7, 2, 9]])
    out = rows(ids)
    assert torch.equal(out[0, 0], original[5] + 1) and torch.equal(out[1, 1], original[2] + 1)
    assert torch.equal(out[0, 1], original[3] * 0.5) and torch.equal(out[0, 2], original[0] * 0.5)
    out.sum().backward()  # only the table gets a gradient: one count per use of each row
    assert torch.equal(rows.table.grad[:, 0], torch.tensor([1.0, 1.0, 1.0]))
    merged = rows.merge()
    assert merged is embedding and embedding.weight.requires_grad
    assert torch.equal(merged.weight[[2, 5, 7]], original[[2, 5, 7]] + 1)
    assert torch.equal(merged.weight[[0, 1, 3]], original[[0, 1, 3]] * 0.5)


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_fine_tune_equals_full_matrix_adamw(small_task, tmp_path, tiny_ref, monkeypatch):
    """Every saved tensor (untouched embedding rows included) of a fine-tune with weight decay equals
    the same fine-tune training the whole matrix, through the real Trainer path."""

    def run(name: str):
        settings = FinetuneSettings(
            task="custom",
            train=str(small_task / "train.tsv"),
            dev=str(small_task / "dev.tsv"),
            text_column="text",
            label_column="label",
            model="tiny",
            out=str(tmp_path / name),
            seeds=[3],
            batch_size=8,
            max_length=32,
            epochs=3,  # 2 steps an epoch: 6 optimiser steps under the linear schedule
            lr=1e-2,
            head_lr=1e-2,
            weight_decay=0.1,
            select="last",
            bf16=False,
            freeze_embeddings=False,
        )
        run = finetune(settings, model=tiny_ref).runs[0]
        folder = tmp_path / name / "seed-3"
        tensors = {
            **load_file(str(folder / "model.safetensors")),
            **load_file(str(folder / "classifier.safetensors")),
        }
        return run, tensors, json.loads((folder / "weam.json").read_text(encoding="utf-8"))

    rows_run, rows, meta = run("rows")
    with monkeypatch.context() as patch:
        patch.setattr(training, "train_used_rows", lambda *a: None)  # the whole matrix trains
        full_run, full, _ = run("full")
    assert meta["steps_run"] == 6 and rows_run.dev_history == full_run.dev_history
    assert rows.keys() == full.keys()
    for name in full:
        torch.testing.assert_close(rows[name], full[name], rtol=0, atol=1e-7, msg=name)
    # the untouched rows did move (weight decay only): an implementation without the decay factor
    # would be off by far more than the tolerance
    key = next(k for k in full if k.endswith("word_embeddings.weight"))
    base = load_file(str(tiny_ref.path) + "/model.safetensors")
    base = base[next(k for k in base if k.endswith("word_embeddings.weight"))]
    untouched = (full[key] - base).abs().max(dim=1).values < 1e-3
    assert int(untouched.sum()) > 30000  # most of tiny's 32k rows: the data uses a few dozen
    shrink = (full[key][untouched] / base[untouched])[base[untouched].abs() > 1e-2]
    assert shrink.max() < 1 - 1e-4 and shrink.min() > 1 - 1e-2
    assert (shrink.max() - shrink.min()) < 1e-5  # one factor for every untouched row


@pytest.mark.slow  # a real fine-tune: ~7-12 s on 2 cores
def test_no_optimiser_state_for_the_rows_the_data_does_not_use(small_task, tmp_path, tiny_ref):
    from transformers import Trainer

    shapes: dict[bool, list[tuple[int, ...]]] = {}
    real_train = Trainer.train
    try:
        for frozen in (True, False):

            def train_and_look(self, *a, frozen=frozen, **kw):
                out = real_train(self, *a, **kw)
                shapes[frozen] = [tuple(s["exp_avg"].shape) for s in self.optimizer.state.values()]
                return out

            Trainer.train = train_and_look
            finetune(
                FinetuneSettings(
                    task="custom",
                    train=str(small_task / "train.tsv"),
                    dev=str(small_task / "dev.tsv"),
                    text_column="text",
                    label_column="label",
                    model="tiny",
                    out=str(tmp_path / f"out-{frozen}"),
                    epochs=1,
                    bf16=False,
                    freeze_embeddings=frozen,
                ),
                model=tiny_ref,
            )
    finally:
        Trainer.train = real_train
    vocab = len(shared_tokenizer(tiny_ref))
    assert all(shape[0] < vocab // 100 for shape in shapes[True] + shapes[False])  # never the whole matrix
    # trained embeddings add moments for one table: the rows the data uses (a few dozen of 250k)
    extra = list(shapes[False])
    for shape in shapes[True]:
        extra.remove(shape)
    assert len(extra) == 1 and extra[0][1] == 64 and 10 < extra[0][0] < 200, extra
