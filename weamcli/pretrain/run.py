"""`weam pretrain`'s core, ``pretrain()``: continual pre-training of a masked-LM encoder with one
objective (``objectives``) on aligned parallel text, into a ``save_pretrained`` folder with
``weam.json``, ``run.jsonl`` and a model card; ``--resume`` and ``--overwrite`` keep the folder whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import apply_umask, atomic_file, clean_stale, partial_dir, replace_dir
from weamcli.common.languages import language
from weamcli.common.model_card import write_model_card
from weamcli.common.models import (
    METADATA_FILE,
    ModelRef,
    load_model,
    load_tokenizer,
    resolve_model,
    weam_home,
)
from weamcli.common.output_folders import check_writable
from weamcli.common.precision import bf16_choice_for
from weamcli.common.progress import Progress, quiet, trainer_steps
from weamcli.common.run_records import append_records, make_record
from weamcli.pretrain.head_warmup import DEFAULT_WARMUP_STEPS, ensure_warm_head, load_head
from weamcli.pretrain.objectives import Objective
from weamcli.pretrain.output_folder import (
    CHECKPOINTS,
    CONFIG_FILE,
    check_corpus,
    check_out_dir,
    check_replaceable,
    clean_after_failure,
    corpus_files,
    is_alignment_cache,
    last_checkpoint,
    run_leftovers,
    snapshot_dir,
)
from weamcli.pretrain.pairs import align_raw, expand_pattern, prepare_pairs, sha
from weamcli.pretrain.result import PretrainResult, first_last, model_card
from weamcli.pretrain.schedule import StepPlan, plan_steps
from weamcli.pretrain.settings import PretrainSettings
from weamcli.pretrain.snapshots import (
    check_resumed_snapshots,
    save_snapshot,
    snapshot_callback,
    snapshot_record,
    snapshots_to_save,
)
from weamcli.pretrain.trainer import (
    build_trainer,
    logged_parts,
    progress_callback,
    seed_everything,
    training_args,
)
from weamcli.pretrain.vocabulary import TRIM_AUTO_VOCAB, corpus_vocabulary, trim_vocabulary, untrim_vocabulary

# what a resumed run may change: where and how often it reports (the bf16 reason holds timings)
RESUME_FREE = (
    "out",
    "resume",
    "overwrite",
    "save_steps",
    "snapshot_steps",  # extra saves along the way: they do not change the model
    "logging_steps",
    "report_to",
    "crlf",
    "bf16_reason",
)


@dataclass
class _Run:
    """What the steps of one run share: its settings, objective, model, and where it writes."""

    s: PretrainSettings
    out: Path  # where it trains: the output folder, or a temporary sibling replacing it
    final: Path  # the output folder
    say: Progress
    objective: Objective
    ref: ModelRef
    tokenizer: Any
    base_meta: dict[str, Any]
    warm_steps: int
    trim: bool
    record_config: dict[str, Any]  # the settings and what was resolved from them
    config: dict[str, Any]  # what --resume must match
    args: Any = None  # the Trainer's TrainingArguments

    @property
    def main(self) -> bool:
        return self.args.process_index == 0

    @property
    def codes(self) -> list[str]:
        return self.record_config["langs"]


def _resolve(s: PretrainSettings, out: Path, final: Path, say: Progress) -> _Run:
    """The model, tokenizer, objective and every value the run resolves (warm-up, trimming, bf16)."""
    ref = resolve_model(s.model, num_layers=s.num_layers, progress=say)
    tokenizer = load_tokenizer(ref)
    if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise WeamError(
            "the tokenizer has no [MASK]/[CLS]/[SEP] tokens; a masked-LM tokenizer is needed", ref.path
        )
    objective = s.make_objective()
    base_meta = ref.metadata()
    warm_steps = s.head_warmup_steps
    if warm_steps is None:
        warm_steps = 0 if base_meta.get("has_mlm_head", True) else DEFAULT_WARMUP_STEPS
    if not objective.masks:
        if warm_steps:
            say(f"{s.objective} does not use the MLM head: no head warm-up")
        warm_steps = 0
    trim = s.trim_vocab if s.trim_vocab is not None else len(tokenizer) > TRIM_AUTO_VOCAB
    bf16 = bf16_choice_for(ref, s.batch_size, s.max_length, trim, requested=s.bf16)
    resolved = {
        "langs": [language(code).code for code in s.langs],
        "model": ref.path,
        "model_label": ref.label,
        "num_layers": ref.num_layers,
        "head_warmup_steps": warm_steps,
        "trim_vocab": trim,
        "bf16": bf16.enabled,
        "bf16_reason": bf16.reason,
        **objective.values(),  # the objective's own options, defaults filled in
    }
    record_config = {**s.to_dict(), **resolved}
    # what --resume must match: everything that shapes the model, not where or how often it reports
    config = {k: v for k, v in record_config.items() if k not in RESUME_FREE}
    run = _Run(
        s, out, final, say, objective, ref, tokenizer, base_meta, warm_steps, trim, record_config, config
    )
    run.args = training_args(
        out / CHECKPOINTS,
        batch_size=s.batch_size,
        grad_accum=s.grad_accum,
        lr=s.lr,
        epochs=1.0,  # replaced by the exact step plan once the pairs are counted
        max_steps=None,
        save_steps=s.save_steps,
        logging_steps=s.logging_steps,
        seed=s.seed,
        bf16=bf16.enabled,
        report_to=s.report_to,
    )
    if not run.main:
        run.say = quiet  # one voice under torchrun
    return run


def _load_pairs(run: _Run, cache: Path) -> tuple[Any, list[str], list[str]]:
    """Every language's pairs as one dataset (mapped to pieces once, cached), the corpus keys and
    the alignment folders; raw files are aligned into the output folder first."""
    from datasets import concatenate_datasets

    s = run.s
    parts, keys, folders = [], [], []
    switch = run.objective.switched_english(s.seed)
    with run.args.main_process_first(desc="prepare pairs"):
        for lg in [language(code) for code in run.codes]:
            if s.alignments is not None:
                folder = Path(expand_pattern(s.alignments, lg)).expanduser()
            else:
                folder = align_raw(
                    Path(expand_pattern(s.source, lg)).expanduser(),
                    Path(expand_pattern(s.target, lg)).expanduser(),
                    run.final / f"align-en-{lg.code}",
                    lg,
                    run.say,
                )
            ds, key = prepare_pairs(
                folder,
                lg,
                run.tokenizer,
                max_length=s.max_length,
                swap=s.swap,
                subwords=s.subwords,
                cache_dir=cache,
                progress=run.say,
                code_switch=switch,
            )
            if s.max_pairs:
                ds = ds.select(range(min(s.max_pairs, len(ds))))
            if len(ds) == 0:
                raise WeamError("no pairs", folder)
            parts.append(ds)
            keys.append(key)
            folders.append(str(folder))
    return (concatenate_datasets(parts) if len(parts) > 1 else parts[0]), keys, folders


def _set_up_folder(run: _Run, pairs: int) -> tuple[StepPlan, list[int], Path | None]:
    """The step plan, the snapshots to save and the checkpoint to resume from; the output folder
    cleared or checked, and its config written (by the main process only)."""
    s, args = run.s, run.args
    plan = plan_steps(
        pairs,
        batch_size=s.batch_size,
        grad_accum=s.grad_accum,
        world_size=args.world_size,
        epochs=s.planned_epochs,
        max_steps=s.max_steps,
    )
    args.max_steps = plan.steps
    snapshots = snapshots_to_save(s.snapshot_steps, plan.steps, plan.describe())  # before the folder
    with args.main_process_first(local=False, desc="set up the output folder"):
        if run.main:  # only one process may clear or write the folder; inputs are valid by now
            resume_from = check_out_dir(run.out, run.config, resume=s.resume, overwrite=s.overwrite)
            run.out.mkdir(parents=True, exist_ok=True)
            with atomic_file(run.out / CONFIG_FILE) as fh:
                json.dump(run.config, fh, indent=2)
        else:
            resume_from = last_checkpoint(run.out / CHECKPOINTS) if s.resume else None
    if resume_from is not None and snapshots:
        check_resumed_snapshots(run.out, snapshots, int(resume_from.name.split("-")[1]))
    return plan, snapshots, resume_from


def _load_mlm(run: _Run, dataset: Any, corpus_key: str) -> tuple[Any, Any, Any, Path | None, str | None]:
    """The masked-LM model to train, its warmed head loaded and its vocabulary trimmed: (model,
    kept rows, trimmed-away rows, warm-up folder, warm-up hash)."""
    from transformers import AutoModelForMaskedLM

    s = run.s
    warm_folder = warm_key = None
    if run.warm_steps:
        warm_folder, warm_key = ensure_warm_head(
            run.ref,
            # the pairs alone: the same warm-up (and cache entry) for every objective
            dataset.remove_columns([c for c in dataset.column_names if c == "cs_input_ids"]),
            run.tokenizer,
            corpus_key=corpus_key,
            steps=run.warm_steps,
            seed=s.seed,
            batch_size=s.batch_size,
            lr=s.head_warmup_lr,
            max_length=s.max_length,
            mask_prob=s.mask_prob,
            trim=run.trim,
            bf16=run.record_config["bf16"],
            cache_root=run.out.parent,
            progress=run.say,
        )
    seed_everything(s.seed)  # before loading: any randomly initialised head weights depend on it
    mlm = load_model(run.ref, AutoModelForMaskedLM)
    if warm_folder is not None:
        load_head(mlm, warm_folder)
    keep = corpus_vocabulary(dataset, run.tokenizer) if run.trim else None
    full = trim_vocabulary(mlm, keep) if run.trim else None
    if run.trim:
        run.say(f"training with {len(keep):,} of {full['vocab']:,} vocabulary rows (saved back at full size)")
    return mlm, keep, full, warm_folder, warm_key


def _model_meta(run: _Run, mlm: Any, steps_run: int, epochs: float) -> dict[str, Any]:
    """The trained model's ``weam.json``."""
    meta = {k: v for k, v in run.base_meta.items() if k != "preset"}
    meta.update(
        {
            "method": run.s.objective,
            "pretrain_langs": run.codes,
            "base_model": run.ref.label,
            "num_layers": mlm.config.num_hidden_layers,
            # an objective without masked prediction leaves the head as it was (untrained for e5-small)
            "has_mlm_head": True if run.objective.masks else run.base_meta.get("has_mlm_head", True),
            "steps": steps_run,
            "pretrain_steps": steps_run,  # carried into fine-tuned models (their "steps" differ)
            "epochs": round(epochs, 4),
        }
    )
    return meta


