"""Every setting of `weam pretrain`, defined once (CLI flags, the core and the experiment TOML's
``[pretrain]`` section all read this class)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from weamcli.common.corpus import CRLF_POLICIES
from weamcli.common.reporting import report_to_option
from weamcli.common.settings import Option, Settings, no_duplicates, option
from weamcli.pretrain.masking import SUBWORD_POLICIES, SWAP_POLICIES
from weamcli.pretrain.objectives import OBJECTIVES as OBJECTIVE_REGISTRY
from weamcli.pretrain.objectives import Objective, build_objective, objective_names
from weamcli.pretrain.objectives.base import recorded_options

OBJECTIVES = objective_names()  # the registered objectives (``objectives``), in listing order


def _objective_options() -> tuple[dict[str, Option], dict[str, tuple[str, ...]]]:
    """Every registered objective's options (name -> option) and, for those that not every run
    records, the objectives that read each (in listing order)."""
    options: dict[str, Option] = {}
    readers: dict[str, tuple[str, ...]] = {}
    for name in OBJECTIVES:
        for opt in OBJECTIVE_REGISTRY.get(name).option_list():
            if options.setdefault(opt.name, opt) != opt:
                raise RuntimeError(f"objective option '{opt.name}' is declared twice, differently")
            if opt.name not in recorded_options():
                readers[opt.name] = (*readers.get(opt.name, ()), name)
    return options, readers


_OPTIONS, OBJECTIVE_OPTIONS = _objective_options()
# OBJECTIVE_OPTIONS: giving one of these to an objective that does not read it is an error, and the
# experiment grid passes each to the methods that read it


def _with_objective_options(before: str) -> Callable[[type], type]:
    """Class decorator (under ``@dataclass``): the objectives' options become fields, placed before
    the field ``before``. One that only some objectives read is None there ("not given": the
    objective runs with its own default), its help naming its readers and that default."""

    def add(cls: type) -> type:
        fields: dict[str, tuple[Any, Any]] = {}
        for name, opt in _OPTIONS.items():
            if name in OBJECTIVE_OPTIONS:
                default = opt.default
                shown = (
                    ""
                    if default is None
                    else f" (default {default:g})"
                    if isinstance(default, float)
                    else f" (default {default})"
                )
                text = f"{', '.join(OBJECTIVE_OPTIONS[name])}: {opt.spec.help.rstrip('.')}{shown}."
                fields[name] = (
                    opt.base_type | None,
                    field(default=None, metadata={"weam": replace(opt.spec, help=text)}),
                )
            else:
                fields[name] = (opt.type, field(default=opt.default, metadata={"weam": opt.spec}))
        annotations: dict[str, Any] = {}
        for name, tp in cls.__dict__["__annotations__"].items():
            if name == before:
                annotations.update({n: f[0] for n, f in fields.items()})
            annotations[name] = tp
        cls.__annotations__ = annotations
        for name, (_, value) in fields.items():
            setattr(cls, name, value)
        return cls

    return add


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
@_with_objective_options(before="head_warmup_steps")
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
        help=", ".join(f"{n} ({OBJECTIVE_REGISTRY.get(n).summary})" for n in OBJECTIVES) + ".",
        choices=OBJECTIVES,
        grid="[pretrain] methods",
    )
    mask_prob: float = option(
        0.3,
        help="Masking probability (80% [MASK], 10% random corpus piece, 10% unchanged).",
        above=0.0,
        below=1.0,
    )
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

    def make_objective(self) -> Objective:
        """The objective to train, built with its options (``objectives.build_objective``)."""
        return build_objective(self.objective, {name: getattr(self, name) for name in _OPTIONS})

    def objective_values(self) -> dict[str, Any]:
        """The options only this objective reads, by key, defaults filled in (``l2_layer`` stays
        None for "the last layer": the model decides)."""
        return self.make_objective().values()

    @property
    def uses_head(self) -> bool:
        """Whether the objective predicts masked pieces (and so trains, and needs, the MLM head)."""
        return OBJECTIVE_REGISTRY.get(self.objective).masks

    @property
    def planned_epochs(self) -> float | None:
        """Epochs to run: as given, the default when no step count is given, else none (steps rule)."""
        if self.epochs is not None:
            return self.epochs
        return None if self.max_steps is not None else DEFAULT_EPOCHS
