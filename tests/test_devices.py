"""Devices and dtypes: every tensor weam creates goes where the tensors it meets are.

Without a GPU: the model is moved to the ``meta`` device after trimming (as the Trainer moves it to
an accelerator) and ``DeviceGuard`` raises on any op that mixes devices (torch itself lets a CPU
tensor take meta values without a word). Forward passes run on CPU inputs with ``meta`` as the
default device, so a tensor made without ``device=`` lands on meta and the guard catches it.
With a GPU: pretrain → finetune → evaluate on CUDA, end to end.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from pretrain_fixtures import make_alignment_folder
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from weamcli.common.models import encoder_and_head, load_model, load_tokenizer
from weamcli.pretrain.head_warmup import head_state
from weamcli.pretrain.masking import PairCollator, build_pair, word_pieces
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives import make_collator, objective_names
from weamcli.pretrain.objectives.code_switch import switch_words
from weamcli.pretrain.vocabulary import trim_vocabulary, untrim_vocabulary

# ops that move data between devices on purpose
_CROSSING = {torch.ops.aten.copy_.default, torch.ops.aten._to_copy.default}


class DeviceGuard(TorchDispatchMode):
    """Raises when an op gets tensors on two devices (a CPU scalar with no dims is allowed, as
    CUDA allows it); stricter than CUDA, which also takes CPU index tensors."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in _CROSSING:
            devices = {
                str(t.device)
                for t in tree_leaves((args, kwargs))
                if isinstance(t, torch.Tensor) and not (t.device.type == "cpu" and t.dim() == 0)
            }
            if len(devices) > 1:
                raise RuntimeError(f"{func} mixes devices {sorted(devices)}")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def tokenizer(tiny_ref):
    return load_tokenizer(tiny_ref)


@pytest.fixture(scope="module")
def loaded_mlm(tiny_ref):
    from transformers import AutoModelForMaskedLM

    return load_model(tiny_ref, AutoModelForMaskedLM)


@pytest.fixture()
def mlm(loaded_mlm):
    """A fresh copy of the tiny masked-LM model for each test (they trim and move it)."""
    import copy

    return copy.deepcopy(loaded_mlm)


KEEP = sorted({0, 1, 2, 3, *range(5, 4000, 7), 250001})  # specials, some pieces, the last row


def _move_to_meta(mlm) -> None:
    """As the Trainer's ``model.to(cuda)``: parameters keep their identity, so ties survive (a plain
    move to meta would make new Parameters and untie the decoder from the embeddings)."""
    before = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        mlm.to("meta")
    finally:
        torch.__future__.set_swap_module_params_on_conversion(before)
    assert mlm.get_output_embeddings().weight is mlm.get_input_embeddings().weight


def _devices(mlm) -> set[str]:
    return {str(t.device) for t in [*mlm.parameters(), *mlm.buffers()]}


def test_the_guard_catches_what_torch_lets_through():
    """Without the guard a CPU tensor silently takes meta values; the tests below rely on it."""
    full, rows = torch.zeros(10), torch.ones(3, device="meta")
    full[torch.tensor([1, 2, 3])] = rows  # no error from torch
    with pytest.raises(RuntimeError, match="mixes devices"), DeviceGuard():
        full[torch.tensor([1, 2, 3])] = rows
    with pytest.raises(RuntimeError, match="mixes devices"), torch.device("meta"), DeviceGuard():
        torch.arange(3, device="cpu") + torch.arange(3)  # a factory without device=


def test_untrim_builds_the_full_vocabulary_where_the_trained_model_is(mlm):
    vocab, hidden = mlm.get_input_embeddings().weight.shape
    full = trim_vocabulary(mlm, KEEP)
    _move_to_meta(mlm)  # the Trainer moves the trimmed model; ``full`` stays on the CPU
    with DeviceGuard():
        untrim_vocabulary(mlm, KEEP, full)
    assert _devices(mlm) == {"meta"}
    emb, dec = mlm.get_input_embeddings(), mlm.get_output_embeddings()
    assert emb.weight.shape == (vocab, hidden) and dec.bias.shape == (vocab,)
    assert dec.weight is emb.weight and mlm.config.vocab_size == vocab
    _, head = encoder_and_head(mlm)
    vocab_sized = [p for p in head.parameters() if p.shape == (vocab,)]
    assert vocab_sized and all(p is dec.bias for p in vocab_sized)  # no stale trimmed bias left


def test_head_state_merges_on_the_heads_device(mlm):
    vocab = mlm.config.vocab_size
    full = trim_vocabulary(mlm, KEEP)
    _move_to_meta(mlm)
    with DeviceGuard():
        state = head_state(mlm, full, KEEP)
    assert {str(v.device) for v in state.values()} == {"meta"}
    assert any(v.shape == (vocab,) for v in state.values())


