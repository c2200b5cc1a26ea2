"""`weam evaluate`'s one core function: score the models, append the rows to their results files
and write a run record beside each — the same for the command line and the experiment grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.progress import Progress
from weamcli.common.run_records import append_records, write_run_record
from weamcli.evaluate.settings import DEFAULT_TATOEBA, EvaluateSettings


@dataclass
class EvaluationResult:
    rows: list[dict[str, Any]]
    written: dict[Path, int] = field(default_factory=dict)  # results file -> rows appended
    source_lang: str | None = None  # the fine-tuning language's row label (not zero-shot)


def results_path(results: str | None, model: str) -> Path:
    """``results``, else ``<model>/results.jsonl`` for a folder, else ./results.jsonl (presets, hub)."""
    if results is not None:
        return Path(results)
    folder = Path(model).expanduser()
    return folder / "results.jsonl" if folder.is_dir() else Path("results.jsonl")


def run_evaluation(settings: EvaluateSettings, *, progress: Progress | None = None) -> EvaluationResult:
    """Zero-shot accuracy per language (or the Tatoeba probe) of every model in ``settings``.

    Every model's rows are computed before anything is written, so a failure writes nothing."""
    s = settings
    targets: dict[Path, list[dict[str, Any]]] = {}
    source = None
    if s.task == "tatoeba":
        from weamcli.evaluate.retrieval import evaluate_retrieval

        for m in s.models:
            rows = evaluate_retrieval(
                m,
                s.lang_text,
                s.data_dir or DEFAULT_TATOEBA,
                layer=s.layer,
                name=s.name,
                batch_size=s.batch_size,
                progress=progress,
            )
            targets.setdefault(results_path(s.results, m), []).extend(rows)
    else:
        from weamcli.common.tasks import resolve_language
        from weamcli.evaluate.classification import evaluate

        spec = s.task_spec()
        per_model = [
            (
                m,
                evaluate(
                    [m],
                    spec,
                    s.lang_text,
                    split=s.split,
                    name=s.name,
                    batch_size=s.batch_size,
                    progress=progress,
                ),
            )
            for m in s.models
        ]
        for m, rows in per_model:
            targets.setdefault(results_path(s.results, m), []).extend(rows)
        source = resolve_language(spec, spec.source_lang)[0]
    result = EvaluationResult([r for rows in targets.values() for r in rows], source_lang=source)
    for path, rows in targets.items():
        append_records(path, rows)
        write_run_record(
            path.parent,
            "evaluate",
            {**s.to_dict(), "results": str(path)},
            metrics={"rows": len(rows), "mean_accuracy": sum(r["accuracy"] for r in rows) / len(rows)},
        )
        result.written[path] = len(rows)
    return result
