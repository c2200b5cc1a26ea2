"""bf16 or fp32 for pre-training: the user's choice kept, GPUs by support, CPUs by a cached
measurement (never by flags alone)."""

from __future__ import annotations

import json

import pytest

import weamcli.pretrain.precision as precision
from weamcli.pretrain.precision import MARGIN, Bf16Choice, calibrate, choose_bf16


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

    def fake(config, *, vocab_size, batch_size, max_length, **_kw):
        calls.append((vocab_size, batch_size, max_length))
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
    cache = json.loads((tmp_path / "bf16-choice.json").read_text(encoding="utf-8"))
    (entry,) = cache.values()
    assert entry["batch"] == [16, 64] and entry["threads"] == 1 and entry["shape"]["hidden"] == 32
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


def test_real_calibration_of_a_tiny_model_gives_two_speeds():
    fp32, bf16 = calibrate(_config(), vocab_size=300, batch_size=2, max_length=16, min_steps=2, max_steps=2)
    assert fp32 > 0 and bf16 > 0


def test_default_bf16_reads_the_models_config(monkeypatch, tiny_ref, tmp_path):
    monkeypatch.setenv("WEAM_HOME", str(tmp_path))
    seen = {}

    def fake_choose(requested, config, **kw):
        seen.update(kw, hidden=config.hidden_size, requested=requested)
        return Bf16Choice(False, "test")

    monkeypatch.setattr(precision, "choose_bf16", fake_choose)
    assert precision.default_bf16(tiny_ref, 4, 32, True) is False
    assert seen == {"batch_size": 4, "max_length": 32, "trimmed": True, "hidden": 64, "requested": None}
