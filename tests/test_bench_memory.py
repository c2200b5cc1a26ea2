"""bench/memory.py's measuring parts on small real inputs: the parameter bytes from the weights
file's header, a command's peak resident set (its largest process included), and the process tree
the demo is polled through."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "memory.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_memory", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_memory"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_parameter_bytes_are_the_loaded_models(bench, tiny_ref):
    from transformers import AutoModelForMaskedLM

    from weamcli.common.models import load_model, parameter_count

    model = load_model(tiny_ref, AutoModelForMaskedLM)  # tiny is a masked-LM save (tied head)
    assert bench.parameter_bytes(Path(tiny_ref.path)) == (parameter_count(model), 4 * parameter_count(model))


def test_the_peak_is_the_largest_process_of_the_command(bench, tmp_path):
    """A command holding 60 MB whose child holds 200 MB peaks at the child's 200 MB (and more: the
    interpreter), as `/usr/bin/time -v` reports it."""
    child = "b = bytearray(200_000_000); b[::4096] = b'x' * len(b[::4096])"
    parent = textwrap.dedent(f"""
        import subprocess, sys
        a = bytearray(60_000_000); a[::4096] = b'x' * len(a[::4096])
        subprocess.run([sys.executable, "-c", {child!r}], check=True)
    """)
    peak, wall = bench.measure([sys.executable, "-c", parent], tree=tmp_path, env={}, log=tmp_path / "log")
    assert 200_000_000 < peak < 400_000_000 and wall > 0
    assert "$ " in (tmp_path / "log").read_text()


def test_a_failing_command_stops_the_bench_with_its_output(bench, tmp_path):
    with pytest.raises(SystemExit, match="boom"):
        bench.measure(
            [sys.executable, "-c", "raise SystemExit('boom')"], tree=tmp_path, env={}, log=tmp_path / "l"
        )


def test_the_demo_poll_sees_every_process_of_the_tree(bench):
    import time

    inner = "import time; time.sleep(60)"
    middle = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {inner!r}])"
    outer = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {middle!r}])"
    proc = subprocess.Popen([sys.executable, "-c", outer])
    tree = [proc.pid]
    try:
        deadline = time.monotonic() + 30
        while len(tree) < 3 and time.monotonic() < deadline:  # until the grandchild has started
            time.sleep(0.05)
            tree = bench._descendants(proc.pid)
        assert len(tree) == 3 and tree[0] == proc.pid
        assert all(bench._status(pid).get("VmHWM", 0) > 0 for pid in tree)
    finally:
        for pid in reversed(tree):
            subprocess.run(["kill", str(pid)], check=False)
        proc.wait()


def test_every_command_is_one_weam_knows(bench, tmp_path):
    from typer.main import get_command

    from weamcli.cli import app

    known = set(get_command(app).commands)
    plan = bench.commands(tmp_path / "work", tmp_path / "data")
    assert [name for name, _ in plan][:3] == ["align", "pretrain", "finetune"]
    assert {args[0] for _, args in plan} <= known
    assert all(args[args.index("--threads") + 1] == "1" for _, args in plan if "--threads" in args)
