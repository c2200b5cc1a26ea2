"""The English learning curve of a task: how much English dev score each training-set size and epoch
buys, and what it costs, so a CPU budget is chosen where more data stops paying for its time.

    .venv/bin/python bench/learning_curve.py --task xnli --data-dir ../shared/data/xnli \
        --sizes 2000,5000,10000,20000 --epochs 3 --threads 2

For each size N (a fixed random sample of the English training split, seed 0: the same sample every
run and model would use with `--max-train-examples N --train-sample-seed 0`) it runs a real
`weam finetune` for ``--epochs`` epochs, and prints per epoch the English dev score and the
cumulative training time. The reference is the largest size, measured in the same run: every row
says its dev score minus the reference's best and its time as a ratio of the reference's. The
choice rule it prints: the smallest (size, epochs) whose dev score is within ``--within`` points of
the best seen. One JSON object per size is appended to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="xnli")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--sizes", default="2000,5000,10000,20000", help="training-set sizes (units)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=13, help="fine-tuning seed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--within", type=float, default=1.0, help="points from the best (choice rule)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="other finetune option"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from weamcli.common.models import resolve_model
    from weamcli.finetune.run import finetune
    from weamcli.finetune.settings import FinetuneSettings

    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key.replace("-", "_")] = json.loads(value) if value[:1] in "0123456789[{tf-" else value
    sizes = sorted(int(x) for x in args.sizes.split(","))
    model = resolve_model(args.model)
    curves: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="weam-curve-") as tmp:
        for size in sizes:
            settings = FinetuneSettings(
                task=args.task,
                data_dir=args.data_dir,
                model=args.model,
                out=str(Path(tmp) / f"n{size}"),
                seeds=[args.seed],
                max_train_examples=size,
                train_sample_seed=0,
                epochs=args.epochs,
                select="best-dev",
                **extra,
            )
            result = finetune(settings, model=model, progress=_say)
            run = result.runs[0]
            meta = json.loads((Path(run.path) / "weam.json").read_text(encoding="utf-8"))
            history = [float(x) for x in meta["dev_history"]]
            # the Trainer's epochs take about equal time: spread the measured total over them
            per_epoch = run.train_seconds / max(len(history), 1)
            curves[size] = {
                "task": args.task,
                "size": size,
                "epochs": args.epochs,
                "seed": args.seed,
                "threads": args.threads,
                "dev_metric": meta.get("dev_metric", "accuracy"),
                "dev_history": history,
                "train_seconds": round(run.train_seconds, 1),
                "seconds_per_epoch": round(per_epoch, 1),
                "settings": {
                    k: v for k, v in settings.to_dict().items() if k in extra or k in ("lr", "batch_size")
                },
            }
            print(json.dumps(curves[size]), flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(curves[size]) + "\n")
    _report(curves, args.within)


def _say(message: str, done: int | None = None, total: int | None = None) -> None:
    if done is None:
        print(f"  {message}", file=sys.stderr, flush=True)


def _report(curves: dict[int, dict], within: float) -> None:
    reference = curves[max(curves)]
    best_ref = max(reference["dev_history"])
    best = max(max(c["dev_history"]) for c in curves.values())
    print(
        f"\nreference: {max(curves)} units, best English dev {100 * best_ref:.1f}, "
        f"{reference['train_seconds']:.0f} s"
    )
    print("size  epoch  dev     Δ vs ref best  time (s)  time ÷ ref")
    choice = None
    for size in sorted(curves):
        c = curves[size]
        for epoch, score in enumerate(c["dev_history"], 1):
            seconds = c["seconds_per_epoch"] * epoch
            ratio = seconds / reference["train_seconds"]
            print(
                f"{size:>6} {epoch:>5}  {100 * score:5.1f}  {100 * (score - best_ref):+13.1f}  "
                f"{seconds:8.0f}  {ratio:9.2f}"
            )
            if choice is None and 100 * (best - score) <= within:
                choice = (size, epoch, score, seconds)
    if choice:
        print(
            f"\nsmallest budget within {within:g} points of the best seen ({100 * best:.1f}): "
            f"{choice[0]} units × {choice[1]} epochs, dev {100 * choice[2]:.1f}, {choice[3]:.0f} s"
        )


if __name__ == "__main__":
    main()
