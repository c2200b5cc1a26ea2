"""Several processes, one experiment (issue 22, item 4): a step is claimed before it runs, a dead
owner's claim is taken over, and two real `weam experiment` processes on one folder split the
steps and never run one twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_battery import toy_grid, write_task

from weamcli.experiment import claims
from weamcli.experiment.claims import claim_path, claim_step, inspect_step, release_step
from weamcli.experiment.run import STATUS_FILE

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

STEP = "finetune/toy/baseline-full/seed-13"


def _foreign_claim(out: Path, *, host: str, pid: int, age: float = 0.0) -> Path:
    path = claim_path(out, STEP)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "step": STEP,
        "host": host,
        "pid": pid,
        "process_started": None,
        "claimed_at": "then",
        "token": "t",
    }
    path.write_text(json.dumps(record), encoding="utf-8")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_a_step_is_claimed_once_and_released(tmp_path):
    mine, theirs = claim_step(tmp_path, STEP)
    assert mine is not None and theirs is None and mine.mine and mine.alive
    held = inspect_step(tmp_path, STEP)
    assert held is not None and held.pid == os.getpid() and held.token == mine.token
    again, _ = claim_step(tmp_path, STEP)  # this process's own claim stays its own
    assert again is not None and again.token == mine.token
    release_step(tmp_path, STEP)
    assert inspect_step(tmp_path, STEP) is None
    assert list((tmp_path / claims.CLAIMS_DIR).iterdir()) == [tmp_path / claims.CLAIMS_DIR / ".lock"]


def test_a_live_owner_keeps_its_claim_a_dead_one_is_taken_over(tmp_path):
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        host = claims._host()
        _foreign_claim(tmp_path, host=host, pid=alive.pid)
        mine, theirs = claim_step(tmp_path, STEP)
        assert mine is None and theirs is not None and theirs.pid == alive.pid
        release_step(tmp_path, STEP)  # not this process's: left alone
        assert inspect_step(tmp_path, STEP).pid == alive.pid
        _foreign_claim(tmp_path, host=host, pid=dead.pid)  # same host, process gone
        mine, theirs = claim_step(tmp_path, STEP)
        assert mine is not None and mine.pid == os.getpid()
    finally:
        alive.kill()
        alive.wait()


def test_another_hosts_claim_counts_while_its_heartbeat_is_fresh(tmp_path):
    _foreign_claim(tmp_path, host="elsewhere", pid=1, age=60)
    mine, theirs = claim_step(tmp_path, STEP)
    assert mine is None and theirs.host == "elsewhere"
    _foreign_claim(tmp_path, host="elsewhere", pid=1, age=claims.STALE_AFTER + 60)
    mine, theirs = claim_step(tmp_path, STEP)
    assert mine is not None and theirs is None


def test_the_heartbeat_touches_held_claims(tmp_path):
    mine, _ = claim_step(tmp_path, STEP)
    old = time.time() - 1000
    os.utime(mine.path, (old, old))
    beat = claims.Heartbeat(interval=0.05)
    beat.add(mine)
    time.sleep(0.3)
    beat.stop()
    assert time.time() - mine.path.stat().st_mtime < 10


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    return write_task(tmp_path_factory.mktemp("task") / "toy", langs=("en", "de"))


def test_two_processes_split_the_steps_and_never_run_one_twice(toy_root, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "exp.toml"
    config.write_text(toy_grid(out, toy_root, **{"seeds = [13]": "seeds = [1, 2, 3]"}), encoding="utf-8")
    cmd = [sys.executable, "-m", "weamcli", "experiment", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # started together: both reach the grid's first steps at about the same time
    first, second = (
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in "ab"
    )
    logs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [err[-2000:] for _, err in logs]
    records = [json.loads(line) for line in (out / STATUS_FILE).read_text(encoding="utf-8").splitlines()]
    done = Counter(
        r["config"]["step"] for r in records if r["event"] == "done" and r["config"]["kind"] != "compare"
    )
    assert sorted(done) == sorted(
        f"{kind}/baseline-full/seed-{seed}" for kind in ("finetune", "evaluate") for seed in (1, 2, 3)
    )
    assert set(done.values()) == {1}  # every step ran exactly once
    by = Counter(
        r["metrics"]["process"] for r in records if r["event"] == "done" and r["config"]["kind"] != "compare"
    )
    assert len(by) == 2, by  # both took a share
    assert any("run by other processes" in err for _, err in logs)  # and said so
    assert not any((out / claims.CLAIMS_DIR).rglob("*.claim"))  # every claim released
    # both ended with the whole comparison
    for stdout, _ in logs:
        assert "tiny (baseline)" in stdout
