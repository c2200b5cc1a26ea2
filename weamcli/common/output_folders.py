"""Output folders, checked before any work: writable, never a protected place (``/``, the home
folder, one holding the working directory), never an input of the run, and replaced only where
they hold the command's own output."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from weamcli.common.errors import WeamError
from weamcli.common.files import real_path, storage_problem


def check_writable(folder: str | os.PathLike) -> None:
    """Fail now, in one line, when outputs cannot be written into ``folder`` (or, where it does not
    exist yet, into the folder it would be created in): before the work, not after it.

    The folder's mode bits are honoured for root too (root may write anyway, but a folder made
    read-only is meant to stay unwritten); then a real probe file catches read-only mounts."""
    path = Path(folder).expanduser().absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise WeamError("exists and is not a folder; outputs cannot be written under it", probe)
    mode = probe.stat().st_mode
    if not mode & 0o222 or (os.geteuid() != 0 and not os.access(probe, os.W_OK | os.X_OK)):
        raise WeamError(
            f"folder is not writable (permissions {stat.filemode(mode)}); choose another output or "
            "change its permissions",
            probe,
        )
    try:
        fd, name = tempfile.mkstemp(prefix=".weam-write-probe.", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise WeamError(f"cannot write here ({storage_problem(exc) or exc.strerror})", probe) from None


# hidden entries weam itself leaves in a folder: temporary siblings (.NAME.HOST.PID.X.partial),
# locks (.NAME.lock) and write probes; they never make a folder someone else's
_WEAM_HIDDEN = re.compile(
    r"^\..+\.[A-Za-z0-9-]+\.\d+\.(?:[^.]+\.)?(?:partial|tmp|old)$|^\..+\.lock$|^\.weam-write-probe\."
)


def _protected(out: Path) -> str | None:
    """Why weam must never write an output over ``out`` (a resolved path), or None."""
    home = real_path(Path.home())
    cwd = real_path(Path.cwd())
    if out == Path(out.anchor):
        return "is the root folder"
    if out == home:
        return "is your home folder"
    if home.is_relative_to(out):
        return "holds your home folder"
    if cwd.is_relative_to(out):
        return "holds the working directory"
    return None


def check_not_protected(path: str | os.PathLike) -> None:
    """Refuse, in one line, an output folder that is ``/``, the home folder (or a folder above it)
    or one holding the working directory: outputs go into a folder of their own."""
    why = _protected(real_path(path))
    if why is not None:
        raise WeamError(
            f"{why}: weam writes its outputs into a folder of their own; choose another output folder",
            path,
        )


def check_output_dir(
    path: str | os.PathLike,
    *,
    command: str,
    markers: Mapping[str, Callable[[Path], bool] | None],
    inputs: Iterable[str | os.PathLike | None] = (),
    ignore: Callable[[str], bool] | None = None,
) -> None:
    """The one rule for an output folder weam may replace (``--overwrite``), checked before any
    work, with or without ``--overwrite``:

    - never ``/``, the home folder, a folder above it or one holding the working directory;
    - never a folder that is, or holds, one of the run's ``inputs``;
    - an existing folder with entries must hold one of ``markers`` (file name → an optional check
      of that file, e.g. that a ``weam.json`` is a fine-tune's): the command's own output of the
      same kind. Anything else is someone's files, and replacing the folder would delete them.

    ``ignore``: entry names that do not count (caches a failed run leaves, e.g. pretrain's
    ``align-en-*``); weam's own hidden temporary files never count."""
    out = real_path(path)
    check_not_protected(path)
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise WeamError("exists and is not a folder", path)
    for given in inputs:
        if given is None or not str(given):
            continue
        held = real_path(given)
        if held == out or held.is_relative_to(out):
            raise WeamError(
                f"holds {given}, an input of this run; an output never replaces its own input: "
                "choose another output folder",
                path,
            )
    entries = [e for e in os.listdir(out) if not _WEAM_HIDDEN.match(e) and not (ignore and ignore(e))]
    if not entries:
        return
    for name, check in markers.items():
        marker = out / name
        if marker.is_file() and (check is None or check(marker)):
            return
    example = sorted(entries, key=lambda e: (e.startswith("."), e))[0]
    raise WeamError(
        f"holds files {command} did not write (e.g. {example}), and no {' or '.join(markers)} of its "
        "own; weam replaces only its own outputs: choose another output folder",
        path,
    )


def json_marker(*, having: str | None = None, lacking: str | None = None) -> Callable[[Path], bool]:
    """A marker check for ``check_output_dir``: the file is a JSON object that has the key
    ``having`` and lacks the key ``lacking`` (a fine-tune's weam.json against a pre-training's)."""

    def check(path: Path) -> bool:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(data, dict):
            return False
        return (having is None or having in data) and (lacking is None or lacking not in data)

    return check
