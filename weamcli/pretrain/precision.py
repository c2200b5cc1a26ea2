"""bf16 autocast or fp32 for pre-training: chosen by measurement on a CPU, by support on a GPU.

Why measure: a CPU's bf16 instructions (avx512_bf16, AMX) only pay off when the matrices are
large enough. On one such CPU a 12-layer, 768-wide model ran 4.7× faster in bf16, while e5-small
at batch 16, length 64, one thread ran 1.5× *slower* (321 against 488 tok/s): the casts around
each small matmul cost more than the matmul saves. No flag tells the two apart; a few timed
training steps do.

The calibration (``calibrate``) times interleaved fp32 and bf16 training steps (forward, backward,
AdamW) of a randomly initialised copy of the model's architecture at the run's batch shape and
thread count, with the head applied to a masked share of the rows as weam does. bf16 is chosen
when it is at least ``MARGIN`` faster (it costs some precision, so a tie goes to fp32). The result
is cached per machine, torch version, threads, model shape and batch shape in
``weam_home()/cache/bf16-choice.json``, so it runs once per such combination.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from weamcli.common.files import atomic_file, building

CACHE_FILE = "bf16-choice.json"
MARGIN = 1.10  # bf16 must be this much faster than fp32 to be chosen
TRIMMED_VOCAB = 32_000  # head/embedding rows assumed when the vocabulary will be trimmed
MASKED_SHARE = 0.3  # rows that go through the head (weam masks 30%; L_cp adds aligned rows)
_TIME_BUDGET_S = 20.0  # timed calibration steps stop here (at least MIN_STEPS each way)
MIN_STEPS = 2
MAX_STEPS = 5


@dataclass(frozen=True)
class Bf16Choice:
    """Whether to autocast to bf16, why, and the measurement behind it (when there was one)."""

    enabled: bool
    reason: str
    fp32_tokens_per_s: float | None = None
    bf16_tokens_per_s: float | None = None
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_bf16_flags() -> list[str]:
    """The CPU's native bf16 instruction sets, from /proc/cpuinfo (empty where unknown)."""
    with contextlib.suppress(OSError):
        words = set(Path("/proc/cpuinfo").read_text().split())
        return [flag for flag in ("avx512_bf16", "amx_bf16") if flag in words]
    return []


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _shape_of(config: Any, vocab_size: int) -> dict[str, Any]:
    return {
        "model_type": getattr(config, "model_type", "?"),
        "hidden": config.hidden_size,
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "intermediate": getattr(config, "intermediate_size", None),
        "vocab": vocab_size,
    }


def cache_key(config: Any, vocab_size: int, batch_size: int, max_length: int, threads: int) -> str:
    """What a measurement depends on: the machine, torch, threads, the model and batch shapes."""
    import torch

    parts = {
        "cpu": _cpu_name(),
        "flags": cpu_bf16_flags(),
        "torch": torch.__version__,
        "threads": threads,
        "shape": _shape_of(config, vocab_size),
        "batch": [batch_size, max_length],
    }
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def calibrate(
    config: Any,
    *,
    vocab_size: int,
    batch_size: int,
    max_length: int,
    min_steps: int = MIN_STEPS,
    max_steps: int = MAX_STEPS,
    budget_s: float = _TIME_BUDGET_S,
) -> tuple[float, float]:
    """Tokens/s of CPU training steps in fp32 and in bf16 autocast (median of the timed steps).

    The two precisions take turns step by step, so load from other processes falls on both."""
    import torch
    from transformers import AutoModelForMaskedLM

    from weamcli.pretrain.objectives import encoder_and_head

    cfg = config.__class__.from_dict({**config.to_dict(), "vocab_size": vocab_size})
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab_size, (batch_size, max_length), generator=generator)
    attention = torch.ones_like(ids)
    rows = torch.randperm(batch_size * max_length, generator=generator)
    rows = rows[: max(1, int(MASKED_SHARE * batch_size * max_length))]
    labels = ids.reshape(-1)[rows]
    tokens = batch_size * max_length
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        # one model for both precisions: autocast changes the kernels, not the weights, and a
        # second copy would double the memory (the embedding matrix and AdamW's state dominate)
        mlm = AutoModelForMaskedLM.from_config(cfg).train()
        encoder, head = encoder_and_head(mlm)
        optimiser = torch.optim.AdamW(mlm.parameters(), lr=1e-5)

        def step(bf16: bool) -> float:
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                hidden = encoder(input_ids=ids, attention_mask=attention).last_hidden_state
                logits = head(hidden.reshape(tokens, -1)[rows]).float()
            torch.nn.functional.cross_entropy(logits, labels).backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
            return time.perf_counter() - start

        for bf16 in (False, True):  # warm-up: first steps allocate and pick kernels
            step(bf16)
        times: dict[bool, list[float]] = {False: [], True: []}
        started = time.perf_counter()
        while len(times[True]) < max_steps:
            for bf16 in (False, True) if len(times[True]) % 2 == 0 else (True, False):
                times[bf16].append(step(bf16))
            if len(times[True]) >= min_steps and time.perf_counter() - started > budget_s:
                break
    finally:
        torch.random.set_rng_state(state)
    return tokens / statistics.median(times[False]), tokens / statistics.median(times[True])


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _decide(fp32: float, bf16: float) -> Bf16Choice:
    ratio = bf16 / fp32
    if ratio >= MARGIN:
        reason = f"measured bf16 {ratio:.2f}x as fast as fp32 ({bf16:.0f} vs {fp32:.0f} tok/s)"
    elif ratio >= 1:
        reason = f"measured bf16 only {ratio:.2f}x as fast as fp32 (under the {MARGIN:.2f}x margin)"
    else:
        reason = f"measured bf16 {1 / ratio:.2f}x slower than fp32 ({bf16:.0f} vs {fp32:.0f} tok/s)"
    return Bf16Choice(ratio >= MARGIN, reason, round(fp32, 1), round(bf16, 1))


