"""Word alignment speed and quality: weam against eflomal's own CLI and fast_align, side by side.

Speed. Every tool aligns the same pre-tokenised text (tokenised once by weam) as a child process
of this script; wall time, CPU time (of the tool and its children, and of its own Python process
apart from them) and peak memory (max RSS of it and its descendants, from os.wait4) are measured.

- ``eflomal``: the ``eflomal-align`` command line with eflomal's defaults (model 3, 3 samplers,
  length 1.0, null prior 0.2): forward and reverse links only, no symmetrisation (so it is the
  *lower* bound of an eflomal pipeline's time, and the reference of every ratio);
- ``weam``: weam's align core (``align_corpus``, what ``weam align --pretokenized`` runs) with
  the same eflomal settings: both directions, grow-diag-final-and, every output file;
- ``weam-fast``: the same with ``fast=True`` (weam's lighter eflomal schedule);
- ``fast_align``: systran-align 3.5 (fast_align in C++ with OpenMP; only when installed, it is not
  a weam dependency): both directions trained with fast_align's recommended ``-d -o -v``
  (diagonal favoured, tension optimised, variational Bayes), then aligned and symmetrised in C++.

Inputs (``--inputs``): ``multi30k``, the 29,000 Multi30k en–de training pairs (short captions,
about 13 words); ``wmt10k``, a WMT-sized en–de set made from the shared data: the 1,997 NTREX-128
newstest2019 pairs (news, about 25 words) followed by the first 8,003 gettext de pairs (software
messages, about 7 words): 10,000 pairs.

The machine may be shared and loaded, so one pair of runs proves little: runs are interleaved in
ABBA order (A B C D, D C B A, …) so slow drifts in load hit every tool alike, each tool runs
``--repeats`` times (≥ 3), and the tables give the minimum (the run least disturbed by other work)
and the median, the ratios of both to eflomal's, and the load average at start and end.

Quality (``--aer-repeats`` runs per tool, 0 to skip). AER (Och & Ney) against the three gold sets
(zh–en Tsinghua 450 pairs, ja–en KFTT 582, de–en Europarl 100), each aligned together with the
gettext pairs of its language as extra training text (zh_CN 16k, ja 13k, de 19k). Every tool sees
the identical training text: weam's pipeline writes eflomal's numeric input, and for the other
tools that input is handed over as text (ids as words; eflomal's own indexing gives the same
ids back); the links of every tool then go through weam's symmetrisation (fast_align's come
symmetrised already), projection onto the gold's words and scoring. eflomal samples at random
(it cannot be seeded), so each AER is a mean ± standard deviation over the runs.

    .venv/bin/python bench/align_speed.py [--data ../shared/data] [--inputs multi30k,wmt10k]
        [--tools eflomal,weam,weam-fast,fast_align] [--repeats 3] [--aer-repeats 3] [--limit N]
        [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHILD_FLAG = "--child"  # internal: run one tool in this process and record its own rusage
TOOLS = ("eflomal", "weam", "weam-fast", "fast_align")
INPUTS = ("multi30k", "wmt10k")
GOLD_SETS = ("zh-en", "ja-en", "de-en")

# eflomal's defaults, spelled out so every command provably uses the same settings
EFLOMAL_MODEL, EFLOMAL_SAMPLERS, EFLOMAL_LENGTH, EFLOMAL_NULL_PRIOR = 3, 3, 1.0, 0.2
WEAM_OPTIONS = {
    "eflomal_model": EFLOMAL_MODEL,
    "n_samplers": EFLOMAL_SAMPLERS,
    "eflomal_length": EFLOMAL_LENGTH,
    "null_prior": EFLOMAL_NULL_PRIOR,
}
# fast_align's recommended settings (its README: -d -o -v)
FAST_ALIGN_OPTIONS = {"favor_diagonal": True, "optimize_tension": True, "variational_bayes": True}
EMPTY_UNIT = "<empty>"  # fast_align rejects an empty side: such a pair is trained as one dummy unit


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the tool and its descendants
    python_cpu: float  # of the tool's own (Python) process: the serial work around any binary
    rss: float  # peak resident set, MiB


# --------------------------------------------------------------------------- children


def _core_child(spec: dict[str, Any]) -> None:
    """weam's align core on pre-tokenised files (what `weam align --pretokenized` runs)."""
    sys.path.insert(0, spec.pop("root"))
    from weamcli.align.run import align_corpus

    align_corpus(
        spec.pop("source"), spec.pop("target"), spec.pop("out"), pretokenized=True, overwrite=True, **spec
    )


