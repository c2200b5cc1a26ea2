"""bf16 autocast or fp32: chosen by measurement on a CPU, by support on a GPU.

Why measure: a CPU's bf16 instructions (avx512_bf16, AMX) only pay off when the matrices are
large enough; for a small model the casts around each small matmul cost more than the matmul
saves (figures in bench/NOTES.md). No flag tells the two apart; timing does. What is timed
(``calibrate``) is a stand-in of the model (``stand_in``) at the run's batch shape and threads, and
the choice is cached (``choose_bf16``).
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
METHOD = "stand-in-1"  # in the cache key: entries timed another way (a full copy) are not reused
MARGIN = 1.10  # bf16 must be this much faster than fp32 to be chosen
TRIMMED_VOCAB = 32_000  # head/embedding rows assumed when the vocabulary will be trimmed
MASKED_SHARE = 0.3  # rows that go through the head (weam masks 30%; L_cp adds aligned rows)
KINDS = ("inference", "training")
STANDIN_LAYERS = 1  # layers the stand-in has: the per-layer cost ratio is what decides
STANDIN_VOCAB = 1024  # input ids of the inference stand-in (the lookup's size does not matter)
STANDIN_HEAD_ROWS = 8192  # masked-LM head rows of the training stand-in; its time scales by rows
_TIME_BUDGET_S = 2.0  # timed steps stop here (at least MIN_STEPS each way)
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


def _shape_of(config: Any, vocab_size: int | None) -> dict[str, Any]:
    return {
        "model_type": getattr(config, "model_type", "?"),
        "hidden": config.hidden_size,
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "intermediate": getattr(config, "intermediate_size", None),
        "vocab": vocab_size,
    }


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def cache_key(
    config: Any,
    vocab_size: int | None,
    batch_size: int,
    max_length: int,
    threads: int,
    kind: str = "training",
) -> str:
    """What a measurement depends on: the machine, torch, threads, the model and batch shapes, and
    whether it times inference or training."""
    import torch

    _check_kind(kind)
    parts = {
        "cpu": _cpu_name(),
        "flags": cpu_bf16_flags(),
        "torch": torch.__version__,
        "threads": threads,
        "shape": _shape_of(config, vocab_size),
        "batch": [batch_size, max_length],
        "kind": kind,
        "method": METHOD,
    }
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stand_in(config: Any, *, kind: str = "training", vocab_size: int | None = None) -> Any:
    """The model that is timed: ``config``'s architecture with ``STANDIN_LAYERS`` layer(s) and a
    small vocabulary, randomly initialised in fp32 — an encoder for inference, a masked-LM model
    (head rows ``min(vocab_size, STANDIN_HEAD_ROWS)``) for training. The 250k-row word-embedding
    matrix is never built (a lookup does no arithmetic), so a measurement takes a few seconds and a
    few hundred MB instead of what timing a full copy costs."""
    import torch
    from transformers import AutoModel, AutoModelForMaskedLM

    _check_kind(kind)
    vocab = vocab_size or config.vocab_size
    rows = STANDIN_VOCAB if kind == "inference" else min(vocab, STANDIN_HEAD_ROWS)
    fields = {**config.to_dict(), "vocab_size": rows, "num_hidden_layers": STANDIN_LAYERS}
    for special in ("pad_token_id", "bos_token_id", "eos_token_id"):  # must index the small vocabulary
        if isinstance(fields.get(special), int) and fields[special] >= rows:
            fields[special] = 0
    small = config.__class__.from_dict(fields)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        auto = AutoModel if kind == "inference" else AutoModelForMaskedLM
        return auto.from_config(small).float()
    finally:
        torch.random.set_rng_state(state)


def _layer_parameters(model: Any) -> int:
    """Parameters of the stand-in's first encoder layer (``….layer.0.…``)."""
    import re

    first = re.compile(r"(^|\.)layers?\.0\.")
    return sum(p.numel() for name, p in model.named_parameters() if first.search(name))


