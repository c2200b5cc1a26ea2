"""Wall time of one experiment config run one step at a time (the reference: one job with every
core's thread) against steps side by side (`weam experiment --jobs`, default: the machine's
choice), in the same bench run, each from an empty output folder and an equal cache.

    .venv/bin/python bench/experiment_jobs.py examples/demo.toml
    .venv/bin/python bench/experiment_jobs.py study.toml --jobs 2 --repeats 2

Each run gets a fresh weam cache (``WEAM_HOME``) holding the built models and the bf16
measurements the machine had when the bench started, so neither run reuses the other's pieces
cache or measurements. The order alternates between repeats. It prints, per run, the wall time and
the step time by kind (from experiment-status.jsonl), the mean zero-shot score of each run (the
threads differ, so scores may differ in the last digits), and the ratio candidate / reference.
Run it on an otherwise idle machine: other work changes both sides, unequally.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config_copy(config: Path, out: Path, folder: Path) -> Path:
    """The config with ``[experiment] out`` pointing at ``out`` (the rest as written)."""
    text = config.read_text(encoding="utf-8")
    line = f'out = "{out}"'
    if re.search(r"(?m)^out\s*=", text):
        text = re.sub(r"(?m)^out\s*=.*$", line, text, count=1)
    else:
        text = re.sub(r"(?m)^\[experiment\]\s*$", f"[experiment]\n{line}", text, count=1)
    path = folder / config.name
    path.write_text(text, encoding="utf-8")
    return path


def _fresh_home(folder: Path) -> Path:
    """A weam cache with the user's built models (linked) and bf16 measurements (copied)."""
    from weamcli.common.models import weam_home

    home = folder / "weam-home"
    (home / "cache").mkdir(parents=True)
    if (weam_home() / "models").is_dir():
        (home / "models").symlink_to(weam_home() / "models")
    choice = weam_home() / "cache" / "bf16-choice.json"
    if choice.is_file():
        shutil.copy(choice, home / "cache" / choice.name)
    return home


def _run(config: Path, jobs: int | None, threads: int | None, folder: Path) -> dict:
    folder.mkdir(parents=True)
    out = folder / "out"
    copy = _config_copy(config, out, folder)
    cmd = [sys.executable, "-m", "weamcli", "experiment", str(copy)]
    cmd += ["--jobs", str(jobs)] if jobs else []
    cmd += ["--threads", str(threads)] if threads else []
    env = {**os.environ, "WEAM_HOME": str(_fresh_home(folder))}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_DATASETS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path.cwd())
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    by_kind: dict[str, float] = {}
    for line in (out / "experiment-status.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        seconds = record["metrics"].get("seconds")
        if seconds is not None:
            kind = record["config"]["kind"]
            by_kind[kind] = round(by_kind.get(kind, 0.0) + seconds, 1)
    scores = []
    for path in (out / "evaluate").rglob("results.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            metric = row.get("accuracy", row.get("f1"))
            if metric is not None and row.get("lang") != "en":
                scores.append(float(metric))
    return {
        "jobs": jobs or "auto",
        "threads": threads,
        "wall_s": round(wall, 1),
        "step_s_by_kind": by_kind,
        "mean_zero_shot": round(statistics.fmean(scores), 4) if scores else None,
        "rows": len(scores),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--jobs", type=int, default=None, help="candidate's jobs (default: weam's choice)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs' folders here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from weamcli.experiment.parallel import choose_parallelism, cpu_cores

    cores = cpu_cores()
    chosen = choose_parallelism(args.jobs, None)
    work = Path(tempfile.mkdtemp(prefix="bench-jobs-", dir=args.keep))
    results = []
    try:
        for repeat in range(args.repeats):
            sides = [("reference", 1, cores), ("candidate", args.jobs, None)]
            for name, jobs, threads in sides if repeat % 2 == 0 else sides[::-1]:
                result = _run(args.config.resolve(), jobs, threads, work / f"{name}-{repeat}")
                result["side"] = name
                print(json.dumps(result), flush=True)
                results.append(result)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    ref = statistics.median(r["wall_s"] for r in results if r["side"] == "reference")
    cand = statistics.median(r["wall_s"] for r in results if r["side"] == "candidate")
    print(
        json.dumps(
            {
                "config": str(args.config),
                "cores": cores,
                "reference": f"1 job x {cores} threads",
                "candidate": f"{chosen.jobs} jobs x {chosen.threads} thread(s) ({chosen.reason})",
                "reference_wall_s": ref,
                "candidate_wall_s": cand,
                "ratio_candidate_over_reference": round(cand / ref, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
