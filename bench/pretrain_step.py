"""Tokens/s of one pre-training step (forward, backward, AdamW) on the same batches:

- weam: the optimised path (vocabulary trimmed to the corpus, head only at masked rows, L_mp and
  L_cp rows through the head in one call, bf16 autocast where the CPU/GPU has it);
- tlm and mlm: the same optimised path with the baselines' objectives (L_mp only);
- naive: ``BertForMaskedLM(input_ids, labels=...)``: logits at every position over the full
  vocabulary, fp32, no trimming (what a plain HF MLM loop does).

Usage (real data, e5-small, 1 thread):
    python bench/pretrain_step.py --model e5-small --batch-size 16 --max-length 64 --steps 10 --threads 1
Without --alignments, the first 512 NTREX-128 en–de pairs are aligned once (weam align, eflomal,
intersection) into $WEAM_HOME/cache/bench-align-en-de.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

NTREX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ntrex128" / "NTREX-128"


def _alignments(args) -> Path:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--alignments", default=None, help="a `weam align` en-de folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive path")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForMaskedLM

    from weamcli.common.languages import language
    from weamcli.common.models import load_model, load_tokenizer, resolve_model, weam_home
    from weamcli.pretrain.masking import PairCollator, mask_tokens
    from weamcli.pretrain.objectives import PretrainingModel
    from weamcli.pretrain.pairs import prepare_pairs
    from weamcli.pretrain.trainer import default_bf16
    from weamcli.pretrain.vocabulary import corpus_vocabulary, trim_vocabulary

    torch.set_num_threads(args.threads)
    ref = resolve_model(args.model)
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
    n_batches = args.warmup + args.steps
    ds = ds.select(range(min(len(ds), n_batches * args.batch_size)))
    keep = corpus_vocabulary(ds, tok)
    id_map = torch.full((len(tok),), tok.unk_token_id, dtype=torch.long)
    id_map[torch.tensor(keep)] = torch.arange(len(keep))
    feats = [ds[i] for i in range(len(ds))]
    chunks = [feats[k * args.batch_size : (k + 1) * args.batch_size] for k in range(n_batches)]
    full_batches = [PairCollator(pad_id=tok.pad_token_id, split=True)(c) for c in chunks]
    trim_batches = [PairCollator(pad_id=tok.pad_token_id, id_map=id_map, split=True)(c) for c in chunks]
    tokens = [int(b["attention_mask"].sum()) for b in full_batches[args.warmup :]]
    bf16 = default_bf16()
    specials = set(tok.all_special_ids)
    pool = torch.tensor([int(id_map[i]) for i in keep if i not in specials])
    print(
        f"model {ref.label}, batch {args.batch_size} pairs, max length {args.max_length}, "
        f"{sum(tokens) / len(tokens):.0f} real tokens/batch, threads {args.threads}, bf16 {bf16}, "
        f"vocabulary {len(tok):,} → {len(keep):,} kept"
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
            if k >= args.warmup:
                elapsed[name] += time.perf_counter() - start
    results = {name: sum(tokens) / t for name, t in elapsed.items()}
    for name, speed in results.items():
        what = "full vocabulary, logits at every position, fp32" if name == "naive" else "optimised"
        print(f"{name:6s} {speed:8.0f} tok/s  ({what})")

    w = results["weam"]
    print(f"WEAM step time / TLM step time: {results['tlm'] / w:.3f}  (goal ≤ 1.15)")
    print(f"WEAM step time / MLM step time: {results['mlm'] / w:.3f}  (goal ≤ 1.15)")
    if "naive" in results:
        print(f"optimised WEAM speed-up over naive MLM: {w / results['naive']:.2f}×  (goal ≥ 4)")


if __name__ == "__main__":
    main()
