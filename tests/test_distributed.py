"""Multi-process training through Trainer's own DDP: `torchrun --nproc_per_node 2` over gloo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from pretrain_fixtures import make_alignment_folder

pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_writes_loadable_checkpoints(shared_data, tmp_path):
    align = make_alignment_folder(shared_data, tmp_path / "align-en-de", "de", "deu", 32)
    out = tmp_path / "dist"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "weamcli",
        "pretrain",
        "--lang",
        "de",
        "-a",
        str(align),
        "-m",
        "tiny",
        "-o",
        str(out),
        "--max-steps",
        "4",
        "--save-steps",
        "2",
        "--batch-size",
        "4",
        "--max-length",
        "48",
        "--logging-steps",
        "1",
        "--threads",
        "1",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from transformers import AutoModel, AutoModelForMaskedLM

    state = json.loads((out / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # 2 processes × 4 pairs per step × 4 steps = 32 pairs = one epoch of the 32-pair corpus
    assert state["epoch"] == pytest.approx(1.0)
    ckpt = AutoModelForMaskedLM.from_pretrained(out / "checkpoints" / "checkpoint-4")
    keep = json.loads((out / "checkpoints" / "checkpoint-4" / "trimmed-vocab.json").read_text())
    assert ckpt.get_input_embeddings().weight.shape[0] == len(keep["rows_are_tokenizer_ids"])
    final = AutoModel.from_pretrained(out)
    assert final.get_input_embeddings().weight.shape[0] == 250002
    assert json.loads((out / "weam.json").read_text())["steps"] == 4
    assert proc.stdout.count("weam pretrain:") == 1  # one report, from rank 0
