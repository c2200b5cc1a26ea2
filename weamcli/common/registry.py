"""Named components that register themselves: pre-training objectives and task families.

A component module declares itself once, with the dataclass of its own options (``Registry``).
Everything else (the CLI's choices, the experiment TOML's checks, the model card) asks the registry,
so no list of names is kept by hand.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from weamcli.common.errors import WeamError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    component: T
    options: type | None  # a dataclass of the component's own settings, or None


class Registry(Generic[T]):
    """Components of one kind, by name. A component module declares itself once::

        OBJECTIVES = Registry("objective", package="weamcli.pretrain.objectives")

        @OBJECTIVES.register("tlm", options=TlmOptions)
        class Tlm: ...

    ``package`` is imported on first use, which imports and so registers every module in it."""

    def __init__(self, kind: str, *, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = package is None

    def register(self, name: str, *, options: type | None = None) -> Callable[[T], T]:
        """Decorator: add the component under ``name`` (a name registered twice is a bug)."""

        def add(component: T) -> T:
            if name in self._entries and self._entries[name].component is not component:
                raise RuntimeError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = Entry(name, component, options)
            return component

        return add

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        module = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            importlib.import_module(f"{self.package}.{info.name}")

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        self._load()
        return iter(list(self._entries.values()))

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; an unknown name is a one-line error with the closest names."""
        self._load()
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise WeamError(f"unknown {self.kind} '{name}' (known: {', '.join(self._entries)}){hint}")
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).component

    def options_of(self, name: str) -> Any:
        return self.entry(name).options
