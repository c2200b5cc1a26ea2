"""Peak memory (resident set) of each weam command on e5-small, against the model's parameter
bytes; with ``--reference`` the same commands run from another checkout in the same bench run,
interleaved, with the ratios after/before.

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --reference ../weam-old          # before/after, interleaved
    .venv/bin/python bench/memory.py --demo --reference ../weam-old   # also `make demo`'s processes

The commands (one thread each, small real inputs; each checkout's outputs feed its own next
command, in its own working folder):

    align              simalign with e5-small on examples/demo/parallel en-de (300 pairs)
    pretrain           weam, 10 steps of 16 pairs (length 64) on those alignments
    finetune           SIB-200, 64 English training examples, one epoch
    evaluate (first)   SIB-200 de,zh of that fine-tune, with an empty weam cache
    evaluate (cached)  the same again: the cache the first run made (bf16 measurement) is reused
    tatoeba            evaluate --task tatoeba de: e5-small, then the pre-trained model
    compare            those two models' Tatoeba rows

Each checkout gets its own weam cache (``WEAM_HOME``): the built models linked from the user's,
nothing else, so "first use" is first use on both sides. The peak is ``ru_maxrss`` of the
command's process from ``wait4`` (the largest single process where it starts others): what
``/usr/bin/time -v`` reports as "Maximum resident set size". The ratio to the parameter bytes
(e5-small: 118M parameters, 471 MB in fp32) says how many copies of the weights the command
holds at its peak. Wall times are printed too; the commands of the two checkouts take turns
(which goes first alternates), so load from other work falls on both. Run it on an otherwise
idle machine.

``--demo``: `weam experiment examples/demo.toml` (each checkout's own) into a temporary folder,
every process of the run (the main one, its step workers) polled for its peak (VmHWM), and the
largest sum of their resident sets at one time (what the machine must hold).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024


@dataclass
class Measured:
    name: str
    peak_bytes: int
    wall_s: float


@dataclass
class DemoRun:
    wall_s: float
    processes: list[tuple[int, str, int]] = field(default_factory=list)  # pid, what, peak bytes
    total_peak_bytes: int = 0  # the largest sum of the processes' resident sets at one time
    largest_bytes: int = 0  # ru_maxrss of the run: its largest single process


def parameter_bytes(folder: Path) -> tuple[int, int]:
    """(parameters, bytes) of the safetensors weights in ``folder``, read from the file headers."""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "I8": 1, "BOOL": 1}
    count = total = 0
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for key, info in header.items():
            if key == "__metadata__":
                continue
            n = 1
            for d in info["shape"]:
                n *= d
            count += n
            total += n * sizes[info["dtype"]]
    return count, total


def fresh_home(folder: Path, models: Path) -> Path:
    """A weam cache holding only the user's built models (linked)."""
    home = folder / "weam-home"
    (home / "cache").mkdir(parents=True)
    (home / "models").symlink_to(models)
    return home


def _env(tree: Path, home: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "WEAM_HOME": str(home)}
    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        env.setdefault(key, value)
    return env


