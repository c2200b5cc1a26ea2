"""Typer options made from a stage's settings class, so the CLI declares no option of its own."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import MISSING
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from weamcli.common.settings import Option, Settings

from .app import WeamCommand, app
from .console import command


def _annotation(opt: Option) -> Any:
    base = opt.base_type
    if opt.is_list and opt.spec.argument:
        return list[str]  # variadic: `weam compare a.jsonl b.jsonl runs/`
    if opt.is_list:
        # one comma-separated value ("de,es,zh"), split by the settings class
        return str | None if opt.optional or not opt.required else str
    if base is Path:
        base = str
    return base | None if opt.optional else base


def _metavar(opt: Option) -> str:
    if opt.spec.choices:
        return "|".join(opt.spec.choices)
    if opt.is_list:
        return "A,B,..."
    return {int: "N", float: "X"}.get(opt.base_type, "TEXT")


def _parameter(opt: Option) -> inspect.Parameter:
    default = ... if opt.required else opt.default
    if opt.is_list and isinstance(default, list) and not opt.spec.argument:
        default = ",".join(map(str, default)) if default else None
    help_text = escape(opt.describe())  # help is rich markup: "[pretrain] x" must print as it is
    if opt.spec.argument:
        info = typer.Argument(default, help=help_text, show_default=not opt.required)
    else:
        names = [opt.flag]
        if opt.base_type is bool:
            names = [f"{opt.flag}/--no-{opt.flag[2:]}"]
        if opt.spec.short:
            names.append(opt.spec.short)
        info = typer.Option(
            default,
            *names,
            help=help_text,
            show_default=default not in (None, ...),
            metavar="" if opt.base_type is bool else _metavar(opt),  # a flag takes no value
        )
    return inspect.Parameter(
        opt.name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=_annotation(opt)
    )


def settings_command(
    name: str, settings_cls: type[Settings], *, exclude: Sequence[str] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func(settings, **own_params)`` as ``weam NAME``: its own parameters (e.g.
    ``--threads``) stay as written; every option of ``settings_cls`` becomes a flag, and the values
    are checked by building the settings object before ``func`` runs."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(func).parameters.values() if p.name != "settings"]
        opts = [o for o in settings_cls.options() if o.spec.cli and o.name not in exclude]
        # positional arguments first, in declaration order, then the options
        params = [_parameter(o) for o in opts if o.spec.argument]
        params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        params += [_parameter(o) for o in opts if not o.spec.argument]
        names = {o.name for o in opts}

        def run(**kwargs: Any) -> Any:
            values = {k: v for k, v in kwargs.items() if k in names}
            rest = {k: v for k, v in kwargs.items() if k not in names}
            values = {k: (MISSING if v is ... else v) for k, v in values.items()}
            return func(settings_cls(**values), **rest)

        run.__name__ = func.__name__
        run.__doc__ = func.__doc__
        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {}
        app.command(name, cls=WeamCommand)(command(run))
        return func

    return decorate


def settings_option(settings_cls: type[Settings], name: str) -> Any:
    """One option of ``settings_cls`` as a Typer option of a command that reads the rest from a
    config file: its help (with "overrides [section] key") comes from the settings class, and so do
    its checks (the core function builds the class with the value); the default is None ("not
    given": the config's value stands)."""
    opt = next(o for o in settings_cls.options() if o.name == name)
    flag = f"{opt.flag}/--no-{opt.flag[2:]}" if opt.base_type is bool else opt.flag
    return typer.Option(
        None,
        flag,
        help=escape(f"{opt.describe()} Overrides [{settings_cls.section}] {opt.key}."),
        metavar="" if opt.base_type is bool else _metavar(opt),
        show_default=False,
    )
