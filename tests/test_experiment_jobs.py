"""Grid steps side by side (`[experiment] jobs`): each step in a worker process with its share of
the CPU threads, the same results as one step at a time, failures and resumption as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_battery import write_task

from weamcli.common.errors import WeamError
from weamcli.experiment import parallel
from weamcli.experiment.parallel import Parallelism, choose_parallelism, oversubscribed
from weamcli.experiment.plan import STEP_MARKER
from weamcli.experiment.run import STATUS_FILE, run_experiment

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

# a real grid on the tiny model and a toy task: two seeds, so two fine-tunes can run at once
CONFIG = """
[experiment]
name = "jobs"
out = "{out}"
seeds = [13, 42]
task = "toy"
threads = 1

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
epochs = 2
batch_size = 4

[evaluate]
langs = ["en", "de", "fr"]

[compare]
bootstrap = 100
"""


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("task") / "toy")


def _config(folder: Path, root: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exp.toml"
    path.write_text(CONFIG.format(out=folder / "out", root=root), encoding="utf-8")
    return path


def _rows(out: Path) -> list[dict]:
    rows = []
    for path in sorted((out / "evaluate").rglob("results.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows.append({k: row.get(k) for k in ("model", "seed", "lang", "accuracy", "n")})
    return sorted(rows, key=lambda r: (r["model"], r["seed"], r["lang"]))


def test_two_jobs_give_the_same_results_as_one(toy_root, tmp_path):
    serial = run_experiment(_config(tmp_path / "serial", toy_root), jobs=1)
    side_by_side = run_experiment(_config(tmp_path / "parallel", toy_root), jobs=2)
    assert not serial.failed and not side_by_side.failed
    assert serial.parallelism == Parallelism(1, 1, "as given")
    assert side_by_side.parallelism == Parallelism(2, 1, "as given")
    assert sorted(serial.ran) == sorted(side_by_side.ran)
    rows = _rows(tmp_path / "parallel" / "out")
    assert len(rows) == 2 * 3  # two seeds × three languages
    assert rows == _rows(tmp_path / "serial" / "out")
    # the comparison ran in this process, after every evaluation
    assert side_by_side.comparison is not None and side_by_side.ran[-1] == "compare"
    folder = tmp_path / "parallel" / "out" / "finetune/baseline-full/seed-42"
    marker = json.loads((folder / STEP_MARKER).read_text())
    assert marker["jobs"] == 2 and marker["threads"] == 1 and marker["seconds"] > 0
    assert set(side_by_side.seconds) == {"finetune", "evaluate", "compare"}
    # a second run finds everything complete and starts no worker
    again = run_experiment(_config(tmp_path / "parallel", toy_root), jobs=2)
    assert again.ran == ["compare"] and len(again.skipped) == 4


def fail_one_seed(step, config, steps, say):
    """A runner for the workers (module level: it must pickle): seed 13's fine-tune fails."""
    from weamcli.experiment.steps import STEP_RUNNERS

    if step.key.endswith("seed-13"):
        raise WeamError("no good", "somewhere.tsv", 3)
    say("fine")
    return STEP_RUNNERS["finetune"](step, config, steps, say)


def test_a_step_failing_in_a_worker_is_recorded_and_blocks_only_its_dependants(toy_root, tmp_path):
    path = _config(tmp_path, toy_root)
    said: list[str] = []
    result = run_experiment(
        path,
        jobs=2,
        runners={"finetune": fail_one_seed},
        progress=lambda message, *rest: said.append(message),
    )
    assert result.failed == {"finetune/baseline-full/seed-13": "somewhere.tsv:3: no good"}
    assert result.blocked == ["evaluate/baseline-full/seed-13"]
    assert "evaluate/baseline-full/seed-42" in result.ran and result.ran[-1] == "compare"
    assert "  finetune/baseline-full/seed-42: fine" in said  # the worker's progress reached this process
    status = [json.loads(line) for line in (tmp_path / "out" / STATUS_FILE).read_text().splitlines()]
    failed = [r for r in status if r["event"] == "failed"]
    assert len(failed) == 1 and "WeamError" in failed[0]["metrics"]["detail"]


def test_jobs_and_threads_share_the_cores(monkeypatch):
    monkeypatch.setattr(parallel, "gpu_count", lambda: 0)
    monkeypatch.setattr(parallel, "cpu_cores", lambda: 2)
    assert choose_parallelism(None, None) == Parallelism(2, 1, "2 CPU cores")
    assert choose_parallelism(None, 2).jobs == 1
    assert choose_parallelism(1, None) == Parallelism(1, None, "as given")
    assert choose_parallelism(2, None).threads == 1
    assert oversubscribed(choose_parallelism(2, 2)) is not None
    assert oversubscribed(choose_parallelism(2, 1)) is None
    monkeypatch.setattr(parallel, "cpu_cores", lambda: 16)
    assert choose_parallelism(None, None) == Parallelism(4, 4, "16 CPU cores")
    monkeypatch.setattr(parallel, "gpu_count", lambda: 1)
    assert choose_parallelism(None, None).jobs == 1  # one card, one job


