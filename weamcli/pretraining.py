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

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .alignment import read_alignment_folder
from .errors import WeamError
from .languages import Language, language
from .masking import SUBWORD_POLICIES, SWAP_POLICIES, PairCollator, build_pair, word_pieces
from .objectives import CP_PARTNER_POLICIES, OBJECTIVES, PretrainingModel, encoder_and_head
from .records import append_records, atomic_dir, atomic_file, make_record, read_json
from .registry import METADATA_FILE, ModelRef, load_model, load_tokenizer, resolve_model, weam_home

CONFIG_FILE = "pretrain-config.json"
CHECKPOINTS = "checkpoints"
TRIM_FILE = "trimmed-vocab.json"
DATA_VERSION = 2  # 2: lone "▁" pieces belong to no word (masking.word_pieces)
TRIM_AUTO_VOCAB = 100_000
DEFAULT_WARMUP_STEPS = 200
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


# ----------------------------------------------------------------------------- input corpora


def expand_pattern(pattern: str, lang: Language) -> str:
    """Substitute ``{lang}``, ``{iso3}``, ``{ntrex}``, ``{flores}``, ``{tatoeba}`` in a path pattern."""
    values = {
        "lang": lang.code,
        "iso3": lang.iso3,
        "ntrex": lang.ntrex,
        "flores": lang.flores,
        "tatoeba": lang.tatoeba,
    }
    try:
        return pattern.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise WeamError(
            f"bad placeholder in path pattern '{pattern}' ({exc}); use {{lang}}, {{iso3}}, {{ntrex}}"
        ) from None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split("\n")[:-1] if path.stat().st_size else []
    except FileNotFoundError:
        raise WeamError("file not found", path) from None
    except UnicodeDecodeError as exc:
        raise WeamError(f"not UTF-8 text ({exc.reason})", path) from None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def align_raw(source: Path, target: Path, out_dir: Path, lang: Language, progress: Progress) -> Path:
    """Align raw parallel files into ``out_dir`` (intersection: 1-to-1 links for the swap), or
    reuse a complete alignment already there."""
    for p in (source, target):
        if not p.is_file():
            raise WeamError("parallel file not found", p)
    ns, nt = _count_lines(source), _count_lines(target)
    if ns != nt:
        short = source if ns < nt else target
        raise WeamError(
            f"has {min(ns, nt)} lines but its parallel file has {max(ns, nt)}", short, min(ns, nt) + 1
        )
    meta_file = out_dir / "align.json"
    if meta_file.is_file() and (out_dir / "alignment.txt").is_file():
        with contextlib.suppress(json.JSONDecodeError, OSError):
            if json.loads(meta_file.read_text(encoding="utf-8")).get("pairs") == ns:
                progress(f"reusing alignment {out_dir}")
                return out_dir
    from .alignment import align_corpus

    progress(f"aligning {source.name} ↔ {target.name} into {out_dir} (eflomal, intersection)")
    align_corpus(
        source,
        target,
        out_dir,
        source_lang="en",
        target_lang=lang.code,
        symmetrize="intersect",
        overwrite=True,
        crlf="strip",  # NTREX-128 ships with Windows line endings
        progress=lambda *_: None,  # its progress takes (stage, done, total); one line above suffices
    )
    return out_dir


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    return _sha(tokenizer.backend_tokenizer.to_str().encode(), type(tokenizer).__name__)


def _encode_batch(batch, *, tokenizer, src_no_space, tgt_no_space, max_length, swap, subwords):
    src = word_pieces(batch["src"], tokenizer, no_space=src_no_space)
    tgt = word_pieces(batch["tgt"], tokenizer, no_space=tgt_no_space)
    out: dict[str, list] = {"input_ids": [], "sep": [], "swap_from": [], "swap_to": []}
    for s, t, links in zip(src, tgt, batch["links"], strict=True):
        ex = build_pair(
            s,
            t,
            [tuple(x) for x in links],
            cls_id=tokenizer.cls_token_id,
            sep_id=tokenizer.sep_token_id,
            max_length=max_length,
            swap=swap,
            subwords=subwords,
        )
        for k in out:
            out[k].append(ex[k])
    return out