# Started by the bench, this small interpreter starts the command and reports its rusage, as
# /usr/bin/time does: a process's ru_maxrss counts the resident set of the process that started it
# (Linux records the parent's high-water mark at exec after vfork/fork), so a command started
# straight from a large process (pytest, a bench that imported torch) would report that size.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.monotonic()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    json.dump({"code": code, "maxrss_kib": usage.ru_maxrss, "wall_s": time.monotonic() - started}, fh)
sys.exit(0 if code == 0 else 1)
"""


def launch(cmd: list[str], report: Path, **popen: object) -> subprocess.Popen:
    """Start ``cmd`` under the launcher, which writes its exit code, peak and wall time to ``report``."""
    return subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report), *cmd], **popen)  # type: ignore[arg-type]


def measure(cmd: list[str], *, tree: Path, env: dict[str, str], log: Path) -> tuple[int, float]:
    """Run ``cmd`` in ``tree``: (peak RSS in bytes of its largest process, wall seconds)."""
    report = log.with_name(log.name + ".rusage.json")
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        launch(cmd, report, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT).wait()
    result = json.loads(report.read_text(encoding="utf-8"))
    if result["code"] != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"failed ({result['code']}) in {tree}: {' '.join(cmd)}\n{tail}")
    return result["maxrss_kib"] * KIB, result["wall_s"]


def commands(work: Path, data: Path) -> list[tuple[str, list[str]]]:
    """The bench's commands, as (name, arguments after `python -m weamcli`), for a checkout whose
    outputs go to ``work``."""
    sib = str(data / "sib200" / "data" / "annotated")
    tatoeba = str(data / "tatoeba")
    par = "examples/demo/parallel/en-de"
    one = ["--threads", "1"]
    evaluate = ["evaluate", "--task", "sib200", "-m", str(work / "ft"), "--lang", "de,zh", "--data-dir", sib]
    return [
        ("align", ["align", f"{par}.en", f"{par}.de", "--backend", "simalign", "--model", "e5-small",
                   "-o", str(work / "align-en-de"), *one]),
        ("pretrain", ["pretrain", "--lang", "de", "-a", str(work / "align-en-{lang}"), "-m", "e5-small",
                      "-o", str(work / "pt"), "--max-steps", "10", "--batch-size", "16", "--max-length", "64",
                      "--head-warmup-steps", "5", "--save-steps", "0", *one]),
        ("finetune", ["finetune", "--task", "sib200", "-m", "e5-small", "-o", str(work / "ft"),
                      "--max-train-examples", "64", "--epochs", "1", "--data-dir", sib, *one]),
        ("evaluate (first)", [*evaluate, *one]),
        ("evaluate (cached)", [*evaluate, *one]),
        ("tatoeba e5-small", ["evaluate", "--task", "tatoeba", "-m", "e5-small", "--lang", "de",
                              "--data-dir", tatoeba, "--results", str(work / "tatoeba.jsonl"), *one]),
        ("tatoeba pre-trained", ["evaluate", "--task", "tatoeba", "-m", str(work / "pt"), "--lang", "de",
                                 "--data-dir", tatoeba, "--results", str(work / "tatoeba.jsonl"), *one]),
        ("compare", ["compare", str(work / "tatoeba.jsonl"), "-o", str(work / "compare")]),
    ]  # fmt: skip


def run_commands(trees: dict[str, Path], data: Path, models: Path, folder: Path) -> dict[str, list[Measured]]:
    """Every command of ``commands`` for each tree, the trees taking turns command by command."""
    works = {}
    for label, tree in trees.items():
        work = folder / label
        work.mkdir(parents=True)
        works[label] = (work, _env(tree, fresh_home(work, models)))
    plans = {label: commands(works[label][0], data) for label in trees}
    results: dict[str, list[Measured]] = {label: [] for label in trees}
    labels = list(trees)
    for index in range(len(plans[labels[0]])):
        order = labels if index % 2 == 0 else labels[::-1]
        for label in order:
            name, args = plans[label][index]
            work, env = works[label]
            peak, wall = measure(
                [sys.executable, "-m", "weamcli", *args], tree=trees[label], env=env, log=work / "log.txt"
            )
            results[label].append(Measured(name, peak, wall))
            print(f"  {label:9s} {name:20s} peak {peak / 1e9:5.2f} GB  {wall:6.1f} s", flush=True)
    return results


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _status(pid: int) -> dict[str, int]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return {}
    return {k: int(v) * KIB for k, v in re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", text, re.M)}


def _what(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = fh.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    text = " ".join(w for w in words if w)
    if "multiprocessing" in text or "spawn_main" in text or "forkserver" in text:
        return "worker"
    return re.sub(r"^\S*python\S*\s+", "", text)[:60]


def run_demo(tree: Path, models: Path, folder: Path, interval: float = 0.1) -> DemoRun:
    """`weam experiment` on the checkout's examples/demo.toml into ``folder``, its processes polled."""
    folder.mkdir(parents=True)
    text = (tree / "examples" / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^out\s*=.*$", f'out = "{folder / "out"}"', text, count=1)
    config = folder / "demo.toml"
    config.write_text(text, encoding="utf-8")
    env = _env(tree, fresh_home(folder, models))
    peaks: dict[int, int] = {}
    names: dict[int, str] = {}
    total = [0]
    log = open(folder / "log.txt", "wb")  # noqa: SIM115 (closed below)
    report = folder / "rusage.json"
    cmd = [sys.executable, "-m", "weamcli", "experiment", str(config)]
    launcher = launch(cmd, report, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            rss = 0
            for pid in _descendants(launcher.pid)[1:]:  # the launcher itself is not the run's
                status = _status(pid)
                if not status:
                    continue
                names.setdefault(pid, _what(pid))
                peaks[pid] = max(peaks.get(pid, 0), status.get("VmHWM", 0))
                rss += status.get("VmRSS", 0)
            total[0] = max(total[0], rss)
            done.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    launcher.wait()
    done.set()
    poller.join()
    log.close()
    result = json.loads(report.read_text(encoding="utf-8"))
    if result["code"] != 0:
        tail = (folder / "log.txt").read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"the demo failed in {tree}:\n{tail}")
    wall, usage_kib = result["wall_s"], result["maxrss_kib"]
    run = DemoRun(wall, total_peak_bytes=total[0], largest_bytes=usage_kib * KIB)
    run.processes = sorted(((pid, names[pid], peak) for pid, peak in peaks.items()), key=lambda p: -p[2])
    return run


def _ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}" if b else "  n/a"