def _train(
    settings: PretrainSettings,
    out: Path,
    final: Path,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    callbacks: list | None = None,
) -> PretrainResult:
    """The run itself, in ``out``: ``final`` (the output folder), or a temporary sibling of it
    when a finished run there is being replaced. Raw files are aligned into ``final``."""
    s = settings
    run = _resolve(s, out, final, progress or quiet)
    say = run.say
    if run.main:
        check_out_dir(out, run.config, resume=s.resume, overwrite=s.overwrite, clear=False)
    cache = Path(cache_dir) if cache_dir else weam_home() / "cache" / "pretrain"
    dataset, keys, folders = _load_pairs(run, cache)
    plan, snapshots, resume_from = _set_up_folder(run, len(dataset))
    mlm, keep, full, warm_folder, warm_key = _load_mlm(run, dataset, sha(keys, s.max_pairs))

    def save_at(folder: Path, step: int, epochs: float) -> None:
        meta = {**_model_meta(run, mlm, step, epochs), "snapshot_of": str(final)}
        record = snapshot_record(run.record_config, s.seed, step, epochs, final)
        save_snapshot(mlm, run.tokenizer, folder, keep=keep, full=full, meta=meta, record=record)
        say(f"saved the step-{step} snapshot")

    extra = [snapshot_callback(snapshots, out, save_at)] if snapshots and run.main else []
    trainer = build_trainer(
        mlm,
        dataset,
        run.tokenizer,
        keep,
        run.args,
        objective=run.objective,
        mask_prob=s.mask_prob,
        callbacks=[progress_callback(say), *extra, *(callbacks or [])],
    )
    if resume_from is not None:
        say(f"resuming from {resume_from}")
    elif s.resume:
        say("no complete checkpoint yet; starting from the beginning")
    say(f"training {s.objective} on {len(dataset):,} pairs ({', '.join(run.codes)}): {plan.describe()}")
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    log = [x for x in trainer.state.log_history if logged_parts(x)]
    result = PretrainResult(
        out,
        s.objective,
        run.codes,
        trainer.state.global_step,
        len(dataset),
        *first_last(log, "loss_mp"),
        *first_last(log, "loss_cp"),
        head_warmup=str(warm_folder) if warm_folder else None,
        log=log,
        epochs=round(float(trainer.state.epoch or 0.0), 4),
        step_plan=plan.describe(),
        losses={part: first_last(log, f"loss_{part}") for part in run.objective.parts},
    )
    if run.main:
        if run.trim:
            untrim_vocabulary(mlm, keep, full)
        metrics = {
            "steps": result.steps,
            "epochs": result.epochs,
            "step_plan": plan.record(),
            "pairs": len(dataset),
            "alignment_folders": folders,
            **_loss_metrics(result),
            "head_warmup": {"path": result.head_warmup, "hash": warm_key, "steps": run.warm_steps}
            if run.warm_steps
            else None,
            "trimmed_vocab_rows": len(keep) if run.trim else None,
            "resumed_from": str(resume_from) if resume_from else None,
            "snapshots": {n: str(snapshot_dir(final, n)) for n in snapshots},
        }
        _save_final(run, mlm, result, metrics)
    return result