def test_merges_take_the_dtype_of_the_trained_model(mlm):
    """A model cast after trimming (bf16, say) gets full-size tensors in its own dtype, the trained
    rows written exactly and the others cast from the originals."""
    base_emb = mlm.get_input_embeddings().weight.detach().clone()
    base_bias = mlm.get_output_embeddings().bias.detach().clone()
    full = trim_vocabulary(mlm, KEEP)
    with torch.no_grad():
        mlm.get_input_embeddings().weight.add_(1.0)
        mlm.get_output_embeddings().bias.add_(1.0)
    mlm.to(torch.bfloat16)
    trained_emb = mlm.get_input_embeddings().weight.detach().clone()
    trained_bias = mlm.get_output_embeddings().bias.detach().clone()
    state = head_state(mlm, full, KEEP)
    untrim_vocabulary(mlm, KEEP, full)
    assert {v.dtype for v in state.values()} == {p.dtype for p in mlm.parameters()} == {torch.bfloat16}
    keep = torch.tensor(KEEP)
    other = torch.ones(len(base_emb), dtype=torch.bool)
    other[keep] = False
    emb, bias = mlm.get_input_embeddings().weight, mlm.get_output_embeddings().bias
    assert torch.equal(emb[keep], trained_emb) and torch.equal(bias[keep], trained_bias)
    assert torch.equal(emb[other], base_emb[other].to(torch.bfloat16))
    assert torch.equal(bias[other], base_bias[other].to(torch.bfloat16))
    full_biases = [v for v in state.values() if v.shape == bias.shape]
    assert full_biases and all(torch.equal(v, bias) for v in full_biases)


def _pair_batch(
    tokenizer, *, split: bool = False, id_map=None, objective: str | None = None
) -> dict[str, Any]:
    """A batch of three pairs; with ``objective``, collated as that objective's trainer does (the
    code-switched English made from a two-entry lexicon)."""
    rows = [
        ("the cat sat on the mat", "die Katze sass auf der Matte", [(0, 0), (1, 1), (2, 2), (5, 5)]),
        ("hello world", "hallo Welt", [(0, 0), (1, 1)]),
        ("a longer English sentence than the others", "ein Satz", [(1, 1)]),
    ]
    lexicon = {"cat": "Katze", "world": "Welt"}
    features = []
    for index, (en, xx, links) in enumerate(rows):
        src, tgt = word_pieces([en.split(), xx.split()], tokenizer, no_space=False)
        ex = build_pair(
            src, tgt, links, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id, max_length=32
        )
        switched = switch_words(en.split(), links, lexicon, prob=1.0, seed=0, index=index)
        (cs,) = word_pieces([switched], tokenizer, no_space=False)
        ex["cs_input_ids"] = [tokenizer.cls_token_id, *cs["ids"], tokenizer.sep_token_id]
        features.append(ex)
    if objective is not None:
        return make_collator(objective, tokenizer.pad_token_id, id_map)(features)
    return PairCollator(pad_id=tokenizer.pad_token_id, id_map=id_map, split=split)(features)


@pytest.mark.parametrize("objective", objective_names())
def test_training_step_makes_its_tensors_on_the_inputs_device(mlm, tokenizer, objective):
    """Masking (own generator or the global one), the MLM split and the losses (the frozen
    align-l2 reference included), under bf16 autocast as on a GPU: no tensor is made on the default
    device (meta here) instead of the inputs' one."""
    keep = sorted({*tokenizer.all_special_ids, *range(5, 3000)})
    trim_vocabulary(mlm, keep)
    id_map = torch.full((len(tokenizer),), tokenizer.unk_token_id, dtype=torch.long)
    id_map[torch.tensor(keep)] = torch.arange(len(keep))
    batch = _pair_batch(tokenizer, id_map=id_map, objective=objective)
    model = PretrainingModel(
        mlm,
        objective=objective,
        mask_id=int(id_map[tokenizer.mask_token_id]),
        pad_id=int(id_map[tokenizer.pad_token_id]),
        replace_pool=torch.arange(10, 200),
        # align-l2 at the tiny model's first of two layers: hidden_states, not last_hidden_state
        **({"l2_layer": 1, "l2_word_vector": "mean"} if objective == "align-l2" else {}),
    )
    for mask_seed in (7, None):
        with torch.device("meta"), DeviceGuard(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(**batch, mask_seed=mask_seed)
            out["loss"].backward()
        assert out["loss"].device.type == "cpu" and torch.isfinite(out["loss"])
    assert all(p.grad is None or p.grad.device.type == "cpu" for p in model.parameters())


def test_classifier_step_makes_its_tensors_on_the_inputs_device(loaded_mlm, tokenizer):
    import copy

    from weamcli.finetune.classifier import PooledClassifier

    enc = tokenizer(["a short one", "a somewhat longer sentence here"], padding=True, return_tensors="pt")
    labels = torch.tensor([0, 2])
    for pooling in ("mean", "cls"):
        model = PooledClassifier(copy.deepcopy(loaded_mlm.base_model), 3, pooling=pooling)
        with torch.device("meta"), DeviceGuard():
            out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels)
            out["loss"].backward()
        assert out["logits"].device.type == "cpu" and torch.isfinite(out["loss"])