def calibrate(
    config: Any,
    *,
    vocab_size: int,
    batch_size: int,
    max_length: int,
    kind: str = "training",
    min_steps: int = MIN_STEPS,
    max_steps: int = MAX_STEPS,
    budget_s: float = _TIME_BUDGET_S,
) -> tuple[float, float]:
    """Estimated tokens/s of the full model in fp32 and in bf16 autocast, from ``stand_in`` timed at
    this batch shape: inference (a forward pass) or a training step (``kind``). The median over
    the timed steps; the two precisions take turns, so load from other processes falls on both.

    - ``inference`` (`weam evaluate`): a forward pass of the encoder under inference_mode.
    - ``training`` (`weam pretrain`, `weam finetune`): a training step (forward, backward, AdamW)
      with the masked-LM head applied to a masked share of the rows, as weam does.

    Every layer costs the same, so the stand-in's bf16/fp32 ratio per layer is the full model's;
    the speeds are estimates for the full model, from the parts timed separately: the layers' time
    × layers / ``STANDIN_LAYERS``, the head's × its rows / the stand-in's rows, AdamW's × the
    parameters.
    """
    import torch

    model = stand_in(config, kind=kind, vocab_size=vocab_size)
    generator = torch.Generator().manual_seed(0)
    rows_in_standin = model.config.vocab_size
    ids = torch.randint(
        min(5, rows_in_standin - 1), rows_in_standin, (batch_size, max_length), generator=generator
    )
    attention = torch.ones_like(ids)
    tokens = batch_size * max_length
    layers = config.num_hidden_layers / STANDIN_LAYERS
    if kind == "inference":
        model.eval()
        scale = {"layers": layers}

        def step(bf16: bool) -> dict[str, float]:
            start = time.perf_counter()
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model(input_ids=ids, attention_mask=attention)
            return {"layers": time.perf_counter() - start}

    else:
        step, scale = _training_step(model, config, ids, attention, vocab_size, generator)
    for bf16 in (False, True):  # warm-up: first steps allocate and pick kernels
        step(bf16)
    times: dict[bool, list[float]] = {False: [], True: []}
    started = time.perf_counter()
    while len(times[True]) < max_steps:
        for bf16 in (False, True) if len(times[True]) % 2 == 0 else (True, False):
            parts = step(bf16)
            times[bf16].append(sum(seconds * scale[part] for part, seconds in parts.items()))
        if len(times[True]) >= min_steps and time.perf_counter() - started > budget_s:
            break
    return tokens / statistics.median(times[False]), tokens / statistics.median(times[True])


def _training_step(model: Any, config: Any, ids: Any, attention: Any, vocab_size: int, generator: Any):
    """A timed training step of the masked-LM stand-in, in parts (encoder forward and backward, the
    head's, AdamW's) and how much each part grows from the stand-in to the full model."""
    import torch

    from weamcli.common.models import encoder_and_head

    model.train()
    encoder, head = encoder_and_head(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch_size, max_length = ids.shape
    tokens = batch_size * max_length
    rows = torch.randperm(tokens, generator=generator)[: max(1, int(MASKED_SHARE * tokens))]
    labels = ids.reshape(-1)[rows]
    head_rows = model.config.vocab_size
    params = sum(p.numel() for p in model.parameters())
    # the full model: more layers, and (tied) embedding/head rows of the real vocabulary
    full = params + (config.num_hidden_layers - STANDIN_LAYERS) * _layer_parameters(model)
    full += (vocab_size - head_rows) * config.hidden_size
    scale = {
        "layers": config.num_hidden_layers / STANDIN_LAYERS,
        "head": vocab_size / head_rows,
        "optimizer": full / params,
    }

    def step(bf16: bool) -> dict[str, float]:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = encoder(input_ids=ids, attention_mask=attention).last_hidden_state
        forward = time.perf_counter()
        # the head timed on its own: cut the graph at the hidden vectors, then backward in two parts
        cut = hidden.detach().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = head(cut.reshape(tokens, -1)[rows]).float()
        torch.nn.functional.cross_entropy(logits, labels).backward()
        headed = time.perf_counter()
        hidden.backward(cut.grad)
        backward = time.perf_counter()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        end = time.perf_counter()
        return {
            "layers": (forward - start) + (backward - headed),
            "head": headed - forward,
            "optimizer": end - backward,
        }

    return step, scale


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _decide(fp32: float, bf16: float, kind: str = "training") -> Bf16Choice:
    """bf16 when it is at least ``MARGIN`` faster (it costs some precision, so a tie goes to fp32)."""
    ratio = bf16 / fp32
    speeds = f"{bf16:.0f} vs {fp32:.0f} tok/s"
    if ratio >= MARGIN:
        verdict = f"bf16 {ratio:.2f}x as fast as fp32 ({speeds})"
    elif ratio >= 1:
        verdict = f"bf16 only {ratio:.2f}x as fast as fp32 (under the {MARGIN:.2f}x margin)"
    else:
        verdict = f"bf16 {1 / ratio:.2f}x slower than fp32 ({speeds})"
    reason = f"{kind} measured on a {STANDIN_LAYERS}-layer stand-in: {verdict}"
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
    kind: str = "training",
) -> Bf16Choice:
    """bf16 or not for a run that trains (``kind`` "training") or only infers ("inference"), and why.

    ``requested`` True/False is the user's choice (--bf16/--no-bf16) and is kept. None chooses:
    a CUDA GPU: bf16 where it supports it; a CPU without bf16 instructions: fp32; a CPU with
    them: by ``calibrate`` on a stand-in of ``config``'s architecture at this batch shape, cached
    per machine, torch version, threads, model shape, batch shape and kind (``cache_key``) in
    ``weam_home()/cache/bf16-choice.json``, so it runs once per such combination.
    ``trimmed``: the run trims its vocabulary, so the head is reckoned at ``TRIMMED_VOCAB`` rows.
    Under torchrun (WORLD_SIZE > 1) a CPU with no cached measurement gets fp32: ranks measuring at
    once would disturb each other and might disagree."""
    import torch

    _check_kind(kind)
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
    # inference runs no head over the vocabulary: its size does not enter the measurement
    vocab: int | None = None
    if kind == "training":
        vocab = min(config.vocab_size, TRIMMED_VOCAB) if trimmed else config.vocab_size
    key = cache_key(config, vocab, batch_size, max_length, threads, kind)
    if cache_dir is None:
        from weamcli.common.models import weam_home

        cache_dir = weam_home() / "cache"
    path = Path(cache_dir) / CACHE_FILE
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        cached = _cached_choice(path, key)
        return cached or Bf16Choice(False, "distributed CPU run without a cached bf16 measurement: fp32")
    with building(path.with_name(f"bf16-{key}")):  # runs side by side measure a shape once
        return _cached_choice(path, key) or _measure(
            path, key, config, vocab, batch_size=batch_size, max_length=max_length, threads=threads, kind=kind
        )