def _loss_metrics(result: PretrainResult) -> dict[str, float | None]:
    """Each logged loss part's first and last values (``first_last``), as the run record holds them."""
    return {
        "loss_mp_first": result.loss_mp_first,
        "loss_mp_last": result.loss_mp_last,
        "loss_cp_first": result.loss_cp_first,
        "loss_cp_last": result.loss_cp_last,
        **{
            f"loss_{part}_{end}": value
            for part, pair in result.losses.items()
            for end, value in zip(("first", "last"), pair, strict=True)
        },
    }


def _save_final(run: _Run, mlm: Any, result: PretrainResult, metrics: dict[str, Any]) -> None:
    """The trained model, tokenizer and run record into the output folder; ``weam.json`` last."""
    out = run.out
    with tempfile.TemporaryDirectory(prefix=".final-", dir=out) as tmp:
        mlm.save_pretrained(tmp)
        run.tokenizer.save_pretrained(tmp)
        for p in sorted(Path(tmp).iterdir()):
            os.replace(p, out / p.name)
    seed = run.s.seed
    records = [
        make_record("pretrain", run.record_config, seed=seed, metrics=e, event="log") for e in result.log
    ]
    records.append(make_record("pretrain", run.record_config, seed=seed, metrics=metrics))
    append_records(out / "run.jsonl", records)
    with atomic_file(out / METADATA_FILE) as fh:  # written last: marks the folder complete
        json.dump(_model_meta(run, mlm, result.steps, result.epochs), fh, indent=2)