def prepare_pairs(
    folder: Path,
    lang: Language,
    tokenizer,
    *,
    max_length: int,
    swap: str,
    subwords: str,
    cache_dir: Path,
    progress: Progress,
):
    """The folder's pairs as a ``datasets.Dataset`` of pair examples, mapped to pieces once and
    cached on disk (keyed by the alignment files, tokenizer and options). Returns (dataset, corpus
    fingerprint); the fingerprint ignores the swap options (they do not change the text)."""
    from datasets import Dataset, disable_progress_bars, load_from_disk

    disable_progress_bars()  # progress is reported through ``progress``

    files = [folder / n for n in ("source.tok", "target.tok", "alignment.txt")]
    text_key = _sha(
        [_file_sha(f) for f in files], tokenizer_fingerprint(tokenizer), max_length, lang.code, DATA_VERSION
    )
    key = _sha(text_key, swap, subwords)[:20]
    target = cache_dir / f"pairs-{lang.code}-{key}"
    if (target / "dataset_info.json").is_file():
        progress(f"using cached pieces {target}")
        return load_from_disk(str(target)), text_key
    meta, src, tgt, links = read_alignment_folder(folder)
    if meta.get("target_lang"):
        try:
            found = language(str(meta["target_lang"]))
        except WeamError:
            found = None
        if found is not None and found.code != lang.code:
            raise WeamError(
                f"holds target language '{meta['target_lang']}', not '{lang.code}'", folder / "align.json"
            )
    raw = Dataset.from_dict({"src": src, "tgt": tgt, "links": [[list(x) for x in ls] for ls in links]})
    progress(f"mapping {len(raw)} {lang.code} pairs to pieces (once; cached in {target})")
    ds = raw.map(
        _encode_batch,
        batched=True,
        batch_size=512,
        remove_columns=raw.column_names,
        new_fingerprint=key,
        fn_kwargs={
            "tokenizer": tokenizer,
            "src_no_space": language("en").no_space,
            "tgt_no_space": lang.no_space,
            "max_length": max_length,
            "swap": swap,
            "subwords": subwords,
        },
    )
    with atomic_dir(target, overwrite=True) as tmp:
        ds.save_to_disk(str(tmp))
    return load_from_disk(str(target)), text_key


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise WeamError("file not found", path) from None
    return h.hexdigest()


# ----------------------------------------------------------------------------- vocabulary trimming


def corpus_vocabulary(dataset, tokenizer) -> list[int]:
    """Sorted ids the corpus uses, plus the tokenizer's special tokens."""
    import numpy as np

    used = set(tokenizer.all_special_ids)
    for chunk in dataset.iter(batch_size=4096):
        used.update(np.unique(np.concatenate([np.asarray(x) for x in chunk["input_ids"]])).tolist())
    return sorted(used)


def _vocab_params(mlm):
    emb = mlm.get_input_embeddings()
    dec = mlm.get_output_embeddings()
    return emb, dec, dec is not None and dec.weight is emb.weight


def trim_vocabulary(mlm, keep: Sequence[int]) -> dict[str, Any]:
    """Keep only rows ``keep`` of the input embeddings and the output layer (in place); returns
    the full-size originals for ``untrim_vocabulary``. Exact for the kept pieces: their rows and
    the encoder are unchanged; the softmax runs over the kept set."""
    import torch
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    idx = torch.tensor(list(keep), dtype=torch.long)
    full = {"emb": emb.weight.detach().clone(), "tied": tied, "vocab": emb.weight.shape[0]}
    new_emb = nn.Embedding(len(idx), emb.weight.shape[1])
    new_emb.weight = nn.Parameter(emb.weight.detach()[idx].clone())
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        full["dec"] = None if tied else dec.weight.detach().clone()
        full["bias"] = None if dec.bias is None else dec.bias.detach().clone()
        new_dec = nn.Linear(dec.in_features, len(idx), bias=dec.bias is not None)
        new_dec.weight = new_emb.weight if tied else nn.Parameter(dec.weight.detach()[idx].clone())
        if dec.bias is not None:
            new_dec.bias = nn.Parameter(dec.bias.detach()[idx].clone())
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = len(idx)
    return full


def _swap_output_layer(mlm, old, new) -> None:
    """Install a new decoder and re-point the head's own ``bias`` attribute (BERT and RoBERTa keep
    the decoder bias there too), so no stale full-size tensor is left behind."""
    mlm.set_output_embeddings(new)
    _, head = encoder_and_head(mlm)
    for module in head.modules():
        if module is not new and isinstance(getattr(module, "bias", None), type(new.bias)):
            if module.bias is old.bias and new.bias is not None:
                module.bias = new.bias


