"""Pre-training step speed: tokens/s, step time and model-FLOPs utilisation, on a GPU or a CPU.

Default: the speed table. For each model (``--models``: ``e5-small``'s dimensions, ``mbert-base``
= mBERT's dimensions, ``tiny``; random weights, speed only), each precision (fp32, bf16 autocast),
attention implementation (``sdpa``, ``eager``) and ``torch.compile`` (off, on: the encoder is
compiled), one WEAM training step is timed: BERT masking (30%), encoder, the MLM head at the
L_mp and L_cp rows only, backward, AdamW; on synthetic pair batches of a fixed shape (every row
``--max-length`` real tokens, half the source units aligned one-to-one to target units) and a
vocabulary of ``--vocab`` rows (32,000: what trimming leaves of a corpus's pieces; 0 = the
model's full vocabulary). The variants of a model take their steps in turn, so load from other
processes on a shared machine falls on all alike. Then weam's own bf16 choice for that model and
shape (``weamcli.common.precision.choose_bf16``: calibrated on a CPU, cached) is printed beside
the measured bf16/fp32 ratio.

MFU = model FLOPs per step / step time / peak FLOP/s. Model FLOPs (``step_flops``) count the
matmuls of a training step: 3 × the forward's (backward = 2 × forward): per token and layer
8·h² (Q, K, V, output) + 4·h·f (feed-forward), per sequence and layer 4·L²·h (scores and
weighted sum), per head row 2·h² + 2·h·V (transform and decoder). Peak FLOP/s: on CUDA the
vendor's dense figure for the GPU (H100 SXM / H200: bf16 989.4, fp32 66.9 TFLOP/s; ``--peak-tflops``
and ``--peak-tflops-fp32`` override, an unknown GPU needs them); on a CPU the best of a few
2048×2048 matmuls in each dtype at the bench's thread count, measured in the same run.

``--objectives``: the objective comparison on real data (the first 512 NTREX-128 en–de pairs,
aligned once into $WEAM_HOME/cache/bench-align-en-de unless ``--alignments``): weam, tlm, mlm on
weam's optimised path and ``naive`` (``BertForMaskedLM(labels=...)``: full-vocabulary logits at
every position, fp32, no trimming), with the precision weam chooses, plus weam in the other one.

Usage:
    python bench/pretrain_step.py --device cuda --models e5-small,mbert-base --batch-size 32 --max-length 128
    python bench/pretrain_step.py --device cpu --models e5-small --batch-size 16 --max-length 64 --threads 1
    python bench/pretrain_step.py --objectives --models e5-small --batch-size 16 --max-length 64 --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NTREX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ntrex128" / "NTREX-128"

# BERT dimensions (random weights: the table measures speed only)
MODEL_DIMS: dict[str, dict[str, int]] = {
    "tiny": {"hidden": 64, "layers": 2, "heads": 2, "intermediate": 128, "vocab": 250_002},
    "e5-small": {"hidden": 384, "layers": 12, "heads": 12, "intermediate": 1536, "vocab": 250_037},
    "mbert-base": {"hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072, "vocab": 119_547},
}
# dense peak TFLOP/s by GPU name (vendor figures; fp32 without TF32, which torch leaves off)
GPU_PEAKS: dict[str, tuple[float, float]] = {
    "H200": (989.4, 66.9),
    "H100 PCIe": (756.5, 51.2),
    "H100 NVL": (835.0, 60.0),
    "H100": (989.4, 66.9),  # SXM
    "A100": (312.0, 19.5),
    "L40S": (362.1, 91.6),
}
MASK_PROB = 0.3
CLS, PAD, SEP, MASK, FIRST_WORD = 0, 1, 2, 3, 4  # ids of the synthetic batches


def step_flops(dims: dict[str, int], batch: int, length: int, head_rows: int, vocab: int) -> int:
    """Matmul FLOPs of one training step (forward + backward = 3 × forward) of a BERT encoder on
    ``batch`` × ``length`` tokens with the MLM head on ``head_rows`` rows of a ``vocab``-row output."""
    h, f, layers = dims["hidden"], dims["intermediate"], dims["layers"]
    per_token = layers * (8 * h * h + 4 * h * f)
    per_sequence = layers * 4 * length * length * h
    head = head_rows * (2 * h * h + 2 * h * vocab)
    return 3 * (batch * length * per_token + batch * per_sequence + head)


@dataclass
class Row:
    model: str
    precision: str
    attention: str
    compiled: bool
    tokens_per_s: float
    step_ms: float
    tflops_per_s: float
    mfu: float | None
    first_step_s: float  # includes torch.compile's compilation for compiled variants


def synthetic_batch(batch: int, length: int, vocab: int, device: str, seed: int = 0) -> dict[str, Any]:
    """``[CLS] src [SEP] tgt [SEP]`` rows of ``length`` tokens, no padding, half the source units
    aligned one-to-one to target units (swap_index maps each to its partner, both ways)."""
    import torch

    if length < 8 or vocab <= FIRST_WORD:
        raise SystemExit("--max-length must be at least 8 and --vocab above 4")
    g = torch.Generator().manual_seed(seed)
    n_src = (length - 3) // 2
    sep = 1 + n_src
    ids = torch.randint(FIRST_WORD, vocab, (batch, length), generator=g)
    ids[:, 0], ids[:, sep], ids[:, -1] = CLS, SEP, SEP
    maskable = torch.ones((batch, length), dtype=torch.bool)
    maskable[:, [0, sep, length - 1]] = False
    swap = torch.arange(length).repeat(batch, 1)
    n_tgt = length - 3 - n_src
    for r in range(batch):
        k = min(n_src, n_tgt) // 2
        src = 1 + torch.randperm(n_src, generator=g)[:k]
        tgt = sep + 1 + torch.randperm(n_tgt, generator=g)[:k]
        swap[r, src], swap[r, tgt] = tgt, src
    return {
        "input_ids": ids.to(device),
        "attention_mask": torch.ones_like(ids).to(device),
        "maskable": maskable.to(device),
        "swap_index": swap.to(device),
    }


def device_peaks(device: str, threads: int, bf16: float | None, fp32: float | None) -> tuple[dict, str]:
    """Peak FLOP/s per precision (None: unknown) and where the figures come from."""
    import torch

    if device == "cuda":
        name = torch.cuda.get_device_name()
        known = next((v for k, v in GPU_PEAKS.items() if k in name), None)
        peaks = {"bf16": bf16 or (known[0] if known else None), "fp32": fp32 or (known[1] if known else None)}
        source = f"{name}: " + (
            "given" if bf16 else "vendor dense figure" if known else "unknown GPU: give --peak-tflops"
        )
        return {k: None if v is None else v * 1e12 for k, v in peaks.items()}, source
    given = {"bf16": bf16, "fp32": fp32}
    measured: dict[str, float | None] = {k: v * 1e12 for k, v in given.items() if v}
    measured.update(cpu_matmul_peaks([k for k, v in given.items() if not v]))
    return measured, (
        f"CPU, {threads} thread(s): best 2048² matmul of each dtype, measured between the steps"
        if not (bf16 and fp32)
        else "given"
    )


def cpu_matmul_peaks(precisions: list[str], reps: int = 10) -> dict[str, float]:
    """FLOP/s of the best of ``reps`` 2048² matmuls (at most ~3 s) per precision: the CPU's
    practical peak at the current thread count."""
    import torch

    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    peaks = {}
    for name in precisions:
        a, b = torch.randn(2048, 2048, dtype=dtypes[name]), torch.randn(2048, 2048, dtype=dtypes[name])
        best, spent = float("inf"), 0.0
        for _ in range(reps):  # the best of several: on a shared machine most runs are disturbed
            start = time.perf_counter()
            a @ b
            took = time.perf_counter() - start
            best, spent = min(best, took), spent + took
            if spent > 3.0:
                break
        peaks[name] = 2 * 2048**3 / best
    return peaks


def run_table(
    models: list[str],
    *,
    device: str,
    batch_size: int,
    max_length: int,
    steps: int,
    warmup: int,
    vocab: int,
    precisions: list[str],
    attentions: list[str],
    compiles: list[bool],
    peaks: dict[str, float | None],
    reprobe: Callable[[], dict[str, float]] | None = None,
) -> list[Row]:
    """Time every variant of every model (see the module docstring); returns one row per variant.

    ``reprobe``: measures peak FLOP/s again after every round of steps; ``peaks`` keeps the best
    (on a loaded CPU a single probe can land in a busy moment and give MFU above 100%)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from weamcli.common.models import encoder_and_head
    from weamcli.pretrain.masking import mask_tokens
    from weamcli.pretrain.objectives.masked import masked_losses

    rows: list[Row] = []
    cuda = device == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for model_name in models:
        dims = MODEL_DIMS[model_name]
        rows_v = vocab or dims["vocab"]
        batch = synthetic_batch(batch_size, max_length, rows_v, device)
        pool = torch.arange(FIRST_WORD, rows_v, device=device)
        config = BertConfig(
            vocab_size=rows_v,
            hidden_size=dims["hidden"],
            num_hidden_layers=dims["layers"],
            num_attention_heads=dims["heads"],
            intermediate_size=dims["intermediate"],
            max_position_embeddings=max(512, max_length),
            pad_token_id=PAD,
        )
        # one model per (attention, compile): the precisions share it (autocast changes kernels)
        instances: dict[tuple[str, bool], tuple[Any, Any, Any]] = {}
        for attention, compiled in itertools.product(attentions, compiles):
            torch.manual_seed(0)
            mlm = BertForMaskedLM._from_config(config, attn_implementation=attention).to(device).train()
            encoder, head = encoder_and_head(mlm)
            run_encoder = torch.compile(encoder) if compiled else encoder
            optimiser = torch.optim.AdamW(mlm.parameters(), lr=1e-5)
            instances[attention, compiled] = (run_encoder, head, optimiser)
        variants = list(itertools.product(precisions, attentions, compiles))
        seconds = dict.fromkeys(variants, 0.0)
        flops = dict.fromkeys(variants, 0)
        first = dict.fromkeys(variants, 0.0)
        for k in range(warmup + steps):
            for variant in variants:
                precision, attention, compiled = variant
                run_encoder, head, optimiser = instances[attention, compiled]
                generator = torch.Generator(device=device).manual_seed(1000 + k)  # same masks for all
                sync()
                start = time.perf_counter()
                ids, labels = mask_tokens(
                    batch["input_ids"],
                    batch["maskable"],
                    mask_prob=MASK_PROB,
                    mask_id=MASK,
                    replace_pool=pool,
                    generator=generator,
                )
                with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    hidden = run_encoder(
                        input_ids=ids, attention_mask=batch["attention_mask"]
                    ).last_hidden_state
                    out = masked_losses(hidden, head, labels, batch["swap_index"])
                out.loss.backward()
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                sync()
                took = time.perf_counter() - start
                if k == 0:
                    first[variant] = took
                if k >= warmup:
                    seconds[variant] += took
                    head_rows = len(out.mp_positions) + len(out.cp_positions)
                    flops[variant] += step_flops(dims, batch_size, max_length, head_rows, rows_v)
            for name, value in (reprobe() if reprobe else {}).items():
                peaks[name] = max(peaks.get(name) or 0.0, value)
        for variant in variants:
            precision, attention, compiled = variant
            achieved = flops[variant] / seconds[variant]
            peak = peaks.get(precision)
            rows.append(
                Row(
                    model_name,
                    precision,
                    attention,
                    compiled,
                    tokens_per_s=steps * batch_size * max_length / seconds[variant],
                    step_ms=1000 * seconds[variant] / steps,
                    tflops_per_s=achieved / 1e12,
                    mfu=None if not peak else achieved / peak,
                    first_step_s=first[variant],
                )
            )
        del instances
        if cuda:
            torch.cuda.empty_cache()
    return rows


