"""bf16 or fp32: the user's choice kept, GPUs by support, CPUs by a cached measurement (never by
flags alone) of inference or of a training step on a small stand-in of the model."""

from __future__ import annotations

import json

import pytest

import weamcli.common.precision as precision
from weamcli.common.precision import MARGIN, Bf16Choice, calibrate, choose_bf16


def _config(vocab: int = 300):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )


@pytest.fixture
def cpu_with_bf16(monkeypatch):
    """A CPU that has bf16 instructions, with a fake calibration that counts its calls."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ["avx512_bf16"])
    calls = []

    def fake(config, *, vocab_size, batch_size, max_length, kind="training", **_kw):
        calls.append((vocab_size, batch_size, max_length, kind))
        return calls_speed[0]

    calls_speed = [(488.0, 321.0)]  # the e5-small figures: bf16 1.5x slower
    monkeypatch.setattr(precision, "calibrate", fake)
    return calls, calls_speed


def test_given_choice_is_kept_without_measuring(cpu_with_bf16):
    calls, _ = cpu_with_bf16
    assert choose_bf16(True, _config()) == Bf16Choice(True, "given (--bf16/--no-bf16)")
    assert choose_bf16(False, _config()).enabled is False
    assert calls == []


def test_cpu_choice_is_measured_once_and_cached(cpu_with_bf16, tmp_path):
    calls, speed = cpu_with_bf16
    first = choose_bf16(None, _config(), batch_size=16, max_length=64, threads=1, cache_dir=tmp_path)
    assert first.enabled is False and "1.52x slower" in first.reason and not first.cached
    assert first.fp32_tokens_per_s == 488.0 and first.bf16_tokens_per_s == 321.0
    again = choose_bf16(None, _config(), batch_size=16, max_length=64, threads=1, cache_dir=tmp_path)
    assert again.enabled is False and again.cached and "cached" in again.reason and len(calls) == 1
    assert first.reason.startswith("training measured on a 1-layer stand-in")
    cache = json.loads((tmp_path / "bf16-choice.json").read_text(encoding="utf-8"))
    (entry,) = cache.values()
    assert entry["batch"] == [16, 64] and entry["threads"] == 1 and entry["shape"]["hidden"] == 32
    assert entry["kind"] == "training" and entry["method"] == precision.METHOD
    # another batch shape, thread count or vocabulary is another measurement
    speed[0] = (100.0, 400.0)
    other = choose_bf16(None, _config(), batch_size=32, max_length=128, threads=1, cache_dir=tmp_path)
    assert other.enabled is True and "4.00x as fast" in other.reason and len(calls) == 2
    trimmed = choose_bf16(None, _config(50_000), batch_size=32, max_length=128, threads=1, trimmed=True,
                          cache_dir=tmp_path)  # fmt: skip
    assert calls[-1][0] == precision.TRIMMED_VOCAB and trimmed.enabled
    speed[0] = (100.0, 100.0 * MARGIN * 0.99)  # faster, but within the margin: fp32
    tie = choose_bf16(None, _config(), batch_size=8, max_length=64, threads=2, cache_dir=tmp_path)
    assert tie.enabled is False and "margin" in tie.reason


def test_inference_is_measured_apart_from_training(cpu_with_bf16, tmp_path):
    """Inference (a forward pass) and a training step at the same batch shape are two measurements,
    each made once; inference's does not depend on the vocabulary (it runs no head over it)."""
    calls, speed = cpu_with_bf16
    kw = dict(batch_size=16, max_length=64, threads=1, cache_dir=tmp_path)
    training = choose_bf16(None, _config(), **kw)
    speed[0] = (100.0, 200.0)
    inference = choose_bf16(None, _config(), kind="inference", **kw)
    assert [c[3] for c in calls] == ["training", "inference"]
    assert training.enabled is False and inference.enabled is True
    assert inference.reason.startswith("inference measured on a 1-layer stand-in: bf16 2.00x as fast")
    again = choose_bf16(None, _config(50_000), kind="inference", **kw)  # another vocabulary: same entry
    assert again.cached and again.enabled and len(calls) == 2
    kinds = {e["kind"] for e in json.loads((tmp_path / "bf16-choice.json").read_text("utf-8")).values()}
    assert kinds == {"training", "inference"}
    with pytest.raises(ValueError, match="kind"):
        choose_bf16(None, _config(), kind="serving", **kw)


def test_an_entry_timed_on_a_full_copy_is_measured_again(cpu_with_bf16, tmp_path):
    """Entries from the earlier full-copy calibration (no kind, other key) are not taken for
    stand-in measurements: the first run after the change measures once."""
    calls, _ = cpu_with_bf16
    old_key = "0123456789abcdef"
    old = {old_key: {"fp32_tokens_per_s": 1.0, "bf16_tokens_per_s": 9.0, "batch": [16, 64], "threads": 1}}
    (tmp_path / "bf16-choice.json").write_text(json.dumps(old), encoding="utf-8")
    choice = choose_bf16(None, _config(), batch_size=16, max_length=64, threads=1, cache_dir=tmp_path)
    assert not choice.cached and len(calls) == 1
    cache = json.loads((tmp_path / "bf16-choice.json").read_text(encoding="utf-8"))
    assert old_key in cache and len(cache) == 2  # the other entries are kept


