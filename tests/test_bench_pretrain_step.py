"""bench/pretrain_step.py's speed table: its FLOP count (by hand and by torch's counter) and its CPU
fallback on the tiny model for a couple of steps."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pretrain_step.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("pretrain_step_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_step_flops_by_hand(bench):
    # h=4, f=8, 1 layer, vocabulary 10; 1 sequence of 2 tokens, 1 row through the head:
    # per token 8·4² + 4·4·8 = 256, × 2 tokens = 512; attention 4·2²·4 = 64;
    # head 2·4² + 2·4·10 = 112; forward 688; training (forward + backward) 3 × 688
    dims = {"hidden": 4, "intermediate": 8, "layers": 1, "heads": 1, "vocab": 10}
    assert bench.step_flops(dims, 1, 2, 1, 10) == 2064


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_step_flops_match_torchs_flop_counter(bench, attention):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertConfig, BertForMaskedLM

    from weamcli.common.models import encoder_and_head

    dims = {"hidden": 32, "layers": 2, "heads": 4, "intermediate": 48, "vocab": 100}
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48
    )
    mlm = BertForMaskedLM._from_config(config, attn_implementation=attention)
    encoder, head = encoder_and_head(mlm)
    ids = torch.randint(4, 100, (3, 10))
    rows = torch.tensor([0, 5, 7, 12, 29])
    with FlopCounterMode(display=False) as counter:
        hidden = encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        head(hidden.reshape(30, -1)[rows]).float().sum().backward()
    assert counter.get_total_flops() == bench.step_flops(dims, 3, 10, 5, 100)


def test_cpu_table_on_the_tiny_model(bench):
    peaks = {"bf16": 2e11, "fp32": 1e11}
    rows = bench.run_table(
        ["tiny"],
        device="cpu",
        batch_size=2,
        max_length=16,
        steps=2,
        warmup=1,
        vocab=300,
        precisions=["fp32", "bf16"],
        attentions=["sdpa", "eager"],
        compiles=[False],
        peaks=peaks,
    )
    assert {(r.precision, r.attention) for r in rows} == {
        ("fp32", "sdpa"),
        ("fp32", "eager"),
        ("bf16", "sdpa"),
        ("bf16", "eager"),
    }
    for r in rows:
        assert r.model == "tiny" and not r.compiled and r.first_step_s > 0
        assert r.tokens_per_s > 0 and r.step_ms > 0
        assert r.tokens_per_s == pytest.approx(2 * 16 / (r.step_ms / 1000))
        assert r.mfu == pytest.approx(r.tflops_per_s * 1e12 / peaks[r.precision])
        assert 0 < r.mfu < 1
        # the FLOP rate is the hand-checked count over the measured time: between the counts of a
        # step with no head rows and one with every position through the head
        low = bench.step_flops(bench.MODEL_DIMS["tiny"], 2, 16, 0, 300) / (r.step_ms / 1000)
        high = bench.step_flops(bench.MODEL_DIMS["tiny"], 2, 16, 2 * 16 * 2, 300) / (r.step_ms / 1000)
        assert low < r.tflops_per_s * 1e12 < high


def test_cpu_fallback_prints_the_table(bench, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WEAM_HOME", str(tmp_path))
    bench.main(
        ["--device", "cpu", "--models", "tiny", "--batch-size", "2", "--max-length", "16", "--vocab", "300",
         "--steps", "1", "--warmup", "0", "--compile", "off", "--attention", "sdpa", "--peak-tflops", "0.2",
         "--peak-tflops-fp32", "0.1", "--no-choice"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "peak TFLOP/s assumed: bf16 0.20, fp32 0.10" in out
    lines = [line for line in out.splitlines() if line.startswith("tiny ")]
    assert len(lines) == 2 and all("%" in line for line in lines)
    assert "measured bf16/fp32 speed" in out and "not asked" in out
