"""Word-level tagging (UD-POS and your CoNLL tasks): an encoder with a linear head over pieces,
trained and read at the FIRST piece of every word (XTREME's convention) that holds some of the
word's characters: XLM-R's tokenizer opens many words with a lone word-boundary piece "▁" (87% of
Chinese and 93% of Japanese UD words, most punctuation), the same vector for all of them, so such
a word is read at its next piece.

Long sentences are never cut: the pieces are split into overlapping windows, and each word is
read (and, in training, labelled) in the one window where its first piece has the most context on
both sides. The model's text prefix (e5's ``query: ``) opens every window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from weamcli.common.errors import WeamError
from weamcli.common.models import METADATA_FILE, ModelRef

HEAD_FILE = "tagger.safetensors"


class TokenTagger(nn.Module):
    """Encoder + dropout + linear head per piece; ``forward`` returns {"loss", "logits"} like HF."""

    def __init__(self, encoder: nn.Module, num_labels: int, *, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None) -> dict[str, Any]:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        logits = self.head(self.dropout(hidden))
        out: dict[str, Any] = {"logits": logits}
        if labels is not None:  # -100 marks pieces that are not a word's chosen first piece
            out["loss"] = nn.functional.cross_entropy(
                logits.flatten(0, 1), labels.flatten(), ignore_index=-100
            )
        return out

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def save(self, folder: str | Path, tokenizer, metadata: dict[str, Any]) -> None:
        from weamcli.finetune.classifier import save_with_head

        save_with_head(self, folder, tokenizer, metadata, HEAD_FILE)


def load_head_model(ref: ModelRef, head_file: str, build, what: str) -> tuple[nn.Module, dict[str, Any]]:
    """A fine-tuned folder's encoder with its head (``build(encoder, meta)`` makes the module)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from weamcli.finetune.classifier import encoder_for

    head_path = Path(ref.path) / head_file
    if ref.kind != "folder" or not head_path.is_file():
        raise WeamError(f"no {what} head ({head_file}): fine-tune it first with `weam finetune`", ref.path)
    meta = ref.metadata()
    try:
        state = load_file(str(head_path))
    except (SafetensorError, OSError) as exc:
        raise WeamError(f"cannot read the head ({exc})", head_path) from None
    model = build(encoder_for(ref), meta)
    try:
        model.head.load_state_dict(state)
    except RuntimeError:
        shape = tuple(state["weight"].shape) if "weight" in state else "?"
        raise WeamError(
            f"head shape {shape} does not fit this encoder and {METADATA_FILE}", head_path
        ) from None
    model.eval()
    return model, meta


def load_tagger(ref: ModelRef) -> tuple[TokenTagger, Any, dict[str, Any]]:
    """A tagging fine-tune as (model, tokenizer, weam.json); one line if it is not one."""
    from weamcli.finetune.classifier import shared_tokenizer

    def build(encoder, meta):
        labels = meta.get("labels")
        if not isinstance(labels, list) or not labels:
            raise WeamError(f"{METADATA_FILE} has no 'labels' list for the tagging head", ref.path)
        return TokenTagger(encoder, len(labels))

    model, meta = load_head_model(ref, HEAD_FILE, build, "tagging")
    return model, shared_tokenizer(ref), meta


# ----------------------------------------------------------------------------- windows over pieces


@dataclass
class Windows:
    """Model inputs for a list of sentences: windows of pieces, and where each word is read."""

    input_ids: list[list[int]]
    sentence: list[int]  # the sentence each window comes from
    # per sentence, per word: (window index, position in that window of the piece it is read at)
    reads: list[list[tuple[int, int]]]
    split_sentences: int  # sentences longer than one window
    empty_words: int  # words the tokenizer gives no piece (read as the unknown piece)