def pretrain(
    settings: PretrainSettings,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    callbacks: list | None = None,
    resume_hint: str = "run the same command with --resume",
) -> PretrainResult:
    """Continually pre-train ``settings.model`` on English–``settings.langs`` pairs with
    ``settings.objective`` into ``settings.out``.

    Settings give either ``alignments`` (a pattern of ``weam align`` folders) or ``source`` and
    ``target`` (patterns of raw parallel files, aligned here into ``out/align-en-<lang>``). Path
    patterns take ``{lang}``, ``{iso3}``, ``{ntrex}`` placeholders. ``callbacks``: extra
    TrainerCallbacks. ``resume_hint``: how the user continues an interrupted run (the experiment
    grid says to run it again).

    The output folder is checked for writing and the corpus for words (and Windows line endings)
    before any work. With ``overwrite`` a finished run is replaced only once the new one is
    complete: the new run trains in a temporary sibling and is swapped in at the end, so an
    error, Ctrl-C or kill at any point leaves the previous model as it was. A failed new run
    leaves no empty folder behind (a complete checkpoint stays, for ``resume``).
    """
    s = settings
    say = progress or quiet
    final = Path(s.out).expanduser().resolve()
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        check_writable(final)
        clean_stale(final)
        crlf = s.crlf if s.alignments is None else "strip"  # weam align's folders never hold CRLF
        inputs: list[str | Path | None] = [s.model if Path(s.model).expanduser().exists() else None]
        for code in s.langs:
            files = corpus_files(s.alignments, s.source, s.target, language(code))
            check_corpus(files, crlf=crlf, max_pairs=s.max_pairs)
            inputs += [files[0].parent, *files] if s.alignments is not None else files
        check_replaceable(final, inputs)
    leftovers = run_leftovers(final)
    if leftovers and not (s.resume or s.overwrite):
        # the same refusal as check_out_dir's, made here so that the clean-up below never touches it
        check_out_dir(final, {}, resume=False, overwrite=False, clear=False)
    replacing = bool(leftovers) and s.overwrite
    work, created = final, not final.exists()
    if replacing:
        # every process of a torchrun job must find the same folder: it is named after the launcher
        owner = os.getppid() if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        work = partial_dir(final, owner=owner)
        say(f"replacing the run in {final} once the new one is complete")
    steps = trainer_steps(say, "training")
    try:
        result = _train(
            s, work, final, cache_dir=cache_dir, progress=progress, callbacks=[steps, *(callbacks or [])]
        )
        if main:
            write_model_card(work, model_card(s, result, work))
    except BaseException:
        if main and replacing:
            shutil.rmtree(work, ignore_errors=True)  # the previous run stays as it was
        elif main and not s.resume:
            clean_after_failure(final, created=created, progress=say, resume_hint=resume_hint)
        raise
    if main:
        if replacing:
            replace_dir(work, final, keep=is_alignment_cache)
        else:
            apply_umask(final)
        say(f"saved {final}")
    result.out_dir = final
    return result
