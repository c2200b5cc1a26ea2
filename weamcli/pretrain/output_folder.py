"""The output folder's policy: refuse to clobber a finished or foreign run, find the checkpoint to
resume from."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import read_json
from weamcli.common.models import (
    METADATA_FILE,
)

CONFIG_FILE = "pretrain-config.json"  # the settings --resume must match
CHECKPOINTS = "checkpoints"


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (a kill during a save leaves an incomplete one behind)."""
    needed = ("trainer_state.json", "model.safetensors", "optimizer.pt", "config.json")
    found = []
    for p in folder.glob("checkpoint-*"):
        with contextlib.suppress(ValueError):
            if all((p / n).is_file() for n in needed):
                found.append((int(p.name.split("-")[1]), p))
    return max(found)[1] if found else None


def check_out_dir(
    out: Path, config: dict[str, Any], *, resume: bool, overwrite: bool, clear: bool = True
) -> Path | None:
    """Refuse to clobber a finished or foreign run; return the checkpoint to resume from. With
    ``clear`` False only check (inputs are validated before anything in ``out`` is removed)."""
    cfg_file = out / CONFIG_FILE
    if resume:
        if not cfg_file.is_file():
            raise WeamError(f"nothing to resume: no {CONFIG_FILE} here", out)
        old = read_json(cfg_file)
        diff = [k for k in sorted(set(old) | set(config)) if old.get(k) != config.get(k)]
        if diff:
            k = diff[0]
            raise WeamError(
                f"resume refused: this run was made with {k}={old.get(k)!r}, now {k}={config.get(k)!r} "
                f"({len(diff)} setting(s) differ)",
                cfg_file,
            )
        if (out / METADATA_FILE).is_file():
            raise WeamError("this run has already finished (pass --overwrite to train again)", out)
        return last_checkpoint(out / CHECKPOINTS)
    if out.exists():
        leftovers = [p for p in out.iterdir() if not p.name.startswith(("align-en-", ".align-en-"))]
        if leftovers and not overwrite:
            hint = "pass --resume to continue it or --overwrite" if cfg_file.is_file() else "pass --overwrite"
            raise WeamError(f"output folder is not empty ({hint})", out)
        for p in leftovers if clear else []:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return None
