"""`weam pretrain`: continual pre-training with WEAM, TLM or MLM on aligned parallel text.

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
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_file
from weamcli.common.languages import language
from weamcli.common.models import (
    METADATA_FILE,
    load_model,
    load_tokenizer,
    resolve_model,
    weam_home,
)
from weamcli.common.run_records import append_records, make_record
from weamcli.pretrain.head_warmup import DEFAULT_WARMUP_STEPS, ensure_warm_head, load_head
from weamcli.pretrain.masking import SUBWORD_POLICIES, SWAP_POLICIES
from weamcli.pretrain.objectives import CP_PARTNER_POLICIES, OBJECTIVES
from weamcli.pretrain.output_folder import CHECKPOINTS, CONFIG_FILE, check_out_dir, last_checkpoint
from weamcli.pretrain.pairs import align_raw, expand_pattern, prepare_pairs, sha
from weamcli.pretrain.trainer import (
    build_trainer,
    default_bf16,
    progress_callback,
    seed_everything,
    training_args,
)
from weamcli.pretrain.vocabulary import TRIM_AUTO_VOCAB, corpus_vocabulary, trim_vocabulary, untrim_vocabulary

Progress = Callable[[str], None]


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


def pretrain(
    langs: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    alignments: str | None = None,
    source: str | None = None,
    target: str | None = None,
    model: str = "e5-small",
    num_layers: int | None = None,
    objective: str = "weam",
    mask_prob: float = 0.3,
    lam: float = 1.0,
    swap: str = "one-to-one",
    subwords: str = "first-piece",
    cp_unaligned: bool = False,
    cp_partner: str = "unmasked",
    head_warmup_steps: int | None = None,
    head_warmup_lr: float = 1e-3,
    trim_vocab: bool | None = None,
    bf16: bool | None = None,
    batch_size: int = 32,
    grad_accum: int = 1,
    lr: float = 5e-5,
    max_length: int = 128,
    epochs: float = 2.0,
    max_steps: int | None = None,
    max_pairs: int | None = None,
    save_steps: int = 500,
    logging_steps: int = 10,
    seed: int = 42,
    resume: bool = False,
    overwrite: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
    callbacks: list | None = None,
) -> PretrainResult:
    """Continually pre-train ``model`` on English–``langs`` pairs with ``objective`` into ``out_dir``.

    Give either ``alignments`` (a pattern of ``weam align`` folders) or ``source`` and ``target``
    (patterns of raw parallel files, aligned here into ``out_dir/align-en-<lang>``). Path patterns
    take ``{lang}``, ``{iso3}``, ``{ntrex}`` placeholders. ``callbacks``: extra TrainerCallbacks.
    """
    say = progress or (lambda _msg: None)
    out = Path(out_dir).expanduser().resolve()
    if objective not in OBJECTIVES:
        raise WeamError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVES)})")
    if swap not in SWAP_POLICIES:
        raise WeamError(f"unknown swap policy '{swap}' (choose from {', '.join(SWAP_POLICIES)})")
    if subwords not in SUBWORD_POLICIES:
        raise WeamError(f"unknown subword policy '{subwords}' (choose from {', '.join(SUBWORD_POLICIES)})")
    if cp_partner not in CP_PARTNER_POLICIES:
        raise WeamError(f"unknown --cp-partner '{cp_partner}' (choose from {', '.join(CP_PARTNER_POLICIES)})")
    if not 0.0 < mask_prob < 1.0:
        raise WeamError(f"--mask-prob must be between 0 and 1, got {mask_prob}")
    if max_length < 8:
        raise WeamError(f"--max-length must be at least 8, got {max_length}")
    if (alignments is None) == (source is None and target is None) or (source is None) != (target is None):
        raise WeamError("give either --alignments, or both --source and --target")
    languages = [language(code) for code in langs]
    if not languages:
        raise WeamError("give at least one language with --lang")
    if any(lg.code == "en" for lg in languages):
        raise WeamError("English is always the source side; --lang names the other languages")

    ref = resolve_model(model, num_layers=num_layers, progress=say)
    tokenizer = load_tokenizer(ref)
    if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        raise WeamError(
            "the tokenizer has no [MASK]/[CLS]/[SEP] tokens; a masked-LM tokenizer is needed", ref.path
        )
    base_meta = ref.metadata()
    warm_steps = head_warmup_steps
    if warm_steps is None:
        warm_steps = 0 if base_meta.get("has_mlm_head", True) else DEFAULT_WARMUP_STEPS
    trim = trim_vocab if trim_vocab is not None else len(tokenizer) > TRIM_AUTO_VOCAB
    use_bf16 = default_bf16() if bf16 is None else bf16

    config = {
        "langs": [lg.code for lg in languages],
        "alignments": alignments,
        "source": source,
        "target": target,
        "model": ref.path,
        "model_label": ref.label,
        "num_layers": ref.num_layers,
        "objective": objective,
        "mask_prob": mask_prob,
        "lambda": lam,
        "swap": swap,
        "subwords": subwords,
        "cp_unaligned": cp_unaligned,
        "cp_partner": cp_partner,
        "head_warmup_steps": warm_steps,
        "head_warmup_lr": head_warmup_lr,
        "trim_vocab": trim,
        "bf16": use_bf16,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "lr": lr,
        "max_length": max_length,
        "epochs": epochs,
        "max_steps": max_steps,
        "max_pairs": max_pairs,
        "seed": seed,
    }
    args = training_args(
        out / CHECKPOINTS,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        epochs=epochs,
        max_steps=max_steps,
        save_steps=save_steps,
        logging_steps=logging_steps,
        seed=seed,
        bf16=use_bf16,
    )
    main = args.process_index == 0
    if not main:
        say = lambda _msg: None  # noqa: E731 - one voice under torchrun
    if main:
        check_out_dir(out, config, resume=resume, overwrite=overwrite, clear=False)

    cache = Path(cache_dir) if cache_dir else weam_home() / "cache" / "pretrain"
    from datasets import concatenate_datasets

    parts, keys, folders = [], [], []
    with args.main_process_first(desc="prepare pairs"):
        for lg in languages:
            if alignments is not None:
                folder = Path(expand_pattern(alignments, lg)).expanduser()
            else:
                folder = align_raw(
                    Path(expand_pattern(source, lg)).expanduser(),
                    Path(expand_pattern(target, lg)).expanduser(),
                    out / f"align-en-{lg.code}",
                    lg,
                    say,
                )
            ds, key = prepare_pairs(
                folder,
                lg,
                tokenizer,
                max_length=max_length,
                swap=swap,
                subwords=subwords,
                cache_dir=cache,
                progress=say,
            )
            if max_pairs:
                ds = ds.select(range(min(max_pairs, len(ds))))
            if len(ds) == 0:
                raise WeamError("no pairs", folder)
            parts.append(ds)
            keys.append(key)
            folders.append(str(folder))
    dataset = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    with args.main_process_first(local=False, desc="set up the output folder"):
        if main:  # only one process may clear or write the folder; inputs are valid by now
            resume_from = check_out_dir(out, config, resume=resume, overwrite=overwrite)
            out.mkdir(parents=True, exist_ok=True)
            with atomic_file(out / CONFIG_FILE) as fh:
                json.dump(config, fh, indent=2)
        else:
            resume_from = last_checkpoint(out / CHECKPOINTS) if resume else None
    corpus_key = sha(keys, max_pairs)

    from transformers import AutoModelForMaskedLM

    warm_folder = warm_key = None
    if warm_steps:
        warm_folder, warm_key = ensure_warm_head(
            ref,
            dataset,
            tokenizer,
            corpus_key=corpus_key,
            steps=warm_steps,
            seed=seed,
            batch_size=batch_size,
            lr=head_warmup_lr,
            max_length=max_length,
            mask_prob=mask_prob,
            trim=trim,
            bf16=use_bf16,
            cache_root=out.parent,
            progress=say,
        )
    seed_everything(seed)  # before loading: any randomly initialised head weights depend on it
    mlm = load_model(ref, AutoModelForMaskedLM)
    if warm_folder is not None:
        load_head(mlm, warm_folder)
    keep = corpus_vocabulary(dataset, tokenizer) if trim else None
    full = trim_vocabulary(mlm, keep) if trim else None
    if trim:
        say(f"training with {len(keep):,} of {full['vocab']:,} vocabulary rows (saved back at full size)")

    trainer = build_trainer(
        mlm,
        dataset,
        tokenizer,
        keep,
        args,
        objective=objective,
        mask_prob=mask_prob,
        lam=lam,
        cp_unaligned=cp_unaligned,
        cp_partner=cp_partner,
        callbacks=[progress_callback(say), *(callbacks or [])],
    )
    if resume_from is not None:
        say(f"resuming from {resume_from}")
    elif resume:
        say("no complete checkpoint yet; starting from the beginning")
    say(f"training {objective} on {len(dataset):,} pairs ({', '.join(config['langs'])})")
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    log = [x for x in trainer.state.log_history if "loss_mp" in x]
    steps = trainer.state.global_step
    result = PretrainResult(
        out,
        objective,
        config["langs"],
        steps,
        len(dataset),
        *_first_last(log, "loss_mp"),
        *_first_last(log, "loss_cp"),
        head_warmup=str(warm_folder) if warm_folder else None,
        log=log,
    )
    if not main:
        return result

    if trim:
        untrim_vocabulary(mlm, keep, full)
    meta = {k: v for k, v in base_meta.items() if k != "preset"}
    meta.update(
        {
            "method": objective,
            "pretrain_langs": config["langs"],
            "base_model": ref.label,
            "num_layers": mlm.config.num_hidden_layers,
            "has_mlm_head": True,
            "steps": steps,
        }
    )
    with tempfile.TemporaryDirectory(prefix=".final-", dir=out) as tmp:
        mlm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for p in sorted(Path(tmp).iterdir()):
            os.replace(p, out / p.name)
    metrics = {
        "steps": steps,
        "pairs": len(dataset),
        "alignment_folders": folders,
        "loss_mp_first": result.loss_mp_first,
        "loss_mp_last": result.loss_mp_last,
        "loss_cp_first": result.loss_cp_first,
        "loss_cp_last": result.loss_cp_last,
        "head_warmup": {"path": result.head_warmup, "hash": warm_key, "steps": warm_steps}
        if warm_steps
        else None,
        "trimmed_vocab_rows": len(keep) if trim else None,
        "resumed_from": str(resume_from) if resume_from else None,
    }
    records = [make_record("pretrain", config, seed=seed, metrics=entry, event="log") for entry in log]
    records.append(make_record("pretrain", config, seed=seed, metrics=metrics))
    append_records(out / "run.jsonl", records)
    with atomic_file(out / METADATA_FILE) as fh:  # written last: marks the folder complete
        json.dump(meta, fh, indent=2)
    say(f"saved {out}")
    return result


def _first_last(log: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """Average of the first and of the last quarter of the logged values (at least one each)."""
    values = [x[key] for x in log if key in x]
    if not values:
        return None, None
    k = max(1, len(values) // 4)
    return sum(values[:k]) / k, sum(values[-k:]) / k
