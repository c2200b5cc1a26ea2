"""Step cost of every pre-training objective beside a plain MLM step, on real pairs.

The first NTREX-128 en–de pairs (at least 512; aligned once with eflomal into
$WEAM_HOME/cache/bench-objective-align-en-de-N unless ``--alignments``) are mapped to pieces as
`weam pretrain` maps them (the code-switched English included), the vocabulary is trimmed to the
corpus's pieces as `weam pretrain` trims it above 100k pieces, and every objective of
the objectives registry (``weamcli.pretrain.objectives``) gets its own copy of the model in weam's
``PretrainingModel`` with its own collator (``make_collator``). One step = forward (masking
included), backward, AdamW over the parameters the objective trains. The variants take their steps
in turn, batch by batch, so load from other processes on a shared machine falls on all alike; the
same batches (and masks) go to every objective. Printed: median step time, its ratio to MLM's
median, and the mean.

What to expect: align-l2 encodes both sentences separately and the English again in the frozen
reference (three encoder passes over shorter rows, no head); contrastive one pass of the separate
sentences, no head; the ``+contrastive`` objectives add that pass to their masked one.

    python bench/objective_step.py --model e5-small --batch-size 16 --max-length 64 --threads 2
    python bench/objective_step.py --device cuda --batch-size 32 --max-length 128
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

NTREX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ntrex128" / "NTREX-128"


def _alignments(given: str | None, pairs: int) -> Path:
    from weamcli.common.languages import language
    from weamcli.common.models import weam_home
    from weamcli.pretrain.pairs import align_raw

    if given:
        return Path(given)
    cache = weam_home() / "cache"
    n = max(pairs, 512)
    src, tgt = cache / f"bench-objective-{n}.en", cache / f"bench-objective-{n}.de"
    if not tgt.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        for path, name in ((src, "newstest2019-src.eng.txt"), (tgt, "newstest2019-ref.deu.txt")):
            lines = (NTREX / name).read_bytes().replace(b"\r\n", b"\n").split(b"\n")[:n]
            path.write_bytes(b"\n".join(lines) + b"\n")
    return align_raw(src, tgt, cache / f"bench-objective-align-en-de-{n}", language("de"), print)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="e5-small", help="preset or save_pretrained folder")
    parser.add_argument("--alignments", default=None, help="a `weam align` folder (default: NTREX en–de)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per objective")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (default fp32)")
    parser.add_argument("--objectives", default=None, help="comma-separated (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    from transformers import AutoModelForMaskedLM

    from weamcli.common.languages import language
    from weamcli.common.models import load_model, load_tokenizer, resolve_model, weam_home
    from weamcli.pretrain.model import PretrainingModel
    from weamcli.pretrain.objectives import build_objective, make_collator, objective_names
    from weamcli.pretrain.pairs import prepare_pairs
    from weamcli.pretrain.vocabulary import TRIM_AUTO_VOCAB, corpus_vocabulary, trim_vocabulary

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    objectives = args.objectives.split(",") if args.objectives else list(objective_names())
    if "mlm" not in objectives:
        objectives.insert(0, "mlm")  # the reference every ratio is taken against
    ref = resolve_model(args.model)
    tok = load_tokenizer(ref)
    n_batches = args.warmup + args.steps
    ds, _ = prepare_pairs(
        _alignments(args.alignments, n_batches * args.batch_size),
        language("de"),
        tok,
        max_length=args.max_length,
        swap="one-to-one",
        subwords="first-piece",
        cache_dir=weam_home() / "cache" / "pretrain",
        progress=print,
        code_switch=build_objective("code-switch").switched_english(42),
    )
    ds = ds.select(range(min(len(ds), n_batches * args.batch_size)))
    n_batches = len(ds) // args.batch_size
    if n_batches <= args.warmup:
        raise SystemExit(f"only {len(ds)} pairs: too few for {args.warmup} warm-up batches and timed ones")
    trim = len(tok) > TRIM_AUTO_VOCAB
    keep = corpus_vocabulary(ds, tok) if trim else None
    id_map = None
    if keep is not None:
        id_map = torch.full((len(tok),), tok.unk_token_id, dtype=torch.long)
        id_map[torch.tensor(keep)] = torch.arange(len(keep))
    to_train = (lambda i: int(id_map[i])) if id_map is not None else (lambda i: i)
    specials = set(tok.all_special_ids)
    pool = torch.tensor([to_train(i) for i in (keep or corpus_vocabulary(ds, tok)) if i not in specials])
    bf16 = args.bf16
    features = [ds[i] for i in range(n_batches * args.batch_size)]
    chunks = [features[k * args.batch_size : (k + 1) * args.batch_size] for k in range(n_batches)]
    print(
        f"model {ref.label}, {n_batches} batches of {args.batch_size} pairs (first {args.warmup} untimed), "
        f"max length {args.max_length}, device {args.device}, threads {args.threads}, bf16 {bf16}, "
        f"vocabulary {len(tok):,}" + (f" → {len(keep):,} kept" if keep else "")
    )

    variants = {}
    for objective in objectives:
        mlm = load_model(ref, AutoModelForMaskedLM)
        if keep is not None:
            trim_vocabulary(mlm, keep)
        model = PretrainingModel(
            mlm,
            objective=objective,
            mask_id=to_train(tok.mask_token_id),
            pad_id=to_train(tok.pad_token_id),
            replace_pool=pool,
        ).to(device)
        model.train()
        collate = make_collator(objective, tok.pad_token_id, id_map)
        batches = [{k: v.to(device) for k, v in collate(c).items()} for c in chunks]
        optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
        variants[objective] = (model, batches, optimiser)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    times: dict[str, list[float]] = {name: [] for name in variants}
    for k in range(n_batches):
        for name, (model, batches, optimiser) in variants.items():
            sync()
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batches[k], mask_seed=1000 + k)["loss"]  # same masks for every objective
            loss.backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
            sync()
            if k >= args.warmup:
                times[name].append(time.perf_counter() - start)

    # medians: a step slowed by another process's burst on a shared machine does not move them
    base = statistics.median(times["mlm"])
    print(f"{'objective':18s} {'median ms':>10s} {'× MLM':>7s} {'mean ms':>9s}")
    for name, spent in times.items():
        median = statistics.median(spent)
        print(f"{name:18s} {1000 * median:10.1f} {median / base:7.2f} {1000 * statistics.mean(spent):9.1f}")


if __name__ == "__main__":
    main()
