"""`weam evaluate`'s one core function: score the models, append the rows to their results files
and write a run record beside each — the same for the command line and the experiment grid."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.output_folders import check_writable
from weamcli.common.progress import Progress, quiet
from weamcli.common.run_records import append_records, write_run_record
from weamcli.evaluate.settings import DEFAULT_TATOEBA, EvaluateSettings


@dataclass
class EvaluationResult:
    rows: list[dict[str, Any]]
    written: dict[Path, int] = field(default_factory=dict)  # results file -> rows appended
    source_lang: str | None = None  # the fine-tuning language's row label (not zero-shot)
    precision: str = ""  # how the models ran (bf16 autocast or fp32) and why


def results_path(results: str | None, model: str) -> Path:
    """``results``, else ``<model>/results.jsonl`` for a folder, else ./results.jsonl (presets, hub)."""
    if results is not None:
        return Path(results)
    folder = Path(model).expanduser()
    return folder / "results.jsonl" if folder.is_dir() else Path("results.jsonl")


def run_evaluation(settings: EvaluateSettings, *, progress: Progress | None = None) -> EvaluationResult:
    """Zero-shot accuracy per language (or the Tatoeba probe) of every model in ``settings``.

    Bad input (and a results path that is a folder or holds a damaged line) fails before anything
    is written. Each language's row is added to its results file as soon as it is scored, so an
    interruption (Ctrl-C, `kill`, even `kill -9`) keeps the languages already scored; a run
    stopped by an exception records itself as interrupted. A row replaces an earlier one of the
    same model, task, split, language and seed in the results file, so a run repeated after an
    interruption leaves one row per language."""
    s = settings
    say = progress or quiet
    targets: dict[Path, list[dict[str, Any]]] = {}
    for m in s.models:
        path = results_path(s.results, m)
        check_writable(path.parent)
        check_results_file(path)  # a folder, a damaged line: refused now, not after the work
        targets.setdefault(path, _RowsFile(path))
    precision = inference_precision(s)  # said with the result: bad input stays a one-line error
    try:
        with _autocast(precision.enabled):
            source = _evaluate_all(s, targets, progress)
    except BaseException:
        if any(targets.values()):  # already in the results files: the run record says so
            written = _write(targets, s, precision, event="interrupted")
            say(f"kept {sum(written.values())} finished row(s) in {', '.join(map(str, written))}")
        raise
    result = EvaluationResult([r for rows in targets.values() for r in rows], source_lang=source)
    result.precision = f"{'bf16 autocast' if precision.enabled else 'fp32'} ({precision.reason})"
    result.written = _write(targets, s, precision, event="run")
    return result


class _RowsFile(list):
    """The rows scored for one results file, each added to the file as soon as it is scored: a
    killed evaluation (even ``kill -9``) keeps the languages it finished."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def append(self, row: dict[str, Any]) -> None:
        replace_rows(self.path, [row])
        super().append(row)

    def extend(self, rows: Any) -> None:
        rows = list(rows)
        replace_rows(self.path, rows)
        super().extend(rows)


