"""Loading `weam evaluate` rows for a comparison: find the files, read the rows (schema in
``common.result_rows``), select one task and split."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from weamcli.common.errors import WeamError
from weamcli.common.result_rows import ResultRow, row_from_json


def find_result_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Files given directly, plus every results*.jsonl below the folders given (sorted, no repeats)."""
    if not paths:
        raise WeamError("no results given: pass results files or folders holding results*.jsonl")
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("results*.jsonl") if p.is_file())
            if not inside:
                raise WeamError("folder holds no results*.jsonl files", path)
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise WeamError("no such file or folder", path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def load_results(paths: Sequence[str | os.PathLike]) -> list[ResultRow]:
    """Every row of every results file; a broken line is a one-line error naming file and line."""
    rows: list[ResultRow] = []
    for path in find_result_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WeamError("not UTF-8 text (is this a results .jsonl file?)", path) from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise WeamError(f"not valid JSON ({exc.msg} at column {exc.colno})", path, number) from None
            rows.append(row_from_json(obj, path, number))
    if not rows:
        raise WeamError(f"no result rows in {', '.join(str(p) for p in paths)}")
    return rows


def select_rows(
    rows: list[ResultRow], task: str | None, split: str | None
) -> tuple[list[ResultRow], str, str]:
    tasks = sorted({r.task for r in rows})
    if task is None:
        if len(tasks) > 1:
            raise WeamError(f"results hold several tasks ({', '.join(tasks)}); pick one with --task")
        task = tasks[0]
    elif task not in tasks:
        raise WeamError(f"no results for task '{task}' (tasks present: {', '.join(tasks)})")
    rows = [r for r in rows if r.task == task]
    splits = sorted({r.split for r in rows})
    if split is None:
        split = "test" if "test" in splits else splits[0]
        if len(splits) > 1 and "test" not in splits:
            raise WeamError(f"results hold several splits ({', '.join(splits)}); pick one with --split")
    elif split not in splits:
        raise WeamError(f"no '{task}' results for split '{split}' (splits present: {', '.join(splits)})")
    rows = [r for r in rows if r.split == split]
    seen: dict[tuple, str] = {}
    for r in rows:
        key = (r.model, r.lang, r.seed)
        if key in seen:
            raise WeamError(
                f"second result for model '{r.model}', language {r.lang}, seed {r.seed} "
                f"(first at {seen[key]}); pass each results file once"
            )
        seen[key] = r.where
    return rows, task, split
