"""The backends' options: eflomal's and SimAlign's defaults, eflomal's ``fast`` schedule, and the
check that merges given options over those defaults."""

from __future__ import annotations

from typing import Any

from weamcli.align.settings import BACKENDS, SIMALIGN_METHODS
from weamcli.common.errors import WeamError

_BACKEND_DEFAULTS: dict[str, dict[str, Any]] = {
    # eflomal's own defaults (as its command line uses them)
    "eflomal": {"eflomal_model": 3, "eflomal_length": 1.0, "n_samplers": 3, "null_prior": 0.2},
    "simalign": {"simalign_method": "inter", "layer": 8},
}
# ``fast=True``: the same eflomal binary on a lighter schedule, one sampler and half the iterations
# (a sixth of the sampling work): several times faster at a few AER points more, still ahead of
# fast_align on both (bench/align_speed.py measures all three side by side)
FAST_EFLOMAL: dict[str, Any] = {"eflomal_model": 3, "eflomal_length": 0.5, "n_samplers": 1, "null_prior": 0.2}


def check_options(backend: str, options: dict[str, Any], fast: bool = False) -> dict[str, Any]:
    """The backend's options: the given ones over its defaults (``FAST_EFLOMAL`` with ``fast``);
    an unknown option or value is a one-line error."""
    if backend not in BACKENDS:
        raise WeamError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if fast and backend != "eflomal":
        raise WeamError("--fast applies to the eflomal backend only")
    known = FAST_EFLOMAL if fast else _BACKEND_DEFAULTS[backend]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise WeamError(f"option(s) {', '.join(unknown)} do not apply to the {backend} backend")
    merged = {**known, **options}
    if backend == "simalign" and merged["simalign_method"] not in SIMALIGN_METHODS:
        raise WeamError(
            f"--simalign-method must be one of {', '.join(SIMALIGN_METHODS)}, "
            f"got '{merged['simalign_method']}'"
        )
    if backend == "eflomal" and merged["eflomal_model"] not in (1, 2, 3):
        raise WeamError(f"the eflomal model must be 1, 2 or 3, got {merged['eflomal_model']}")
    return merged