def test_cpu_without_bf16_instructions_and_distributed_runs_do_not_measure(
    cpu_with_bf16, monkeypatch, tmp_path
):
    calls, _ = cpu_with_bf16
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert "distributed" in choose_bf16(None, _config(), cache_dir=tmp_path).reason
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: [])
    monkeypatch.delenv("WORLD_SIZE")
    choice = choose_bf16(None, _config(), cache_dir=tmp_path)
    assert choice.enabled is False and "without bf16 instructions" in choice.reason and calls == []


def test_gpu_choice_follows_support(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_bf16(None, _config()) == Bf16Choice(True, "CUDA GPU with bf16 support")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_bf16(None, _config()).enabled is False


@pytest.mark.parametrize("kind", ["inference", "training"])
def test_real_calibration_of_a_tiny_model_gives_two_speeds(kind):
    fp32, bf16 = calibrate(
        _config(), vocab_size=300, batch_size=2, max_length=16, kind=kind, min_steps=2, max_steps=2
    )
    assert fp32 > 0 and bf16 > 0


def _e5_small_config(vocab: int = 250_037):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab,
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=1536,
    )


@pytest.mark.parametrize("kind", ["inference", "training"])
def test_the_stand_in_has_the_models_layer_shape_but_few_layers_and_a_small_vocabulary(kind):
    """What keeps a measurement to seconds and a few hundred MB: the stand-in of e5-small (118M
    parameters, 96M of them the embedding matrix) has its width, heads and intermediate size, one
    layer and a small vocabulary; whatever the model's vocabulary, the stand-in stays this size."""
    from weamcli.common.models import parameter_count

    config = _e5_small_config()
    model = precision.stand_in(config, kind=kind, vocab_size=250_037)
    small = model.config
    assert (small.hidden_size, small.num_attention_heads, small.intermediate_size) == (384, 12, 1536)
    assert small.num_hidden_layers == precision.STANDIN_LAYERS <= 2
    assert small.vocab_size <= precision.STANDIN_HEAD_ROWS
    assert parameter_count(model) < 6_000_000  # < 5% of e5-small; fp32 + AdamW state < 100 MB
    assert config.num_hidden_layers == 12 and config.vocab_size == 250_037  # the caller's config is kept


def test_a_training_step_is_reckoned_for_the_full_model(monkeypatch):
    """The stand-in's parts scale to the full model: the layers by depth, the masked-LM head by its
    rows (the trimmed vocabulary), AdamW by the parameters."""
    import torch

    config = _config(vocab=300)
    config.num_hidden_layers = 6
    model = precision.stand_in(config, kind="training", vocab_size=300)
    ids = torch.randint(5, 300, (2, 16))
    step, scale = precision._training_step(model, config, ids, torch.ones_like(ids), 300, torch.Generator())
    assert scale["layers"] == 6 and scale["head"] == 1.0
    layer = precision._layer_parameters(model)
    assert layer > 0 and scale["optimizer"] == pytest.approx(
        1 + 5 * layer / sum(p.numel() for p in model.parameters())
    )
    parts = step(False)
    assert set(parts) == {"layers", "head", "optimizer"} and all(t > 0 for t in parts.values())
    big = precision.stand_in(_e5_small_config(), kind="training", vocab_size=32_000)
    ids = torch.randint(5, 100, (2, 8))
    _, scale = precision._training_step(
        big, _e5_small_config(), ids, torch.ones_like(ids), 32_000, torch.Generator()
    )
    assert scale["head"] == 32_000 / precision.STANDIN_HEAD_ROWS


def test_default_bf16_reads_the_models_config(monkeypatch, tiny_ref, tmp_path):
    monkeypatch.setenv("WEAM_HOME", str(tmp_path))
    seen = {}

    def fake_choose(requested, config, **kw):
        seen.update(kw, hidden=config.hidden_size, requested=requested)
        return Bf16Choice(False, "test")

    monkeypatch.setattr(precision, "choose_bf16", fake_choose)
    assert precision.default_bf16(tiny_ref, 4, 32, True) is False
    assert seen == {
        "batch_size": 4,
        "max_length": 32,
        "trimmed": True,
        "kind": "training",
        "hidden": 64,
        "requested": None,
    }


def test_an_unreachable_model_config_is_a_one_line_error_naming_the_model(monkeypatch, tmp_path):
    # the bf16 choice reads the config before anything else loads the model: it must not traceback
    from weamcli.common.errors import WeamError
    from weamcli.common.models import ModelRef

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = ModelRef("nosuchorg/nosuchmodel", "nosuchorg/nosuchmodel", "hub")
    with pytest.raises(WeamError, match="cannot read the model config") as err:
        precision.bf16_choice_for(ref, batch_size=8, max_length=32)
    assert "nosuchorg/nosuchmodel" in str(err.value)