def print_table(rows: list[Row]) -> None:
    print(
        f"{'model':11s} {'precision':9s} {'attention':9s} {'compile':7s} {'tok/s':>10s} {'step ms':>9s} "
        f"{'TFLOP/s':>8s} {'MFU':>7s} {'first step s':>12s}"
    )
    for r in rows:
        mfu = "n/a" if r.mfu is None else f"{100 * r.mfu:.1f}%"
        print(
            f"{r.model:11s} {r.precision:9s} {r.attention:9s} {'on' if r.compiled else 'off':7s} "
            f"{r.tokens_per_s:10,.0f} {r.step_ms:9.1f} {r.tflops_per_s:8.3f} {mfu:>7s} {r.first_step_s:12.2f}"
        )


def print_bf16(rows: list[Row], args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    """Measured bf16/fp32 ratio per model next to the choice weam makes for it."""
    from transformers import BertConfig

    from weamcli.common.precision import choose_bf16

    out = []
    for model_name in dict.fromkeys(r.model for r in rows):
        speed = {
            r.precision: r.tokens_per_s
            for r in rows
            if r.model == model_name and r.attention == "sdpa" and not r.compiled
        }
        ratio = speed["bf16"] / speed["fp32"] if {"bf16", "fp32"} <= set(speed) else None
        dims = MODEL_DIMS[model_name]
        config = BertConfig(
            vocab_size=dims["vocab"],
            hidden_size=dims["hidden"],
            num_hidden_layers=dims["layers"],
            num_attention_heads=dims["heads"],
            intermediate_size=dims["intermediate"],
        )
        choice = None
        if not args.no_choice:
            choice = choose_bf16(
                None,
                config,
                batch_size=args.batch_size,
                max_length=args.max_length,
                trimmed=bool(args.vocab),
                device=device,
            )
        shown = "n/a" if ratio is None else f"{ratio:.2f}×"
        said = (
            "not asked (--no-choice)"
            if choice is None
            else f"{'bf16' if choice.enabled else 'fp32'}: {choice.reason}"
        )
        print(f"{model_name}: measured bf16/fp32 speed (sdpa, no compile) {shown}; weam chooses {said}")
        out.append(
            {
                "model": model_name,
                "bf16_over_fp32": ratio,
                "choice": None if choice is None else choice.as_dict(),
            }
        )
    return out


def table_main(args: argparse.Namespace) -> None:
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here (use --device cpu)")
    if device == "cpu":
        torch.set_num_threads(args.threads)
    models = (
        args.models.split(",")
        if args.models
        else (["e5-small", "mbert-base"] if device == "cuda" else ["e5-small"])
    )
    unknown = [m for m in models if m not in MODEL_DIMS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}: choose from {', '.join(MODEL_DIMS)}")
    steps = args.steps or (20 if device == "cuda" else 3)
    warmup = args.warmup if args.warmup is not None else (3 if device == "cuda" else 1)
    peaks, source = device_peaks(device, args.threads, args.peak_tflops, args.peak_tflops_fp32)
    given = {"bf16": args.peak_tflops, "fp32": args.peak_tflops_fp32}
    unmeasured = [] if device == "cuda" else [k for k, v in given.items() if not v]
    print(
        f"device {device}; batch {args.batch_size} × length {args.max_length} "
        f"({args.batch_size * args.max_length:,} tokens/step, no padding); vocabulary "
        f"{args.vocab:,} rows"
        + (" (trimmed)" if args.vocab else " (full)")
        + f"; {steps} timed steps after {warmup}"
    )
    rows = run_table(
        models,
        device=device,
        batch_size=args.batch_size,
        max_length=args.max_length,
        steps=steps,
        warmup=warmup,
        vocab=args.vocab,
        precisions=args.precisions.split(","),
        attentions=args.attention.split(","),
        compiles=[c == "on" for c in args.compile.split(",")],
        peaks=peaks,
        reprobe=(lambda: cpu_matmul_peaks(unmeasured, reps=3)) if unmeasured else None,
    )
    shown = ", ".join(f"{k} {'unknown' if v is None else f'{v / 1e12:.2f}'}" for k, v in peaks.items())
    print(f"peak TFLOP/s assumed: {shown} ({source})")
    print_table(rows)
    print_bf16(rows, args, device)


# --------------------------------------------------------------------------- --objectives


def _alignments(args: argparse.Namespace) -> Path:
    from weamcli.common.languages import language
    from weamcli.common.models import weam_home
    from weamcli.pretrain.pairs import align_raw

    if args.alignments:
        return Path(args.alignments)
    cache = weam_home() / "cache"
    src, tgt = cache / "bench-src.en", cache / "bench-tgt.de"
    if not src.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        for path, name in ((src, "newstest2019-src.eng.txt"), (tgt, "newstest2019-ref.deu.txt")):
            lines = (NTREX / name).read_bytes().replace(b"\r\n", b"\n").split(b"\n")[:512]
            path.write_bytes(b"\n".join(lines) + b"\n")
    return align_raw(src, tgt, cache / "bench-align-en-de", language("de"), print)


def objectives_main(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForMaskedLM

    from weamcli.common.languages import language
    from weamcli.common.models import load_model, load_tokenizer, resolve_model, weam_home
    from weamcli.common.precision import bf16_choice_for
    from weamcli.pretrain.masking import PairCollator, mask_tokens
    from weamcli.pretrain.model import PretrainingModel
    from weamcli.pretrain.pairs import prepare_pairs
    from weamcli.pretrain.vocabulary import corpus_vocabulary, trim_vocabulary

    torch.set_num_threads(args.threads)
    ref = resolve_model((args.models or "e5-small").split(",")[0])
    tok = load_tokenizer(ref)
    folder = _alignments(args)
    ds, _ = prepare_pairs(
        folder,
        language("de"),
        tok,
        max_length=args.max_length,
        swap="one-to-one",
        subwords="first-piece",
        cache_dir=weam_home() / "cache" / "pretrain",
        progress=print,
    )
    steps = args.steps or 10
    warmup = 2 if args.warmup is None else args.warmup
    n_batches = warmup + steps
    ds = ds.select(range(min(len(ds), n_batches * args.batch_size)))
    keep = corpus_vocabulary(ds, tok)
    id_map = torch.full((len(tok),), tok.unk_token_id, dtype=torch.long)
    id_map[torch.tensor(keep)] = torch.arange(len(keep))
    feats = [ds[i] for i in range(len(ds))]
    chunks = [feats[k * args.batch_size : (k + 1) * args.batch_size] for k in range(n_batches)]
    full_batches = [PairCollator(pad_id=tok.pad_token_id, split=True)(c) for c in chunks]
    trim_batches = [PairCollator(pad_id=tok.pad_token_id, id_map=id_map, split=True)(c) for c in chunks]
    tokens = [int(b["attention_mask"].sum()) for b in full_batches[warmup:]]
    choice = bf16_choice_for(ref, args.batch_size, args.max_length, trimmed=True)
    bf16 = choice.enabled
    specials = set(tok.all_special_ids)
    pool = torch.tensor([int(id_map[i]) for i in keep if i not in specials])
    print(
        f"model {ref.label}, batch {args.batch_size} pairs, max length {args.max_length}, "
        f"{sum(tokens) / len(tokens):.0f} real tokens/batch, threads {args.threads}, "
        f"bf16 {bf16} ({choice.reason}), vocabulary {len(tok):,} → {len(keep):,} kept"
    )

    # All variants live side by side and take their steps in turn, batch by batch, so load from
    # other processes on a shared machine falls on every variant alike.
    variants: dict[str, tuple] = {}
    for objective in ("weam", "tlm", "mlm"):
        mlm = load_model(ref, AutoModelForMaskedLM)
        trim_vocabulary(mlm, keep)
        model = PretrainingModel(
            mlm,
            objective=objective,
            mask_id=int(id_map[tok.mask_token_id]),
            pad_id=int(id_map[tok.pad_token_id]),
            replace_pool=pool,
        ).train()

        def step(k, model=model):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(**trim_batches[k])["loss"]

        variants[objective] = (step, model)
        if objective == "weam":  # the precision weam did not choose, to check the choice

            def other_step(k, model=model):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not bf16):
                    return model(**trim_batches[k])["loss"]

            variants["weam-" + ("fp32" if bf16 else "bf16")] = (other_step, model)
    if not args.no_naive:
        naive = load_model(ref, AutoModelForMaskedLM).train()
        full_pool = torch.tensor([i for i in keep if i not in specials])

        def naive_step(k):
            b = full_batches[k]
            ids, labels = mask_tokens(
                b["input_ids"],
                b["maskable"],
                mask_prob=0.3,
                mask_id=tok.mask_token_id,
                replace_pool=full_pool,
            )
            return naive(input_ids=ids, attention_mask=b["attention_mask"], labels=labels).loss

        variants["naive"] = (naive_step, naive)
    optimisers = {
        name: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=5e-5)
        for name, (_, m) in variants.items()
    }
    elapsed = dict.fromkeys(variants, 0.0)
    for k in range(n_batches):
        for name, (step_fn, _) in variants.items():
            torch.manual_seed(1000 + k)  # same masks for every variant
            start = time.perf_counter()
            step_fn(k).backward()
            optimisers[name].step()
            optimisers[name].zero_grad(set_to_none=True)
            if k >= warmup:
                elapsed[name] += time.perf_counter() - start
    results = {name: sum(tokens) / t for name, t in elapsed.items()}
    for name, speed in results.items():
        what = "full vocabulary, logits at every position, fp32" if name == "naive" else "optimised"
        print(f"{name:6s} {speed:8.0f} tok/s  ({what})")

    w = results["weam"]
    other = next(name for name in results if name.startswith("weam-"))
    print(f"{other} / weam ({'bf16' if bf16 else 'fp32'}, weam's choice) speed: {results[other] / w:.2f}")
    print(f"WEAM step time / TLM step time: {results['tlm'] / w:.3f}  (goal ≤ 1.15)")
    print(f"WEAM step time / MLM step time: {results['mlm'] / w:.3f}  (goal ≤ 1.15)")
    if "naive" in results:
        print(f"optimised WEAM speed-up over naive MLM: {w / results['naive']:.2f}×  (goal ≥ 4)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--models", "--model", dest="models", default=None, help=f"comma-separated: {', '.join(MODEL_DIMS)}"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=32000, help="vocabulary rows (0: the model's full one)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch)")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--attention", default="sdpa,eager")
    parser.add_argument("--compile", default="off,on", help="torch.compile of the encoder: off, on or both")
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 peak (default: by device)")
    parser.add_argument("--peak-tflops-fp32", type=float, default=None, help="fp32 peak (default: by device)")
    parser.add_argument("--no-choice", action="store_true", help="do not ask weam's bf16 choice")
    parser.add_argument("--objectives", action="store_true", help="the objective comparison instead")
    parser.add_argument("--alignments", default=None, help="--objectives: a `weam align` en-de folder")
    parser.add_argument("--no-naive", action="store_true", help="--objectives: skip the slow naive path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    args = parse_args(argv)
    if args.objectives:
        objectives_main(args)
    else:
        table_main(args)


if __name__ == "__main__":
    main()
