"""The grid's own keys of an experiment TOML, read and checked: ``[pretrain]`` methods, language
sets, steps axis and language-set design, and the method and task subsets of the side axes
(``*_methods``, ``*_tasks``). Every error names the file and, where known, the line."""

from __future__ import annotations

import difflib
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.languages import language
from weamcli.common.settings import TomlSource
from weamcli.experiment.settings import METHODS

# [pretrain] keys that shape the grid, not one run
PRETRAIN_GRID_KEYS = (
    "methods",
    "lang_sets",
    "lang_sets_methods",
    "lang_sets_design",
    "lang_sets_tasks",
    "steps",
    "steps_tasks",
)
# the grid's side axes, and which section names the tasks their extra models are evaluated on
AXIS_TASK_KEYS = {
    "langs": ("pretrain", "lang_sets_tasks"),
    "steps": ("pretrain", "steps_tasks"),
    "layers": ("model", "layers_tasks"),
}
# how the language sets' runs are sized against the first (reference) set's run: the same optimiser
# steps (compute fixed), or the same passes over each language's pairs (data fixed: steps in
# proportion to the set's pairs)
LANG_SET_DESIGNS = ("equal-steps", "equal-passes")


def read_methods(pre: dict[str, Any], source: TomlSource) -> list[str]:
    """``[pretrain] methods`` (default weam and tlm), each a known method, "baseline" first."""
    methods = _list_of_str(pre.get("methods", ["weam", "tlm"]), source, "methods")
    for m in methods:
        if m not in METHODS:
            raise WeamError(
                f"[pretrain] unknown method '{m}' (known: {', '.join(METHODS)})",
                source.path,
                line_of(source.text, f'"{m}"') or source.locate("pretrain", "methods")[1],
            )
    if "baseline" not in methods:
        methods.insert(0, "baseline")
    return methods


def read_lang_sets(pre: dict[str, Any], source: TomlSource, methods: list[str]) -> list[list[str]]:
    """``[pretrain] lang_sets`` as weam's short codes; at least one set when a method pre-trains."""
    sets_raw = pre.get("lang_sets", [])
    if not isinstance(sets_raw, list) or not all(isinstance(s, list) for s in sets_raw):
        raise WeamError(
            "[pretrain] lang_sets must be a list of lists of language codes",
            *source.locate("pretrain", "lang_sets"),
        )
    lang_sets = []
    for group in sets_raw:
        codes = []
        for code in group:
            try:
                codes.append(language(str(code)).code)
            except WeamError as exc:
                raise WeamError(
                    f"[pretrain] lang_sets: {exc.message}", source.path, line_of(source.text, f'"{code}"')
                ) from None
        lang_sets.append(codes)
    if any(m != "baseline" for m in methods) and not lang_sets:
        raise WeamError("[pretrain] lang_sets is empty", *source.locate("pretrain", "lang_sets"))
    return lang_sets


def read_axis_tasks(raw: dict[str, Any], source: TomlSource, tasks: list[str]) -> dict[str, list[str]]:
    """Side axis -> the ``*_tasks`` its extra models are evaluated on (absent: all of ``tasks``)."""
    return {
        axis: read_task_subset(raw.get(section, {}), key, tasks, source, section)
        for axis, (section, key) in AXIS_TASK_KEYS.items()
        if key in raw.get(section, {})
    }


def read_steps(pre: dict[str, Any], source: TomlSource) -> list[int]:
    """``[pretrain] steps``: sorted distinct step counts, at least one above 0. It sets the run's
    length, so ``max_steps``/``epochs`` beside it would be two answers to one question."""
    if "steps" not in pre:
        return []
    value = pre["steps"]
    where = source.locate("pretrain", "steps")
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise WeamError("[pretrain] steps must be a list of step counts, e.g. [0, 100, 300]", *where)
    if any(v < 0 for v in value) or len(set(value)) != len(value) or not any(v > 0 for v in value):
        raise WeamError("[pretrain] steps must be distinct counts ≥ 0, at least one above 0", *where)
    for key in ("max_steps", "epochs", "snapshot_steps"):
        if key in pre:
            raise WeamError(
                f"[pretrain] {key} cannot be combined with steps: the last of steps is the run's length "
                "and the others are saved along the way",
                *source.locate("pretrain", key),
            )
    return sorted(value)


def read_task_subset(
    table: dict[str, Any], key: str, tasks: list[str], source: TomlSource, section: str
) -> list[str]:
    """``[section] key``: a non-empty list of the grid's task names."""
    value = table[key]
    where = source.locate(section, key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[{section}] {key} must be a non-empty list of the grid's task names", *where)
    _grid_names(value, tasks, "tasks", f"[{section}] {key}", where)
    return list(value)


def read_lang_sets_design(pre: dict[str, Any], source: TomlSource, steps: list[int]) -> list[str]:
    """``[pretrain] lang_sets_design``: equal-steps (default), equal-passes or both. Equal passes
    scale a step count, so the reference run's length must be one (steps or max_steps)."""
    if "lang_sets_design" not in pre:
        return ["equal-steps"]
    value = pre["lang_sets_design"]
    where = source.locate("pretrain", "lang_sets_design")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WeamError(
            f"[pretrain] lang_sets_design must be a non-empty list of {' / '.join(LANG_SET_DESIGNS)}", *where
        )
    for name in value:
        if name not in LANG_SET_DESIGNS:
            close = difflib.get_close_matches(name, LANG_SET_DESIGNS, n=1)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f" (choose from {', '.join(LANG_SET_DESIGNS)})"
            )
            raise WeamError(f"[pretrain] lang_sets_design: unknown design '{name}'{hint}", *where)
    if len(set(value)) != len(value):
        raise WeamError("[pretrain] lang_sets_design lists a design twice", *where)
    if "equal-passes" in value:
        if not steps and "max_steps" not in pre:
            raise WeamError(
                "[pretrain] lang_sets_design equal-passes scales the first language set's step count: "
                "give [pretrain] steps or max_steps",
                *where,
            )
        if "epochs" in pre:
            raise WeamError(
                "[pretrain] epochs caps every run alike, which undoes equal-passes: use max_steps",
                *source.locate("pretrain", "epochs"),
            )
    return list(value)


def read_method_subset(
    table: dict[str, Any], key: str, methods: list[str], source: TomlSource, section: str
) -> list[str] | None:
    """``[section] key``: a list of the grid's method names (absent: None, every method)."""
    if key not in table:
        return None
    value = table[key]
    where = source.locate(section, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[{section}] {key} must be a list of method names", *where)
    _grid_names(value, methods, "methods", f"[{section}] {key}", where)
    return list(value)


def _grid_names(value: list[str], known: list[str], noun: str, setting: str, where: tuple[Any, ...]) -> None:
    """Every name of ``value`` is one of the grid's ``known`` ones; else an error with the closest."""
    for name in value:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (the grid's: {', '.join(known)})"
            raise WeamError(f"{setting}: '{name}' is not one of the grid's {noun}{hint}", *where)


def _list_of_str(value: Any, source: TomlSource, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WeamError(f"[pretrain] {key} must be a list of names", *source.locate("pretrain", key))
    return list(value)


def line_of(text: str, needle: str) -> int | None:
    """The first line holding ``needle``, for an error's pointer (None: nowhere)."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None
