"""Tatoeba x→en / en→x retrieval (mean pooling, the model's text_prefix) of base and pre-trained
models: the check that continual pre-training did not collapse the sentence space.

    python bench/pretrain_retrieval.py e5-small runs/e5-weam-de --langs deu,spa --threads 1
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

TATOEBA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tatoeba"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="presets or save_pretrained folders")
    parser.add_argument("--langs", default="deu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from weamcli.common.models import resolve_model
    from weamcli.common.sentence_vectors import load_encoder
    from weamcli.evaluate.retrieval import read_tatoeba_pair, retrieval_accuracy

    torch.set_num_threads(args.threads)
    for name in args.models:
        ref = resolve_model(name)
        model, tok = load_encoder(ref)
        for lang in args.langs.split(","):
            xx, en = read_tatoeba_pair(TATOEBA, lang)
            for r in retrieval_accuracy(model, tok, xx, en, lang, prefix=ref.text_prefix):
                print(f"{ref.label:24s} {r.direction:10s} {r.accuracy:.3f} ({r.correct}/{r.total})")


if __name__ == "__main__":
    main()