def _fast_align_child(spec: dict[str, Any]) -> None:
    """fast_align end to end: joint training file, both directions, align + symmetrise, Pharaoh out."""
    with open(spec["source"], encoding="utf-8") as fs, open(spec["target"], encoding="utf-8") as ft:
        src = [line.split() for line in fs]
        tgt = [line.split() for line in ft]
    links = fast_align_links(src, tgt, Path(spec["work"]))
    with open(spec["out"], "w", encoding="utf-8") as fh:
        fh.writelines(" ".join(f"{i}-{j}" for i, j in sorted(pair)) + "\n" for pair in links)


def fast_align_links(src: list[list[str]], tgt: list[list[str]], work: Path) -> list[set[tuple[int, int]]]:
    """Symmetrised fast_align links of each pair (empty for a pair with an empty side)."""
    import systran_align

    joint, fwd, rev = work / "fa.joint", work / "fa.fwd", work / "fa.rev"
    with open(joint, "w", encoding="utf-8") as fh:
        for s, t in zip(src, tgt, strict=True):
            fh.write(f"{' '.join(s or [EMPTY_UNIT])} ||| {' '.join(t or [EMPTY_UNIT])}\n")
    systran_align.generate_alignment_probabilities(str(joint), str(fwd), str(rev), **FAST_ALIGN_OPTIONS)
    aligner = systran_align.Aligner(str(fwd), str(rev))
    found = aligner.align_batch([s or [EMPTY_UNIT] for s in src], [t or [EMPTY_UNIT] for t in tgt])
    return [
        {(int(i), int(j)) for i, j in result["alignments"]} if s and t else set()
        for s, t, result in zip(src, tgt, found, strict=True)
    ]


def run_child(argv: list[str]) -> None:
    """``--child RUSAGE_FILE KIND:WHAT ARGS…``: run one tool in this process (``path:FILE`` as
    ``python FILE`` would, ``core:JSON`` weam's align core, ``fast_align:JSON``), then record this
    process's own CPU time apart from its children's (eflomal's binary), so the serial Python work
    of each tool can be compared even when the machine is too loaded for wall times to mean much."""
    import resource
    import runpy

    out, target, *args = argv
    kind, _, what = target.partition(":")
    code: int | str | None = 0
    try:
        if kind == "path":
            sys.argv = [what, *args]
            runpy.run_path(what, run_name="__main__")
        elif kind == "core":
            _core_child(json.loads(what))
        elif kind == "fast_align":
            _fast_align_child(json.loads(what))
        else:
            raise SystemExit(f"unknown child kind {kind!r}")
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
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)[:300]}\n" + "\n".join(tail))
        python_cpu = json.loads(Path(own.name).read_text(encoding="utf-8"))["python_cpu"]
    # ru_maxrss is in KiB on Linux
    return Run(wall, usage.ru_utime + usage.ru_stime, python_cpu, usage.ru_maxrss / 1024)


def abba_order(tools: list[str], repeats: int) -> list[str]:
    """A B C …, … C B A, A B C …: every tool ``repeats`` times, alternating the direction."""
    order: list[str] = []
    for r in range(repeats):
        order.extend(tools if r % 2 == 0 else reversed(tools))
    return order


def summarise(runs: list[Run], pairs: int) -> dict[str, Any]:
    walls, cpus, own = [r.wall for r in runs], [r.cpu for r in runs], [r.python_cpu for r in runs]
    return {
        "min_s": round(min(walls), 2),
        "median_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "sentences_per_s": round(pairs / min(walls)),
        "sentences_per_s_median": round(pairs / statistics.median(walls)),
        "cpu_min_s": round(min(cpus), 2),
        "python_cpu_median_s": round(statistics.median(own), 2),
        "peak_rss_mib": round(max(r.rss for r in runs)),
    }


# --------------------------------------------------------------------------- inputs


def _write_tokenised(pairs: list[tuple[str, str]], tmp: Path, name: str) -> tuple[Path, Path]:
    """weam's pre-tokenisation of en–de pairs, once, into the files every tool reads."""
    from weamcli.common.corpus import Pair, Pretokenizer
    from weamcli.common.languages import language

    pretok = Pretokenizer(language("en"), language("de"), max_tokens=10**6)
    src_tok, tgt_tok = tmp / f"{name}.tok.en", tmp / f"{name}.tok.de"
    with open(src_tok, "w", encoding="utf-8") as fs, open(tgt_tok, "w", encoding="utf-8") as ft:
        for k, (en, de) in enumerate(pairs, 1):
            src, tgt = pretok.pair(Pair(k, en, de), src_tok, tgt_tok)
            fs.write(" ".join(src.tokens) + "\n")
            ft.write(" ".join(tgt.tokens) + "\n")
    return src_tok, tgt_tok


