"""Run records and atomic output: every command writes its config, versions, seed and metrics
as JSON lines next to its outputs, and never leaves a half-written file or folder behind."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonlines

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


def append_records(path: str | os.PathLike, records: list[Mapping[str, Any]]) -> Path:
    """Append JSON lines to ``path``: the file is rewritten atomically with the new lines added,
    so a crash never leaves a torn last line."""
    path = Path(path)
    existing = path.read_bytes() if path.exists() else b""
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


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file weam wrote (config, metadata); broken JSON is a one-line error naming the line."""
    import json

    from .errors import WeamError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WeamError(f"invalid JSON ({exc.msg})", path, exc.lineno) from None


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    with jsonlines.open(path) as reader:
        return list(reader)


class _TextAdapter:
    """jsonlines writes str; the atomic file is binary."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, text: str) -> int:
        return self._fh.write(text.encode("utf-8"))


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary sibling of ``path`` and rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` in one rename.

    On any error (or Ctrl-C) the temporary folder is removed and an existing ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        from .errors import WeamError

        raise WeamError("output folder already exists (pass --overwrite to replace it)", path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    # mkdtemp makes the folder private (0700); a finished output gets the usual permissions
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
