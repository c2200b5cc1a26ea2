"""The SimAlign backend: links for each pair of the .tok files from a model's hidden states.

torch, transformers and simalign are imported only when this backend runs (slow imports).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from weamcli.align.folder import tok_lines
from weamcli.align.links import Link
from weamcli.common.errors import WeamError
from weamcli.common.progress import Progress


def simalign_links(
    tmp: Path, pairs: int, model: str, opts: dict[str, Any], seed: int, say: Progress
) -> Iterator[set[Link]]:
    """SimAlign (Jalili Sabet et al. 2020) over the .tok units, one pair per forward pass, with the
    hidden states of any model the registry resolves and matching method ``inter`` (ArgMax),
    ``mwmf`` or ``itermax``. Deterministic, slow: for small sets."""
    from weamcli.common.models import quiet_transformers, resolve_model

    ref = resolve_model(model)
    quiet_transformers()
    import torch

    torch.manual_seed(seed)
    say(f"loading {ref.label} for SimAlign (layer {opts['layer']})", 0, None)
    from simalign import SentenceAligner  # slow import: only when this backend is used

    code = {"inter": "a", "mwmf": "m", "itermax": "i"}[opts["simalign_method"]]
    try:
        aligner = SentenceAligner(
            model=ref.path, token_type="bpe", matching_methods=code, layer=opts["layer"]
        )
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeamError(f"SimAlign cannot load the model ({first})", ref.path) from None
    rows = zip(tok_lines(tmp / "source.tok"), tok_lines(tmp / "target.tok"), strict=True)
    for index, (src_line, tgt_line) in enumerate(rows):
        src, tgt = src_line.split(), tgt_line.split()
        if not src or not tgt:
            yield set()
        else:
            try:
                found = aligner.get_word_aligns(src, tgt)[opts["simalign_method"]]
            except ValueError as exc:  # e.g. a layer the model does not have
                raise WeamError(f"SimAlign failed: {exc}", ref.path) from None
            yield {(int(i), int(j)) for i, j in found}
        say("aligning with SimAlign", index + 1, pairs)
