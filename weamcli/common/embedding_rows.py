"""An inference model's word embeddings read row by row from its weights file, as inputs use them.

A multilingual encoder's input embedding matrix is most of its weights, while scoring a few hundred
sentences looks up a few thousand rows. ``rows_on_demand`` swaps the matrix for ``RowsOnDemand``,
which reads each row it is asked for once and keeps only those rows; a row is the same numbers
either way, so outputs are identical. For inference only (no gradient reaches the rows), and only
where the weights come as a safetensors file whose matrix is exactly the loaded one (checked);
otherwise the model is left as it is.
"""

from __future__ import annotations

import json
import os
import struct
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from weamcli.common.models import ModelRef, weights_folder

_SAFETENSORS_INDEX = "model.safetensors.index.json"
_SAFETENSORS_FILE = "model.safetensors"


class RowsOnDemand(nn.Module):
    """``nn.Embedding``'s lookup over a ``[rows, dim]`` fp32 matrix stored at byte ``offset`` of
    ``path``: a row is read from the file (``pread``) the first time an input uses it, then kept.

    Why not the loaded matrix (e5-small: 250k pieces × 384 = 96M of 118M parameters, 384 MB in
    fp32): transformers maps the safetensors file into memory, and each row an input looks up then
    brings its surrounding pages (readahead, fault-around) into the process's resident memory
    (figures in bench/NOTES.md)."""

    def __init__(self, path: str | Path, offset: int, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.path = str(path)
        self.offset = offset
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)  # held for the module's life
        self._slot = np.full(num_embeddings, -1, dtype=np.int64)  # row -> its place in _rows
        self._rows = np.empty((64, embedding_dim), dtype=np.float32)
        self.loaded = 0
        self._device_rows: tuple[int, torch.Tensor] | None = None
        # follows model.to(device/dtype), so the rows are handed out where the model runs
        self.register_buffer("anchor", torch.empty(0), persistent=False)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (sorted, distinct) of the stored matrix, read from the file."""
        size = self.embedding_dim * 4
        out = np.empty((len(rows), self.embedding_dim), dtype=np.float32)
        starts = np.flatnonzero(np.diff(rows) != 1) + 1  # runs of consecutive rows: one read each
        done = 0
        for run in np.split(rows, starts):
            data = os.pread(self._fd, size * len(run), self.offset + int(run[0]) * size)
            if len(data) != size * len(run):
                raise OSError(f"{self.path}: the embedding matrix is cut short")
            out[done : done + len(run)] = np.frombuffer(data, dtype="<f4").reshape(len(run), -1)
            done += len(run)
        return out

    def _load(self, rows: np.ndarray) -> None:
        need = self.loaded + len(rows)
        if need > len(self._rows):
            grown = np.empty((max(need, 2 * len(self._rows)), self.embedding_dim), dtype=np.float32)
            grown[: self.loaded] = self._rows[: self.loaded]
            self._rows = grown
        self._rows[self.loaded : need] = self.read(rows)
        self._slot[rows] = np.arange(self.loaded, need)
        self.loaded = need

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        ids = input_ids.detach().cpu().numpy()
        wanted = np.unique(ids)
        if wanted.size and (wanted[0] < 0 or wanted[-1] >= self.num_embeddings):
            raise IndexError(
                f"token id {wanted[-1] if wanted[-1] >= 0 else wanted[0]} is outside the vocabulary"
            )
        new = wanted[self._slot[wanted] < 0]
        if new.size:
            self._load(new)
        index = torch.from_numpy(self._slot[ids]).to(input_ids.device)
        return nn.functional.embedding(index, self._weight())

    def _weight(self) -> torch.Tensor:
        rows = torch.from_numpy(self._rows[: self.loaded])
        if self.anchor.device.type == "cpu" and self.anchor.dtype == torch.float32:
            return rows  # no copy
        if self._device_rows is None or self._device_rows[0] != self.loaded:
            self._device_rows = (self.loaded, rows.to(self.anchor.device, self.anchor.dtype))
        return self._device_rows[1]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, rows read: {self.loaded}"


def _header(path: Path) -> tuple[int, dict[str, Any]]:
    """A safetensors file's header and where its data starts."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        return 8 + size, json.loads(fh.read(size))


def _stored_matrix(folder: Path, name: str, shape: tuple[int, int]) -> tuple[Path, int] | None:
    """(file, byte offset) of the fp32 tensor stored under a key ending in ``name`` with ``shape``."""
    index = folder / _SAFETENSORS_INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files = sorted({folder / f for k, f in weight_map.items() if k == name or k.endswith("." + name)})
    else:
        files = [folder / _SAFETENSORS_FILE] if (folder / _SAFETENSORS_FILE).is_file() else []
    found = []
    for path in files:
        start, header = _header(path)
        for key, info in header.items():
            if key == "__metadata__" or not (key == name or key.endswith("." + name)):
                continue
            if info.get("dtype") == "F32" and tuple(info.get("shape", ())) == shape:
                found.append((path, start + int(info["data_offsets"][0])))
    return found[0] if len(found) == 1 else None


def stored_rows(encoder: nn.Module, ref: ModelRef) -> RowsOnDemand | None:
    """A ``RowsOnDemand`` over the stored copy of ``encoder``'s input word-embedding matrix,
    loaded from ``ref``; None where the matrix is not stored as it was loaded (another format or
    dtype, tied to something else, changed since loading)."""
    if not hasattr(encoder, "get_input_embeddings"):
        return None
    embedding = encoder.get_input_embeddings()
    if (
        not isinstance(embedding, nn.Embedding)
        or embedding.weight.dtype != torch.float32
        or embedding.max_norm is not None  # renormalises rows as it looks them up
    ):
        return None
    folder = weights_folder(ref)
    name = next((n for n, p in encoder.named_parameters() if p is embedding.weight), None)
    if folder is None or name is None:
        return None
    try:
        stored = _stored_matrix(folder, name, tuple(embedding.weight.shape))
        if stored is None:
            return None
        lazy = RowsOnDemand(stored[0], stored[1], *embedding.weight.shape)
        # the stored matrix must be the loaded one (not tied to something else, not changed since)
        check = np.unique([0, embedding.num_embeddings // 2, embedding.num_embeddings - 1])
        with torch.no_grad():
            loaded = embedding.weight[torch.from_numpy(check)].detach().cpu().numpy()
        if not np.array_equal(lazy.read(check), loaded):
            return None
    except (OSError, ValueError, KeyError, struct.error):
        return None
    return lazy.to(embedding.weight.device)


def rows_on_demand(model: nn.Module, ref: ModelRef) -> bool:
    """Swap the input word-embedding matrix of ``model`` (a transformers model, or one holding it
    as ``.encoder``), loaded from ``ref``, for ``RowsOnDemand`` over ``ref``'s weights file. For
    inference only. Returns whether it did (see ``stored_rows``)."""
    encoder = model if hasattr(model, "get_input_embeddings") else getattr(model, "encoder", None)
    if not hasattr(encoder, "set_input_embeddings"):
        return False
    lazy = stored_rows(encoder, ref)
    if lazy is None:
        return False
    encoder.set_input_embeddings(lazy)
    return True
