"""`weam align` against eflomal's own command line on the same tokenised Multi30k en–de train set.

Both run as child processes on identical input (pre-tokenised once by weam, then
``--pretokenized`` for weam); each child's wall time and peak memory (max RSS of it and its own
children, from os.wait4) are measured. Runs alternate eflomal, weam, eflomal, weam, … and the
medians are compared. Goal: weam ≤ 1.1× eflomal's wall time.

    .venv/bin/python bench/align_speed.py [--data ../shared/data] [--repeats 1] [--limit N]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weamcli.corpus import Pretokenizer, read_pairs  # noqa: E402
from weamcli.languages import language  # noqa: E402


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process (including its own children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="only the first N pairs (smoke test)")
    args = parser.parse_args()
    raw = args.data / "multi30k/data/task1/raw"
    if not raw.is_dir():
        raise SystemExit(f"{raw} is absent: this benchmark needs the real Multi30k data")
    bin_dir = Path(sys.executable).parent
    eflomal_cli = bin_dir / "eflomal-align"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

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

        eflomal_cmd = [
            str(eflomal_cli), "-s", str(src_tok), "-t", str(tgt_tok),
            "-f", str(tmp / "e.fwd"), "-r", str(tmp / "e.rev"), "--overwrite",
        ]  # fmt: skip
        weam_cmd = [
            sys.executable, "-m", "weamcli", "align", str(src_tok), str(tgt_tok), "--src-lang", "en",
            "--tgt-lang", "de", "--pretokenized", "-o", str(tmp / "weam-out"), "--overwrite",
        ]  # fmt: skip
        runs: dict[str, list[tuple[float, float]]] = {"eflomal": [], "weam": []}
        for r in range(args.repeats):
            for name, cmd in (("eflomal", eflomal_cmd), ("weam", weam_cmd)):
                wall, rss = measure(cmd, env)
                runs[name].append((wall, rss))
                print(f"run {r + 1} {name:8s} {wall:7.1f} s  peak RSS {rss:7.0f} MiB", file=sys.stderr)

    e_wall = statistics.median(w for w, _ in runs["eflomal"])
    w_wall = statistics.median(w for w, _ in runs["weam"])
    e_rss = max(m for _, m in runs["eflomal"])
    w_rss = max(m for _, m in runs["weam"])
    result = {
        "pairs": pairs,
        "repeats": args.repeats,
        "eflomal_seconds": round(e_wall, 2),
        "weam_seconds": round(w_wall, 2),
        "time_ratio": round(w_wall / e_wall, 3),
        "eflomal_peak_rss_mib": round(e_rss),
        "weam_peak_rss_mib": round(w_rss),
        "rss_ratio": round(w_rss / e_rss, 3),
        "goal_time_ratio": 1.1,
    }
    print(f"Multi30k en–de train, {pairs} pairs, median of {args.repeats}")
    print(f"  eflomal-align  {e_wall:7.1f} s   peak {e_rss:6.0f} MiB")
    print(f"  weam align     {w_wall:7.1f} s   peak {w_rss:6.0f} MiB")
    ratios = f"time {w_wall / e_wall:.2f}×, memory {w_rss / e_rss:.2f}×"
    print(f"  ratio weam/eflomal: {ratios} (goal ≤ 1.1× time)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