def choose_bf16(
    requested: bool | None,
    config: Any | None = None,
    *,
    batch_size: int = 32,
    max_length: int = 128,
    trimmed: bool = False,
    threads: int | None = None,
    cache_dir: Path | None = None,
    device: str | None = None,
) -> Bf16Choice:
    """bf16 or not for a training run, and why.

    ``requested`` True/False is the user's choice (--bf16/--no-bf16) and is kept. None chooses:
    a CUDA GPU: bf16 where it supports it; a CPU without bf16 instructions: fp32; a CPU with
    them: by ``calibrate`` on ``config``'s architecture at this batch shape (cached). ``trimmed``:
    the run trims its vocabulary, so the head is timed with ``TRIMMED_VOCAB`` rows. Under
    torchrun (WORLD_SIZE > 1) a CPU with no cached measurement gets fp32: ranks measuring at
    once would disturb each other and might disagree."""
    import torch

    if requested is not None:
        return Bf16Choice(bool(requested), "given (--bf16/--no-bf16)")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if torch.cuda.is_bf16_supported():
            return Bf16Choice(True, "CUDA GPU with bf16 support")
        return Bf16Choice(False, "CUDA GPU without bf16 support")
    flags = cpu_bf16_flags()
    if not flags:
        return Bf16Choice(False, "CPU without bf16 instructions (no avx512_bf16/amx_bf16)")
    if config is None:
        return Bf16Choice(False, "CPU with bf16 instructions, but no model to measure: fp32")
    threads = threads or torch.get_num_threads()
    vocab = min(config.vocab_size, TRIMMED_VOCAB) if trimmed else config.vocab_size
    key = cache_key(config, vocab, batch_size, max_length, threads)
    if cache_dir is None:
        from weamcli.common.models import weam_home

        cache_dir = weam_home() / "cache"
    path = Path(cache_dir) / CACHE_FILE
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        cached = _cached_choice(path, key)
        return cached or Bf16Choice(False, "distributed CPU run without a cached bf16 measurement: fp32")
    with building(path.with_name(f"bf16-{key}")):  # runs side by side measure a shape once
        return _cached_choice(path, key) or _measure(
            path, key, config, vocab, batch_size=batch_size, max_length=max_length, threads=threads
        )


def _cached_choice(path: Path, key: str) -> Bf16Choice | None:
    entry = _read_cache(path).get(key)
    if isinstance(entry, dict) and {"fp32_tokens_per_s", "bf16_tokens_per_s"} <= set(entry):
        choice = _decide(entry["fp32_tokens_per_s"], entry["bf16_tokens_per_s"])
        return replace(choice, reason=f"{choice.reason}, cached", cached=True)
    return None


def _measure(
    path: Path, key: str, config: Any, vocab: int, *, batch_size: int, max_length: int, threads: int
) -> Bf16Choice:
    """Calibrate, decide, and add the measurement to the cache file."""
    import torch

    fp32, bf16 = calibrate(config, vocab_size=vocab, batch_size=batch_size, max_length=max_length)
    choice = _decide(fp32, bf16)
    record = {
        "fp32_tokens_per_s": choice.fp32_tokens_per_s,
        "bf16_tokens_per_s": choice.bf16_tokens_per_s,
        "cpu": _cpu_name(),
        "threads": threads,
        "torch": torch.__version__,
        "shape": _shape_of(config, vocab),
        "batch": [batch_size, max_length],
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    # a read-only cache only costs a new measurement next time; the lock keeps the entries that
    # runs side by side add at once
    with contextlib.suppress(OSError), building(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read_cache(path)
        data[key] = record
        with atomic_file(path) as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
    return choice


def bf16_choice_for(
    ref: Any, batch_size: int, max_length: int, trimmed: bool = False, requested: bool | None = None
) -> Bf16Choice:
    """``choose_bf16`` for a ``ModelRef`` (its architecture read from its folder's config, only when
    the choice is not ``requested``)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(ref.path) if requested is None else None
    return choose_bf16(requested, config, batch_size=batch_size, max_length=max_length, trimmed=trimmed)


def default_bf16(ref: Any, batch_size: int = 32, max_length: int = 128, trimmed: bool = False) -> bool:
    """Whether a run of ``ref`` at this batch shape should autocast to bf16 (``bf16_choice_for``)."""
    return bf16_choice_for(ref, batch_size, max_length, trimmed).enabled
