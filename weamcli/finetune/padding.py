"""What fine-tuning keeps of a tokenizer once its data is encoded: batch padding and the files to
save. A 250k-piece XLM-R tokenizer holds ~350 MB (its Unigram trie) that training never uses."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from weamcli.common.files import storage_problem

# what each padded input is filled with where a sequence is shorter than the batch's longest
_FILL = {"attention_mask": 0, "special_tokens_mask": 1}


class PaddingOnly:
    """Stands in for a fast tokenizer after encoding: ``pad`` (as ``tokenizer.pad`` pads: the
    model inputs to the longest sequence, on the tokenizer's side; other keys as they are, all as
    tensors), ``padding_side``, ``pad_token_id`` and ``save_pretrained`` (the files the tokenizer
    wrote when this was made)."""

    def __init__(self, tokenizer: Any):
        self.pad_token_id = tokenizer.pad_token_id
        self.pad_token_type_id = getattr(tokenizer, "pad_token_type_id", 0)
        self.padding_side = tokenizer.padding_side
        self.model_input_names = list(tokenizer.model_input_names)
        self._tokenizer: Any = None
        try:
            with tempfile.TemporaryDirectory() as tmp:
                tokenizer.save_pretrained(tmp)
                self._files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        except Exception as exc:
            if storage_problem(exc) is None:
                raise
            # the temporary folder cannot be written (full disk, file-size limit): keep the
            # tokenizer, so the failure, if it lasts, is the output folder's and names it
            self._tokenizer, self._files = tokenizer, {}

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        if self._tokenizer is not None:
            self._tokenizer.save_pretrained(folder)
        for name, data in self._files.items():
            (Path(folder) / name).write_bytes(data)

    def pad(
        self,
        features: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        return_tensors: str | None = "pt",
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        if isinstance(features, Mapping):  # a dict of lists, as tokenizer.pad also takes
            keys = list(features)
            features = [dict(zip(keys, row, strict=True)) for row in zip(*features.values(), strict=True)]
        batch = {key: [f[key] for f in features] for key in features[0]}
        ids = batch["input_ids"]
        if "attention_mask" in self.model_input_names and "attention_mask" not in batch:
            batch["attention_mask"] = [[1] * len(x) for x in ids]
        longest = max((len(x) for x in ids), default=0)
        if padding == "max_length" and max_length is not None:
            longest = max_length
        if pad_to_multiple_of:
            longest = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
        fills = {"input_ids": self.pad_token_id, "token_type_ids": self.pad_token_type_id, **_FILL}
        for key, fill in fills.items():
            if key in batch:
                batch[key] = [self._padded(list(x), longest, fill) for x in batch[key]]
        return {key: torch.tensor(value) for key, value in batch.items()}

    def _padded(self, row: list[Any], length: int, fill: Any) -> list[Any]:
        extra = [fill] * (length - len(row))
        return extra + row if self.padding_side == "left" else row + extra