def _lines(path: Path) -> list[str]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\r\n") for line in fh]


def make_input(name: str, data: Path, limit: int | None) -> list[tuple[str, str]]:
    if name == "multi30k":
        raw = data / "multi30k/data/task1/raw"
        en, de = _lines(raw / "train.en.gz"), _lines(raw / "train.de.gz")
        assert len(en) == len(de) == 29000, "Multi30k train should have 29,000 pairs"
        pairs = list(zip(en, de, strict=True))
    elif name == "wmt10k":
        ntrex = data / "ntrex128/NTREX-128"
        en, de = _lines(ntrex / "newstest2019-src.eng.txt"), _lines(ntrex / "newstest2019-ref.deu.txt")
        pairs = list(zip(en, de, strict=True))
        for line in _lines(data / "gettext/de.tsv"):
            if len(pairs) == 10000:
                break
            english, _, german = line.partition("\t")
            pairs.append((english, german))
    else:
        raise SystemExit(f"unknown input {name!r} (choose from {', '.join(INPUTS)})")
    return pairs[:limit] if limit else pairs


def speed_commands(tools: list[str], src: Path, tgt: Path, tmp: Path, root: Path) -> dict[str, list[str]]:
    eflomal_cli = Path(sys.executable).parent / "eflomal-align"
    core = {"root": str(root), "source": str(src), "target": str(tgt), "source_lang": "en"}
    core["target_lang"] = "de"
    commands = {
        "eflomal": [
            f"path:{eflomal_cli}", "-s", str(src), "-t", str(tgt),
            "-f", str(tmp / "e.fwd"), "-r", str(tmp / "e.rev"), "--overwrite",
            "-m", str(EFLOMAL_MODEL), "--n-samplers", str(EFLOMAL_SAMPLERS),
            "-l", str(EFLOMAL_LENGTH), "--null-prior", str(EFLOMAL_NULL_PRIOR),
        ],
        "weam": ["core:" + json.dumps({**core, "out": str(tmp / "weam-out"), **WEAM_OPTIONS})],
        "weam-fast": ["core:" + json.dumps({**core, "out": str(tmp / "weam-fast-out"), "fast": True})],
        "fast_align": [
            "fast_align:" + json.dumps({
                "source": str(src), "target": str(tgt), "work": str(tmp), "out": str(tmp / "fa.links"),
            })
        ],
    }  # fmt: skip
    return {name: commands[name] for name in tools}


# --------------------------------------------------------------------------- quality


def _numeric_to_text(path: Path, out: Path) -> None:
    """eflomal's numeric input file back to text lines, the ids as words (``0`` = empty line)."""
    with open(path, encoding="ascii") as fh, open(out, "w", encoding="utf-8") as fo:
        fh.readline()  # header
        for line in fh:
            fo.write(line.split(" ", 1)[1] if " " in line else "\n")


