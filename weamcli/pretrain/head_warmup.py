"""Head warm-up for models without a trained MLM head (e5-small): the head alone is trained with
the encoder frozen, cached and shared by every variant of a comparison."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file, building, scratch_dir
from weamcli.common.models import (
    ModelRef,
    encoder_and_head,
    load_model,
)
from weamcli.common.progress import Progress
from weamcli.pretrain.objectives import build_objective
from weamcli.pretrain.pairs import sha
from weamcli.pretrain.trainer import build_trainer, progress_callback, seed_everything, training_args
from weamcli.pretrain.vocabulary import corpus_vocabulary, merge_rows, trim_vocabulary

DEFAULT_WARMUP_STEPS = 200


def head_state(mlm, full: dict[str, Any] | None, keep: Sequence[int] | None) -> dict[str, Any]:
    """The MLM head's own weights (not the tied decoder), with the decoder bias at full size; every
    tensor on the head's device and in its dtype (``full`` may still be on the CPU)."""
    _, head = encoder_and_head(mlm)
    emb = mlm.get_input_embeddings().weight
    bias = mlm.get_output_embeddings().bias
    state = {}
    for name, p in head.named_parameters(remove_duplicate=False):
        if p is emb:
            continue
        if full is not None and p is bias:  # by identity: a LayerNorm may have len(keep) entries
            state[name] = merge_rows(full["bias"], p, keep).contiguous()
        else:
            state[name] = p.detach().clone().contiguous()
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
    from transformers import AutoModelForMaskedLM

    key = sha(
        ref.path, ref.num_layers, corpus_key, steps, seed, batch_size, lr, max_length, mask_prob, trim, bf16
    )[:16]
    folder = cache_root / f"head-warmup-{key}"
    waiting = f"waiting for another run warming up the same head ({folder})"
    with building(folder, lambda: progress(waiting)):  # made once, even by runs side by side
        if (folder / "head.safetensors").is_file():
            progress(f"using warmed head {folder}")
            return folder, key
        progress(f"warming up the MLM head for {steps} steps (encoder frozen; cached in {folder})")
        record = {"model": ref.path, "num_layers": ref.num_layers, "corpus": corpus_key, "steps": steps}
        record.update({"lr": lr, "seed": seed, "hash": key})
        seed_everything(seed)  # before loading: the untrained head's random init depends on it
        mlm = load_model(ref, AutoModelForMaskedLM)
        keep = corpus_vocabulary(dataset, tokenizer) if trim else None
        full = trim_vocabulary(mlm, keep) if trim else None
        _, head = encoder_and_head(mlm)
        emb = mlm.get_input_embeddings().weight
        head_params = {id(p) for p in head.parameters() if p is not emb}
        for p in mlm.parameters():
            p.requires_grad_(id(p) in head_params)
        with scratch_dir(folder) as tmp:  # beside the entry: a kill -9 leaves nothing in /tmp
            args = training_args(
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
            trainer = build_trainer(
                mlm,
                dataset,
                tokenizer,
                keep,
                args,
                objective=build_objective("mlm"),  # the unpaired layout, whatever the run's
                mask_prob=mask_prob,
                callbacks=[progress_callback(progress)],
            )
            trainer.train()
            if trainer.is_world_process_zero():
                logs = [x for x in trainer.state.log_history if "loss_mp" in x]
                _save_head(folder, head_state(mlm, full, keep), {**record, "log": logs})
            trainer.accelerator.wait_for_everyone()
        return folder, key


def _save_head(folder: Path, state: dict[str, Any], record: dict[str, Any]) -> None:
    """The warmed head (``head.safetensors``) and what made it (``head.json``), as one entry."""
    from safetensors.torch import save_file

    with atomic_dir(folder, overwrite=True) as out:
        save_file({k: v.cpu() for k, v in state.items()}, str(out / "head.safetensors"))
        with atomic_file(out / "head.json") as fh:
            json.dump(record, fh, indent=2)


def load_head(mlm, folder: Path) -> None:
    from safetensors.torch import load_file

    _, head = encoder_and_head(mlm)
    state = load_file(str(folder / "head.safetensors"))
    result = head.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise WeamError("warmed head does not fit this model", folder / "head.safetensors")
