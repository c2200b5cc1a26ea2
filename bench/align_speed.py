"""`weam align` against eflomal's own command line on the same tokenised Multi30k en–de train set.

Both tools run as child processes on identical input (pre-tokenised once by weam, then
``--pretokenized`` for weam) with the same eflomal settings (model 3, 3 samplers, length 1.0,
null prior 0.2, given explicitly to both). Each child's wall time and peak memory (max RSS of it and
its own children, from os.wait4) are measured.

The machine may be shared and loaded, so one pair of runs proves little: runs are interleaved in
ABBA order (eflomal, weam, weam, eflomal, eflomal, weam, …) so that slow drifts in load hit both
tools alike, each tool runs ``--repeats`` times (≥ 3), and the report gives the minimum (the run
least disturbed by other work: the best estimate of the tool's own cost) and the median of each,
the ratios of minima and of medians, and the load average at start and end. Goal: weam ≤ 1.1×
eflomal's wall time.

    .venv/bin/python bench/align_speed.py [--data ../shared/data] [--repeats 3] [--limit N] [--json F]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD_FLAG = "--child"  # internal: run one tool in this process and record its own rusage

# eflomal's defaults, spelled out so both commands provably use the same settings
EFLOMAL_MODEL, EFLOMAL_SAMPLERS, EFLOMAL_LENGTH, EFLOMAL_NULL_PRIOR = 3, 3, 1.0, 0.2


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the tool and its descendants
    python_cpu: float  # of the tool's own (Python) process: the serial work around eflomal's binary
    rss: float  # peak resident set, MiB


def run_child(argv: list[str]) -> None:
    """``--child RUSAGE_FILE module:NAME|path:FILE ARGS…``: run a Python tool in this process (as
    ``python -m NAME`` or ``python FILE`` would), then record its own CPU time apart from its
    children's (eflomal's binary), so the serial Python work of each tool can be compared even
    when the machine is too loaded for wall times to mean much."""
    import resource
    import runpy

    out, target, *args = argv
    kind, _, name = target.partition(":")
    sys.argv = [name, *args]
    code: int | str | None = 0
    try:
        if kind == "module":
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(name, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    finally:
        own = resource.getrusage(resource.RUSAGE_SELF)
        Path(out).write_text(json.dumps({"python_cpu": own.ru_utime + own.ru_stime}), encoding="utf-8")
    sys.exit(code)


def measure_child(cmd: list[str], env: dict[str, str]) -> Run:
    """Wall and CPU seconds and peak RSS of one tool and its descendants, via os.wait4 on it."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile(suffix=".json") as own:
        wrapped = [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, own.name, *cmd]
        proc = subprocess.Popen(wrapped, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n" + "\n".join(tail))
        python_cpu = json.loads(Path(own.name).read_text(encoding="utf-8"))["python_cpu"]
    # ru_maxrss is in KiB on Linux
    return Run(wall, usage.ru_utime + usage.ru_stime, python_cpu, usage.ru_maxrss / 1024)


def abba_order(tools: list[str], repeats: int) -> list[str]:
    """A B B A A B …: the tools forwards, then backwards, ``repeats`` times each."""
    order: list[str] = []
    for r in range(repeats):
        order.extend(tools if r % 2 == 0 else reversed(tools))
    return order


def summarise(runs: list[Run]) -> dict[str, object]:
    walls, cpus, own = [r.wall for r in runs], [r.cpu for r in runs], [r.python_cpu for r in runs]
    return {
        "min_s": round(min(walls), 2),
        "median_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "cpu_min_s": round(min(cpus), 2),
        "cpu_median_s": round(statistics.median(cpus), 2),
        "python_cpu_median_s": round(statistics.median(own), 2),
        "peak_rss_mib": round(max(r.rss for r in runs)),
    }


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from weamcli.common.corpus import Pretokenizer, read_pairs
    from weamcli.common.languages import language

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool (at least 3)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--weam-root", type=Path, default=ROOT, help="run weamcli from this tree")
    parser.add_argument(
        "--before-root",
        type=Path,
        default=None,
        help="also run weamcli from this tree (an older copy) in the same interleaving, as 'weam-before'",
    )
    args = parser.parse_args()
    if args.repeats < 3 and args.limit is None:
        raise SystemExit("--repeats must be at least 3 for a full run (min and median need them)")
    raw = args.data / "multi30k/data/task1/raw"
    if not raw.is_dir():
        raise SystemExit(f"{raw} is absent: this benchmark needs the real Multi30k data")
    eflomal_cli = Path(sys.executable).parent / "eflomal-align"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # `python -m weamcli` imports the tree named by PYTHONPATH
    envs = {"eflomal": env, "weam": {**env, "PYTHONPATH": str(args.weam_root.resolve())}}
    if args.before_root is not None:
        envs["weam-before"] = {**env, "PYTHONPATH": str(args.before_root.resolve())}
    load_start = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="weam-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # one tokenisation shared by both tools
        pretok = Pretokenizer(language("en"), language("de"))
        src_tok, tgt_tok = tmp / "train.tok.en", tmp / "train.tok.de"
        pairs = 0
        with open(src_tok, "w", encoding="utf-8") as fs, open(tgt_tok, "w", encoding="utf-8") as ft:
            for pair in read_pairs(raw / "train.en.gz", raw / "train.de.gz"):
                if args.limit is not None and pairs >= args.limit:
                    break
                src, tgt = pretok.pair(pair, raw / "train.en.gz", raw / "train.de.gz")
                fs.write(" ".join(src.tokens) + "\n")
                ft.write(" ".join(tgt.tokens) + "\n")
                pairs += 1
        with gzip.open(raw / "train.en.gz", "rt", encoding="utf-8") as fh:
            assert args.limit is not None or sum(1 for _ in fh) == pairs

        commands = {
            "eflomal": [
                f"path:{eflomal_cli}", "-s", str(src_tok), "-t", str(tgt_tok),
                "-f", str(tmp / "e.fwd"), "-r", str(tmp / "e.rev"), "--overwrite",
                "-m", str(EFLOMAL_MODEL), "--n-samplers", str(EFLOMAL_SAMPLERS),
                "-l", str(EFLOMAL_LENGTH), "--null-prior", str(EFLOMAL_NULL_PRIOR),
            ],
            "weam": [
                "module:weamcli", "align", str(src_tok), str(tgt_tok), "--src-lang", "en",
                "--tgt-lang", "de", "--pretokenized", "-o", str(tmp / "weam-out"), "--overwrite",
                "--eflomal-model", str(EFLOMAL_MODEL), "--eflomal-samplers", str(EFLOMAL_SAMPLERS),
                "--eflomal-length", str(EFLOMAL_LENGTH), "--eflomal-null-prior", str(EFLOMAL_NULL_PRIOR),
            ],
        }  # fmt: skip
        commands["weam-before"] = commands["weam"]
        tools = list(envs)
        runs: dict[str, list[Run]] = {name: [] for name in tools}
        for step, name in enumerate(abba_order(tools, args.repeats), 1):
            run = measure_child(commands[name], envs[name])
            runs[name].append(run)
            print(
                f"run {step:2d} {name:11s} {run.wall:7.1f} s  cpu {run.cpu:7.1f} s "
                f"(python {run.python_cpu:4.1f} s)  "
                f"peak RSS {run.rss:5.0f} MiB  load(1 min) {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
            )
    load_end = os.getloadavg()

    summary = {name: summarise(values) for name, values in runs.items()}
    e = summary["eflomal"]

    def ratios(name: str) -> dict[str, float]:
        s = summary[name]
        return {
            "ratio_of_minima": round(s["min_s"] / e["min_s"], 3),  # type: ignore[operator]
            "ratio_of_medians": round(s["median_s"] / e["median_s"], 3),  # type: ignore[operator]
            "cpu_ratio_of_minima": round(s["cpu_min_s"] / e["cpu_min_s"], 3),  # type: ignore[operator]
            # serial Python work beyond eflomal-align's: wall seconds it adds on an idle machine
            "extra_python_cpu_s": round(
                s["python_cpu_median_s"] - e["python_cpu_median_s"],  # type: ignore[operator]
                2,
            ),
            "rss_ratio": round(s["peak_rss_mib"] / e["peak_rss_mib"], 3),  # type: ignore[operator]
        }

    result = {
        "pairs": pairs,
        "repeats": args.repeats,
        "order": "ABBA… over " + ", ".join(tools),
        "eflomal_settings": {
            "model": EFLOMAL_MODEL,
            "n_samplers": EFLOMAL_SAMPLERS,
            "length": EFLOMAL_LENGTH,
            "null_prior": EFLOMAL_NULL_PRIOR,
        },
        **summary,
        "vs_eflomal": {name: ratios(name) for name in tools if name != "eflomal"},
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "cpus": os.cpu_count(),
        "goal_time_ratio": 1.1,
        "roots": {name: envs[name].get("PYTHONPATH") for name in tools if name != "eflomal"},
    }
    print(f"Multi30k en–de train, {pairs} pairs, {args.repeats} runs per tool (ABBA order)")
    start, end = ("/".join(f"{x:.2f}" for x in load) for load in (load_start, load_end))
    print(f"  load average (1/5/15 min): {start} at start, {end} at end, on {os.cpu_count()} CPUs")
    for name in tools:
        s = summary[name]
        print(f"  {name:11s} wall min {s['min_s']:6.1f} s, median {s['median_s']:6.1f} s; "
              f"cpu min {s['cpu_min_s']:6.1f} s (python median {s['python_cpu_median_s']:4.1f} s); "
              f"peak RSS {s['peak_rss_mib']:4.0f} MiB")  # fmt: skip
    for name, r in result["vs_eflomal"].items():  # type: ignore[attr-defined]
        print(f"  {name}/eflomal: wall {r['ratio_of_minima']:.2f}× (minima), {r['ratio_of_medians']:.2f}× "
              f"(medians); cpu {r['cpu_ratio_of_minima']:.2f}×, +{r['extra_python_cpu_s']:.2f} s serial "
              f"python; memory {r['rss_ratio']:.2f}× (goal ≤ 1.1× wall)")  # fmt: skip
    print(json.dumps(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        run_child(sys.argv[2:])
    else:
        main()
