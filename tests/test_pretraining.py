"""`weam pretrain` end to end on the tiny model and small real NTREX-128 slices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from pretrain_fixtures import make_alignment_folder, run_pretrain
from safetensors.torch import load_file
from typer.testing import CliRunner

from weamcli.align.folder import read_alignment_folder
from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

FAST = dict(model="tiny", batch_size=8, max_length=48, logging_steps=2, max_pairs=40)


@pytest.fixture(scope="module")
def aligned(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aligned")
    make_alignment_folder(shared_data, root / "align-en-de", "de", "deu", 48)
    make_alignment_folder(shared_data, root / "align-en-zh", "zh", "zho-CN", 48, no_space=True)
    return root


def test_cli_two_languages_writes_a_full_vocab_model(aligned, tmp_path, tiny_ref):
    out = tmp_path / "weam-de-zh"
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            "--lang",
            "de,zh",
            "--alignments",
            str(aligned / "align-en-{lang}"),
            "--model",
            "tiny",
            "-o",
            str(out),
            "--max-steps",
            "6",
            "--batch-size",
            "8",
            "--max-length",
            "48",
            "--logging-steps",
            "2",
            "--save-steps",
            "3",
            "--lr",
            "1e-3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "L_cp" in result.output
    meta = json.loads((out / "weam.json").read_text())
    assert meta["method"] == "weam" and meta["pretrain_langs"] == ["de", "zh"]
    assert meta["has_mlm_head"] is True and meta["steps"] == 6 and meta["base_model"] == "tiny"
    assert "preset" not in meta and meta["text_prefix"] == ""
    records = read_records(out / "run.jsonl")
    logs = [r for r in records if r["event"] == "log"]
    assert len(logs) == 3 and all("loss_mp" in r["metrics"] and "loss_cp" in r["metrics"] for r in logs)
    final = records[-1]
    assert final["event"] == "run" and final["seed"] == 42 and final["config"]["trim_vocab"] is True
    assert final["metrics"]["loss_cp_last"] is not None and final["versions"]["torch"]
    assert (out / "checkpoints" / "checkpoint-6" / "trimmed-vocab.json").is_file()

    # saved at full vocabulary size: loads with AutoModel and the original tokenizer
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.get_input_embeddings().weight.shape[0] == len(tok) == 250002
    trained = load_file(str(out / "model.safetensors"))
    base = load_file(str(Path(tiny_ref.path) / "model.safetensors"))
    key = "bert.embeddings.word_embeddings.weight"
    keep = json.loads((out / "checkpoints" / "checkpoint-6" / "trimmed-vocab.json").read_text())
    keep = torch.tensor(keep["rows_are_tokenizer_ids"])
    unused = torch.ones(len(tok), dtype=torch.bool)
    unused[keep] = False
    assert torch.equal(trained[key][unused], base[key][unused])  # rows the corpus never used: untouched
    assert not torch.allclose(trained[key][keep], base[key][keep])  # trained rows written back
    ids = tok("das Haus ist rot", return_tensors="pt")
    assert torch.isfinite(model(**ids).last_hidden_state).all()


class _StopAfterSave:
    """Simulates a kill right after the checkpoint of step ``k`` is written."""

    def __new__(cls, k: int):
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_save(self, args, state, control, **kwargs):
                if state.global_step == k:
                    raise KeyboardInterrupt

        return Stop()


def test_resume_matches_an_uninterrupted_run(aligned, tmp_path):
    objective = "weam"
    common = dict(
        FAST,
        objective=objective,
        max_steps=6,
        save_steps=3,
        alignments=str(aligned / "align-en-de"),
        cache_dir=tmp_path / "cache",
        bf16=False,
    )
    run_pretrain(["de"], tmp_path / "straight", **common)
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(["de"], tmp_path / "killed", callbacks=[_StopAfterSave(3)], **common)
    assert not (tmp_path / "killed" / "weam.json").exists()
    # a resume with different settings is refused, naming the config file; nothing is touched
    with pytest.raises(WeamError, match=r"pretrain-config.json: resume refused.*lambda"):
        run_pretrain(["de"], tmp_path / "killed", resume=True, **{**common, "lam": 0.5})
    result = run_pretrain(["de"], tmp_path / "killed", resume=True, **common)
    assert result.steps == 6
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:  # same seed, same batches, same masks: equal up to float round-off
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    record = read_records(tmp_path / "killed" / "run.jsonl")[-1]
    assert record["metrics"]["resumed_from"].endswith("checkpoint-3")


def test_bad_alignment_files_name_file_and_line(aligned, tmp_path):
    bad = tmp_path / "align-en-de"
    shutil.copytree(aligned / "align-en-de", bad)
    lines = (bad / "alignment.txt").read_text().splitlines()
    lines[4] = "0-0 1-999"
    (bad / "alignment.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(WeamError, match=r"alignment.txt:5: link 1-999 is out of range"):
        read_alignment_folder(bad)
    (bad / "alignment.txt").write_text("\n".join(lines[:10]) + "\n")
    with pytest.raises(
        WeamError,
        match=r"alignment.txt:11: has 10 lines but source.tok has 48",
    ):
        run_pretrain(["de"], tmp_path / "out", alignments=str(bad), cache_dir=tmp_path / "cache", **FAST)
    assert not (tmp_path / "out").exists()  # rejected before anything was written


def test_cli_bad_input_is_one_line(aligned, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "pretrain",
            "--lang",
            "xx",
            "-a",
            str(aligned / "align-en-{lang}"),
            "-m",
            "tiny",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2 and "xx" in res.output and "Traceback" not in res.output
    src, tgt = tmp_path / "en.txt", tmp_path / "de.txt"
    src.write_text("one\ntwo\nthree\n")
    tgt.write_text("eins\nzwei\n")
    res = runner.invoke(
        app,
        [
            "pretrain",
            "--lang",
            "de",
            "--source",
            str(src),
            "--target",
            str(tgt),
            "-m",
            "tiny",
            "-o",
            str(tmp_path / "o2"),
        ],
    )
    assert res.exit_code == 2 and f"{tgt}:3: has 2 lines" in res.output
    # an existing run is never overwritten by accident
    done = tmp_path / "done"
    done.mkdir()
    (done / "model.safetensors").write_text("precious")
    (done / "weam.json").write_text("{}")  # a weam pretrain run (a folder of other files: test_battery)
    res = runner.invoke(
        app,
        ["pretrain", "--lang", "de", "-a", str(aligned / "align-en-{lang}"), "-m", "tiny", "-o", str(done)],
    )
    assert res.exit_code == 2 and "not empty" in res.output
    assert (done / "model.safetensors").read_text() == "precious"


def test_raw_files_are_aligned_once_with_intersection(shared_data, tmp_path):
    """--source/--target: NTREX-style CRLF files are aligned by `weam align` (1-to-1 links) into
    OUT/align-en-<lang>, and a later run reuses that alignment."""
    pytest.importorskip("weamcli.align.run")
    ntrex = shared_data / "ntrex128" / "NTREX-128"
    for name in ("newstest2019-src.eng.txt", "newstest2019-ref.deu.txt"):
        lines = (ntrex / name).read_bytes().split(b"\n")[:30]
        (tmp_path / name).write_bytes(b"\n".join(lines) + b"\n")
    assert b"\r\n" in (tmp_path / "newstest2019-ref.deu.txt").read_bytes()
    messages: list[str] = []
    common = dict(
        source=str(tmp_path / "newstest2019-src.eng.txt"),
        target=str(tmp_path / "newstest2019-ref.{iso3}.txt"),
        crlf="strip",  # as `weam align`, Windows line endings are an error unless asked for
        cache_dir=tmp_path / "cache",
        max_steps=2,
        progress=lambda message, *counts: messages.append(message),
        **FAST,
    )
    out = tmp_path / "raw"
    result = run_pretrain(["de"], out, **common)
    assert result.steps == 2
    meta, src, tgt, links = read_alignment_folder(out / "align-en-de")
    assert meta["symmetrize"] == "intersect" and len(src) == 30
    for pair in links:  # intersection: every word has at most one partner
        assert len({i for i, _ in pair}) == len(pair) == len({j for _, j in pair})
    assert any(len(pair) for pair in links)
    messages.clear()
    run_pretrain(["de"], out, overwrite=True, **common)
    assert any("reusing alignment" in m for m in messages)


def test_objectives_see_identical_masks_at_every_step(aligned, tmp_path, monkeypatch):
    """Masking has its own generator: dropout on MLM's differently shaped batch does not shift it."""
    import weamcli.pretrain.objectives.masked as masked
    import weamcli.pretrain.objectives.mlm as mlm

    seen: dict[str, list] = {}
    current = {"name": ""}
    real_mask, real_split = masked.apply_masks, mlm.split_layout

    def record_mask(*args, **kwargs):
        ids, labels = real_mask(*args, **kwargs)
        seen[current["name"]].append((ids.clone(), labels.clone()))
        return ids, labels

    def record_split(ids, labels, split_index, pad_id):
        out = real_split(ids, labels, split_index, pad_id)
        seen["mlm-split"].append(out)
        return out

    monkeypatch.setattr(masked, "apply_masks", record_mask)
    monkeypatch.setattr(mlm, "split_layout", record_split)
    common = dict(
        FAST, max_steps=4, save_steps=0, alignments=str(aligned / "align-en-de"), cache_dir=tmp_path / "c"
    )
    for name in ("weam", "tlm", "mlm"):
        current["name"] = name
        seen[name], seen["mlm-split"] = [], seen.get("mlm-split", [])
        run_pretrain(["de"], tmp_path / name, objective=name, bf16=False, **common)
    assert len(seen["weam"]) == len(seen["tlm"]) == len(seen["mlm"]) == 4
    for step in range(4):
        (wi, wl), (ti, tl), (mi, ml) = seen["weam"][step], seen["tlm"][step], seen["mlm"][step]
        assert torch.equal(wl, tl) and torch.equal(wi, ti), step
        assert torch.equal(wl, ml) and torch.equal(wi, mi), step
        # what the MLM encoder sees, sentence by sentence: same masked tokens and inputs as the pair
        split_ids, split_labels = seen["mlm-split"][step]
        for r in range(wl.shape[0]):
            pair_masked = wl[r][wl[r] != -100].tolist()
            pair_inputs = wi[r][wl[r] != -100].tolist()
            rows = split_labels[2 * r : 2 * r + 2]
            assert rows[rows != -100].tolist() == pair_masked, (step, r)
            assert split_ids[2 * r : 2 * r + 2][rows != -100].tolist() == pair_inputs, (step, r)
    assert any(not torch.equal(seen["weam"][0][1], seen["weam"][s][1]) for s in (1, 2, 3))