def test_each_job_has_a_gpu_of_its_own_unless_told_to_share(monkeypatch):
    monkeypatch.setattr(parallel, "cpu_cores", lambda: 16)
    monkeypatch.setattr(parallel, "gpu_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert choose_parallelism(None, None) == Parallelism(2, 8, "one job per GPU (2)", ("0", "1"))
    assert choose_parallelism(2, 1).gpus == ("0", "1")
    assert choose_parallelism(1, None).gpus == ()  # one job runs in this process, as before
    with pytest.raises(WeamError, match=r"3 jobs on 2 GPU\(s\).*--share-gpus"):
        choose_parallelism(3, None)
    assert choose_parallelism(3, None, share_gpus=True).gpus == ("0", "1", "0")
    assert "GPUs shared" in choose_parallelism(3, None, share_gpus=True).describe()
    # the GPUs this process was given are the ones handed on, by the names it was given
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert choose_parallelism(None, None).gpus == ("5", "7")


def report_devices(step, config, steps, say):
    """A runner for the workers (module level: it must pickle) that reports, from inside the
    worker, the GPU it was given. The two fine-tunes wait for each other, so they run at once in
    two workers."""
    import os
    import time

    if step.kind == "compare":
        return {}
    if step.kind == "finetune":
        barrier = config.out / "barrier"
        barrier.mkdir(exist_ok=True)
        (barrier / step.key.replace("/", "_")).touch()
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the other fine-tune never started beside this one")
            time.sleep(0.05)
    return {"visible": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"), "worker": os.getpid()}


def test_workers_on_a_two_gpu_machine_get_one_gpu_each(toy_root, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "gpu_count", lambda: 2)  # this process's view: the workers see no patch
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    said: list[str] = []
    fake = dict.fromkeys(("finetune", "evaluate", "compare"), report_devices)
    result = run_experiment(
        _config(tmp_path, toy_root), jobs=2, runners=fake, progress=lambda m, *rest: said.append(m)
    )
    assert not result.failed and result.parallelism.gpus == ("0", "1")
    assert "running up to 2 steps at once, 1 CPU thread(s) each, one GPU each (0, 1) (as given)" in said
    markers = [json.loads(p.read_text()) for p in (tmp_path / "out").rglob(STEP_MARKER)]
    assert len(markers) == 4  # two fine-tunes and two evaluations
    for marker in markers:
        assert marker["visible"] == marker["gpu"]  # what the worker saw is what its marker records
    finetunes = [m for m in markers if m["step"].startswith("finetune/")]
    assert sorted(m["visible"] for m in finetunes) == ["0", "1"]  # at once: one GPU each
    gpu_of_worker = {}
    for marker in markers:  # a worker keeps its GPU from step to step
        assert gpu_of_worker.setdefault(marker["worker"], marker["visible"]) == marker["visible"]
    assert len(gpu_of_worker) == 2


def test_jobs_is_checked_like_every_setting(toy_root, tmp_path):
    path = _config(tmp_path, toy_root)
    path.write_text(path.read_text().replace("threads = 1", "threads = 1\njobs = 0"), encoding="utf-8")
    with pytest.raises(WeamError, match=r"jobs must be at least 1"):
        run_experiment(path)


def test_a_cache_entry_is_made_once_by_runs_side_by_side(tmp_path):
    """Two grid steps wanting the same cache entry (a warmed head, mapped pairs, a bf16
    measurement): the second waits for the first and then uses what it made."""
    import threading
    import time

    from weamcli.common.files import building

    entry = tmp_path / "entry"
    events: list[str] = []

    def make(name: str) -> None:
        with building(entry, lambda: events.append(f"{name} waits")):
            if entry.exists():
                events.append(f"{name} found it")
                return
            time.sleep(0.5)
            entry.mkdir()
            events.append(f"{name} made it")

    first = threading.Thread(target=make, args=("a",))
    first.start()
    time.sleep(0.1)
    make("b")
    first.join()
    assert events == ["b waits", "a made it", "b found it"]


def test_the_timed_study_config_plans_what_its_comment_says():
    from weamcli.experiment.config import load_config
    from weamcli.experiment.plan import plan_experiment

    config = load_config(Path(__file__).resolve().parents[1] / "bench" / "study-small.toml")
    kinds = [s.kind for s in plan_experiment(config)]
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    assert counts == {"align": 4, "pretrain": 3, "finetune": 8, "evaluate": 8, "compare": 1}


def test_more_jobs_than_gpus_stops_before_any_step(toy_root, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from weamcli.cli import app

    monkeypatch.setattr(parallel, "gpu_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    path = _config(tmp_path, toy_root)
    path.write_text(
        path.read_text().replace("threads = 1", "threads = 1\nshare_gpus = true"), encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["experiment", str(path), "--jobs", "3", "--no-share-gpus"])
    assert result.exit_code == 2, result.output
    assert "--no-share-gpus overrides [experiment] share_gpus = true" in result.output
    assert "error: 3 jobs on 2 GPU(s)" in result.output and "--share-gpus" in result.output
    assert not list((tmp_path / "out").rglob(STEP_MARKER))