def print_commands(results: dict[str, list[Measured]], param_bytes: int) -> None:
    labels = list(results)
    head = f"{'command':20s}" + "".join(f" | {lb:>9s} GB  ×params   wall s" for lb in labels)
    if len(labels) == 2:
        head += " | peak after/before  wall after/before"
    print(head)
    for index, first in enumerate(results[labels[0]]):
        line = f"{first.name:20s}"
        for label in labels:
            m = results[label][index]
            line += f" | {m.peak_bytes / 1e9:12.2f} {m.peak_bytes / param_bytes:8.2f} {m.wall_s:8.1f}"
        if len(labels) == 2:
            a, b = results[labels[0]][index], results[labels[1]][index]
            line += f" | {_ratio(a.peak_bytes, b.peak_bytes):>17s} {_ratio(a.wall_s, b.wall_s):>18s}"
        print(line)


def print_demo(runs: dict[str, DemoRun], param_bytes: int) -> None:
    for label, run in runs.items():
        print(
            f"demo {label}: {run.wall_s:.0f} s; largest process {run.largest_bytes / 1e9:.2f} GB "
            f"({run.largest_bytes / param_bytes:.2f}× params); all processes at once at most "
            f"{run.total_peak_bytes / 1e9:.2f} GB"
        )
        for pid, what, peak in run.processes:
            print(f"    pid {pid:>7d} {what:60s} peak {peak / 1e9:5.2f} GB")
    if len(runs) == 2:
        a, b = runs.values()
        print(
            f"demo after/before: largest process {_ratio(a.largest_bytes, b.largest_bytes).strip()}, "
            f"all at once {_ratio(a.total_peak_bytes, b.total_peak_bytes).strip()}, "
            f"wall {_ratio(a.wall_s, b.wall_s).strip()}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, help="Another checkout of weam, run the same way (before).")
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data", help="Real data folder."
    )
    parser.add_argument("--demo", action="store_true", help="Also `weam experiment examples/demo.toml`.")
    parser.add_argument("--no-commands", action="store_true", help="Only the demo (with --demo).")
    parser.add_argument("--repeats", type=int, default=1, help="Runs of every command (median shown).")
    parser.add_argument("--json", type=Path, help="Also write the measurements here.")
    args = parser.parse_args(argv)
    if not (args.data / "sib200").is_dir() or not (args.data / "tatoeba").is_dir():
        sys.exit(f"error: no SIB-200/Tatoeba data in {args.data} (pass --data)")
    sys.path.insert(0, str(ROOT))
    from weamcli.common.models import ensure_built, weam_home

    folder = ensure_built("e5-small", progress=print)
    params, param_bytes = parameter_bytes(folder)
    print(f"e5-small: {params / 1e6:.1f}M parameters, {param_bytes / 1e9:.3f} GB of weights")
    trees = {"this": ROOT}
    if args.reference is not None:
        trees["reference"] = args.reference.resolve()
        if not (trees["reference"] / "weamcli").is_dir():
            sys.exit(f"error: {trees['reference']} is not a weam checkout (no weamcli/)")
    models = weam_home() / "models"
    report: dict = {"param_bytes": param_bytes, "params": params}
    with tempfile.TemporaryDirectory(prefix="weam-memory-") as tmp:
        if not args.no_commands:
            repeats = [
                run_commands(trees, args.data, models, Path(tmp) / f"r{r}") for r in range(args.repeats)
            ]
            results = {
                label: [
                    Measured(
                        m.name,
                        int(statistics.median(rep[label][i].peak_bytes for rep in repeats)),
                        statistics.median(rep[label][i].wall_s for rep in repeats),
                    )
                    for i, m in enumerate(repeats[0][label])
                ]
                for label in trees
            }
            print()
            print_commands(results, param_bytes)
            report["commands"] = {lb: [vars(m) for m in ms] for lb, ms in results.items()}
        if args.demo:
            runs = {}
            for label, tree in trees.items():
                print(f"demo ({label}) ...", flush=True)
                runs[label] = run_demo(tree, models, Path(tmp) / f"demo-{label}")
            print()
            print_demo(runs, param_bytes)
            report["demo"] = {lb: vars(run) for lb, run in runs.items()}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