def untrim_vocabulary(mlm, keep: Sequence[int], full: dict[str, Any]) -> None:
    """Write the trained rows back into the full-size matrices; untouched rows keep their values."""
    import torch
    from torch import nn

    emb, dec, tied = _vocab_params(mlm)
    idx = torch.tensor(list(keep), dtype=torch.long)
    weight = full["emb"].clone()
    weight[idx] = emb.weight.detach().to(weight.dtype)
    new_emb = nn.Embedding(weight.shape[0], weight.shape[1])
    new_emb.weight = nn.Parameter(weight)
    mlm.set_input_embeddings(new_emb)
    if dec is not None:
        new_dec = nn.Linear(dec.in_features, weight.shape[0], bias=dec.bias is not None)
        if tied:
            new_dec.weight = new_emb.weight
        else:
            w = full["dec"].clone()
            w[idx] = dec.weight.detach()
            new_dec.weight = nn.Parameter(w)
        if dec.bias is not None:
            b = full["bias"].clone()
            b[idx] = dec.bias.detach()
            new_dec.bias = nn.Parameter(b)
        _swap_output_layer(mlm, dec, new_dec)
    mlm.config.vocab_size = weight.shape[0]


# ----------------------------------------------------------------------------- training


def default_bf16() -> bool:
    """bf16 autocast where it is fast: a CUDA GPU with bf16, or a CPU with avx512_bf16/AMX."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    return False


def _trainer_class():
    from transformers import Trainer

    class PretrainTrainer(Trainer):
        """compute_loss returns L_mp + λ·L_cp and logs the parts; checkpoints hold the inner
        masked-LM model as a save_pretrained folder."""

        trim_keep: list[int] | None = None

        def mask_seed(self) -> int:
            """Masking's own seed for this (seed, optimizer step, micro-batch, process): every
            objective masks a batch alike, and a resumed run masks as an uninterrupted one."""
            step = self.state.global_step
            if getattr(self, "_mask_step", None) != step:
                self._mask_step, self._micro = step, 0
            else:
                self._micro += 1
            key = ((self.args.seed * 1_000_003 + step) * 4099 + self._micro) * 1031 + self.args.process_index
            return key % (1 << 62)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = model(**inputs, mask_seed=self.mask_seed())
            parts = getattr(self, "_parts", None) or {"mp": 0.0, "cp": 0.0, "n": 0}
            parts["mp"] += float(out["mp"])
            parts["cp"] += float(out["cp"]) if "cp" in out else math.nan
            parts["n"] += 1
            self._parts = parts
            return (out["loss"], out) if return_outputs else out["loss"]

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            parts = getattr(self, "_parts", None)
            if "loss" in logs and parts and parts["n"]:
                logs["loss_mp"] = parts["mp"] / parts["n"]
                if not math.isnan(parts["cp"]):
                    logs["loss_cp"] = parts["cp"] / parts["n"]
                self._parts = None
            super().log(logs, start_time)

        def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
            output_dir = output_dir or self.args.output_dir
            if not self.args.should_save:
                return
            os.makedirs(output_dir, exist_ok=True)
            inner = self.accelerator.unwrap_model(self.model).mlm
            inner.save_pretrained(output_dir)
            if self.trim_keep is not None:
                with atomic_file(Path(output_dir) / TRIM_FILE) as fh:
                    json.dump({"rows_are_tokenizer_ids": self.trim_keep}, fh)

        def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
            from safetensors.torch import load_file

            inner = self.accelerator.unwrap_model(model or self.model).mlm
            state = load_file(os.path.join(resume_from_checkpoint, "model.safetensors"), device="cpu")
            result = inner.load_state_dict(state, strict=False)
            tied = {k for k, v in inner.state_dict().items() if k not in state}
            if result.unexpected_keys or set(result.missing_keys) - tied:
                raise WeamError("checkpoint does not match the model", resume_from_checkpoint)
            inner.tie_weights()

    return PretrainTrainer


def _training_args(
    out: Path, *, batch_size, grad_accum, lr, epochs, max_steps, save_steps, logging_steps, seed, bf16
):
    import torch
    from transformers import TrainingArguments

    cpu = not torch.cuda.is_available()
    kwargs: dict[str, Any] = {}
    if cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        kwargs["ddp_backend"] = "gloo"  # torchrun on CPUs: Trainer's own DDP over gloo
    return TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        learning_rate=lr,
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=2,
        logging_steps=logging_steps,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        use_cpu=cpu,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        **kwargs,
    )


def _progress_callback(progress: Progress):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss_mp" in logs and state.is_world_process_zero:
                cp = f"  L_cp {logs['loss_cp']:.4f}" if "loss_cp" in logs else ""
                progress(f"step {state.global_step}/{state.max_steps}  L_mp {logs['loss_mp']:.4f}{cp}")

    return ProgressCallback()


def _build_trainer(
    mlm,
    dataset,
    tokenizer,
    keep,
    args,
    *,
    objective,
    mask_prob,
    lam,
    cp_unaligned,
    callbacks,
    cp_partner="unmasked",
):
    import torch

    if keep is not None:
        id_map = torch.full((max(len(tokenizer), max(keep) + 1),), tokenizer.unk_token_id, dtype=torch.long)
        id_map[torch.tensor(keep)] = torch.arange(len(keep))
        to_train = {t: int(id_map[t]) for t in (tokenizer.mask_token_id, tokenizer.pad_token_id)}
    else:
        id_map = None
        to_train = {t: t for t in (tokenizer.mask_token_id, tokenizer.pad_token_id)}
    specials = set(tokenizer.all_special_ids)
    pool_ids = [
        i for i in (keep if keep is not None else corpus_vocabulary(dataset, tokenizer)) if i not in specials
    ]
    pool = torch.tensor([int(id_map[i]) if id_map is not None else i for i in pool_ids], dtype=torch.long)
    model = PretrainingModel(
        mlm,
        objective=objective,
        mask_id=to_train[tokenizer.mask_token_id],
        pad_id=to_train[tokenizer.pad_token_id],
        replace_pool=pool,
        mask_prob=mask_prob,
        lam=lam,
        cp_unaligned=cp_unaligned,
        cp_partner=cp_partner,
    )
    collator = PairCollator(pad_id=tokenizer.pad_token_id, id_map=id_map, split=objective == "mlm")
    from transformers.trainer_callback import PrinterCallback

    trainer = _trainer_class()(
        model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=callbacks
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through our own callback
    trainer.trim_keep = list(keep) if keep is not None else None
    return trainer


def _head_state(mlm, full: dict[str, Any] | None, keep: Sequence[int] | None) -> dict[str, Any]:
    """The MLM head's own weights (not the tied decoder), with the decoder bias at full size."""
    import torch

    _, head = encoder_and_head(mlm)
    emb = mlm.get_input_embeddings().weight
    bias = mlm.get_output_embeddings().bias
    state = {}
    for name, p in head.named_parameters(remove_duplicate=False):
        if p is emb:
            continue
        value = p.detach().clone()
        if full is not None and p is bias:  # by identity: a LayerNorm may have len(keep) entries
            b = full["bias"].clone()
            b[torch.tensor(list(keep))] = value
            value = b
        state[name] = value.contiguous()
    return state