def test_head_state_expands_only_the_decoder_bias(tiny_ref):
    """A kept vocabulary as large as the hidden size must not expand LayerNorm/dense biases."""
    from transformers import AutoModelForMaskedLM

    from weamcli.common.models import encoder_and_head, load_model
    from weamcli.pretrain.head_warmup import head_state
    from weamcli.pretrain.vocabulary import trim_vocabulary

    mlm = load_model(tiny_ref, AutoModelForMaskedLM)
    hidden = mlm.config.hidden_size
    keep = list(range(hidden))
    full = trim_vocabulary(mlm, keep)
    state = head_state(mlm, full, keep)
    vocab = full["vocab"]
    expanded = [k for k, v in state.items() if v.ndim == 1 and v.shape[0] == vocab]
    assert expanded and all(k.endswith("bias") for k in expanded)
    _, head = encoder_and_head(mlm)
    for name, p in head.named_parameters(remove_duplicate=False):
        if name in state and p is not mlm.get_output_embeddings().bias:
            assert state[name].shape == p.shape, name  # e.g. the LayerNorm bias keeps its size


def test_random_head_init_does_not_depend_on_the_global_rng(e5_ref, aligned, tmp_path):
    """e5-small's head starts untrained: its warm-up from one seed gives the same head anywhere."""
    from safetensors.torch import load_file as load

    from weamcli.common.languages import language
    from weamcli.common.models import load_tokenizer
    from weamcli.pretrain.head_warmup import ensure_warm_head
    from weamcli.pretrain.pairs import prepare_pairs

    tok = load_tokenizer(e5_ref)
    ds, key = prepare_pairs(
        aligned / "align-en-de",
        language("de"),
        tok,
        max_length=32,
        swap="one-to-one",
        subwords="first-piece",
        cache_dir=tmp_path / "c",
        progress=lambda _m, *_counts: None,
    )
    ds = ds.select(range(8))
    heads = []
    for k in range(2):
        torch.rand(1000 + k)  # a different global RNG state before each call
        folder, _ = ensure_warm_head(
            e5_ref,
            ds,
            tok,
            corpus_key=key,
            steps=1,
            seed=7,
            batch_size=4,
            lr=1e-3,
            max_length=32,
            mask_prob=0.3,
            trim=True,
            bf16=False,
            cache_root=tmp_path / f"variant{k}",
            progress=lambda _m, *_counts: None,
        )
        heads.append(load(str(folder / "head.safetensors")))
    assert heads[0].keys() == heads[1].keys()
    for name in heads[0]:
        torch.testing.assert_close(heads[0][name], heads[1][name], rtol=0, atol=0, msg=name)
