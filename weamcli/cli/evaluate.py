"""`weam evaluate`: zero-shot accuracy per language of fine-tuned models, or the Tatoeba probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from weamcli.common.errors import WeamError
from weamcli.common.tasks import build_task

from .app import app
from .console import command, console, say, setup_threads
from .tables import results_table

DEFAULT_TATOEBA = "../shared/data/tatoeba"


def results_path(results: Path | None, model: str) -> Path:
    """``--results``, else ``<model>/results.jsonl`` for a folder, else ./results.jsonl (presets, hub)."""
    if results is not None:
        return results
    folder = Path(model).expanduser()
    return folder / "results.jsonl" if folder.is_dir() else Path("results.jsonl")


@app.command("evaluate")
@command
def evaluate_command(
    task: str = typer.Option(
        ..., "--task", help="sib200, xnli, paws-x, custom, or tatoeba (retrieval probe)."
    ),
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="Fine-tuned folder(s) (repeatable; a "
        "`weam finetune` output stands for all its seeds); any model for tatoeba.",
    ),
    lang: str = typer.Option(
        "all",
        "--lang",
        "-l",
        help="Languages, e.g. deu_Latn,swh_Latn or de,sw; 'all' is every language the task has data for.",
    ),
    split: str = typer.Option("test", "--split", help="Split to score (test or dev)."),
    results: Path | None = typer.Option(
        None, "--results", help="JSON lines file the rows are appended to (default <model>/results.jsonl)."
    ),
    name: str | None = typer.Option(None, "--name", help="Model label in the rows (default from weam.json)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Root of the task's local files."),
    test: Path | None = typer.Option(None, "--test", help="custom: the file to score."),
    text_column: str | None = typer.Option(None, "--text-column"),
    text_pair_column: str | None = typer.Option(None, "--text-pair-column"),
    label_column: str | None = typer.Option(None, "--label-column"),
    id_column: str | None = typer.Option(None, "--id-column"),
    layer: int = typer.Option(-1, "--layer", help="tatoeba: hidden layer to mean-pool (-1 = last)."),
    batch_size: int = typer.Option(32, "--batch-size"),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
) -> None:
    """Zero-shot accuracy per language (rows appended to --results), or Tatoeba retrieval accuracy."""
    from weamcli.common.run_records import append_records, write_run_record

    setup_threads(threads)
    if batch_size <= 0:
        raise WeamError(f"--batch-size must be positive, got {batch_size}")
    config = {
        "task": task,
        "models": model,
        "lang": lang,
        "split": split,
        "name": name,
        "layer": layer,
        "data_dir": data_dir,
        "batch_size": batch_size,
    }
    targets: dict[Path, list[dict[str, Any]]] = {}
    if task == "tatoeba":
        from weamcli.evaluate.retrieval import evaluate_retrieval

        for m in model:
            rows = evaluate_retrieval(
                m,
                lang,
                data_dir or DEFAULT_TATOEBA,
                layer=layer,
                name=name,
                batch_size=batch_size,
                progress=say,
            )
            targets.setdefault(results_path(results, m), []).extend(rows)
        source = None
    else:
        from weamcli.evaluate.classification import evaluate

        if task == "custom" and test is None and split == "test":
            raise WeamError("--task custom needs --test FILE to score")
        spec = build_task(
            task, data_dir, None, None, test, text_column, label_column, text_pair_column, id_column
        )
        if task == "custom" and split != "test":
            raise WeamError("--task custom scores the --test file; leave --split at test")
        # all models' rows are computed before anything is written
        per_model = [
            (m, evaluate([m], spec, lang, split=split, name=name, batch_size=batch_size, progress=say))
            for m in model
        ]
        for m, rows in per_model:
            targets.setdefault(results_path(results, m), []).extend(rows)
        from weamcli.common.tasks import resolve_language

        source = resolve_language(spec, spec.source_lang)[0]
    for path, rows in targets.items():
        append_records(path, rows)
        write_run_record(
            path.parent,
            "evaluate",
            {**config, "results": path},
            metrics={"rows": len(rows), "mean_accuracy": sum(r["accuracy"] for r in rows) / len(rows)},
        )
        say(f"appended {len(rows)} row(s) to {path}")
    all_rows = [r for rows in targets.values() for r in rows]
    console.print(results_table(all_rows, source))