def ensure_warm_head(
    ref: ModelRef,
    dataset,
    tokenizer,
    *,
    corpus_key: str,
    steps: int,
    seed: int,
    batch_size: int,
    lr: float,
    max_length: int,
    mask_prob: float,
    trim: bool,
    bf16: bool,
    cache_root: Path,
    progress: Progress,
) -> tuple[Path, str]:
    """A head trained with the encoder frozen (plain MLM on the corpus), cached under
    ``cache_root/head-warmup-<hash>`` so weam, tlm and mlm runs all start from the same head.

    The warm-up uses the MLM baseline's unpaired layout (each sentence its own sequence) whatever
    the objective of the run, so one warmed head serves every variant. The seed is set before the
    model is loaded, so the head's random initialisation is the same in every output folder."""
    from safetensors.torch import save_file
    from transformers import AutoModelForMaskedLM

    key = _sha(
        ref.path, ref.num_layers, corpus_key, steps, seed, batch_size, lr, max_length, mask_prob, trim, bf16
    )[:16]
    folder = cache_root / f"head-warmup-{key}"
    if (folder / "head.safetensors").is_file():
        progress(f"using warmed head {folder}")
        return folder, key
    progress(f"warming up the MLM head for {steps} steps (encoder frozen; cached in {folder})")
    _seed_everything(seed)  # before loading: the untrained head's random init depends on it
    mlm = load_model(ref, AutoModelForMaskedLM)
    keep = corpus_vocabulary(dataset, tokenizer) if trim else None
    full = trim_vocabulary(mlm, keep) if trim else None
    _, head = encoder_and_head(mlm)
    emb = mlm.get_input_embeddings().weight
    head_params = {id(p) for p in head.parameters() if p is not emb}
    for p in mlm.parameters():
        p.requires_grad_(id(p) in head_params)
    with tempfile.TemporaryDirectory(prefix="weam-warmup-") as tmp:
        args = _training_args(
            Path(tmp),
            batch_size=batch_size,
            grad_accum=1,
            lr=lr,
            epochs=1,
            max_steps=steps,
            save_steps=0,
            logging_steps=max(1, steps // 5),
            seed=seed,
            bf16=bf16,
        )
        trainer = _build_trainer(
            mlm,
            dataset,
            tokenizer,
            keep,
            args,
            objective="mlm",
            mask_prob=mask_prob,
            lam=0.0,
            cp_unaligned=False,
            callbacks=[_progress_callback(progress)],
        )
        trainer.train()
        if trainer.is_world_process_zero():
            logs = [x for x in trainer.state.log_history if "loss_mp" in x]
            with atomic_dir(folder, overwrite=True) as out:
                save_file(_head_state(mlm, full, keep), str(out / "head.safetensors"))
                with atomic_file(out / "head.json") as fh:
                    json.dump(
                        {
                            "model": ref.path,
                            "num_layers": ref.num_layers,
                            "corpus": corpus_key,
                            "steps": steps,
                            "lr": lr,
                            "seed": seed,
                            "hash": key,
                            "log": logs,
                        },
                        fh,
                        indent=2,
                    )
        trainer.accelerator.wait_for_everyone()
    return folder, key


def _seed_everything(seed: int) -> None:
    import torch
    from transformers import set_seed

    torch.manual_seed(seed)
    set_seed(seed)


def _load_head(mlm, folder: Path) -> None:
    from safetensors.torch import load_file

    _, head = encoder_and_head(mlm)
    state = load_file(str(folder / "head.safetensors"))
    result = head.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise WeamError("warmed head does not fit this model", folder / "head.safetensors")


def _last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (a kill during a save leaves an incomplete one behind)."""
    needed = ("trainer_state.json", "model.safetensors", "optimizer.pt", "config.json")
    found = []
    for p in folder.glob("checkpoint-*"):
        with contextlib.suppress(ValueError):
            if all((p / n).is_file() for n in needed):
                found.append((int(p.name.split("-")[1]), p))
    return max(found)[1] if found else None


def _check_out_dir(
    out: Path, config: dict[str, Any], *, resume: bool, overwrite: bool, clear: bool = True
) -> Path | None:
    """Refuse to clobber a finished or foreign run; return the checkpoint to resume from. With
    ``clear`` False only check (inputs are validated before anything in ``out`` is removed)."""
    cfg_file = out / CONFIG_FILE
    if resume:
        if not cfg_file.is_file():
            raise WeamError(f"nothing to resume: no {CONFIG_FILE} here", out)
        old = read_json(cfg_file)
        diff = [k for k in sorted(set(old) | set(config)) if old.get(k) != config.get(k)]
        if diff:
            k = diff[0]
            raise WeamError(
                f"resume refused: this run was made with {k}={old.get(k)!r}, now {k}={config.get(k)!r} "
                f"({len(diff)} setting(s) differ)",
                cfg_file,
            )
        if (out / METADATA_FILE).is_file():
            raise WeamError("this run has already finished (pass --overwrite to train again)", out)
        return _last_checkpoint(out / CHECKPOINTS)
    if out.exists():
        leftovers = [p for p in out.iterdir() if not p.name.startswith(("align-en-", ".align-en-"))]
        if leftovers and not overwrite:
            hint = "pass --resume to continue it or --overwrite" if cfg_file.is_file() else "pass --overwrite"
            raise WeamError(f"output folder is not empty ({hint})", out)
        for p in leftovers if clear else []:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return None


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
    args = _training_args(
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
        _check_out_dir(out, config, resume=resume, overwrite=overwrite, clear=False)

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
            resume_from = _check_out_dir(out, config, resume=resume, overwrite=overwrite)
            out.mkdir(parents=True, exist_ok=True)
            with atomic_file(out / CONFIG_FILE) as fh:
                json.dump(config, fh, indent=2)
        else:
            resume_from = _last_checkpoint(out / CHECKPOINTS) if resume else None
    corpus_key = _sha(keys, max_pairs)

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
    _seed_everything(seed)  # before loading: any randomly initialised head weights depend on it
    mlm = load_model(ref, AutoModelForMaskedLM)
    if warm_folder is not None:
        _load_head(mlm, warm_folder)
    keep = corpus_vocabulary(dataset, tokenizer) if trim else None
    full = trim_vocabulary(mlm, keep) if trim else None
    if trim:
        say(f"training with {len(keep):,} of {full['vocab']:,} vocabulary rows (saved back at full size)")

    trainer = _build_trainer(
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
        callbacks=[_progress_callback(say), *(callbacks or [])],
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
