"""`weam experiment --executor slurm` (issue 20, item 1) through submitit's LOCAL executor: each
step a real subprocess job, submitted and pickled as on Slurm. The rows equal an in-process run;
a second start while jobs run follows them and submits nothing twice; a killed job is reported
with its log and blocks its dependants, and a re-run after the fix resumes; a preempted job is
requeued and its step runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_battery import toy_grid, write_task

from weamcli.common.errors import WeamError
from weamcli.experiment.plan import STEP_MARKER
from weamcli.experiment.run import STATUS_FILE, run_experiment
from weamcli.experiment.settings import SlurmSettings
from weamcli.experiment.slurm import job_parameters, job_record_path

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

pytest.importorskip("submitit")

TESTS = Path(__file__).resolve().parent
SLURM = (
    '\n[slurm]\ngpus_per_job = 0\ncpus_per_job = 1\ntime_min = 10\nsbatch = ["--qos=high", "--exclusive"]\n'
)
FINETUNE_13 = "finetune/baseline-full/seed-13"


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("task") / "toy", langs=("en", "de"))


@pytest.fixture(autouse=True)
def jobs_import_this_module(monkeypatch):
    """The jobs unpickle the runners below by reference: they must find this module."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def _config(folder: Path, root: Path, *, seeds: str = "[13]", executor: str = "slurm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "exp.toml"
    grid = toy_grid(folder / "out", root, **{"seeds = [13]": f"seeds = {seeds}", "jobs = 1": ""})
    path.write_text(grid.replace("[experiment]", f'[experiment]\nexecutor = "{executor}"') + SLURM)
    return path


