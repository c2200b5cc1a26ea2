"""How each kind of grid step runs: the core function of the matching command, with the
experiment config's settings, so every variant gets the same data, steps and head warm-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.languages import language
from weamcli.common.run_records import append_records

Say = Callable[[str], None]


def model_name(config, params: dict[str, Any]) -> str:
    """The column label of a grid model: base, method and languages, depth."""
    name = config.base_model
    if params["method"] != "baseline":
        # parentheses, not brackets: rich would read "[de,es]" as markup and drop it
        name += f"+{params['method']}({','.join(params['langs'])})"
    if params.get("layers"):
        name += f"-L{params['layers']}"
    return name


def _expand(pattern: str, code: str) -> str:
    from weamcli.pretrain.pairs import expand_pattern

    return expand_pattern(pattern, language(code))


def run_align(step, config, steps, say: Say) -> dict[str, Any]:
    from weamcli.align.run import align_corpus

    pre, opts = config.pretrain, config.raw.get("align", {})
    if "source" not in pre or "target" not in pre:
        raise WeamError("[pretrain] needs source and target path patterns", config.path)
    code = step.params["lang"]
    result = align_corpus(
        _expand(pre["source"], code),
        _expand(pre["target"], code),
        step.out,
        source_lang="en",
        target_lang=code,
        backend=opts.get("backend", "eflomal"),
        symmetrize=opts.get("symmetrize", "intersect"),
        overwrite=True,
        progress=_stages(say),
        crlf="strip",  # real corpora (NTREX-128) have Windows line endings
    )
    return {"pairs": result.pairs}


def _stages(say: Say) -> Callable[[str, int, int | None], None]:
    """align_corpus reports (stage, done, total); the grid's log wants one line per stage."""
    seen: set[str] = set()

    def report(stage: str, done: int, total: int | None) -> None:
        if stage not in seen:
            seen.add(stage)
            say(f"  {stage}")

    return report


def run_pretrain(step, config, steps, say: Say) -> dict[str, Any]:
    from weamcli.pretrain.run import pretrain

    pre = dict(config.pretrain)
    align_root = config.out / "align"
    keys = (
        "max_steps",
        "epochs",
        "batch_size",
        "max_length",
        "lr",
        "mask_prob",
        "head_warmup_steps",
        "seed",
        "swap",
        "subwords",
        "trim_vocab",
        "bf16",
        "grad_accum",
        "max_pairs",
        "save_steps",
    )
    options = {k: pre[k] for k in keys if k in pre}
    if "lambda" in pre:
        options["lam"] = pre["lambda"]
    from weamcli.common.models import METADATA_FILE
    from weamcli.pretrain.output_folder import CONFIG_FILE

    started = (step.out / CONFIG_FILE).is_file()
    if started and (step.out / METADATA_FILE).is_file():
        return {"note": "finished earlier"}  # killed after training, before the step was marked
    pretrain(
        step.params["langs"],
        step.out,
        alignments=str(align_root / "en-{lang}"),
        model=config.base_model,
        num_layers=step.params["layers"],
        objective=step.params["method"],
        resume=started,  # a killed run continues from its last checkpoint
        overwrite=not started,  # leftovers without a config are from a run that never started
        progress=say,
        **options,
    )
    return {}


def _task(config):
    from weamcli.common.tasks import TaskSpec, get_task, with_root

    spec = dict(config.task)
    name = spec.get("name") or config.raw.get("experiment", {}).get("task", "sib200")
    if name in ("sib200", "xnli", "paws-x"):
        return with_root(get_task(name), spec.get("root"))
    text = spec.get("text_column", "text")
    pair = spec.get("text_pair_column")
    return TaskSpec(
        name=name,
        text_columns=(text,) if not pair else (text, pair),
        label_column=spec.get("label_column", "label"),
        labels=tuple(spec["labels"]) if spec.get("labels") else None,
        id_column=spec.get("id_column"),
        path_pattern=spec.get("path_pattern", "{root}/{lang}/{split}.tsv"),
        code_style=spec.get("code_style", "flores"),
        default_root=spec.get("root"),
    )


def run_finetune(step, config, steps, say: Say) -> dict[str, Any]:
    from dataclasses import fields

    from weamcli.common.models import resolve_model
    from weamcli.finetune.run import FinetuneConfig, finetune

    params = step.params
    if params["method"] == "baseline":
        ref = resolve_model(config.base_model, num_layers=params["layers"], progress=say)
    else:
        ref = resolve_model(str(steps[params["model_key"]].out))
    allowed = {f.name for f in fields(FinetuneConfig)}
    unknown = sorted(set(config.finetune) - allowed)
    if unknown:
        raise WeamError(f"[finetune] has unknown key(s) {', '.join(unknown)}", config.path)
    result = finetune(
        ref,
        _task(config),
        step.out.parent,
        seeds=[params["seed"]],
        config=FinetuneConfig(**config.finetune),
        progress=say,
    )
    run = result.runs[0]
    return {"dev_accuracy": run.dev_accuracy, "path": run.path}


def run_evaluate(step, config, steps, say: Say) -> dict[str, Any]:
    from weamcli.evaluate.classification import evaluate

    params = step.params
    finetuned = steps[params["finetuned"]].out
    ev = config.evaluate
    rows = evaluate(
        [str(finetuned)],
        _task(config),
        ev.get("langs", "all"),
        split=ev.get("split", "test"),
        name=model_name(config, params),
        batch_size=int(ev.get("batch_size", 64)),
        progress=say,
    )
    step.out.mkdir(parents=True, exist_ok=True)
    path = step.out / "results.jsonl"
    path.unlink(missing_ok=True)  # rows of an attempt that died before the step was marked done
    append_records(path, rows)
    mean = sum(r["accuracy"] for r in rows) / len(rows) if rows else float("nan")
    return {"rows": len(rows), "mean_accuracy": mean}


def run_compare(step, config, steps, say: Say) -> dict[str, Any]:
    from weamcli.compare.table import compare_results
    from weamcli.compare.write import write_comparison

    cmp = config.compare
    expected = {}
    for s in steps.values():
        if s.kind == "evaluate":
            expected[model_name(config, s.params)] = s.params["method"]
    comparison = compare_results(
        [config.out / "evaluate"],
        cmp.get("baseline", "baseline"),
        n_boot=int(cmp.get("bootstrap", 1000)),
        seed=int(cmp.get("seed", 0)),
        by=cmp.get("by", "model"),
        expected_models=expected,
    )
    paths = write_comparison(comparison, step.out)
    return {"comparison": comparison, "paths": paths}


STEP_RUNNERS = {
    "align": run_align,
    "pretrain": run_pretrain,
    "finetune": run_finetune,
    "evaluate": run_evaluate,
    "compare": run_compare,
}