def _cached_choice(path: Path, key: str) -> Bf16Choice | None:
    entry = _read_cache(path).get(key)
    if isinstance(entry, dict) and {"fp32_tokens_per_s", "bf16_tokens_per_s", "kind"} <= set(entry):
        choice = _decide(entry["fp32_tokens_per_s"], entry["bf16_tokens_per_s"], entry["kind"])
        return replace(choice, reason=f"{choice.reason}, cached", cached=True)
    return None


def _measure(
    path: Path,
    key: str,
    config: Any,
    vocab: int | None,
    *,
    batch_size: int,
    max_length: int,
    threads: int,
    kind: str,
) -> Bf16Choice:
    """Calibrate, decide, and add the measurement to the cache file."""
    import torch

    started = time.perf_counter()
    fp32, bf16 = calibrate(
        config, vocab_size=vocab or config.vocab_size, batch_size=batch_size, max_length=max_length, kind=kind
    )
    choice = _decide(fp32, bf16, kind)
    record = {
        "kind": kind,
        "fp32_tokens_per_s": choice.fp32_tokens_per_s,
        "bf16_tokens_per_s": choice.bf16_tokens_per_s,
        "method": METHOD,
        "cpu": _cpu_name(),
        "threads": threads,
        "torch": torch.__version__,
        "shape": _shape_of(config, vocab),
        "batch": [batch_size, max_length],
        "seconds": round(time.perf_counter() - started, 2),
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
    ref: Any,
    batch_size: int,
    max_length: int,
    trimmed: bool = False,
    requested: bool | None = None,
    kind: str = "training",
) -> Bf16Choice:
    """``choose_bf16`` for a ``ModelRef`` (its architecture read from its folder's config, only when
    the choice is not ``requested``)."""
    from weamcli.common.models import load_config

    config = load_config(ref) if requested is None else None
    if config is not None and ref.num_layers is not None:  # a truncated model runs fewer layers
        config.num_hidden_layers = min(config.num_hidden_layers, ref.num_layers)
    return choose_bf16(
        requested, config, batch_size=batch_size, max_length=max_length, trimmed=trimmed, kind=kind
    )


def default_bf16(ref: Any, batch_size: int = 32, max_length: int = 128, trimmed: bool = False) -> bool:
    """Whether a run of ``ref`` at this batch shape should autocast to bf16 (``bf16_choice_for``)."""
    return bf16_choice_for(ref, batch_size, max_length, trimmed).enabled
