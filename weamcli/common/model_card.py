"""The model card (README.md) weam writes into every model folder it makes: what the model is,
how it was made and what is known of its results, with the Hugging Face card header so the
folder can be pushed to the hub as it is."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weamcli.common.files import atomic_file

CARD_FILE = "README.md"

# presets whose weights come from a hub model (for the card's base_model field)
_PRESET_HUB_IDS = {
    "e5-small": "intfloat/multilingual-e5-small",
    "mbert": "bert-base-multilingual-cased",
    "xlmr": "xlm-roberta-base",
}


def hub_id(base_model: str | None) -> str | None:
    """The hub id of a base model given as a preset or hub name; None for a local or random one."""
    if not base_model:
        return None
    name = base_model.split("-L")[0] if base_model.split("-L")[0] in _PRESET_HUB_IDS else base_model
    if name in _PRESET_HUB_IDS:
        return _PRESET_HUB_IDS[name]
    if name.count("/") == 1 and not name.startswith((".", "/", "~")) and not Path(name).exists():
        return name
    return None


def _yaml_list(values: Sequence[str]) -> str:
    return "\n".join(f"- {v}" for v in values)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_card(
    *,
    title: str,
    summary: str,
    facts: Sequence[tuple[str, Any]],
    languages: Sequence[str],
    tags: Sequence[str],
    base_model: str | None,
    usage: str,
    results: Sequence[tuple[str, Any]] = (),
    pipeline_tag: str | None = None,
) -> str:
    """The card's Markdown: the hub header (YAML), a summary, a facts table, results, usage."""
    from weamcli.common.run_records import library_versions

    header = ["---", "library_name: transformers"]
    base = hub_id(base_model)
    if base:
        header.append(f"base_model: {base}")
    if pipeline_tag:
        header.append(f"pipeline_tag: {pipeline_tag}")
    header += ["language:", _yaml_list(languages), "tags:", _yaml_list(tags), "---", ""]
    lines = [*header, f"# {title}", "", summary, "", "| | |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in facts if v not in (None, "", [])]
    if results:
        lines += ["", "## Results", "", "| | |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in results]
    versions = library_versions()
    today = _dt.date.today().isoformat()
    lines += [
        "",
        "## Use",
        "",
        "```python",
        usage.strip(),
        "```",
        "",
        f"Made by weam {versions.get('weam') or ''} with transformers {versions.get('transformers')} on "
        f"{today}. Every setting, library version and logged loss is in `run.jsonl`; weam's own facts "
        "about the model in `weam.json`.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(folder: str | os.PathLike, text: str) -> Path:
    path = Path(folder) / CARD_FILE
    with atomic_file(path) as fh:
        fh.write(text)
    return path
