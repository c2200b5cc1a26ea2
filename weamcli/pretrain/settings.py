"""Every setting of `weam pretrain`, defined once (CLI flags, the core and the experiment TOML's
``[pretrain]`` section all read this class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.corpus import CRLF_POLICIES
from weamcli.common.reporting import report_to_option
from weamcli.common.settings import Settings, no_duplicates, option

OBJECTIVES = (
    "weam",
    "tlm",
    "mlm",
    "align-l2",
    "contrastive",
    "tlm+contrastive",
    "weam+contrastive",
    "code-switch",
)
CONTRASTIVE_OBJECTIVES = ("contrastive", "tlm+contrastive", "weam+contrastive")
HEADLESS_OBJECTIVES = ("align-l2", "contrastive")  # no masked prediction: the MLM head is not used
WORD_VECTORS = ("first-piece", "mean")
POOLINGS = ("mean", "cls")
# documented defaults of the objective-specific options (None in the settings: "not given")
DEFAULT_L2_REG = 1.0  # Cao et al. 2020's weight of the regulariser
DEFAULT_L2_WORD_VECTOR = "first-piece"
DEFAULT_CONTRASTIVE_WEIGHT = 1.0
DEFAULT_TEMPERATURE = 0.05
DEFAULT_POOLING = "mean"  # as `weam evaluate` pools sentence vectors
DEFAULT_SWITCH_PROB = 0.5
# options that only one family of objectives reads: giving one to another objective is an error,
# and the experiment grid passes each to the methods that read it
OBJECTIVE_OPTIONS: dict[str, tuple[str, ...]] = {
    "l2_layer": ("align-l2",),
    "l2_word_vector": ("align-l2",),
    "l2_reg": ("align-l2",),
    "contrastive_weight": ("tlm+contrastive", "weam+contrastive"),
    "temperature": CONTRASTIVE_OBJECTIVES,
    "pooling": CONTRASTIVE_OBJECTIVES,
    "switch_prob": ("code-switch",),
}
SWAP_POLICIES = ("one-to-one", "all")
SUBWORD_POLICIES = ("first-piece", "single-piece")
CP_PARTNER_POLICIES = ("unmasked", "any")
DEFAULT_EPOCHS = 2.0  # when neither --epochs nor --max-steps is given


def _not_english(codes: list[str]) -> str | None:
    from weamcli.common.errors import WeamError
    from weamcli.common.languages import language

    for code in codes:
        try:
            lang = language(code)
        except WeamError as exc:
            return f"has a problem: {exc.message}"
        if lang.code == "en":
            return "names English, which is always the source side; give the other languages"
    return None


@dataclass(kw_only=True)
class PretrainSettings(Settings):
    section = "pretrain"

    langs: list[str] = option(
        help="Target language(s), comma-separated (de or de,es,zh); English is always the other side. "
        "One model is trained over all pairs.",
        flag="--lang",
        short="-l",
        check=lambda v: no_duplicates(v) or _not_english(v) or (None if v else "is empty"),
        grid="[pretrain] lang_sets",
    )
    out: str = option(
        help="Output folder: save_pretrained model + weam.json + run.jsonl; checkpoints in OUT/checkpoints.",
        short="-o",
        grid="each grid cell has its own folder under [experiment] out",
    )
    alignments: str | None = option(
        None,
        help="`weam align` folder pattern, e.g. 'runs/align-en-{lang}' ({lang}, {iso3}, {ntrex} are "
        "substituted).",
        short="-a",
        grid="the grid aligns into its align/ folder",
    )
    source: str | None = option(
        None,
        help="Raw English file pattern (instead of --alignments); aligned here with eflomal, "
        "intersection symmetrisation.",
    )
    target: str | None = option(
        None, help="Raw target file pattern, e.g. '.../newstest2019-ref.{ntrex}.txt'."
    )
    model: str = option(
        "e5-small",
        help="Preset (tiny, e5-small, mbert, xlmr), save_pretrained folder or hub name.",
        short="-m",
        grid="[model] base",
    )
    num_layers: int | None = option(
        None, help="Keep only the first N encoder layers.", minimum=1, grid="[model] layers"
    )
    objective: str = option(
        "weam",
        help="weam (L_mp + λ·L_cp with the vector swap), tlm (L_mp on the pair), mlm (L_mp, the two "
        "sentences unpaired), align-l2 (aligned words' vectors pulled together, Cao et al. 2020), "
        "contrastive (InfoNCE over sentence vectors; also tlm+contrastive, weam+contrastive), "
        "code-switch (MLM on English with aligned words replaced from the lexicon).",
        choices=OBJECTIVES,
        grid="[pretrain] methods",
    )
    mask_prob: float = option(
        0.3,
        help="Masking probability (80% [MASK], 10% random corpus piece, 10% unchanged).",
        above=0.0,
        below=1.0,
    )
    lam: float = option(1.0, help="Weight λ of L_cp (weam only).", key="lambda", minimum=0.0)
    swap: str = option(
        "one-to-one",
        help="Links used: one-to-one (both words have exactly one link) or all (weam: a word with "
        "several partners takes its first partner; align-l2: every link).",
        choices=SWAP_POLICIES,
    )
    subwords: str = option(
        "first-piece",
        help="first-piece (swap and score first pieces) or single-piece (only words that are one "
        "piece on both sides).",
        choices=SUBWORD_POLICIES,
    )
    cp_unaligned: bool = option(
        False, help="Also score masked pieces without a partner in L_cp (they are then counted twice)."
    )
    cp_partner: str = option(
        "unmasked",
        help="unmasked: L_cp scores a masked piece only when its aligned partner is not masked "
        "(predict it from the visible translation); any: also when the partner is masked.",
        choices=CP_PARTNER_POLICIES,
    )
    l2_layer: int | None = option(
        None,
        help="align-l2: the encoder layer whose output vectors are aligned (default: the last).",
        minimum=1,
    )
    l2_word_vector: str | None = option(
        None,
        help=f"align-l2: a word's vector is its first piece's or the mean of its pieces' (default "
        f"{DEFAULT_L2_WORD_VECTOR}).",
        choices=WORD_VECTORS,
    )
    l2_reg: float | None = option(
        None,
        help=f"align-l2: weight of the regulariser keeping English vectors near the frozen start model's "
        f"(default {DEFAULT_L2_REG:g}, Cao et al.'s).",
        minimum=0.0,
    )
    contrastive_weight: float | None = option(
        None,
        help=f"tlm+contrastive, weam+contrastive: weight of the contrastive loss (default "
        f"{DEFAULT_CONTRASTIVE_WEIGHT:g}).",
        minimum=0.0,
    )
    temperature: float | None = option(
        None,
        help=f"Contrastive objectives: InfoNCE temperature (default {DEFAULT_TEMPERATURE:g}).",
        above=0.0,
    )
    pooling: str | None = option(
        None,
        help=f"Contrastive objectives: sentence vector = mean of the pieces' vectors or the [CLS] vector "
        f"(default {DEFAULT_POOLING}).",
        choices=POOLINGS,
    )
    switch_prob: float | None = option(
        None,
        help=f"code-switch: probability that an aligned English word is replaced by its lexicon "
        f"translation (default {DEFAULT_SWITCH_PROB:g}).",
        minimum=0.0,
        maximum=1.0,
    )
    head_warmup_steps: int | None = option(
        None,
        help="Steps of head-only MLM before training (default 200 for a model without a trained MLM "
        "head, e.g. e5-small; else 0; none for align-l2 and contrastive, which do not use the head). "
        "Cached beside OUT.",
        minimum=0,
    )
    head_warmup_lr: float = option(
        1e-3, help="Learning rate of the head warm-up (the head starts untrained).", above=0.0
    )
    trim_vocab: bool | None = option(
        None,
        help="Train with only the corpus's pieces in the vocabulary (default: on above 100k pieces); "
        "saved at full size.",
    )
    bf16: bool | None = option(
        None,
        help="bf16 autocast (default: on where the GPU supports it; on a CPU, chosen by measurement).",
    )
    batch_size: int = option(
        32,
        help="Pairs per process (per device) in one micro-batch; an optimiser step sees "
        "batch-size × grad-accum × processes pairs.",
        minimum=1,
    )
    grad_accum: int = option(1, help="Micro-batches per optimiser step (gradient accumulation).", minimum=1)
    lr: float = option(5e-5, help="Peak learning rate.", above=0.0)
    max_length: int = option(128, help="Pieces per pair, specials included.", minimum=8)
    epochs: float | None = option(
        None,
        help=f"Passes over the pairs (default {DEFAULT_EPOCHS:g} when --max-steps is not given). With "
        "both, training stops at whichever comes first.",
        above=0.0,
    )
    max_steps: int | None = option(
        None,
        help="Stop after N optimiser steps (a cap: with --epochs too, whichever comes first).",
        minimum=1,
    )
    max_pairs: int | None = option(None, help="Use only the first N pairs per language.", minimum=1)
    snapshot_steps: list[int] | None = option(
        None,
        help="Also save the model at these optimiser steps, comma-separated (e.g. 100,300): full "
        "save_pretrained folders OUT/snapshots/step-N that fine-tune like the final model (the steps "
        "axis of `weam experiment`). A step equal to the run's last is the final model itself.",
        minimum=1,
        check=no_duplicates,
        grid="[pretrain] steps",
    )
    save_steps: int = option(500, help="Checkpoint every N steps (0: none).", minimum=0)
    logging_steps: int = option(10, help="Log the losses every N steps.", minimum=1)
    seed: int = option(42, help="Seed of masking, head initialisation and data order.")
    resume: bool = option(
        False,
        help="Continue from the last checkpoint in OUT (the settings must match OUT/pretrain-config.json).",
        grid="the grid resumes a started cell by itself",
    )
    overwrite: bool = option(
        False,
        help="Replace an existing run in OUT, once the new one is complete (interrupted, the old one stays).",
        grid="the grid re-runs a cell whose settings changed",
    )
    crlf: str = option(
        "error",
        help="Windows (CRLF) line endings in --source/--target files: error (as `weam align`), or strip "
        "(read as LF; NTREX-128 ships with them).",
        choices=CRLF_POLICIES,
        grid="the grid aligns with [align] crlf",
    )
    report_to: str = report_to_option("OUT/checkpoints/runs")

    def check_together(self) -> None:
        if self.alignments is None and self.source is None and self.target is None:
            self.fail("alignments", "or --source and --target are needed: the parallel text to train on")
        if self.alignments is not None and (self.source is not None or self.target is not None):
            self.fail("alignments", "cannot be combined with --source/--target; give one or the other")
        if (self.source is None) != (self.target is None):
            self.fail(
                "source" if self.source is None else "target", "is needed: --source and --target go together"
            )
        if self.resume and self.overwrite:
            self.fail("resume", "cannot be combined with --overwrite")
        for name, users in OBJECTIVE_OPTIONS.items():
            if getattr(self, name) is not None and self.objective not in users:
                self.fail(name, f"is read only by --objective {' or '.join(users)}, not {self.objective}")

    def objective_values(self) -> dict[str, Any]:
        """The objective-specific options this objective reads, defaults filled in (``l2_layer``
        stays None for "the last layer": the model decides)."""
        defaults = {
            "l2_layer": None,
            "l2_word_vector": DEFAULT_L2_WORD_VECTOR,
            "l2_reg": DEFAULT_L2_REG,
            "contrastive_weight": DEFAULT_CONTRASTIVE_WEIGHT,
            "temperature": DEFAULT_TEMPERATURE,
            "pooling": DEFAULT_POOLING,
            "switch_prob": DEFAULT_SWITCH_PROB,
        }
        return {
            name: default if getattr(self, name) is None else getattr(self, name)
            for name, default in defaults.items()
            if self.objective in OBJECTIVE_OPTIONS[name]
        }

    @property
    def uses_head(self) -> bool:
        """Whether the objective predicts masked pieces (and so trains, and needs, the MLM head)."""
        return self.objective not in HEADLESS_OBJECTIVES

    @property
    def planned_epochs(self) -> float | None:
        """Epochs to run: as given, the default when no step count is given, else none (steps rule)."""
        if self.epochs is not None:
            return self.epochs
        return None if self.max_steps is not None else DEFAULT_EPOCHS
