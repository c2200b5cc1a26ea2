"""Multi-process training through Trainer's own DDP: `torchrun --nproc_per_node 2` over gloo."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pretrain_fixtures import make_alignment_folder, make_generated_alignment_folder

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

# 2 processes vs 1 process with 2 accumulation steps: measured bit-equal on CPU (halving is exact in
# floating point, so gloo's (a + b) / 2 equals accumulation's a / 2 + b / 2); the margin allows for
# other summation orders (more processes, another all-reduce algorithm, BLAS threads). One example
# masked or ordered differently moves the weights by ~1e-2 and the losses by ~1e-3 (measured).
LOSS_REL = 1e-5
WEIGHT_ATOL = 1e-6


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


def _dropout_free_tiny(tmp_path) -> Path:
    """The tiny preset with dropout off: dropout draws from each process's own global RNG, so
    no two layouts of a batch drop the same units (masking is keyed per example instead)."""
    from weamcli.common.models import resolve_model

    folder = tmp_path / "tiny-no-dropout"
    shutil.copytree(resolve_model("tiny").path, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _pretrain(nproc: int, align: Path, model: Path, out: Path, *options: str) -> subprocess.Popen:
    """`weam pretrain` started under torchrun with ``nproc`` processes, or as a plain process (0)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    launch = [sys.executable]
    if nproc:
        launch += ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
        launch += ["--master_port", str(_free_port())]
    cmd = [*launch, "-m", "weamcli", "pretrain", "--lang", "de", "-a", str(align), "-m", str(model)]
    cmd += ["-o", str(out), "--max-length", "48", "--logging-steps", "1", "--threads", "1", *options]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]


def _logged(out: Path) -> list[dict[str, float]]:
    lines = [json.loads(x) for x in (out / "run.jsonl").read_text().splitlines()]
    return [x["metrics"] for x in lines if x["event"] == "log"]


def test_two_processes_train_the_model_one_process_trains(tmp_path):
    """2 processes × 4 pairs = 1 process × 4 pairs × 2 accumulation steps (a global batch of 8):
    the same examples per step (accelerate's shards take alternate batches of one seeded order),
    the same masks (keyed per example, not per process), the same loss (the mean of the
    micro-batches' means: DDP averages the 2 processes' gradients, accumulation halves each
    micro-batch's loss) and no dropout. What remains is summation order (gloo's all-reduce vs the
    .grad buffers): see LOSS_REL. (1 process × 8 pairs trains another model: its loss is the mean
    over all 8 pairs' masked pieces, not the mean of two means of 4.)"""
    from safetensors.torch import load_file

    align = make_generated_alignment_folder(tmp_path / "align-en-de", "de", 64)
    model = _dropout_free_tiny(tmp_path)
    # bf16 off: whatever this CPU's measurement would choose, both runs compute in fp32
    common = ["--max-steps", "8", "--save-steps", "0", "--lr", "1e-3", "--no-bf16"]
    runs = [  # side by side: the test's wall time is the slower run's where there are cores for both
        _pretrain(2, align, model, tmp_path / "two", "--batch-size", "4", *common),
        _pretrain(0, align, model, tmp_path / "one", "--batch-size", "4", "--grad-accum", "2", *common),
    ]
    for proc in runs:
        _finished(proc)
    two, one = _logged(tmp_path / "two"), _logged(tmp_path / "one")
    assert [x["step"] for x in two] == [x["step"] for x in one] == list(range(1, 9))
    for a, b in zip(two, one, strict=True):
        for key in ("loss", "loss_mp", "loss_cp", "grad_norm"):
            assert a[key] == pytest.approx(b[key], rel=LOSS_REL), (a["step"], key)
    w2, w1 = (
        load_file(tmp_path / "two" / "model.safetensors"),
        load_file(tmp_path / "one" / "model.safetensors"),
    )
    start = load_file(model / "model.safetensors")
    assert w2.keys() == w1.keys()
    moved = max((w1[k] - start[k]).abs().max().item() for k in w1)
    gap = max((w2[k] - w1[k]).abs().max().item() for k in w1)
    print(f"largest weight change {moved:.3g}, largest gap between the layouts {gap:.3g}")
    assert gap <= WEIGHT_ATOL
    assert moved > 1000 * WEIGHT_ATOL  # the runs trained: the gap is small next to the change
