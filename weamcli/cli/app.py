"""The Typer app object; each command module registers one command on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

try:  # typer ≥ 0.22 carries its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover (older typer: click itself)
    from click.exceptions import UsageError


def _quiet_help(option: Any) -> Any:
    if option is not None:
        option.metavar = ""  # --help is a flag: no "<bool>" beside it in the help
    return option


def _no_type(ctx: Any) -> None:
    return None


class WeamCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.display_type_rich = _no_type  # its name says what it is: no "<str>" beside it

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help(super().get_help_option(ctx))


@contextlib.contextmanager
def _usage_errors_in_one_line() -> Iterator[None]:
    """Typer/Click's own parse errors (``--max-steps five``, a missing option, an unknown command)
    end like weam's: one ``error:`` line and exit 2, not a usage panel."""
    try:
        yield
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `weam` alone: the help, as asked
            raise
        from .console import fail

        command = exc.ctx.command_path if exc.ctx is not None else "weam"
        message = " ".join(exc.format_message().split()).rstrip(".")
        raise fail(f"{message} (see {command} --help)", exc.exit_code) from None


class WeamGroup(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help(super().get_help_option(ctx))

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors_in_one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _usage_errors_in_one_line():  # a command's own options are parsed in here
            return super().invoke(ctx)


app = typer.Typer(
    cls=WeamGroup,
    name="weam",
    help=(
        "WEAM (Word-Exchange Aligning Model): continual pre-training of multilingual encoders on "
        "parallel text with word alignments as the prior, English fine-tuning, and zero-shot "
        "evaluation per language.\n\n"
        "Typical run: weam align → weam pretrain → weam finetune → weam evaluate → weam compare. "
        "Models are given as a preset (mbert, xlmr, e5-small, tiny), a local save_pretrained "
        "folder, or a Hugging Face hub name."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