def _cli_binary(inputs: Any, forward: Path, reverse: Path, **_options: Any) -> tuple[int, int, int]:
    """In place of weam's binary run: the eflomal-align command line on the same input."""
    src, tgt = forward.parent / "cli.src", forward.parent / "cli.tgt"
    _numeric_to_text(inputs.paths[0], src)
    _numeric_to_text(inputs.paths[1], tgt)
    cli = Path(sys.executable).parent / "eflomal-align"
    cmd = [sys.executable, str(cli), "-s", str(src), "-t", str(tgt), "-f", str(forward), "-r", str(reverse)]
    subprocess.run([*cmd, "--overwrite"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (0, 0, 0)


def _fast_align_binary(inputs: Any, forward: Path, reverse: Path, **_options: Any) -> tuple[int, int, int]:
    """In place of weam's binary run: fast_align's symmetrised links as both directions (weam's
    symmetrisation of two equal link sets is the set itself)."""
    sides = []
    for path in inputs.paths:
        text = forward.parent / (path.name + ".txt")
        _numeric_to_text(path, text)
        sides.append([line.split() for line in text.read_text(encoding="utf-8").splitlines()])
    links = fast_align_links(sides[0], sides[1], forward.parent)
    for path in (forward, reverse):
        path.write_text("".join(" ".join(f"{i}-{j}" for i, j in sorted(p)) + "\n" for p in links), "utf-8")
    return (0, 0, 0)


def gold_sets(data: Path, tmp: Path) -> dict[str, dict[str, Any]]:
    """align_corpus arguments of each gold set: its sentences, gold links and extra text."""
    gold, gettext = data / "gold-alignments", data / "gettext"
    sets: dict[str, dict[str, Any]] = {}
    for name, stem, locale in (("zh-en", "zhen", "zh_CN"), ("ja-en", "jaen", "ja")):
        lines = _lines(gold / f"{stem}.src-tgt")
        src, tgt = tmp / f"{stem}.src", tmp / f"{stem}.tgt"
        src.write_text("".join(line.split(" ||| ")[0] + "\n" for line in lines), "utf-8")
        tgt.write_text("".join(line.split(" ||| ")[1] + "\n" for line in lines), "utf-8")
        sets[name] = {"source": src, "target": tgt, "source_lang": name[:2], "gold": gold / f"{stem}.gold"}
        sets[name]["extra"] = gettext / f"{locale}.tsv"
    bicici = gold / "deen-bicici"
    sets["de-en"] = {
        "source": bicici / "test.de",
        "target": bicici / "test.en",
        "source_lang": "de",
        "gold": bicici / "de-en.wa",
        "gold_drop_invalid": True,  # one gold link points past its sentence
        "extra": gettext / "de.tsv",
    }
    for spec in sets.values():  # gettext rows are english<TAB>translation: the translation is source
        rows = [line.partition("\t") for line in _lines(spec.pop("extra"))]
        extra = tmp / f"extra.{spec['source_lang']}"
        extra.write_text(
            "".join(f"{r[2]} ||| {r[0]}\n" for r in rows if r[0].strip() and r[2].strip()), "utf-8"
        )
        spec.update(target_lang="en", extra_source=extra, max_tokens=1000)
    return sets


def aer_runs(tools: list[str], repeats: int, data: Path, tmp: Path) -> dict[str, dict[str, list[float]]]:
    """AER (%) of each tool on each gold set, ``repeats`` runs each, tools interleaved."""
    import weamcli.align.run as alignment

    engine = alignment.run_binary
    swaps: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "eflomal": (_cli_binary, {}),
        "weam": (engine, WEAM_OPTIONS),
        "weam-fast": (engine, {"fast": True}),
        "fast_align": (_fast_align_binary, {}),
    }
    sets = gold_sets(data, tmp)
    scores: dict[str, dict[str, list[float]]] = {tool: {name: [] for name in sets} for tool in tools}
    for name, spec in sets.items():
        for tool in abba_order(tools, repeats):
            binary, options = swaps[tool]
            alignment.run_binary = binary
            try:
                with tempfile.TemporaryDirectory(dir=tmp) as out:
                    result = alignment.align_corpus(out_dir=Path(out) / "a", **spec, **options)
            finally:
                alignment.run_binary = engine
            assert result.scores is not None
            scores[tool][name].append(100 * result.scores.aer)
            print(f"AER {name} {tool:10s} {scores[tool][name][-1]:5.2f}", file=sys.stderr, flush=True)
    return scores


# --------------------------------------------------------------------------- report


def _fmt_ratio(value: float) -> str:
    return f"{value:.2f}×"


def print_speed(name: str, pairs: int, summary: dict[str, dict[str, Any]], ref: str) -> None:
    print(
        f"\n{name}: {pairs:,} en–de pairs; wall seconds, sentences/s (pairs / min wall), ratio of eflomal's"
    )
    print("wall to the tool's (> 1: faster than eflomal) by minima and by medians")
    head = f"  {'tool':11s} {'min s':>7s} {'median s':>8s} {'sent/s':>7s} {'cpu s':>7s} {'python s':>8s}"
    print(head + f" {'peak MiB':>8s} {'speed-up min':>12s} {'median':>7s}")
    e = summary[ref]
    for tool, s in summary.items():
        print(
            f"  {tool:11s} {s['min_s']:7.2f} {s['median_s']:8.2f} {s['sentences_per_s']:7,d} "
            f"{s['cpu_min_s']:7.1f} {s['python_cpu_median_s']:8.2f} {s['peak_rss_mib']:8,d} "
            f"{_fmt_ratio(e['min_s'] / s['min_s']):>12s} {_fmt_ratio(e['median_s'] / s['median_s']):>7s}"
        )


def print_aer(scores: dict[str, dict[str, list[float]]], ref: str) -> dict[str, dict[str, float]]:
    print("\nAER (%) on the gold sets, mean ± sd over runs; Δ = mean − eflomal's mean")
    print("(goal for weam: |Δ| ≤ 0.5 points)")
    sets = list(next(iter(scores.values())))
    print(f"  {'tool':11s} " + " ".join(f"{name:>19s}" for name in sets) + f" {'mean':>7s}")
    table: dict[str, dict[str, float]] = {}
    for tool, per_set in scores.items():
        cells, means = [], []
        table[tool] = {}
        for name in sets:
            values = per_set[name]
            mean = statistics.mean(values)
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            delta = mean - statistics.mean(scores[ref][name]) if ref in scores else 0.0
            cells.append(f"{mean:6.2f}±{sd:4.2f} Δ{delta:+5.2f}")
            means.append(mean)
            table[tool][name] = round(mean, 2)
            table[tool][name + "_sd"] = round(sd, 2)
        table[tool]["mean"] = round(statistics.mean(means), 2)
        print(f"  {tool:11s} " + " ".join(f"{c:>19s}" for c in cells) + f" {statistics.mean(means):7.2f}")
    return table


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--inputs", default="multi30k,wmt10k", help=f"comma-separated: {', '.join(INPUTS)}")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated: {', '.join(TOOLS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tool and input (≥ 3)")
    parser.add_argument("--aer-repeats", type=int, default=3, help="AER runs per tool and gold set (0: none)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--weam-root", type=Path, default=ROOT, help="run weamcli from this tree")
    args = parser.parse_args()
    sys.path.insert(0, str(args.weam_root.resolve()))
    if args.repeats < 3 and args.limit is None:
        raise SystemExit("--repeats must be at least 3 for a full run (min and median need them)")
    if not (args.data / "multi30k").is_dir():
        raise SystemExit(f"{args.data} has no multi30k/: this benchmark needs the real shared data")
    tools = [t for t in args.tools.split(",") if t]
    if "fast_align" in tools:
        try:
            import systran_align  # noqa: F401
        except ImportError:
            print("systran-align is not installed: fast_align skipped (pip install systran-align)")
            tools.remove("fast_align")
    if "eflomal" not in tools:
        raise SystemExit("the eflomal CLI is the reference: keep it in --tools")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result: dict[str, Any] = {"tools": tools, "repeats": args.repeats, "cpus": os.cpu_count(), "inputs": {}}
    result["settings"] = {"eflomal": WEAM_OPTIONS, "fast_align": FAST_ALIGN_OPTIONS}
    from weamcli.align.backend_options import FAST_EFLOMAL

    result["settings"]["weam-fast"] = FAST_EFLOMAL
    print(f"tools: {', '.join(tools)}; eflomal settings {WEAM_OPTIONS}; weam-fast {FAST_EFLOMAL}")
    print(f"fast_align (systran-align) settings {FAST_ALIGN_OPTIONS}; {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="weam-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for name in [n for n in args.inputs.split(",") if n]:
            pairs = make_input(name, args.data, args.limit)
            src, tgt = _write_tokenised(pairs, tmp, name)
            commands = speed_commands(tools, src, tgt, tmp, args.weam_root.resolve())
            load_start = os.getloadavg()
            runs: dict[str, list[Run]] = {tool: [] for tool in tools}
            for step, tool in enumerate(abba_order(tools, args.repeats), 1):
                run = measure_child(commands[tool], env)
                runs[tool].append(run)
                print(
                    f"{name} run {step:2d} {tool:10s} {run.wall:7.2f} s  cpu {run.cpu:6.1f} s "
                    f"(python {run.python_cpu:5.2f} s)  peak RSS {run.rss:5.0f} MiB  "
                    f"load(1 min) {os.getloadavg()[0]:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
            summary = {tool: summarise(values, len(pairs)) for tool, values in runs.items()}
            load = [round(x, 2) for x in load_start], [round(x, 2) for x in os.getloadavg()]
            print_speed(name, len(pairs), summary, "eflomal")
            print(f"  load average (1/5/15 min): {load[0]} at start, {load[1]} at end")
            result["inputs"][name] = {"pairs": len(pairs), "load_average": load, **summary}
        if args.aer_repeats > 0:
            scores = aer_runs(tools, args.aer_repeats, args.data, tmp)
            result["aer"] = print_aer(scores, "eflomal")
            result["aer_runs"] = {
                t: {k: [round(v, 2) for v in vs] for k, vs in s.items()} for t, s in scores.items()
            }
    print(json.dumps(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        run_child(sys.argv[2:])
    else:
        main()
