"""Run records: every command writes its config, versions, seed and metrics as JSON lines
(``run.jsonl``) next to its outputs."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonlines

from .files import atomic_file

RUN_RECORD = "run.jsonl"

_TRACKED_PACKAGES = (
    "weam",
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "tokenizers",
    "eflomal",
    "simalign",
    "numpy",
)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of the libraries whose behaviour shapes results."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def make_record(
    command: str,
    config: Mapping[str, Any],
    *,
    seed: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    event: str = "run",
) -> dict[str, Any]:
    """One JSON-serialisable record of a command's run."""
    return {
        "event": event,
        "command": command,
        "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "config": _jsonable(dict(config)),
        "versions": library_versions(),
        "host": {"platform": platform.platform(), "argv": sys.argv},
        "metrics": _jsonable(dict(metrics or {})),
    }


def append_records(
    path: str | os.PathLike,
    records: list[Mapping[str, Any]],
    *,
    drop: Callable[[bytes], bool] | None = None,
) -> Path:
    """Append JSON lines to ``path``: the file is rewritten atomically with the new lines added,
    so a crash never leaves a torn last line. Existing lines for which ``drop`` is true (records
    the new ones replace) are left out in the same write."""
    path = Path(path)
    existing = path.read_bytes() if path.exists() else b""
    if drop is not None:
        existing = b"".join(line for line in existing.splitlines(keepends=True) if not drop(line))
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    with atomic_file(path, "wb") as fh:
        fh.write(existing)
        with jsonlines.Writer(_TextAdapter(fh), sort_keys=False) as writer:
            for record in records:
                writer.write(_jsonable(record))
    return path


def write_run_record(
    out_dir: str | os.PathLike,
    command: str,
    config: Mapping[str, Any],
    *,
    seed: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    event: str = "run",
) -> dict[str, Any]:
    """Append one run record to ``out_dir/run.jsonl`` and return it."""
    record = make_record(command, config, seed=seed, metrics=metrics, event=event)
    append_records(Path(out_dir) / RUN_RECORD, [record])
    return record


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    with jsonlines.open(path) as reader:
        return list(reader)


class _TextAdapter:
    """jsonlines writes str; the atomic file is binary."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, text: str) -> int:
        return self._fh.write(text.encode("utf-8"))