def check_results_file(path: Path) -> None:
    """Before any work: ``path`` is a results file to add rows to (or not there yet) whose every
    line is a JSON row. A folder, or a damaged line (a cut-off last line of a killed writer, an
    edit gone wrong), is a one-line error naming the line: appending after it would hide it."""
    if path.is_dir():
        raise WeamError("is a folder; --results takes a file, e.g. FOLDER/results.jsonl", path)
    if not path.exists():
        return
    if not path.is_file():
        raise WeamError("is not a regular file; --results takes a file", path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            continue
        if number == len(lines):  # no newline after it: the end of the file was cut off
            raise WeamError(
                "the last line is cut off (not a whole JSON row, no newline after it); remove or "
                "repair it, then run again (nothing was added)",
                path,
                number,
            )
        raise WeamError(
            "not a JSON row; remove or repair this line, then run again (nothing was added)", path, number
        )


def inference_precision(s: EvaluateSettings) -> Any:
    """bf16 autocast or fp32 for scoring (a ``Bf16Choice``): as given, else by timing inference (a
    forward pass of a stand-in of the first model's encoder at this batch size; cached)."""
    from weamcli.common.precision import Bf16Choice, bf16_choice_for

    if s.bf16 is not None:
        return Bf16Choice(bool(s.bf16), "given (--bf16/--no-bf16)")
    from weamcli.common.models import resolve_model
    from weamcli.evaluate.fine_tuned import expand_model_folders

    first = expand_model_folders([s.models[0]])[0] if s.task != "tatoeba" else s.models[0]
    ref = resolve_model(first, num_layers=s.num_layers if s.task == "tatoeba" else None)
    return bf16_choice_for(ref, s.batch_size, 128, kind="inference")


@contextlib.contextmanager
def _autocast(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import torch

    from weamcli.common.sentence_vectors import inference_device

    with torch.autocast(inference_device().type, dtype=torch.bfloat16):
        yield


def _evaluate_all(
    s: EvaluateSettings, targets: dict[Path, list[dict[str, Any]]], progress: Any
) -> str | None:
    """Score every model of ``s``, each row appended to its results file's list in ``targets`` as
    soon as it is scored; returns the fine-tuning language's row label (None for Tatoeba)."""
    source = None
    if s.task == "tatoeba":
        from weamcli.evaluate.retrieval import evaluate_retrieval

        for m in s.models:
            evaluate_retrieval(
                m,
                s.lang_text,
                s.data_dir or DEFAULT_TATOEBA,
                layer=s.layer,
                num_layers=s.num_layers,
                name=s.name,
                batch_size=s.batch_size,
                progress=progress,
                done=targets.setdefault(results_path(s.results, m), []),
            )
    else:
        import importlib

        from weamcli.common.families import family
        from weamcli.common.tasks import resolve_language

        spec = s.task_spec()
        kind = family(spec.kind)
        module, function = kind.evaluator
        evaluate_kind = getattr(importlib.import_module(f"weamcli.evaluate.{module}"), function)
        kw: dict[str, Any] = {"max_examples": s.max_examples}
        kw.update({arg: getattr(s, setting) for arg, setting in kind.evaluate_options.items()})
        for m in s.models:
            evaluate_kind(
                [m],
                spec,
                s.lang_text,
                split=s.split,
                name=s.name,
                batch_size=s.batch_size,
                progress=progress,
                done=targets.setdefault(results_path(s.results, m), []),
                **kw,
            )
        source = resolve_language(spec, spec.source_lang)[0]
    return source


def mean_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of each metric over rows: mean_accuracy, or mean_f1 and mean_exact_match."""
    from weamcli.common.result_rows import row_metrics, row_score

    return {f"mean_{m}": sum(row_score(r, m) for r in rows) / len(rows) for m in row_metrics(rows[0])}


def _row_key(row: dict[str, Any]) -> tuple:
    return tuple(
        json.dumps(row.get(k), sort_keys=True)
        for k in ("task", "test_data", "split", "model", "model_path", "lang", "seed", "direction", "layer")
    )


def replace_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Add ``rows`` to the results file in one atomic write, dropping earlier rows with the same
    key (a line that is not a JSON object is kept as it is: `weam compare` names it)."""
    new = {_row_key(r) for r in rows}

    def replaced(line: bytes) -> bool:
        try:
            old = json.loads(line)
        except ValueError:
            return False
        return isinstance(old, dict) and _row_key(old) in new

    append_records(path, rows, drop=replaced)


def _write(
    targets: dict[Path, list[dict[str, Any]]], s: EvaluateSettings, precision: Any, *, event: str
) -> dict[Path, int]:
    written: dict[Path, int] = {}
    for path, rows in targets.items():
        if not rows:
            continue  # the rows are in the file already (``_RowsFile``)
        write_run_record(
            path.parent,
            "evaluate",
            {**s.to_dict(), "results": str(path), "bf16": precision.enabled, "bf16_reason": precision.reason},
            metrics={"rows": len(rows), **mean_metrics(rows)},
            event=event,
        )
        written[path] = len(rows)
    return written
