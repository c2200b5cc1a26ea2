"""What a pre-training objective is (``Objective``), the registry of them, and building one by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from weamcli.common.errors import WeamError
from weamcli.common.registry import Registry
from weamcli.common.settings import Option, Settings
from weamcli.pretrain.masking import PairCollator, split_layout

OBJECTIVES: Registry[type[Objective]] = Registry("objective", package="weamcli.pretrain.objectives")


@dataclass(kw_only=True, frozen=True)
class ObjectiveOptions(Settings):
    """Base of an objective's options: fields made with ``option(...)`` whose defaults are the ones
    the objective runs with. `weam pretrain` offers each as a flag that only the objectives reading
    it take (None there: not given). The fields named in ``recorded`` are instead recorded by every
    run with their default, and any objective takes them (weam's three: studies' fingerprints have
    held them since before objectives had options of their own)."""

    recorded: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True)
class Needs:
    """What the collator adds to an objective's batches (``masking.PairCollator``)."""

    split: bool = False  # the two sentences as separate rows (split_index, split_attention)
    links: bool = False  # the word links as indices into those rows (link_src, link_tgt)
    code_switch: bool = False  # the code-switched English sentence instead of the pair


@dataclass(frozen=True)
class Batch:
    """One collated batch as an objective sees it, with masking's per-row keys (None: torch's global
    RNG draws the masks)."""

    input_ids: Any
    attention_mask: Any
    maskable: Any
    swap_index: Any
    split_index: Any = None
    split_attention: Any = None
    link_src: Any = None
    link_tgt: Any = None
    keys: Any = None

    def sentences(self, pad_id: int) -> Any:
        """The unmasked sentences as separate rows (row 2r English, 2r+1 its translation)."""
        rows, _ = split_layout(self.input_ids, self.input_ids, self.split_index, pad_id)
        return rows


class Objective:
    """One pre-training objective: subclasses set the class attributes and ``loss``, and register
    with ``@objective(name, options=...)``. ``model`` below is the ``model.PretrainingModel`` being
    trained: its ``encoder`` and ``head``, and masking's ids, pool and probability."""

    name: ClassVar[str] = ""  # set by @objective
    Options: ClassVar[type[ObjectiveOptions] | None] = None  # set by @objective
    rank: ClassVar[int] = 1000  # place in listings (choices, comparison columns): lower first
    summary: ClassVar[str] = ""  # what it computes, in a few words (--objective's help, model card)
    parts: ClassVar[tuple[str, ...]] = ()  # the loss parts it returns and logs (loss_<part>), in order
    masks: ClassVar[bool] = False  # masked prediction: reads --mask-prob, trains and needs the MLM head
    needs: ClassVar[Needs] = Needs()
    inner: ClassVar[type[Objective] | None] = None  # a composition: the objective it wraps

    def __init__(self, options: ObjectiveOptions | None = None, inner: Objective | None = None):
        self.options = options
        self.wrapped = inner

    @classmethod
    def option_list(cls) -> list[Option]:
        """The options it reads: its own, then those of the objective it wraps."""
        own = cls.Options.options() if cls.Options else []
        return own + (cls.inner.option_list() if cls.inner else [])

    def values(self, *, recorded: bool = False) -> dict[str, Any]:
        """Its options by key, with the values it runs with; the ``recorded`` ones (which every run
        records anyway) only with ``recorded=True`` (the model card: all it reads)."""
        out: dict[str, Any] = {}
        if self.options is not None:
            out = {
                o.key: getattr(self.options, o.name)
                for o in self.options.options()
                if recorded or o.name not in self.options.recorded
            }
        return {**out, **(self.wrapped.values(recorded=recorded) if self.wrapped else {})}

    def prepare(self, model: Any) -> None:
        """Set-up on the model once it is built (frozen copies, frozen layers)."""

    def switched_english(self, seed: int) -> Any:
        """How the pairs' English side is code-switched for this objective (``code_switch``), or None."""
        return None

    def loss(self, model: Any, batch: Batch) -> tuple[Any, dict[str, Any]]:
        """The loss and its parts (``parts``) on one batch."""
        raise NotImplementedError


def objective(name: str, *, options: type[ObjectiveOptions] | None = None) -> Callable[[type], type]:
    """Class decorator: register an ``Objective`` subclass in ``OBJECTIVES`` as ``name``."""

    def add(cls: type[Objective]) -> type[Objective]:
        cls.name, cls.Options = name, options
        return OBJECTIVES.register(name, options=options)(cls)

    return add


def objective_names() -> tuple[str, ...]:
    """The registered objectives, in listing order."""
    return tuple(sorted(OBJECTIVES.names(), key=lambda n: OBJECTIVES.get(n).rank))


def recorded_options() -> set[str]:
    """The options every run records, whichever objective it trains (``ObjectiveOptions.recorded``)."""
    return {n for e in OBJECTIVES if e.options is not None for n in e.options.recorded}


def build_objective(name: str, values: Mapping[str, Any] | None = None) -> Objective:
    """The objective ``name`` with its options from ``values`` (option name → value; None or absent:
    its default). A value for an option it does not read is an error, unless every run records it."""
    return _build(OBJECTIVES.get(name), {k: v for k, v in (values or {}).items() if v is not None})


def _build(cls: type[Objective], values: dict[str, Any]) -> Objective:
    reads = {o.name for o in cls.option_list()}
    stray = sorted(set(values) - reads - recorded_options())
    if stray:
        known = ", ".join(sorted(reads)) or "none"
        raise WeamError(f"the {cls.name} objective has no option '{stray[0]}' (its options: {known})")
    own = {o.name for o in cls.Options.options()} if cls.Options else set()
    options = cls.Options(**{k: v for k, v in values.items() if k in own}) if cls.Options else None
    inner = _build(cls.inner, {k: v for k, v in values.items() if k not in own}) if cls.inner else None
    return cls(options, inner)


def loss_parts(name: str) -> tuple[str, ...]:
    """The named parts the objective ``name`` logs (``loss_<part>``), in display order."""
    return OBJECTIVES.get(name).parts


def make_collator(objective: str | Objective, pad_id: int, id_map: Any = None) -> PairCollator:
    """The collator whose batches the objective takes (``PretrainingModel`` with it)."""
    needs = OBJECTIVES.get(objective).needs if isinstance(objective, str) else objective.needs
    return PairCollator(
        pad_id=pad_id, id_map=id_map, split=needs.split, links=needs.links, code_switch=needs.code_switch
    )
