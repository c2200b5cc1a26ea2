"""`weam pretrain`: continual pre-training with WEAM, its baselines (TLM, MLM) or an explicit-alignment
objective (align-l2, contrastive, code-switch; see ``objectives``) on aligned parallel text.

Pipeline: alignment folders (``weam align`` output, or aligned here from raw parallel files with
intersection symmetrisation) → pair examples with the swap map (``masking``), mapped to pieces once
and cached with ``datasets`` → optional head warm-up (models without a trained MLM head; cached and
shared by every variant of a comparison) → optional vocabulary trimming (CPU speed) → HF Trainer
with ``objectives.PretrainingModel`` → a ``save_pretrained`` folder with the full vocabulary, a
``weam.json`` and ``run.jsonl``.

Output folder ``OUT``: the model (config, weights, tokenizer, weam.json, run.jsonl),
``pretrain-config.json`` (what ``--resume`` must match), ``checkpoints/checkpoint-N`` (trimmed
vocabulary when trimming is on; ``trimmed-vocab.json`` inside maps their rows to the tokenizer's
ids), and ``align-en-<lang>`` when the run aligned raw files itself.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import (
    apply_umask,
    atomic_file,
    check_writable,
    clean_stale,
    partial_dir,
    replace_dir,
)
from weamcli.common.languages import language
from weamcli.common.model_card import render_card, write_model_card
from weamcli.common.models import (
    METADATA_FILE,
    load_model,
    load_tokenizer,
    resolve_model,
    weam_home,
)
from weamcli.common.precision import bf16_choice_for
from weamcli.common.progress import Progress, quiet, trainer_steps
from weamcli.common.run_records import RUN_RECORD, append_records, make_record, read_records
from weamcli.pretrain.head_warmup import DEFAULT_WARMUP_STEPS, ensure_warm_head, load_head
from weamcli.pretrain.objectives import loss_parts
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
from weamcli.pretrain.pairs import CodeSwitch, align_raw, expand_pattern, prepare_pairs, sha
from weamcli.pretrain.schedule import plan_steps
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
class PretrainResult:
    out_dir: Path
    method: str
    langs: list[str]
    steps: int
    pairs: int
    loss_mp_first: float | None
    loss_mp_last: float | None
    loss_cp_first: float | None
    loss_cp_last: float | None
    head_warmup: str | None
    log: list[dict[str, Any]] = field(default_factory=list)
    losses: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  # part -> first, last
    epochs: float = 0.0  # passes over the pairs actually run
    step_plan: str = ""  # how the length was decided, in words


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
    say = progress or quiet
    languages = [language(code) for code in s.langs]

    ref = resolve_model(s.model, num_layers=s.num_layers, progress=say)
    tokenizer = load_tokenizer(ref)
    if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise WeamError(
            "the tokenizer has no [MASK]/[CLS]/[SEP] tokens; a masked-LM tokenizer is needed", ref.path
        )
    base_meta = ref.metadata()
    warm_steps = s.head_warmup_steps
    if warm_steps is None:
        warm_steps = 0 if base_meta.get("has_mlm_head", True) else DEFAULT_WARMUP_STEPS
    if not s.uses_head:
        if warm_steps:
            say(f"{s.objective} does not use the MLM head: no head warm-up")
        warm_steps = 0
    trim = s.trim_vocab if s.trim_vocab is not None else len(tokenizer) > TRIM_AUTO_VOCAB
    bf16 = bf16_choice_for(ref, s.batch_size, s.max_length, trim, requested=s.bf16)
    use_bf16 = bf16.enabled

    codes = [lg.code for lg in languages]
    resolved = {
        "langs": codes,
        "model": ref.path,
        "model_label": ref.label,
        "num_layers": ref.num_layers,
        "head_warmup_steps": warm_steps,
        "trim_vocab": trim,
        "bf16": use_bf16,
        "bf16_reason": bf16.reason,
        **s.objective_values(),  # the objective's own options, defaults filled in
    }
    record_config = {**s.to_dict(), **resolved}
    # what --resume must match: everything that shapes the model, not where or how often it reports
    config = {k: v for k, v in record_config.items() if k not in RESUME_FREE}
    args = training_args(
        out / CHECKPOINTS,
        batch_size=s.batch_size,
        grad_accum=s.grad_accum,
        lr=s.lr,
        epochs=1.0,  # replaced by the exact step plan once the pairs are counted
        max_steps=None,
        save_steps=s.save_steps,
        logging_steps=s.logging_steps,
        seed=s.seed,
        bf16=use_bf16,
        report_to=s.report_to,
    )
    main = args.process_index == 0
    if not main:
        say = quiet  # one voice under torchrun
    if main:
        check_out_dir(out, config, resume=s.resume, overwrite=s.overwrite, clear=False)

    cache = Path(cache_dir) if cache_dir else weam_home() / "cache" / "pretrain"
    from datasets import concatenate_datasets

    parts, keys, folders = [], [], []
    switch = CodeSwitch(resolved["switch_prob"], s.seed) if s.objective == "code-switch" else None
    with args.main_process_first(desc="prepare pairs"):
        for lg in languages:
            if s.alignments is not None:
                folder = Path(expand_pattern(s.alignments, lg)).expanduser()
            else:
                folder = align_raw(
                    Path(expand_pattern(s.source, lg)).expanduser(),
                    Path(expand_pattern(s.target, lg)).expanduser(),
                    final / f"align-en-{lg.code}",
                    lg,
                    say,
                )
            ds, key = prepare_pairs(
                folder,
                lg,
                tokenizer,
                max_length=s.max_length,
                swap=s.swap,
                subwords=s.subwords,
                cache_dir=cache,
                progress=say,
                code_switch=switch,
            )
            if s.max_pairs:
                ds = ds.select(range(min(s.max_pairs, len(ds))))
            if len(ds) == 0:
                raise WeamError("no pairs", folder)
            parts.append(ds)
            keys.append(key)
            folders.append(str(folder))
    dataset = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    plan = plan_steps(
        len(dataset),
        batch_size=s.batch_size,
        grad_accum=s.grad_accum,
        world_size=args.world_size,
        epochs=s.planned_epochs,
        max_steps=s.max_steps,
    )
    args.max_steps = plan.steps
    snapshots = snapshots_to_save(
        s.snapshot_steps, plan.steps, plan.describe()
    )  # before the folder is touched
    with args.main_process_first(local=False, desc="set up the output folder"):
        if main:  # only one process may clear or write the folder; inputs are valid by now
            resume_from = check_out_dir(out, config, resume=s.resume, overwrite=s.overwrite)
            out.mkdir(parents=True, exist_ok=True)
            with atomic_file(out / CONFIG_FILE) as fh:
                json.dump(config, fh, indent=2)
        else:
            resume_from = last_checkpoint(out / CHECKPOINTS) if s.resume else None
    if resume_from is not None and snapshots:
        check_resumed_snapshots(out, snapshots, int(resume_from.name.split("-")[1]))
    corpus_key = sha(keys, s.max_pairs)

    from transformers import AutoModelForMaskedLM

    warm_folder = warm_key = None
    if warm_steps:
        warm_folder, warm_key = ensure_warm_head(
            ref,
            # the pairs alone: the same warm-up (and cache entry) for every objective
            dataset.remove_columns([c for c in dataset.column_names if c == "cs_input_ids"]),
            tokenizer,
            corpus_key=corpus_key,
            steps=warm_steps,
            seed=s.seed,
            batch_size=s.batch_size,
            lr=s.head_warmup_lr,
            max_length=s.max_length,
            mask_prob=s.mask_prob,
            trim=trim,
            bf16=use_bf16,
            cache_root=out.parent,
            progress=say,
        )
    seed_everything(s.seed)  # before loading: any randomly initialised head weights depend on it
    mlm = load_model(ref, AutoModelForMaskedLM)
    if warm_folder is not None:
        load_head(mlm, warm_folder)
    keep = corpus_vocabulary(dataset, tokenizer) if trim else None
    full = trim_vocabulary(mlm, keep) if trim else None
    if trim:
        say(f"training with {len(keep):,} of {full['vocab']:,} vocabulary rows (saved back at full size)")

    def model_meta(steps_run: int, epochs: float) -> dict[str, Any]:
        meta = {k: v for k, v in base_meta.items() if k != "preset"}
        meta.update(
            {
                "method": s.objective,
                "pretrain_langs": codes,
                "base_model": ref.label,
                "num_layers": mlm.config.num_hidden_layers,
                # an objective without masked prediction leaves the head as it was (untrained for e5-small)
                "has_mlm_head": True if s.uses_head else base_meta.get("has_mlm_head", True),
                "steps": steps_run,
                "pretrain_steps": steps_run,  # carried into fine-tuned models (their "steps" differ)
                "epochs": round(epochs, 4),
            }
        )
        return meta

    def save_at(folder: Path, step: int, epochs: float) -> None:
        meta = {**model_meta(step, epochs), "snapshot_of": str(final)}
        record = snapshot_record(record_config, s.seed, step, epochs, final)
        save_snapshot(mlm, tokenizer, folder, keep=keep, full=full, meta=meta, record=record)
        say(f"saved the step-{step} snapshot")

    extra = [snapshot_callback(snapshots, out, save_at)] if snapshots and main else []

    trainer = build_trainer(
        mlm,
        dataset,
        tokenizer,
        keep,
        args,
        objective=s.objective,
        mask_prob=s.mask_prob,
        lam=s.lam,
        cp_unaligned=s.cp_unaligned,
        cp_partner=s.cp_partner,
        objective_values=s.objective_values(),
        callbacks=[progress_callback(say), *extra, *(callbacks or [])],
    )
    if resume_from is not None:
        say(f"resuming from {resume_from}")
    elif s.resume:
        say("no complete checkpoint yet; starting from the beginning")
    say(f"training {s.objective} on {len(dataset):,} pairs ({', '.join(codes)}): {plan.describe()}")
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    parts = loss_parts(s.objective)
    log = [x for x in trainer.state.log_history if logged_parts(x)]
    losses = {part: _first_last(log, f"loss_{part}") for part in parts}
    steps = trainer.state.global_step
    epochs_run = round(float(trainer.state.epoch or 0.0), 4)
    result = PretrainResult(
        out,
        s.objective,
        codes,
        steps,
        len(dataset),
        *_first_last(log, "loss_mp"),
        *_first_last(log, "loss_cp"),
        head_warmup=str(warm_folder) if warm_folder else None,
        log=log,
        epochs=epochs_run,
        step_plan=plan.describe(),
        losses=losses,
    )
    if not main:
        return result

    if trim:
        untrim_vocabulary(mlm, keep, full)
    meta = model_meta(steps, epochs_run)
    with tempfile.TemporaryDirectory(prefix=".final-", dir=out) as tmp:
        mlm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for p in sorted(Path(tmp).iterdir()):
            os.replace(p, out / p.name)
    metrics = {
        "steps": steps,
        "epochs": epochs_run,
        "step_plan": plan.record(),
        "pairs": len(dataset),
        "alignment_folders": folders,
        "loss_mp_first": result.loss_mp_first,
        "loss_mp_last": result.loss_mp_last,
        "loss_cp_first": result.loss_cp_first,
        "loss_cp_last": result.loss_cp_last,
        **{
            f"loss_{part}_{end}": value
            for part, pair in losses.items()
            for end, value in zip(("first", "last"), pair, strict=True)
        },
        "head_warmup": {"path": result.head_warmup, "hash": warm_key, "steps": warm_steps}
        if warm_steps
        else None,
        "trimmed_vocab_rows": len(keep) if trim else None,
        "resumed_from": str(resume_from) if resume_from else None,
        "snapshots": {n: str(snapshot_dir(final, n)) for n in snapshots},
    }
    records = [
        make_record("pretrain", record_config, seed=s.seed, metrics=entry, event="log") for entry in log
    ]
    records.append(make_record("pretrain", record_config, seed=s.seed, metrics=metrics))
    append_records(out / "run.jsonl", records)
    with atomic_file(out / METADATA_FILE) as fh:  # written last: marks the folder complete
        json.dump(meta, fh, indent=2)
    return result


def _first_last(log: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """Average of the first and of the last quarter of the logged values (at least one each)."""
    values = [x[key] for x in log if key in x]
    if not values:
        return None, None
    k = max(1, len(values) // 4)
    return sum(values[:k]) / k, sum(values[-k:]) / k


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
            write_model_card(work, _card(s, result, work))
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


def _card(s: PretrainSettings, result: PretrainResult, folder: Path) -> str:
    """The model card of a pre-trained model, from its weam.json and run record."""
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    record = read_records(folder / RUN_RECORD)[-1]
    metrics = record["metrics"]
    base = str(meta.get("base_model") or s.model)
    parts = dict.fromkeys(k for entry in result.log for k in entry if k.startswith("loss_"))
    losses = [
        (f"L_{key[5:]} (mean of the first → last quarter of the logs)", f"{first:.4f} → {last:.4f}")
        for key in parts
        for first, last in [_first_last(result.log, key)]
        if first is not None
    ]
    pairs = ", ".join(f"en–{code}" for code in result.langs)
    folders = metrics.get("alignment_folders") or []
    return render_card(
        title=f"{base}+{result.method} ({', '.join(result.langs)})",
        summary=(
            f"`{base}` continually pre-trained with weam's `{result.method}` objective on English paired "
            f"with {', '.join(result.langs)} ({result.pairs:,} sentence pairs with word alignments). A "
            "masked-LM encoder: fine-tune it on a task (`weam finetune`) and evaluate it zero-shot "
            "across languages (`weam evaluate`)."
        ),
        facts=[
            ("base model", f"{base} ({s.model})" if s.model != base else base),
            ("method", result.method),
            ("language pairs", pairs),
            (
                "data",
                f"{result.pairs:,} pairs from " + ", ".join(folders)
                if folders
                else f"{result.pairs:,} pairs",
            ),
            ("length", result.step_plan),
            ("batch", f"{s.batch_size} pairs × {s.grad_accum} accumulation, max {s.max_length} pieces"),
            ("learning rate", f"{s.lr:g}"),
            ("masking probability", f"{s.mask_prob:g}" if s.objective in ("weam", "tlm", "mlm") else None),
            ("seed", s.seed),
            ("layers", meta.get("num_layers")),
            (
                "head warm-up",
                f"{metrics['head_warmup']['steps']} steps" if metrics.get("head_warmup") else None,
            ),
        ],
        results=losses,
        languages=["en", *result.langs],
        tags=list(dict.fromkeys(["weam", "cross-lingual", "continual-pretraining", result.method])),
        base_model=base,
        pipeline_tag="fill-mask",
        usage=(
            "from transformers import AutoModelForMaskedLM, AutoTokenizer\n\n"
            f'model = AutoModelForMaskedLM.from_pretrained("{s.out}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{s.out}")'
        ),
    )