def special_pieces(tokenizer) -> tuple[list[int], list[int]]:
    """The special pieces the tokenizer puts before and after one sequence ([CLS] … [SEP], <s> … </s>)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    front = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
    return full[:front], full[front + len(bare) :]


def make_windows(
    tokenizer,
    sentences: Sequence[Sequence[str]],
    *,
    prefix: str = "",
    max_length: int = 128,
    stride: int = 32,
) -> Windows:
    """Split every sentence's pieces into windows of at most ``max_length`` (special pieces and the
    prefix included) overlapping by ``stride`` pieces; no piece is dropped."""
    prefix_ids = tokenizer(prefix.strip(), add_special_tokens=False)["input_ids"] if prefix.strip() else []
    head_ids, tail_ids = special_pieces(tokenizer)
    front, specials = len(head_ids), len(head_ids) + len(tail_ids)
    size = max_length - specials - len(prefix_ids)  # content pieces per window
    if size < 8:
        raise WeamError(f"--max-length {max_length} leaves {size} pieces per window; raise it")
    stride = min(stride, size // 2)
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    bare: dict[int, bool] = {}

    def boundary_only(piece: int) -> bool:
        """A piece that is only the word-boundary marker (XLM-R's lone "▁"), no characters."""
        if piece not in bare:
            bare[piece] = not tokenizer.convert_ids_to_tokens(piece).replace("\u2581", "").strip()
        return bare[piece]

    out = Windows([], [], [], 0, 0)
    for k, words in enumerate(sentences):
        pieces: list[list[int]] = [[] for _ in words]
        for piece, word in zip(enc["input_ids"][k], enc.word_ids(k), strict=True):
            if word is not None:
                pieces[word].append(piece)
        flat: list[int] = []
        firsts: list[int] = []
        for word_pieces in pieces:
            if not word_pieces:  # e.g. a lone zero-width character: keep the word, as <unk>
                word_pieces = [unk]
                out.empty_words += 1
            skip = len(word_pieces) > 1 and boundary_only(word_pieces[0])
            firsts.append(len(flat) + skip)
            flat.extend(word_pieces)
        starts = [0]
        while starts[-1] + size < len(flat):
            starts.append(min(starts[-1] + size - stride, len(flat) - size))
        out.split_sentences += len(starts) > 1
        first_window = len(out.input_ids)
        for start in starts:
            content = prefix_ids + flat[start : start + size]
            out.input_ids.append(head_ids + content + tail_ids)
            out.sentence.append(k)
        reads = []
        for g in firsts:
            # the window where the first piece sits farthest from both edges
            best = max(
                (w for w, s in enumerate(starts) if s <= g < s + size),
                key=lambda w: min(g - starts[w], starts[w] + size - 1 - g),
            )
            reads.append((first_window + best, front + len(prefix_ids) + g - starts[best]))
        out.reads.append(reads)
    return out


def training_features(windows: Windows, tag_ids: Sequence[Sequence[int]]):
    """A datasets.Dataset of windows with labels at the pieces words are read from (-100 elsewhere)."""
    import datasets

    labels = [[-100] * len(ids) for ids in windows.input_ids]
    for k, reads in enumerate(windows.reads):
        for (w, pos), tag in zip(reads, tag_ids[k], strict=True):
            labels[w][pos] = tag
    return datasets.Dataset.from_dict(
        {
            "input_ids": windows.input_ids,
            "attention_mask": [[1] * len(ids) for ids in windows.input_ids],
            "labels": labels,
            "length": [len(ids) for ids in windows.input_ids],  # for the length-grouped sampler
        }
    )


def predict_tags(model: TokenTagger, tokenizer, windows: Windows, *, batch_size: int = 32) -> list[list[int]]:
    """The predicted label index of every word of every sentence.

    Windows are batched in order of length (little padding) and run in eval mode under
    inference_mode; only each word's chosen piece is read back."""
    order = sorted(range(len(windows.input_ids)), key=lambda i: len(windows.input_ids[i]))
    best: dict[int, np.ndarray] = {}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            feats = [
                {"input_ids": windows.input_ids[i], "attention_mask": [1] * len(windows.input_ids[i])}
                for i in idx
            ]
            batch = {k: v.to(model.device) for k, v in tokenizer.pad(feats, return_tensors="pt").items()}
            argmax = model(**batch)["logits"].argmax(-1).cpu().numpy()
            for row, i in enumerate(idx):
                best[i] = argmax[row]
    model.train(was_training)
    return [[int(best[w][pos]) for w, pos in reads] for reads in windows.reads]


def word_accuracy(predicted: Sequence[Sequence[int]], gold: Sequence[Sequence[int]]) -> float:
    right = sum(
        int(p == g) for ps, gs in zip(predicted, gold, strict=True) for p, g in zip(ps, gs, strict=True)
    )
    total = sum(len(gs) for gs in gold)
    return right / total if total else float("nan")


def build_family(ref: ModelRef, train, dev, labels: tuple[str, ...], config, say) -> Any:
    """The tagging family for ``training.train_seed``: selection by English dev word accuracy."""
    from transformers import DataCollatorForTokenClassification

    from weamcli.common.models import load_tokenizer
    from weamcli.finetune.classifier import encoder_for
    from weamcli.finetune.padding import PaddingOnly
    from weamcli.finetune.training import CardWords, Family

    tokenizer = load_tokenizer(ref)
    index = {label: i for i, label in enumerate(labels)}
    kw = {"prefix": ref.text_prefix, "max_length": config.max_length, "stride": config.doc_stride}
    train_windows = make_windows(tokenizer, [s.words for s in train.sentences], **kw)
    dev_windows = make_windows(tokenizer, [s.words for s in dev.sentences], **kw)
    if train_windows.split_sentences or dev_windows.split_sentences:
        say(
            f"{train_windows.split_sentences} training and {dev_windows.split_sentences} dev sentence(s) "
            f"longer than {config.max_length} pieces are read in overlapping windows"
        )
    dev_gold = [[index[t] for t in s.tags] for s in dev.sentences]
    tokenizer = PaddingOnly(tokenizer)  # the tokenizer itself is freed before the model loads
    model = TokenTagger(encoder_for(ref), len(labels), dropout=config.dropout)

    def dev_score(m: TokenTagger) -> float:
        return word_accuracy(predict_tags(m, tokenizer, dev_windows), dev_gold)

    features = training_features(train_windows, [[index[t] for t in s.tags] for s in train.sentences])
    return Family(
        model=model,
        tokenizer=tokenizer,
        train_dataset=features,
        collator=DataCollatorForTokenClassification(tokenizer),
        dev_score=dev_score,
        meta={"labels": list(labels), "max_length": config.max_length, "doc_stride": config.doc_stride},
        words=CardWords(
            pipeline="token-classification",
            head="a linear tagging head on each word's first piece",
            units="sentences",
            loader=("token_classification", "load_tagger"),
            labels_word="tags",
        ),
    )
