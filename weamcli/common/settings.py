"""One definition per option: name, type, default, help text and checks.

Each stage declares a ``Settings`` dataclass whose fields are made with ``option(...)``. The same
declaration serves the Typer command (``weamcli.cli.options`` turns the fields into ``--flags``),
the core function (it takes the settings object, already checked) and the experiment TOML
(``Settings.from_table``). So a check or default written here holds alike for ``weam pretrain
--mask-prob 1.5`` and for ``mask_prob = 1.5`` in a config, and no copy of the option list can drift.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from weamcli.common.errors import WeamError

Check = Callable[[Any], str | None]  # returns a complaint ("must be ...") or None


@dataclass(frozen=True)
class OptionSpec:
    help: str
    key: str  # the name users write: TOML key, and ``--key-with-dashes`` on the command line
    short: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # exclusive lower bound
    below: float | None = None  # exclusive upper bound
    check: Check | None = None
    argument: bool = False  # a positional argument on the command line
    cli: bool = True  # offered on the command line
    toml: bool = True  # accepted in an experiment TOML section
    grid: str | None = None  # why the TOML must not set it: the experiment grid sets it (says where)
    flag: str | None = None  # command-line spelling when it differs from --key

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")


def option(
    default: Any = MISSING,
    *,
    help: str,
    key: str | None = None,
    short: str | None = None,
    choices: Sequence[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    check: Check | None = None,
    argument: bool = False,
    cli: bool = True,
    toml: bool = True,
    grid: str | None = None,
    flag: str | None = None,
) -> Any:
    """A settings field. ``default`` MISSING makes it required; a list default is copied per object."""
    spec = OptionSpec(
        help=help,
        key=key or "",
        short=short,
        choices=tuple(choices) if choices is not None else None,
        minimum=minimum,
        maximum=maximum,
        above=above,
        below=below,
        check=check,
        argument=argument,
        cli=cli,
        toml=toml and grid is None,
        grid=grid,
        flag=flag,
    )
    if isinstance(default, list):
        return field(default_factory=lambda d=tuple(default): list(d), metadata={"weam": spec})
    return field(default=default, metadata={"weam": spec})


@dataclass(frozen=True)
class Option:
    """A field of a settings class with its spec, as the readers see it."""

    name: str  # the Python attribute
    type: Any  # resolved annotation, e.g. int, float | None, list[str]
    default: Any  # MISSING when required
    spec: OptionSpec

    @property
    def key(self) -> str:
        return self.spec.key or self.name

    @property
    def flag(self) -> str:
        return self.spec.flag or "--" + self.key.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def base_type(self) -> Any:
        """int for ``int | None``; list[str] stays list[str]."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        if _is_union(self.type) and len(args) == 1:
            return args[0]
        return self.type

    @property
    def optional(self) -> bool:
        return _is_union(self.type) and type(None) in typing.get_args(self.type)

    @property
    def is_list(self) -> bool:
        return typing.get_origin(self.base_type) is list

    @property
    def item_type(self) -> Any:
        return typing.get_args(self.base_type)[0] if self.is_list else self.base_type

    def describe(self) -> str:
        """The help text with the allowed values, for --help and error messages."""
        text = self.spec.help
        if self.spec.choices:
            text += f" One of: {', '.join(self.spec.choices)}."
        return text


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


class SettingError(WeamError):
    """A bad value for one option; readers re-word it for where the value came from."""

    def __init__(self, option: Option, problem: str):
        self.option = option
        self.problem = problem
        super().__init__(f"{option.flag} {problem}")