# ---- on a GPU: the whole path -------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture()
def aligned_de(shared_data, tmp_path) -> Path:
    return make_alignment_folder(shared_data, tmp_path / "align-en-de", "de", "deu", 48)


def _spy(monkeypatch, module, name: str, seen: list[str], device_of: Callable[..., Any]) -> None:
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(device_of(*args, **kwargs).type)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


GPU_PRETRAIN = dict(model="tiny", batch_size=8, max_length=48, logging_steps=2, max_pairs=40, trim_vocab=True)


@cuda
def test_pretrain_finetune_evaluate_on_cuda(shared_data, aligned_de, tmp_path, monkeypatch):
    """Trimmed vocabulary, a head warm-up and bf16 (where the GPU has it); then a fine-tune, the
    SIB-200 evaluation and the Tatoeba probe, every one of them on the GPU."""
    from pretrain_fixtures import run_pretrain

    import weamcli.common.sentence_vectors as sentence_vectors
    import weamcli.finetune.classifier as classifier
    import weamcli.pretrain.head_warmup as head_warmup
    import weamcli.pretrain.vocabulary as vocabulary
    from weamcli.common.models import resolve_model
    from weamcli.common.tasks import SIB200, with_root
    from weamcli.evaluate.classification import evaluate
    from weamcli.evaluate.retrieval import evaluate_retrieval
    from weamcli.finetune.run import finetune
    from weamcli.finetune.settings import FinetuneSettings

    merges: list[str] = []
    forwards: list[str] = []
    encodes: list[str] = []
    _spy(monkeypatch, vocabulary, "merge_rows", merges, lambda full, trained, keep: trained.device)
    _spy(monkeypatch, head_warmup, "merge_rows", merges, lambda full, trained, keep: trained.device)
    forward = classifier.PooledClassifier.forward

    @functools.wraps(forward)  # the Trainer reads the signature to keep the labels column
    def spy_forward(self, input_ids, *args, **kwargs):
        forwards.append(input_ids.device.type)
        return forward(self, input_ids, *args, **kwargs)

    monkeypatch.setattr(classifier.PooledClassifier, "forward", spy_forward)
    _spy(monkeypatch, sentence_vectors, "encode_sentences", encodes, lambda model, *a, **k: model.device)

    out = tmp_path / "weam-de"
    result = run_pretrain(
        ["de"],
        out,
        alignments=str(aligned_de),
        cache_dir=tmp_path / "cache",
        max_steps=4,
        save_steps=0,
        head_warmup_steps=2,
        bf16=torch.cuda.is_bf16_supported(),
        **GPU_PRETRAIN,
    )
    assert result.steps == 4 and result.head_warmup
    assert len(merges) >= 3 and set(merges) == {"cuda"}  # warm head's bias; embeddings and bias
    from safetensors.torch import load_file

    weights = load_file(str(out / "model.safetensors"))
    emb = weights["bert.embeddings.word_embeddings.weight"]
    assert emb.shape[0] == 250002 and torch.isfinite(emb).all()

    sib200 = shared_data / "sib200" / "data" / "annotated"
    settings = FinetuneSettings(
        task="sib200",
        data_dir=str(sib200),
        model=str(out),
        out=str(tmp_path / "ft"),
        seeds=[3],
        epochs=1.0,
        batch_size=16,
        max_length=64,
        max_train_examples=64,
    )
    tuned = finetune(settings)
    assert forwards and set(forwards) == {"cuda"}
    forwards.clear()
    rows = evaluate([tuned.runs[0].path], with_root(SIB200, sib200), "de", split="test")
    assert set(forwards) == {"cuda"} and rows[0]["n"] == 204 and 0.0 <= rows[0]["accuracy"] <= 1.0
    probe = evaluate_retrieval(resolve_model(str(out)), "swh", shared_data / "tatoeba")
    assert set(encodes) == {"cuda"} and [r["direction"] for r in probe] == ["xx->en", "en->xx"]


@cuda
def test_resume_on_cuda_loads_the_checkpoint_into_the_gpu_model(aligned_de, tmp_path):
    from pretrain_fixtures import run_pretrain
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 2:
                raise KeyboardInterrupt

    common = dict(
        GPU_PRETRAIN, alignments=str(aligned_de), cache_dir=tmp_path / "cache", max_steps=4, save_steps=2
    )
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(["de"], tmp_path / "out", callbacks=[Stop()], **common)
    result = run_pretrain(["de"], tmp_path / "out", resume=True, **common)
    assert result.steps == 4 and (tmp_path / "out" / "weam.json").is_file()
