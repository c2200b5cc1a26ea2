import subprocess
import sys

from typer.testing import CliRunner

from weamcli.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("align", "pretrain", "finetune", "evaluate", "compare"):
        assert name in result.output


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "weamcli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "WEAM" in out.stdout