def _rows(out: Path) -> list[dict]:
    rows = []
    for path in sorted((out / "evaluate").rglob("results.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows.append({k: row.get(k) for k in ("model", "seed", "lang", "accuracy", "n")})
    return sorted(rows, key=lambda r: (r["model"], r["seed"], r["lang"]))


def _status(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / STATUS_FILE).read_text(encoding="utf-8").splitlines()]


def _submissions(out: Path) -> int:
    return len(list((out / "slurm").glob("*_submitted.pkl")))  # one per job submitit submitted


def test_slurm_jobs_give_the_rows_of_an_in_process_run(toy_root, tmp_path):
    said: list[str] = []
    path = _config(tmp_path / "slurm", toy_root)
    jobs = run_experiment(path, submitit_cluster="local", progress=lambda m, *rest: said.append(m))
    here = run_experiment(_config(tmp_path / "here", toy_root, executor="local"), jobs=1)
    assert not jobs.failed and not here.failed
    out = tmp_path / "slurm" / "out"
    assert _rows(out) == _rows(tmp_path / "here" / "out") and len(_rows(out)) == 2
    marker = json.loads((out / FINETUNE_13 / STEP_MARKER).read_text())
    record = json.loads(job_record_path(out, FINETUNE_13).read_text())
    assert marker["slurm_job"] == record["job_id"] and marker["fingerprint"] == record["fingerprint"]
    assert f"submitted as Slurm job {record['job_id']} (log {record['log']})" in " ".join(said)
    assert Path(record["log"]).is_file()
    assert _submissions(out) == 2  # the fine-tune and the evaluation; the comparison ran here
    # started again once everything is complete: nothing is submitted
    again = run_experiment(path, submitit_cluster="local")
    assert again.ran == ["compare"] and _submissions(out) == 2


def gated(step, config, steps, say):
    """A fine-tune that waits for OUT/go before it starts (a job still running when the test
    stops the main process)."""
    from weamcli.experiment.steps import STEP_RUNNERS

    deadline = time.monotonic() + 300
    while not (config.out / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("never told to go")
        time.sleep(0.2)
    return STEP_RUNNERS[step.kind](step, config, steps, say)


DRIVER = """
import sys
from weamcli.experiment.run import run_experiment
from test_experiment_slurm import gated
result = run_experiment(sys.argv[1], submitit_cluster="local", runners={"finetune": gated},
                        progress=lambda message, *rest: print(message, flush=True))
print("RAN", *result.ran, flush=True)
"""


def _wait_for(check, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_second_start_follows_the_running_jobs_and_submits_nothing_twice(toy_root, tmp_path):
    path = _config(tmp_path, toy_root)
    out = tmp_path / "out"
    record = job_record_path(out, FINETUNE_13)
    cmd = [sys.executable, "-c", DRIVER, str(path)]
    first_log, second_log = tmp_path / "first.txt", tmp_path / "second.txt"
    with first_log.open("w") as log:
        first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(record.is_file, "the fine-tune's job record")
    finally:
        first.kill()  # the main process dies (a crash, a logout): its job runs on
        first.wait()
    job_id = json.loads(record.read_text())["job_id"]
    with second_log.open("w") as log:
        second = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: f"following Slurm job {job_id}" in second_log.read_text(), "the second start")
        (out / "go").touch()
        assert second.wait(timeout=300) == 0, second_log.read_text()[-3000:]
    finally:
        second.kill()
    text = second_log.read_text()
    assert "RAN finetune/baseline-full/seed-13 evaluate/baseline-full/seed-13 compare" in text
    assert json.loads(record.read_text())["job_id"] == job_id  # the same job, followed to its end
    assert _submissions(out) == 2  # the fine-tune once (by the first start), the evaluation once
    done = Counter(r["config"]["step"] for r in _status(out) if r["event"] == "done")
    assert done[FINETUNE_13] == 1 and done["evaluate/baseline-full/seed-13"] == 1
    assert len(_rows(out)) == 2


def dies_while_broken(step, config, steps, say):
    """A fine-tune whose job is killed (as the kernel's OOM killer would) while a file "broken"
    lies beside the output folder."""
    from weamcli.experiment.steps import STEP_RUNNERS

    if step.key == FINETUNE_13 and (config.out.parent / "broken").exists():
        print("RuntimeError: CUDA out of memory (simulated)", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return STEP_RUNNERS[step.kind](step, config, steps, say)


def test_a_killed_job_is_reported_and_blocks_its_dependants_and_a_rerun_resumes(toy_root, tmp_path):
    path = _config(tmp_path, toy_root, seeds="[13, 42]")
    out = tmp_path / "out"
    (tmp_path / "broken").touch()
    runners = {"finetune": dies_while_broken}
    first = run_experiment(path, submitit_cluster="local", runners=runners)
    assert list(first.failed) == [FINETUNE_13]
    assert first.blocked == ["evaluate/baseline-full/seed-13"]
    assert "evaluate/baseline-full/seed-42" in first.ran
    [failed] = [r for r in _status(out) if r["event"] == "failed"]
    metrics = failed["metrics"]
    assert metrics["last_error"] == "RuntimeError: CUDA out of memory (simulated)"
    assert Path(metrics["log"]).is_file() and metrics["log"] in first.failed[FINETUNE_13]
    assert metrics["slurm_job"] == json.loads(job_record_path(out, FINETUNE_13).read_text())["job_id"]
    assert "ended without a result" in metrics["message"] and "CUDA out of memory" in metrics["message"]
    # the fix, then the same command: the failed step and what it blocked run; the rest stays done
    (tmp_path / "broken").unlink()
    second = run_experiment(path, submitit_cluster="local", runners=runners)
    assert not second.failed and not second.blocked
    assert sorted(second.ran) == sorted([FINETUNE_13, "evaluate/baseline-full/seed-13", "compare"])
    assert len(second.skipped) == 2 and len(_rows(out)) == 4
    assert _submissions(out) == 3 + 2  # the first run's three jobs (one killed), then the two re-run steps


def preempted_once(step, config, steps, say):
    """A fine-tune whose first attempt is preempted: it says where it runs and waits for the
    signal; the requeued attempt runs the step."""
    from weamcli.experiment.steps import STEP_RUNNERS

    attempts = config.out / "attempts"
    attempts.mkdir(exist_ok=True)
    (attempts / str(os.getpid())).touch()
    if len(list(attempts.iterdir())) == 1:
        time.sleep(300)  # until preempted
    return STEP_RUNNERS[step.kind](step, config, steps, say)


def test_a_preempted_job_is_requeued_and_its_step_runs_again(toy_root, tmp_path):
    import threading

    path = _config(tmp_path, toy_root)
    out = tmp_path / "out"
    attempts = out / "attempts"

    def preempt() -> None:  # what Slurm does before a time limit or at preemption: USR2 to the job
        _wait_for(lambda: attempts.is_dir() and any(attempts.iterdir()), "the first attempt")
        os.kill(int(next(attempts.iterdir()).name), signal.SIGUSR2)

    thread = threading.Thread(target=preempt, daemon=True)
    thread.start()
    result = run_experiment(path, submitit_cluster="local", runners={"finetune": preempted_once})
    thread.join(timeout=5)
    assert not result.failed and FINETUNE_13 in result.ran
    assert len(list(attempts.iterdir())) == 2  # requeued once, under the same job
    record = json.loads(job_record_path(out, FINETUNE_13).read_text())
    assert json.loads((out / FINETUNE_13 / STEP_MARKER).read_text())["slurm_job"] == record["job_id"]
    assert _submissions(out) == 2


def test_the_slurm_section_is_strict_and_becomes_submitit_parameters(toy_root, tmp_path):
    path = _config(tmp_path, toy_root)
    text = path.read_text()
    path.write_text(text.replace("gpus_per_job = 0", 'partiton = "gpu"'))
    with pytest.raises(WeamError, match=r"\[slurm\] unknown key 'partiton'; did you mean 'partition'\?"):
        run_experiment(path)
    path.write_text(text.replace('"--exclusive"', '"exclusive"'))
    with pytest.raises(WeamError, match=r"\[slurm\] sbatch takes sbatch options as written"):
        run_experiment(path)
    settings = SlurmSettings(
        partition="gpu", account="lab", sbatch=["--qos=high", "--exclusive"], setup=["x"]
    )
    params = job_parameters(settings, 4)
    assert params["slurm_partition"] == "gpu" and params["slurm_account"] == "lab"
    assert params["slurm_additional_parameters"] == {"qos": "high", "exclusive": True}
    assert params["gpus_per_node"] == 1 and params["cpus_per_task"] == 4 and params["timeout_min"] == 240
    assert params["slurm_setup"] == ["x"]


def test_without_submitit_one_line_names_the_extra(toy_root, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from weamcli.cli import app

    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed: import fails
    path = _config(tmp_path, toy_root, executor="local")
    result = CliRunner().invoke(app, ["experiment", str(path), "--executor", "slurm"])
    assert result.exit_code == 2, result.output
    assert "--executor slurm overrides [experiment] executor = local" in result.output
    assert "error: the slurm executor needs submitit, an optional extra: pip install 'weam[slurm]'" in (
        " ".join(result.output.split())
    )
    assert not (tmp_path / "out" / "finetune").exists()  # before any step
    result = CliRunner().invoke(app, ["experiment", str(path), "--executor", "slurmm", "--plan"])
    assert result.exit_code == 2 and "did you mean 'slurm'?" in result.output