class Settings:
    """Base of every stage's settings dataclass (declare subclasses ``@dataclass(kw_only=True)``).
    ``__post_init__`` checks every field, so a core function that takes a settings object gets
    checked values."""

    section: ClassVar[str] = ""  # the TOML section and command this object belongs to

    # ----------------------------------------------------------------------------- declaration

    @classmethod
    def options(cls) -> list[Option]:
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            spec = f.metadata.get("weam")
            if spec is None:
                continue
            default = f.default
            if f.default_factory is not MISSING:
                default = f.default_factory()
            out.append(Option(f.name, hints[f.name], default, spec))
        return out

    @classmethod
    def option_by_key(cls) -> dict[str, Option]:
        return {o.key: o for o in cls.options()}

    # ----------------------------------------------------------------------------- checking

    def __post_init__(self) -> None:
        for opt in self.options():
            value = _coerce(opt, getattr(self, opt.name))
            object.__setattr__(self, opt.name, value)
            problem = _check_value(opt, value)
            if problem:
                raise SettingError(opt, problem)
        self.check_together()

    def check_together(self) -> None:
        """Checks that involve several options; raise ``SettingError`` naming the one to change."""

    def fail(self, name: str, problem: str) -> typing.NoReturn:
        raise SettingError(next(o for o in self.options() if o.name == name), problem)

    # ----------------------------------------------------------------------------- reading

    @classmethod
    def from_table(
        cls,
        table: Mapping[str, Any],
        *,
        source: TomlSource | None = None,
        fixed: Mapping[str, Any] | None = None,
        extra_keys: Sequence[str] = (),
        elsewhere: Mapping[str, str] | None = None,
        key_sections: Mapping[str, str] | None = None,
    ) -> Self:
        """Settings from one TOML section plus the values the experiment grid ``fixed`` itself. An
        unknown key is an error naming the file, the line and the closest valid key; a bad value
        names the file and line.

        ``extra_keys``: keys of that section that belong to the experiment, not to this class;
        ``elsewhere``: keys that belong in another section (key -> section name);
        ``key_sections``: keys written in a subsection (``[finetune.udpos]``), for error messages."""
        base_section = cls.section
        sections = key_sections or {}
        known = cls.option_by_key()
        valid = sorted(
            {k for k, o in known.items() if o.spec.toml and k not in (elsewhere or {})} | set(extra_keys)
        )
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key in extra_keys:
                continue
            section = sections.get(key, base_section)
            opt = known.get(key)
            where = source.locate(section, key) if source else (None, None)
            if elsewhere and key in elsewhere:
                raise WeamError(f"[{section}] '{key}' belongs in [{elsewhere[key]}]", *where)
            if opt is None:
                close = difflib.get_close_matches(key, [*valid, *known], n=1, cutoff=0.6)
                if close and close[0] in known and known[close[0]].spec.grid:
                    hint = f"; '{close[0]}' is set by the experiment grid: {known[close[0]].spec.grid}"
                elif close:
                    hint = f"; did you mean '{close[0]}'?"
                else:
                    hint = f" (valid keys: {', '.join(valid)})"
                raise WeamError(f"[{section}] unknown key '{key}'{hint}", *where)
            if opt.spec.grid:
                raise WeamError(f"[{section}] '{key}' is set by the experiment grid: {opt.spec.grid}", *where)
            if not opt.spec.toml:
                raise WeamError(f"[{section}] '{key}' is a command-line option only", *where)
            values[opt.name] = value
        values.update(fixed or {})
        try:
            return cls(**values)
        except SettingError as exc:
            key = exc.option.key
            section = sections.get(key, base_section)
            where = source.locate(section, key) if source and key in table else (None, None)
            raise WeamError(f"[{section}] {key} {exc.problem}", *where) from None
        except TypeError as exc:  # a required option the section lacks
            raise WeamError(f"[{base_section}] {exc}", source.path if source else None) from None

    # ----------------------------------------------------------------------------- writing

    def to_dict(self) -> dict[str, Any]:
        """Every option under its user-facing key: what run records and step hashes hold."""
        return {o.key: _plain(getattr(self, o.name)) for o in self.options()}

    def non_defaults(self) -> dict[str, Any]:
        """The options whose value differs from the default: what identifies a run. A new option
        added to weam with a default leaves this unchanged, so older runs stay complete."""
        return {
            o.key: _plain(getattr(self, o.name))
            for o in self.options()
            if o.required or _plain(getattr(self, o.name)) != _plain(o.default)
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(opt: Option, value: Any) -> Any:
    """Check the value's type (TOML and Python callers give typed values; the CLI gives typed
    values or, for lists, one comma-separated string); ints are accepted where floats are."""
    if value is MISSING:
        raise SettingError(opt, "is required")
    if value is None:
        if opt.optional:
            return None
        raise SettingError(opt, "must be given")
    if opt.is_list:
        if isinstance(value, str):  # the command line's "a,b,c"
            text = value
            value = [v.strip() for v in value.split(",") if v.strip()]
            if opt.item_type in (int, float):
                try:
                    value = [opt.item_type(v) for v in value]
                except ValueError:
                    kind = "integers" if opt.item_type is int else "numbers"
                    raise SettingError(opt, f"must be {kind} separated by commas, got '{text}'") from None
        if not isinstance(value, (list, tuple)):
            raise SettingError(opt, f"must be a list, got {value!r}")
        return [_scalar(opt, v, opt.item_type) for v in value]
    return _scalar(opt, value, opt.base_type)


def _scalar(opt: Option, value: Any, tp: Any) -> Any:
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is Path and isinstance(value, str):
        return Path(value)
    if tp is str and isinstance(value, Path):
        return str(value)
    if isinstance(value, bool) and tp is not bool:
        raise SettingError(opt, f"must be {_type_name(tp)}, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise SettingError(opt, f"must be {_type_name(tp)}, got {value!r}")
    return value


def _check_value(opt: Option, value: Any) -> str | None:
    s = opt.spec
    for v in value if isinstance(value, list) else [value]:
        if v is None:
            continue
        if s.choices is not None and v not in s.choices:
            close = difflib.get_close_matches(str(v), s.choices, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"must be one of {', '.join(s.choices)}, got '{v}'{hint}"
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if s.minimum is not None and v < s.minimum:
                return f"must be at least {s.minimum:g}, got {v:g}"
            if s.maximum is not None and v > s.maximum:
                return f"must be at most {s.maximum:g}, got {v:g}"
            if s.above is not None and s.below is not None and not s.above < v < s.below:
                return f"must be between {s.above:g} and {s.below:g} (both excluded), got {v:g}"
            if s.above is not None and v <= s.above:
                return f"must be above {s.above:g}, got {v:g}"
            if s.below is not None and v >= s.below:
                return f"must be below {s.below:g}, got {v:g}"
    if s.check is not None and value is not None:
        return s.check(value)  # the whole value: a list check sees the list
    return None


def no_duplicates(values: Any) -> str | None:
    """A list check: the same value twice (``--lang de,de``) would silently double the work."""
    if isinstance(values, list) and len(set(map(str, values))) != len(values):
        seen = [v for i, v in enumerate(values) if v in values[:i]]
        return f"names {seen[0]!r} twice"
    return None


class TomlSource:
    """A parsed TOML file and where each ``[section] key`` is written in it, for error messages."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        self._lines: dict[tuple[str, str], int] = {}
        self._sections: dict[str, int] = {}
        section = ""
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("[") and not stripped.startswith("[["):
                section = stripped.strip("[]").split("]")[0].strip()
                self._sections.setdefault(section, number)
                continue
            if "=" in stripped and not stripped.startswith("#"):
                key = stripped.split("=", 1)[0].strip().strip('"').strip("'")
                self._lines.setdefault((section, key), number)

    def locate(self, section: str, key: str | None = None) -> tuple[Path, int | None]:
        if key is None:
            return self.path, self._sections.get(section)
        return self.path, self._lines.get((section, key), self._sections.get(section))
