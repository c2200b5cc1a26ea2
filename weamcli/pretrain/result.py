"""What a pre-training run gives back (``PretrainResult``), the summary of its logged losses, and
the model card of its output folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weamcli.common.model_card import render_card
from weamcli.common.models import METADATA_FILE
from weamcli.common.run_records import RUN_RECORD, read_records
from weamcli.pretrain.settings import PretrainSettings


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


def first_last(log: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """Average of the first and of the last quarter of the logged values (at least one each)."""
    values = [x[key] for x in log if key in x]
    if not values:
        return None, None
    k = max(1, len(values) // 4)
    return sum(values[:k]) / k, sum(values[-k:]) / k


def model_card(s: PretrainSettings, result: PretrainResult, folder: Path) -> str:
    """The model card of a pre-trained model, from its weam.json and run record."""
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    record = read_records(folder / RUN_RECORD)[-1]
    objective = s.make_objective()
    options = ", ".join(f"{k} {v}" for k, v in objective.values(recorded=True).items() if v is not None)
    metrics = record["metrics"]
    base = str(meta.get("base_model") or s.model)
    parts = dict.fromkeys(k for entry in result.log for k in entry if k.startswith("loss_"))
    losses = [
        (f"L_{key[5:]} (mean of the first → last quarter of the logs)", f"{first:.4f} → {last:.4f}")
        for key in parts
        for first, last in [first_last(result.log, key)]
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
            ("method", f"{result.method}: {objective.summary}"),
            ("objective options", options or None),
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
            ("masking probability", f"{s.mask_prob:g}" if objective.masks else None),
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
