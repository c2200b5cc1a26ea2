"""The bad-input and interruption battery: every class of bad input, broken destination and
interruption ends in one line (naming the file, and the line where there is one), a plain exit
code (2 for an error, 130 for Ctrl-C, 143 for `kill`), no traceback, no partial output and the
previous output intact; and the finish users expect (model cards, progress with an ETA, umask
permissions, --report-to, a quiet --help).

Everything runs on the `tiny` preset and small data written here, so the battery needs neither
the shared data folder nor a network.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from comparison_fixtures import make_row
from pretrain_fixtures import run_pretrain
from typer.testing import CliRunner

from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, clean_stale, partial_dir, replace_dir

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
FAST = {"model": "tiny", "batch_size": 4, "max_length": 32, "logging_steps": 1, "save_steps": 0}

# --------------------------------------------------------------------------------------- data

EN = "the a house dog cat runs sleeps big small red green blue tree car road city river".split()
DE = "das ein haus hund katze läuft schläft groß klein rot grün blau baum auto straße stadt fluss".split()
SPORTS = "football goal team match player coach score league".split()
HEALTH = "doctor hospital medicine patient health disease nurse treatment".split()


def write_alignment_folder(out: Path, pairs: int = 24, seed: int = 0) -> Path:
    """A `weam align` output folder: word-for-word translations linked along the diagonal."""
    rng = random.Random(seed)
    src, tgt, links = [], [], []
    for _ in range(pairs):
        idx = [rng.randrange(len(EN)) for _ in range(rng.randint(3, 8))]
        src.append(" ".join(EN[i] for i in idx))
        tgt.append(" ".join(DE[i] for i in idx))
        links.append(" ".join(f"{k}-{k}" for k in range(len(idx))))
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in (("source.tok", src), ("target.tok", tgt), ("alignment.txt", links)):
        (out / name).write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    meta = {"source_lang": "en", "target_lang": "de", "backend": "diagonal", "symmetrize": "none"}
    (out / "align.json").write_text(json.dumps({**meta, "pairs": pairs}), encoding="utf-8")
    return out


def write_task(root: Path, langs=("en", "de", "fr", "es")) -> Path:
    """A two-label topic task in the own-task layout {root}/{lang}/{split}.tsv (iso1 codes)."""
    rng = random.Random(1)

    def split(path: Path, n: int) -> None:
        rows = ["id\ttext\tlabel"]
        for i in range(n):
            label = ("sports", "health")[i % 2]
            words = SPORTS if label == "sports" else HEALTH
            rows.append(f"{i}\t{' '.join(rng.choice(words) for _ in range(6))}\t{label}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    for lang in langs:
        split(root / lang / "test.tsv", 6)
    split(root / "en" / "train.tsv", 16)
    split(root / "en" / "dev.tsv", 6)
    return root


def task_args(root: Path) -> list[str]:
    return [
        "--task",
        "toy",
        "--path-pattern",
        "{root}/{lang}/{split}.tsv",
        "--data-dir",
        str(root),
        "--code-style",
        "iso1",
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--id-column",
        "id",
    ]


@pytest.fixture(scope="module")
def align_folder(tmp_path_factory) -> Path:
    return write_alignment_folder(tmp_path_factory.mktemp("data") / "align-en-de")


@pytest.fixture(scope="module")
def task_root(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("task") / "toy")


@pytest.fixture(scope="module")
def pretrained(align_folder, tmp_path_factory) -> Path:
    """A finished `weam pretrain` output: the 'previous output' the overwrite tests must keep."""
    out = tmp_path_factory.mktemp("pre") / "model"
    run_pretrain(["de"], out, alignments=str(align_folder), max_steps=2, **FAST)
    return out


@pytest.fixture(scope="module")
def finetuned(task_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft") / "toy-tiny"
    result = runner.invoke(
        app,
        [
            "finetune",
            *task_args(task_root),
            "-m",
            "tiny",
            "-o",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def copy_of(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest)
    return dest


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file of a folder (not its checkpoints) by content."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "checkpoints" not in p.parts
    }


def no_partials(parent: Path) -> None:
    left = [p.name for p in parent.iterdir() if p.name.endswith((".partial", ".old", ".tmp"))]
    assert not left, left


def assert_one_line_error(output: str, *needles: str) -> str:
    """The output ends in exactly one `error:` line holding ``needles``, with no traceback."""
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert output.strip().splitlines()[-1] == errors[0], output
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def loads_as_model(folder: Path) -> None:
    from transformers import AutoModelForMaskedLM

    from weamcli.common.models import load_model, resolve_model

    model = load_model(resolve_model(str(folder)), AutoModelForMaskedLM)
    assert model.config.num_hidden_layers == 2


# --------------------------------------------------------------------------------------- bad input


def _edited_alignment(src: Path, dest: Path, name: str, edit) -> Path:
    folder = copy_of(src, dest)
    lines = (folder / name).read_bytes().split(b"\n")
    (folder / name).write_bytes(b"\n".join(edit(lines)))
    return folder


@pytest.mark.parametrize(
    ("case", "name", "edit", "where", "words"),
    [
        # bad encoding: a Latin-1 byte on line 3
        ("encoding", "target.tok", lambda ls: [*ls[:2], b"gr\xfcn baum", *ls[3:]], ":3:", "UTF-8"),
        # mismatched lengths: the alignment file lacks its last 4 lines
        ("lengths", "alignment.txt", lambda ls: ls[:-5] + [b""], ":", "line"),
        # out-of-range index: a link to word 40 of a short sentence, on line 2
        ("index", "alignment.txt", lambda ls: [ls[0], ls[1] + b" 0-40", *ls[2:]], ":2:", "40"),
    ],
)
def test_bad_corpus_is_one_line_naming_file_and_line(align_folder, tmp_path, case, name, edit, where, words):
    folder = _edited_alignment(align_folder, tmp_path / f"align-{case}", name, edit)
    out = tmp_path / "out"
    result = runner.invoke(app, ["pretrain", "-l", "de", "-a", str(folder), "-o", str(out), "-m", "tiny"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{folder / name}{where}", words)
    assert not out.exists()  # nothing made, not even an empty folder


def test_bad_encoding_in_a_task_file_names_the_line(task_root, tmp_path):
    train = tmp_path / "train.tsv"
    train.write_bytes(b"id\ttext\tlabel\n0\tgoal team\tsports\n1\tcaf\xe9 doctor\thealth\n")
    dev = task_root / "en" / "dev.tsv"
    args = ["--train", str(train), "--dev", str(dev), "--text-column", "text", "--label-column", "label"]
    result = runner.invoke(
        app, ["finetune", "--task", "custom", *args, "-m", "tiny", "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{train}:3:", "invalid UTF-8 (byte 0xe9")
    assert not (tmp_path / "o").exists()


def test_duplicate_test_ids_are_refused(finetuned, task_root, tmp_path):
    root = copy_of(task_root, tmp_path / "toy")
    test = root / "de" / "test.tsv"
    lines = test.read_text(encoding="utf-8").splitlines()
    lines[3] = "0" + lines[3][1:]  # line 4 reuses the id of line 2
    test.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = tmp_path / "results.jsonl"
    args = ["evaluate", *task_args(root), "-m", str(finetuned), "--lang", "de", "--results", str(results)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{test}:4:", "example id '0'", "repeats line 2")
    assert not results.exists()


def test_whitespace_only_corpus_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "blank"
    folder.mkdir()
    for name in ("source.tok", "target.tok", "alignment.txt"):
        (folder / name).write_text("   \n \n", encoding="utf-8")
    (folder / "align.json").write_text('{"pairs": 2}', encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["pretrain", "-l", "de", "-a", str(folder), "-o", str(out), "-m", "tiny"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(folder / "source.tok"), "no words to train on")
    assert not out.exists()


def test_windows_line_endings_in_raw_pretrain_files_as_in_align(tmp_path):
    src, tgt = tmp_path / "en.txt", tmp_path / "de.txt"
    src.write_bytes(b"a house\r\nthe dog\r\n")
    tgt.write_bytes(b"ein haus\r\nder hund\r\n")
    args = ["pretrain", "-l", "de", "--source", str(src), "--target", str(tgt), "-o", str(tmp_path / "o")]
    result = runner.invoke(app, [*args, "-m", "tiny"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{src}:1:", "Windows line ending", "--crlf strip")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pretrain", "--max-steps", "-1"], "--max-steps must be at least 1, got -1"),
        (["pretrain", "--epochs", "-2"], "--epochs must be above 0, got -2"),
        (["pretrain", "--lr", "-1"], "--lr must be above 0, got -1"),
        # typer's own parse error: one error line like weam's own, exit 2, no traceback
        (["pretrain", "--max-steps", "five"], "Invalid value for '--max-steps'"),
        (["pretrain", "--lang", "de,de"], "--lang names 'de' twice"),
        (["pretrain", "--lang", "xx"], "'xx'"),
        (["pretrain", "--objective", "wem"], "did you mean 'weam'?"),
        (["align", "--eflomal-samplers", "0"], "--eflomal-samplers must be at least 1, got 0"),
    ],
)
def test_bad_numbers_codes_and_choices_are_one_line(tmp_path, args, message):
    base = {
        "pretrain": ["-l", "de", "-a", str(tmp_path), "-o", str(tmp_path / "o"), "-m", "tiny"],
        "align": [str(tmp_path / "a"), str(tmp_path / "b"), "--tgt-lang", "de", "-o", str(tmp_path / "o")],
    }[args[0]]
    result = runner.invoke(app, [args[0], *base, *args[1:]])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("max_steps = 200", 'max_steps = "five"', "[pretrain] max_steps must be an integer, got 'five'"),
        ("max_steps = 200", "max_steps = -5", "[pretrain] max_steps must be at least 1, got -5"),
        ("mask_prob = 0.3", "mask_probb = 0.3", "unknown key 'mask_probb'; did you mean 'mask_prob'?"),
        ("lr = 5e-5", "lr = -1.0", "[pretrain] lr must be above 0, got -1"),
        ('langs = ["en", "de", "es", "zh"]', 'langs = ["en", "xx"]', "'xx'"),
    ],
)
def test_bad_experiment_config_is_one_line_naming_file_and_line(tmp_path, old, new, message):
    text = (ROOT / "examples" / "demo.toml").read_text(encoding="utf-8")
    assert old in text
    config = tmp_path / "bad.toml"
    config.write_text(text.replace(old, new).replace('"runs/demo"', f'"{tmp_path / "runs"}"'), "utf-8")
    line = next(i for i, t in enumerate(config.read_text().splitlines(), 1) if new.split(" =")[0] in t)
    result = runner.invoke(app, ["experiment", str(config)])
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{config}:{line}:", message)
    assert not (tmp_path / "runs").exists()


def test_damaged_model_names_the_truncated_file(finetuned, task_root, tmp_path):
    weights = copy_of(finetuned / "seed-13", tmp_path / "damaged") / "model.safetensors"
    with open(weights, "r+b") as fh:
        fh.truncate(weights.stat().st_size // 2)
    out = tmp_path / "ft"
    for args in (
        ["finetune", *task_args(task_root), "-m", str(weights.parent), "-o", str(out)],
        ["evaluate", *task_args(task_root), "-m", str(weights.parent), "--lang", "de"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert_one_line_error(result.output, str(weights), "damaged or truncated weights file")
    assert not out.exists() and not (weights.parent / "results.jsonl").exists()


# --------------------------------------------------------------------------------------- destinations


@pytest.fixture()
def read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)  # root writes anyway: weam honours the mode bits itself
    yield folder
    folder.chmod(0o755)


def test_read_only_destination_fails_before_the_work(
    read_only, align_folder, finetuned, task_root, tmp_path, monkeypatch
):
    def no_work(*args, **kwargs):
        raise AssertionError("a model was loaded before the destination was checked")

    monkeypatch.setattr("weamcli.pretrain.run.resolve_model", no_work)
    monkeypatch.setattr("weamcli.common.models.resolve_model", no_work)
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(make_row("m", "de", [True, False])) + "\n", encoding="utf-8")
    config = tmp_path / "exp.toml"
    demo = (ROOT / "examples" / "demo.toml").read_text(encoding="utf-8")
    config.write_text(demo.replace('"runs/demo"', f'"{read_only / "runs"}"'), encoding="utf-8")
    monkeypatch.chdir(ROOT)  # the demo's data paths are relative to the project
    commands = {
        "pretrain": [
            "pretrain",
            "-l",
            "de",
            "-a",
            str(align_folder),
            "-m",
            "tiny",
            "-o",
            str(read_only / "p"),
        ],
        "finetune": ["finetune", *task_args(task_root), "-m", "tiny", "-o", str(read_only / "f")],
        "evaluate": [
            "evaluate",
            *task_args(task_root),
            "-m",
            str(finetuned),
            "--results",
            str(read_only / "r.jsonl"),
        ],
        "compare": ["compare", str(results), "-b", "m", "-o", str(read_only / "c")],
        "experiment": ["experiment", str(config)],
    }
    for name, args in commands.items():
        started = time.monotonic()
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (name, result.output)
        assert_one_line_error(result.output, str(read_only), "not writable", "r-xr-xr-x")
        assert time.monotonic() - started < 30, name  # refused up front, not after the work
    assert list(read_only.iterdir()) == []


def test_full_disk_leaves_the_previous_comparison(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    rows = [make_row("base", lang, [True, False, True]) for lang in ("de", "es")]
    rows += [make_row("new", lang, [True, True, True], method="weam") for lang in ("de", "es")]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "cmp"
    args = ["compare", str(results), "-b", "base", "-o", str(out), "--bootstrap", "100"]
    assert runner.invoke(app, args).exit_code == 0
    before = fingerprint(out)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # where a full disk shows: the data reaching it
    result = runner.invoke(app, [*args, "--overwrite"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(out), "no space left on the device", "nothing was replaced")
    assert fingerprint(out) == before
    no_partials(tmp_path)


def test_a_write_limit_hit_by_a_library_is_one_line(task_root, tmp_path):
    """A real failed write deep inside safetensors (a 4 MB file-size limit, as a full disk would):
    one line, exit 2, no seed folder, no temporary folder left."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))

    out = tmp_path / "ft"
    cmd = [sys.executable, "-m", "weamcli", "finetune", *task_args(task_root), "-m", "tiny", "-o", str(out)]
    proc = subprocess.run(
        [*cmd, "--epochs", "1", "--batch-size", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert_one_line_error(proc.stderr, str(out / "seed-13"), "file too large", "nothing was replaced")
    assert not out.exists()  # not even the empty folder the seed would have gone into
    no_partials(tmp_path)


# --------------------------------------------------------------------------------------- interruptions


def _start_pretrain(align: Path, out: Path, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    cmd = [sys.executable, "-m", "weamcli", "pretrain", "-l", "de", "-a", str(align), "-m", "tiny"]
    cmd += ["-o", str(out), "--max-steps", "100000", "--batch-size", "2", "--max-length", "24"]
    cmd += ["--save-steps", "0", "--logging-steps", "1000", "--threads", "1", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    deadline = time.monotonic() + 240
    while not any("training: " in line for line in lines):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.2)
    time.sleep(1.0)  # well inside the training steps
    return proc, lines


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_signal_during_overwrite_keeps_the_previous_model(
    pretrained, align_folder, tmp_path, sig, code, word
):
    out = copy_of(pretrained, tmp_path / "model")
    before = fingerprint(out)
    proc, lines = _start_pretrain(align_folder, out, "--overwrite")
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == code
    time.sleep(0.2)
    assert_one_line_error("".join(lines), word)
    assert fingerprint(out) == before
    no_partials(tmp_path)
    loads_as_model(out)


def test_kill_9_leaves_a_partial_that_the_next_run_removes(pretrained, align_folder, tmp_path):
    out = copy_of(pretrained, tmp_path / "model")
    before = fingerprint(out)
    proc, _ = _start_pretrain(align_folder, out, "--overwrite")
    proc.kill()
    proc.wait(timeout=60)
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert len(stale) == 1 and stale[0].name.startswith(".model.") and str(proc.pid) in stale[0].name
    assert fingerprint(out) == before  # killed mid-run: the previous model is untouched
    # a concurrent run's folder (its process is alive) must survive the clean-up
    live = partial_dir(out)
    result = run_pretrain(["de"], out, alignments=str(align_folder), max_steps=1, overwrite=True, **FAST)
    assert result.steps == 1 and not stale[0].exists() and live.exists()
    shutil.rmtree(live)
    no_partials(tmp_path)
    loads_as_model(out)


@pytest.mark.parametrize("point", ["data", "training", "card"])
def test_overwrite_interrupted_at_any_point_keeps_the_previous_model(
    pretrained, align_folder, tmp_path, monkeypatch, point
):
    import weamcli.pretrain.run as pretrain_run

    out = copy_of(pretrained, tmp_path / "model")
    before = fingerprint(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    callbacks = []
    if point == "data":
        monkeypatch.setattr(pretrain_run, "prepare_pairs", interrupt)
    elif point == "training":
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                raise KeyboardInterrupt

        callbacks = [Stop()]
    else:  # the new model is complete in the temporary folder, not yet swapped in
        monkeypatch.setattr(pretrain_run, "write_model_card", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(
            ["de"],
            out,
            alignments=str(align_folder),
            max_steps=2,
            overwrite=True,
            callbacks=callbacks,
            **FAST,
        )
    assert fingerprint(out) == before
    no_partials(tmp_path)
    loads_as_model(out)


def test_killed_between_the_two_renames_of_a_swap_is_put_back(tmp_path, monkeypatch):
    """Where the system cannot swap two folders in one call, a kill between the renames leaves the
    previous folder aside; the next run puts it back."""
    import weamcli.common.files as files

    final = tmp_path / "out"
    final.mkdir()
    (final / "model").write_text("previous")
    new = partial_dir(final)
    (new / "model").write_text("new")
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    real_replace = os.replace
    calls = []

    def killed_after_first(a, b):
        calls.append(a)
        if len(calls) == 2:
            raise SystemExit("killed")  # the process dies here
        real_replace(a, b)

    monkeypatch.setattr(files.os, "replace", killed_after_first)
    with pytest.raises(SystemExit):
        replace_dir(new, final)
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert not final.exists()
    # the next run, as another process: this one's leftovers count as a dead run's
    monkeypatch.setattr(files, "_owner_gone", lambda host, pid: True)
    clean_stale(final)
    assert (final / "model").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_new_run_leaves_no_folder_and_a_checkpoint_can_resume(align_folder, tmp_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def __init__(self, step: int):
            self.step = step

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == self.step:
                raise KeyboardInterrupt

    out = tmp_path / "fresh" / "model"
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(["de"], out, alignments=str(align_folder), max_steps=4, callbacks=[StopAt(1)], **FAST)
    assert not out.exists()  # nothing worth keeping: no folder at all
    said: list[str] = []
    kept = {**FAST, "save_steps": 2}
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(
            ["de"],
            out,
            alignments=str(align_folder),
            max_steps=4,
            callbacks=[StopAt(3)],
            progress=lambda m, *counts: said.append(m),
            **kept,
        )
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert any("--resume" in m for m in said)
    result = run_pretrain(["de"], out, alignments=str(align_folder), max_steps=4, resume=True, **kept)
    assert result.steps == 4
    loads_as_model(out)


def test_finetune_overwrite_interrupted_keeps_the_previous_seed(finetuned, task_root, tmp_path, monkeypatch):
    out = copy_of(finetuned, tmp_path / "ft")
    before = fingerprint(out / "seed-13")
    from transformers import Trainer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train", interrupted)
    args = ["finetune", *task_args(task_root), "-m", "tiny", "-o", str(out), "--overwrite", "--epochs", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 130
    assert_one_line_error(result.output, "interrupted")
    assert fingerprint(out / "seed-13") == before
    no_partials(out)


def test_ctrl_c_in_evaluate_keeps_the_finished_languages(finetuned, task_root, tmp_path, monkeypatch):
    import weamcli.finetune.classifier as classifier

    results = tmp_path / "results.jsonl"
    args = [
        "evaluate",
        *task_args(task_root),
        "-m",
        str(finetuned),
        "--lang",
        "de,fr,es",
        "--results",
        str(results),
    ]
    real_predict = classifier.predict
    calls = []

    def third_language_interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_predict(*a, **k)

    monkeypatch.setattr(classifier, "predict", third_language_interrupted)
    result = runner.invoke(app, args)
    assert result.exit_code == 130
    assert_one_line_error(result.output, "interrupted", "finished outputs are kept")
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in rows] == ["de", "fr"]
    records = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert records[-1]["event"] == "interrupted" and records[-1]["metrics"]["rows"] == 2
    monkeypatch.setattr(classifier, "predict", real_predict)
    assert runner.invoke(app, args).exit_code == 0  # the same command again: one row per language
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["lang"] for r in rows) == ["de", "es", "fr"]


def test_compare_output_is_replaced_only_when_asked(tmp_path):
    results = tmp_path / "results.jsonl"
    rows = [make_row("base", lang, [True, False, True, False]) for lang in ("de", "es")]
    rows += [make_row("new", lang, [True, True, True, False], method="weam") for lang in ("de", "es")]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "cmp"
    args = ["compare", str(results), "-b", "base", "-o", str(out), "--bootstrap", "100"]
    assert runner.invoke(app, args).exit_code == 0
    before = fingerprint(out)
    again = runner.invoke(app, [*args, "--seed", "7"])
    assert again.exit_code == 2
    assert_one_line_error(again.output, str(out), "earlier comparison", "--overwrite")
    assert fingerprint(out) == before
    replaced = runner.invoke(app, [*args, "--seed", "7", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "run.jsonl").read_text().splitlines()[-1])["seed"] == 7
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    foreign = runner.invoke(app, ["compare", str(results), "-b", "base", "-o", str(mine), "--overwrite"])
    assert foreign.exit_code == 2
    assert_one_line_error(foreign.output, str(mine), "did not write (e.g. notes.txt)")
    assert (mine / "notes.txt").read_text() == "my notes"
    no_partials(tmp_path)


def test_overwrite_refuses_a_folder_that_is_not_a_run(align_folder, tmp_path):
    mine = tmp_path / "home"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    args = ["pretrain", "-l", "de", "-a", str(align_folder), "-m", "tiny", "-o", str(mine), "--overwrite"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(mine), "weam pretrain did not write (e.g. thesis.tex)")
    assert (mine / "thesis.tex").read_text() == "years of work"


# --------------------------------------------------------------------------------------- leftovers


def test_stale_partials_of_dead_runs_are_removed_live_ones_kept(tmp_path):
    final = tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = partial_dir(final)
        host = mine.name.split(".")[2]
        dead_dir = tmp_path / f".out.{host}.{dead.pid}.abcd1234.partial"
        alive_dir = tmp_path / f".out.{host}.{alive.pid}.abcd1234.partial"
        other_host = tmp_path / f".out.elsewhere.{dead.pid}.abcd1234.partial"
        legacy_old = tmp_path / ".out.abcd1234.partial"
        legacy_new = tmp_path / ".out.efgh5678.partial"
        for folder in (dead_dir, alive_dir, other_host, legacy_old, legacy_new):
            folder.mkdir()
        os.utime(legacy_old, (time.time() - 2 * 86400,) * 2)
        removed = clean_stale(final)
        assert sorted(removed) == sorted([dead_dir, legacy_old])
        for kept in (mine, alive_dir, other_host, legacy_new):
            assert kept.exists()
    finally:
        alive.kill()
        alive.wait()


def test_outputs_follow_the_umask(pretrained, finetuned, tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    for path in (
        pretrained / "model.safetensors",
        pretrained / "weam.json",
        finetuned / "seed-13" / "model.safetensors",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(make_row("m", "de", [True, False])) + "\n", encoding="utf-8")
    old = os.umask(0o027)
    try:
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "f").write_text("x")
        assert (
            runner.invoke(app, ["compare", str(results), "-b", "m", "-o", str(tmp_path / "c")]).exit_code == 0
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "folder" / "f").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "c" / "table.md").stat().st_mode) == 0o640


def test_atomic_dir_names_the_final_file_on_a_failed_write(tmp_path, monkeypatch):
    from weamcli.common.files import atomic_file

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with (
        pytest.raises(WeamError) as err,
        atomic_dir(tmp_path / "out") as tmp,
        atomic_file(tmp / "a.txt") as fh,
    ):
        fh.write("x")
    assert err.value.path == str(tmp_path / "out" / "a.txt")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------- the finish


def test_model_cards(pretrained, finetuned, align_folder):
    card = (pretrained / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: transformers\n")
    for text in (
        "# tiny+weam (de)",
        "| method | weam: L_mp + λ·L_cp with the vector swap |",
        "| objective options | lambda 1.0, cp_unaligned False, cp_partner unmasked |",
        "| masking probability | 0.3 |",
        "| language pairs | en–de |",
        str(align_folder),
        "| seed | 42 |",
        "L_mp",
    ):
        assert text in card, text
    seed = (finetuned / "seed-13" / "README.md").read_text(encoding="utf-8")
    meta = json.loads((finetuned / "seed-13" / "weam.json").read_text(encoding="utf-8"))
    assert f"{meta['dev_accuracy']:.4f} (epoch {meta['selected_epoch']})" in seed
    for text in (
        "pipeline_tag: text-classification",
        "| seed | 13 |",
        "16 English examples",
        "load_classifier",
    ):
        assert text in seed, text


def test_progress_bar_with_eta_on_a_terminal_and_lines_in_a_log():
    from rich.console import Console

    from weamcli.cli.console import ProgressDisplay

    screen = StringIO()
    with ProgressDisplay(Console(file=screen, force_terminal=True, width=100)) as display:
        assert display.live
        display("training", 100, 400)  # a resumed run starts part-way
        display("step 150/400  L_mp 3.1")
        display("training", 150, 400)
        display("training", 400, 400)
    text = screen.getvalue()
    assert "ETA" in text and "step 150/400" in text and "training: 400/400 in" in text
    log = StringIO()
    display = ProgressDisplay(Console(file=log, width=100), live=False)
    for step in range(0, 101):
        display("training", step, 100)
        time.sleep(0.0005)
    lines = [line for line in log.getvalue().splitlines() if line.startswith("weam: training")]
    assert len(lines) == 11  # the start, every tenth, the end: not one line per step
    assert "ETA" in lines[5] and lines[-1].startswith("weam: training: 100/100 in")


def test_report_to_tensorboard_writes_event_files(task_root, tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "ft"
    args = ["finetune", *task_args(task_root), "-m", "tiny", "-o", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--report-to", "tensorboard"])
    assert result.exit_code == 0, result.output
    events = list((out / "seed-13" / "runs").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_report_to_without_the_library_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    args = ["pretrain", "-l", "de", "-a", str(tmp_path), "-o", str(tmp_path / "o"), "--report-to", "wandb"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert_one_line_error(result.output, "--report-to wandb needs the wandb package", "pip install wandb")


@pytest.mark.parametrize("command", ["pretrain", "finetune", "evaluate", "compare", "experiment", "align"])
def test_help_has_no_type_noise(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for noise in ("<bool>", "<int | None>", "<int>", "<str>"):
        assert noise not in result.output, (noise, command)


# --------------------------------------------------------------------------------------- round two (issue 22)

EN_LINES = "the house is big\na dog runs\nthe red car\n"
DE_LINES = "das haus ist groß\nein hund läuft\ndas rote auto\n"


def parallel_files(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "c.en").write_text(EN_LINES, encoding="utf-8")
    (folder / "c.de").write_text(DE_LINES, encoding="utf-8")
    return folder / "c.en", folder / "c.de"


def toy_grid(out: Path, root: Path, **extra: str) -> str:
    """A tiny grid on the toy task (baseline only, one seed): seconds to run."""
    text = f"""
[experiment]
out = "{out}"
seeds = [13]
task = "toy"
threads = 1
jobs = 1

[model]
base = "tiny"

[pretrain]
methods = []

[task]
data_dir = "{root}"
path_pattern = "{{root}}/{{lang}}/{{split}}.tsv"
code_style = "iso1"
text_column = "text"
label_column = "label"
id_column = "id"

[finetune]
epochs = 1
batch_size = 4

[evaluate]
langs = ["en", "de"]

[compare]
bootstrap = 100
"""
    for old, new in extra.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("case", ["thesis", "dotfiles", "root", "home", "input"])
def test_align_overwrite_replaces_only_its_own_output(tmp_path, monkeypatch, case):
    """Item 1: `weam align -o DIR --overwrite` replaced whatever DIR held (exit 0)."""
    src, tgt = parallel_files(tmp_path / "corpus")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    out = {"root": Path("/"), "home": home, "input": tmp_path / "corpus"}.get(case, tmp_path / "mine")
    if case in ("thesis", "dotfiles"):
        out.mkdir()
        (out / ("thesis.tex" if case == "thesis" else ".vimrc")).write_text("years of work")

    def files() -> dict:
        return {} if case == "root" else {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    before = files()
    result = runner.invoke(app, ["align", str(src), str(tgt), "-o", str(out), "--overwrite"])
    assert result.exit_code == 2, result.output
    why = {
        "thesis": "holds files weam align did not write (e.g. thesis.tex)",
        "dotfiles": "holds files weam align did not write (e.g. .vimrc)",
        "root": "is the root folder",
        "home": "is your home folder",
        "input": f"holds {src}, an input of this run",
    }[case]
    assert_one_line_error(result.output, f"{out}: {why}")
    assert files() == before
    # its own earlier output is replaced as asked
    mine = tmp_path / "aligned"
    assert runner.invoke(app, ["align", str(src), str(tgt), "-o", str(mine)]).exit_code == 0
    assert runner.invoke(app, ["align", str(src), str(tgt), "-o", str(mine), "--overwrite"]).exit_code == 0


def test_every_command_follows_the_one_overwrite_rule(finetuned, task_root, tmp_path, monkeypatch):
    """Item 1: the same rule in finetune (its seed folders), compare (its inputs) and the
    experiment (`out`): a folder weam did not write, an input, `/` are refused before any work."""

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    monkeypatch.setattr("weamcli.common.models.resolve_model", no_work)
    out = tmp_path / "ft"
    (out / "seed-13").mkdir(parents=True)
    (out / "seed-13" / "notes.txt").write_text("mine")
    args = ["finetune", *task_args(task_root), "-m", "tiny", "-o", str(out), "--overwrite"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(out / "seed-13"), "weam finetune did not write (e.g. notes.txt)")
    assert (out / "seed-13" / "notes.txt").read_text() == "mine"
    model = finetuned / "seed-13"  # fine-tuning a fine-tune into its own folder would replace it
    args = ["finetune", *task_args(task_root), "-m", str(model), "-o", str(finetuned), "--overwrite"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(model), "an input of this run")
    result = runner.invoke(app, ["finetune", *task_args(task_root), "-m", "tiny", "-o", "/"])
    assert_one_line_error(result.output, "/: is the root folder")

    cmp_out = tmp_path / "cmp"
    cmp_out.mkdir()
    results = cmp_out / "results.jsonl"
    results.write_text(json.dumps(make_row("m", "de", [True, False])) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compare", str(results), "-b", "m", "-o", str(cmp_out), "--overwrite"])
    assert result.exit_code == 2
    assert_one_line_error(result.output, str(cmp_out), "an input of this run")
    assert results.is_file()

    for where, why in ((tmp_path / "thesis", "weam experiment did not write (e.g. thesis.tex)"),):
        where.mkdir()
        (where / "thesis.tex").write_text("years of work")
        config = tmp_path / "exp.toml"
        config.write_text(toy_grid(where, task_root), encoding="utf-8")
        for extra in ([], ["--plan"]):
            result = runner.invoke(app, ["experiment", str(config), *extra])
            assert result.exit_code == 2, result.output
            assert_one_line_error(result.output, str(where), why)
        assert sorted(p.name for p in where.iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize("task", ["toy", "custom"])
def test_one_file_is_one_language(finetuned, task_root, tmp_path, task):
    """Item 2: a test file without {lang} scored under --lang de,fr reported German twice."""
    results = tmp_path / "results.jsonl"
    test = task_root / "de" / "test.tsv"
    args = task_args(task_root) if task == "toy" else ["--task", "custom", "--text-column", "text"]
    args = [*args, "--label-column", "label"] if task == "custom" else args
    result = runner.invoke(
        app,
        [
            "evaluate",
            *args,
            "--test",
            str(test),
            "--lang",
            "de,fr",
            "-m",
            str(finetuned),
            "--results",
            str(results),
        ],
    )
    assert result.exit_code == 2, result.output
    assert_one_line_error(result.output, f"--test '{test}'", "one file is one language", "{lang}")
    assert not results.exists()
    result = runner.invoke(
        app, ["evaluate", "--task", "squad-format", "--test", "mlqa.json", "--lang", "de,es", "-m", "tiny"]
    )
    assert_one_line_error(result.output, "one file is one language")


def _plan_case(tmp_path: Path, task_root: Path, case: str) -> tuple[Path, str, str]:
    """An experiment config with one bad input, the file its error names and the words it says."""
    src, tgt = parallel_files(tmp_path / "corpus")
    source = "missing.en" if case == "source" else "c.en"
    grid = {
        "methods = []": f'methods = ["tlm"]\nlang_sets = [["de"]]\nmax_steps = 1\n'
        f'source = "{src.parent / source}"\ntarget = "{tgt.parent}/c.{{lang}}"'
    }
    where, words = {
        "typo-task": ("exp.toml:5:", "'udpso' is neither a built-in task"),
        "task-root": (str(tmp_path / "nowhere"), "no local data for task 'toy'"),
        "source": (str(src.parent / "missing.en"), "parallel file not found"),
        "line-counts": (f"{src}:4:", "has 3 lines but its parallel file has 4"),
        "model": ("model 'tinyy'", "did you mean 'tiny'?"),
        "out": ("/: is the root folder", "a folder of their own"),
    }[case]
    if case == "typo-task":
        grid['task = "toy"'] = 'tasks = ["toy", "udpso"]'
        grid["[task]"] = "[task.toy]"
    elif case == "task-root":
        grid[f'data_dir = "{task_root}"'] = f'data_dir = "{tmp_path / "nowhere"}"'
    elif case == "line-counts":
        tgt.write_text(DE_LINES + "ein baum\n", encoding="utf-8")
    elif case == "model":
        grid['base = "tiny"'] = 'base = "tinyy"'
    elif case == "out":
        grid[f'out = "{tmp_path / "out"}"'] = 'out = "/"'
    config = tmp_path / "exp.toml"
    config.write_text(toy_grid(tmp_path / "out", task_root, **grid), encoding="utf-8")
    return config, where, words


@pytest.mark.parametrize("case", ["typo-task", "task-root", "source", "line-counts", "model", "out"])
def test_plan_checks_every_input_before_any_step(task_root, tmp_path, case):
    """Item 3: `--plan` passed (exit 0) what failed only when its step ran, after others had run."""
    config, where, words = _plan_case(tmp_path, task_root, case)
    for extra in (["--plan"], []):  # a run checks the same before its first step
        result = runner.invoke(app, ["experiment", str(config), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert_one_line_error(result.output, where, words)
    assert not (tmp_path / "out").exists()  # no step ran


@pytest.mark.parametrize("command", ["align", "pretrain", "finetune", "evaluate", "compare", "experiment"])
def test_every_success_line_prints_paths_as_they_are(finetuned, task_root, tmp_path, command):
    """Item 5: an output path with [/x] crashed the success line (exit 1), [v2] vanished, :100:
    became an emoji. Each command's success path, with such paths and names."""
    weird = tmp_path / "a[" / "x]b[v2]c:100:"
    assert all(part in str(weird) for part in ("[/x]", "[v2]", ":100:"))
    name = "m[/x][v2]:100:"  # a model name, printed in tables
    if command == "align":
        src, tgt = parallel_files(weird / "corpus")
        args, expect = ["align", str(src), str(tgt), "-o", str(weird / "align")], [f"wrote {weird / 'align'}"]
    elif command == "pretrain":
        folder = write_alignment_folder(weird / "align-en-de")
        args = ["pretrain", "-l", "de", "-a", str(folder), "-m", "tiny", "-o", str(weird / "pre")]
        args += ["--max-steps", "1", "--batch-size", "4", "--max-length", "32"]
        expect = [f"model: {weird / 'pre'}"]
    elif command == "finetune":
        root = copy_of(task_root, weird / "toy")
        args = ["finetune", *task_args(root), "-m", "tiny", "-o", str(weird / "ft"), "--epochs", "1"]
        expect = [str(weird / "ft" / "seed-13")]
    elif command == "evaluate":
        args = ["evaluate", *task_args(task_root), "-m", str(finetuned), "--lang", "de", "--name", name]
        args, expect = [*args, "--results", str(weird / "r.jsonl")], [name]
    elif command == "compare":
        rows = [make_row(name, lang, [True, False, True]) for lang in ("de", "es")]
        rows += [make_row("n[v2]", lang, [True, True, False], method="weam") for lang in ("de", "es")]
        weird.mkdir(parents=True)
        (weird / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        args = ["compare", str(weird / "rows.jsonl"), "-b", name, "-o", str(weird / "cmp")]
        args, expect = [*args, "--bootstrap", "100"], [name, "n[v2]"]
    else:
        weird.mkdir(parents=True)
        config = weird / "exp.toml"
        task = {'task = "toy"': 'task = "t[/x]:100:"'}  # an own task's name, in the table's title
        config.write_text(toy_grid(weird / "grid", task_root, **task), "utf-8")
        args, expect = ["experiment", str(config)], ["t[/x]:100: (test)"]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    for needle in expect:
        assert "".join(needle.split()) in flat, (needle, result.output)
    assert "💯" not in result.output


def test_evaluate_checks_its_results_file_and_keeps_rows_of_a_kill_9(finetuned, task_root, tmp_path):
    """Item 6: --results FOLDER failed after the whole evaluation; a `kill -9` lost the finished
    languages (rows were written at exit); a cut-off last line was appended after silently."""
    args = ["evaluate", *task_args(task_root), "-m", str(finetuned), "--lang", "de,fr,es"]
    folder = tmp_path / "folder"
    folder.mkdir()
    started = time.monotonic()
    result = runner.invoke(app, [*args, "--results", str(folder)])
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{folder}: is a folder")
    assert time.monotonic() - started < 10  # before the models, not after
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(json.dumps(make_row("m", "de", [True])).encode() + b'\n{"task": "si')
    result = runner.invoke(app, [*args, "--results", str(damaged)])
    assert result.exit_code == 2
    assert_one_line_error(result.output, f"{damaged}:2:", "last line is cut off")
    assert damaged.read_bytes().endswith(b'{"task": "si')  # nothing added after it

    results = tmp_path / "results.jsonl"
    killer = (
        "import os, signal, sys\n"
        "import weamcli.finetune.classifier as c\n"
        "real, calls = c.predict, []\n"
        "def predict(*a, **k):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(*a, **k)\n"
        "c.predict = predict\n"
        "sys.argv = ['weam', *sys.argv[1:]]\n"
        "from weamcli.cli import main\n"
        "main()\n"
    )
    cmd = [sys.executable, "-c", killer, *args, "--results", str(results), "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [r["lang"] for r in rows] == ["de", "fr"]  # the two languages finished before the kill


def test_align_inputs_that_cannot_work_are_one_line(tmp_path):
    """Item 7: a whitespace-only corpus (exit 0, 0 links), the same file on both sides (aligned
    without a word), a symlink loop (a traceback)."""
    src, tgt = parallel_files(tmp_path)
    blank = tmp_path / "blank.de"
    blank.write_text("  \n\t\n \n", encoding="utf-8")
    loop = tmp_path / "loop.en"
    loop.symlink_to(tmp_path / "loop2.en")
    (tmp_path / "loop2.en").symlink_to(loop)
    cases = [
        ([str(src), str(blank)], f"{blank}: no words to align: every line is empty or whitespace"),
        ([str(src), str(src), "--tgt-lang", "de"], f"{src}: source and target are the same file"),
        ([str(loop), str(tgt)], f"{loop}: is a symlink loop"),
    ]
    for files, message in cases:
        out = tmp_path / "out"
        result = runner.invoke(app, ["align", *files, "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert_one_line_error(result.output, message)
        assert not out.exists()
        no_partials(tmp_path)


def test_a_ragged_table_row_names_its_line(finetuned, task_root, tmp_path):
    """Item 7: a row with a field too many printed a raw pandas line, without the line number."""
    root = copy_of(task_root, tmp_path / "toy")
    test = root / "de" / "test.tsv"
    lines = test.read_text(encoding="utf-8").splitlines()
    lines[2] += "\textra"
    test.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["evaluate", *task_args(root), "-m", str(finetuned), "--lang", "de"]
    result = runner.invoke(app, [*args, "--results", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2
    assert_one_line_error(
        result.output, f"{test}:3:", "4 tab-separated fields, but the header (line 1) has 3"
    )
    assert "Failed to read" not in result.output


def test_a_killed_align_leaves_nothing_in_tmp_and_its_partial_is_removed(tmp_path):
    """Item 7: `kill -9` of align left its work folder in /tmp for ever."""
    src, tgt = parallel_files(tmp_path / "corpus")
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    out = tmp_path / "out"
    killer = (
        "import os, signal, sys\n"
        "import weamcli.align.run as r\n"
        "def killed(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "r.run_binary = killed\n"
        "sys.argv = ['weam', *sys.argv[1:]]\n"
        "from weamcli.cli import main\n"
        "main()\n"
    )
    cmd = [sys.executable, "-c", killer, "align", str(src), str(tgt), "-o", str(out)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(scratch)}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list(scratch.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]  # the work was in there
    assert runner.invoke(app, ["align", str(src), str(tgt), "-o", str(out)]).exit_code == 0
    no_partials(tmp_path)


def test_an_interrupted_grid_step_names_a_command_that_exists(align_folder, tmp_path, monkeypatch):
    """Item 7: after Ctrl-C in an experiment the hint said to rerun with --resume, which `weam
    experiment` does not have."""
    from transformers import TrainerCallback

    import weamcli.experiment.steps as steps
    from weamcli.pretrain.run import pretrain
    from weamcli.pretrain.settings import PretrainSettings

    class StopAt3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    said: list[str] = []
    kept = {**FAST, "save_steps": 2}
    settings = PretrainSettings(
        langs=["de"], out=str(tmp_path / "model"), alignments=str(align_folder), max_steps=4, **kept
    )
    with pytest.raises(KeyboardInterrupt):
        pretrain(
            settings,
            callbacks=[StopAt3()],
            progress=lambda m, *counts: said.append(m),
            resume_hint="run `weam experiment grid.toml` again",
        )
    hint = next(m for m in said if "checkpoint-2 kept" in m)
    assert hint.endswith("run `weam experiment grid.toml` again to continue") and "--resume" not in hint
    seen = {}
    monkeypatch.setattr("weamcli.pretrain.run.pretrain", lambda settings, **kw: seen.update(kw))
    step = type("S", (), {"state": "todo", "out": tmp_path / "none", "settings": None})()
    monkeypatch.setattr(steps.dataclasses, "replace", lambda s, **kw: s)
    config = type("C", (), {"path": Path("study.toml")})()
    steps.run_pretrain(step, config, {}, said.append)
    assert seen["resume_hint"] == "run `weam experiment study.toml` again"


def test_fingerprints_cover_defaults_and_plan_names_what_changed(task_root, tmp_path, monkeypatch):
    """Item 8: only non-default settings were hashed, so a weam upgrade that changed a default
    (XQuAD's training sample went 1,000 → 400) left the old steps done; `--plan` now says what
    changed, old → new."""
    from test_experiment import _fake_runners

    from weamcli.common.tasks import TASKS
    from weamcli.experiment.run import load_config, plan_experiment, run_experiment

    config = tmp_path / "xquad.toml"
    text = toy_grid(tmp_path / "out", task_root, **{'task = "toy"': 'task = "xquad"'})
    rest = '[finetune]\nepochs = 1\n\n[evaluate]\nlangs = ["en", "de"]\n\n[compare]\nbootstrap = 100\n'
    config.write_text(text.split("[task]")[0] + rest, "utf-8")  # a built-in task: no [task] needed
    run_experiment(config, runners=_fake_runners([], set()))
    assert all(s.state == "done" for s in plan_experiment(load_config(config)) if s.kind != "compare")
    monkeypatch.setitem(TASKS["xquad"].finetune_defaults, "max_train_examples", 1000)  # the upgrade
    steps = {s.key: s for s in plan_experiment(load_config(config))}
    tune, score = steps["finetune/baseline-full/seed-13"], steps["evaluate/baseline-full/seed-13"]
    assert tune.state == score.state == "changed"
    assert tune.changes(steps) == ["max_train_examples 400 → 1000"]
    assert score.changes(steps) == ["needs finetune/baseline-full/seed-13, which runs again"]
    monkeypatch.setitem(TASKS["xquad"].finetune_defaults, "max_train_examples", 400)
    # writing a default out changes nothing
    config.write_text(
        config.read_text().replace("epochs = 1", "epochs = 1\nmax_train_examples = 400"), "utf-8"
    )
    assert plan_experiment(load_config(config))[0].state == "done"

    grid = tmp_path / "grid.toml"  # the command line says it too
    grid.write_text(toy_grid(tmp_path / "toy-out", task_root), encoding="utf-8")
    assert runner.invoke(app, ["experiment", str(grid)]).exit_code == 0
    grid.write_text(grid.read_text().replace("batch_size = 4", "batch_size = 2"), encoding="utf-8")
    result = runner.invoke(app, ["experiment", str(grid), "--plan"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = [" ".join(x.split()) for x in result.output.splitlines()]
    assert "changed finetune finetune/baseline-full/seed-13: batch_size 4 → 2" in lines
    needs = "needs finetune/baseline-full/seed-13, which runs again"
    assert f"changed evaluate evaluate/baseline-full/seed-13: {needs}" in lines


def test_zero_variance_is_cannot_estimate_never_mde_0(tmp_path):
    """Item 9: two models that predicted identically gave "MDE 0.0 … a 1-point effect is already
    detectable"."""
    from weamcli.cli.experiment import _print_power_plan
    from weamcli.compare.power import pilot_plans

    rows = [
        make_row(m, lang, [True, False, True, True], method=m)
        for m in ("baseline", "weam")
        for lang in ("de", "es")
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "cmp"
    result = runner.invoke(
        app,
        ["compare", str(results), "-b", "baseline", "-o", str(out), "--bootstrap", "100"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "MDE n/a" in result.output and "MDE 0.0" not in result.output
    assert "cannot estimate" in result.output
    (plan,) = pilot_plans(out)
    assert plan.estimate is None and plan.reason.startswith("cannot estimate: Δ has zero variance")
    from weamcli.cli import console as console_module

    screen = StringIO()
    from rich.console import Console

    real = console_module.console
    try:
        import weamcli.cli.experiment as experiment_cli

        experiment_cli.console = Console(file=screen, width=200)
        _print_power_plan(out)
    finally:
        experiment_cli.console = real
    assert "cannot estimate" in screen.getvalue() and "MDE 0" not in screen.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pretrain", "-l", "de", "-a", "x", "--max-steps", "five"], "Invalid value for '--max-steps'"),
        (["pretrain", "-a", "x"], "Missing option '--lang'"),
        (["pretrian"], "No such command 'pretrian'"),
        (["compare", "r.jsonl", "--bootstrapp", "5"], "No such option: --bootstrapp"),
    ],
)
def test_parse_errors_are_one_error_line_like_weams_own(args, message):
    """Item 10: Typer's own parse errors printed a usage panel, not weam's one `error:` line."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    line = assert_one_line_error(result.output, message, "--help")
    assert result.output.strip() == line  # no usage text, no panel
    assert "╭" not in result.output and "Usage:" not in result.output
