"""Every setting of `weam align`, defined once (CLI flags, the core and the experiment TOML's
``[align]`` section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weamcli.common.corpus import CRLF_POLICIES, DEFAULT_MAX_TOKENS, EMPTY_POLICIES, SEGMENT_MODES
from weamcli.common.settings import Settings, option

BACKENDS = ("eflomal", "simalign")
SYMMETRIZATIONS = ("grow-diag-final-and", "intersect", "union")
SIMALIGN_METHODS = ("inter", "mwmf", "itermax")
GOLD_INDEX_BASES = ("auto", "0", "1")
_GOLD_GRID = "scoring against gold is for one corpus: run `weam align --gold` on it"


@dataclass(kw_only=True)
class AlignSettings(Settings):
    section = "align"

    source: str = option(
        help="Source-side text, or one 'src ||| tgt' file (gzip allowed).",
        argument=True,
        grid="[pretrain] source",
    )
    target: str | None = option(
        None, help="Target-side text, line-aligned with SOURCE.", argument=True, grid="[pretrain] target"
    )
    src_lang: str | None = option(
        None, help="Source language (guessed from a .en/.de suffix).", grid="English, always"
    )
    tgt_lang: str | None = option(
        None, help="Target language (guessed likewise).", grid="each language of [pretrain] lang_sets"
    )
    out: str | None = option(
        None, help="Output folder [default: runs/align-SRC-TGT].", short="-o", grid="the grid's align/ folder"
    )
    overwrite: bool = option(
        False,
        help="Replace an existing output folder.",
        grid="the grid re-runs a cell whose settings changed",
    )
    backend: str = option("eflomal", help="eflomal (statistical) or simalign (embeddings).", choices=BACKENDS)
    symmetrize: str = option(
        "grow-diag-final-and",
        help="How forward and reverse links are combined (eflomal).",
        choices=SYMMETRIZATIONS,
    )
    segment: str = option(
        "auto",
        help="auto: per-character units for zh/ja/th…; chars: always; none: keep words.",
        choices=SEGMENT_MODES,
    )
    pretokenized: bool = option(False, help="Input is tokenised: use its whitespace tokens.")
    max_tokens: int = option(DEFAULT_MAX_TOKENS, help="Reject a line with more units than this.", minimum=1)
    on_empty: str = option(
        "keep", help="Empty line: keep (empty alignment) or error.", choices=EMPTY_POLICIES
    )
    extra: str | None = option(None, help="Extra eflomal training text, 'src ||| tgt' lines.")
    extra_source: str | None = option(None, help="Extra training text, source side.")
    extra_target: str | None = option(None, help="Extra training text, target side.")
    crlf: str = option(
        "error",
        help="Windows (CRLF) line endings in any input (corpus, extra, gold): error, or strip (read as LF).",
        choices=CRLF_POLICIES,
    )
    fast: bool = option(
        False,
        help="Fast alignment: eflomal on a lighter schedule (model 3, one sampler, half the iterations): "
        "several times faster and still faster than fast_align at a lower AER, a few AER points above "
        "the default (bench/align_speed.py). eflomal options given explicitly still apply.",
    )
    # eflomal's own options: None means eflomal's default (or the --fast schedule's)
    eflomal_length: float | None = option(
        None, help="eflomal's relative number of iterations [eflomal: 1.0; --fast: 0.5].", above=0.0
    )
    eflomal_model: int | None = option(
        None, help="eflomal model: 1 IBM1, 2 +HMM, 3 +fertility [3].", minimum=1, maximum=3
    )
    eflomal_samplers: int | None = option(
        None, help="eflomal's independent samplers [eflomal: 3; --fast: 1].", minimum=1
    )
    eflomal_null_prior: float | None = option(
        None, help="eflomal's prior probability of a NULL link [0.2].", above=0.0, below=1.0
    )
    model: str = option("e5-small", help="simalign: preset, local folder or hub name.")
    simalign_method: str = option("inter", help="simalign: how links are read off.", choices=SIMALIGN_METHODS)
    layer: int = option(8, help="simalign: hidden layer to take embeddings from.", minimum=0)
    gold: str | None = option(
        None, help="Gold alignment file to score against (AER, P, R, F1).", grid=_GOLD_GRID
    )
    gold_index_base: str = option(
        "auto", help="0, 1 or auto (0 if any index is 0).", choices=GOLD_INDEX_BASES, grid=_GOLD_GRID
    )
    gold_drop_invalid: bool = option(
        False, help="Skip (and count) out-of-range gold links instead of failing.", grid=_GOLD_GRID
    )
    seed: int = option(
        1, help="Random seed (recorded; eflomal 2.0 cannot be seeded: its links vary run to run)."
    )

    def check_together(self) -> None:
        if self.extra is not None and (self.extra_source is not None or self.extra_target is not None):
            self.fail("extra", "cannot be combined with --extra-source/--extra-target; give one or the other")
        if (self.extra_source is None) != (self.extra_target is None):
            self.fail("extra_source", "and --extra-target go together")
        if self.fast and self.backend != "eflomal":
            self.fail("fast", "applies to the eflomal backend only")
        if self.backend != "eflomal":
            given = [
                k
                for k in ("eflomal_length", "eflomal_model", "eflomal_samplers", "eflomal_null_prior")
                if getattr(self, k) is not None
            ]
            if given:
                self.fail(given[0], f"applies to the eflomal backend only, not {self.backend}")

    def backend_options(self) -> dict[str, Any]:
        """The options of the chosen backend, as ``align_corpus`` takes them."""
        if self.backend == "eflomal":
            given = {
                "eflomal_length": self.eflomal_length,
                "eflomal_model": self.eflomal_model,
                "n_samplers": self.eflomal_samplers,
                "null_prior": self.eflomal_null_prior,
            }
            return {k: v for k, v in given.items() if v is not None}
        return {"simalign_method": self.simalign_method, "layer": self.layer}
