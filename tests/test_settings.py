"""One definition per option: the CLI, the core and the experiment TOML read the same settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from weamcli.align.settings import AlignSettings
from weamcli.cli import app
from weamcli.common.errors import WeamError
from weamcli.common.settings import SettingError, TomlSource
from weamcli.compare.settings import CompareSettings
from weamcli.evaluate.settings import EvaluateSettings
from weamcli.experiment.config import load_config
from weamcli.experiment.plan import plan_experiment
from weamcli.finetune.settings import FinetuneSettings
from weamcli.pretrain.schedule import plan_steps
from weamcli.pretrain.settings import PretrainSettings

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "align": AlignSettings,
    "pretrain": PretrainSettings,
    "finetune": FinetuneSettings,
    "evaluate": EvaluateSettings,
    "compare": CompareSettings,
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_a_cli_parameter_with_the_same_default(name):
    command = get_command(app).commands[name]
    params = {p.name: p for p in command.params}
    for opt in COMMANDS[name].options():
        assert opt.name in params, f"{name}: {opt.flag} is not on the command line"
        param = params[opt.name]
        if opt.required:
            assert param.required, opt.name
        elif opt.is_list and not opt.spec.argument and opt.default is not None:
            assert param.default == ",".join(map(str, opt.default)), opt.name
        else:
            assert param.default == opt.default, opt.name
        if not opt.spec.argument:
            assert opt.flag in param.opts, (opt.flag, param.opts)


def test_the_same_check_speaks_for_the_cli_and_the_toml(tmp_path):
    with pytest.raises(SettingError) as cli:
        PretrainSettings(langs=["de"], out="o", alignments="a", mask_prob=1.5)
    assert str(cli.value) == "--mask-prob must be between 0 and 1 (both excluded), got 1.5"
    text = "[pretrain]\nmask_prob = 1.5\nbatch_size = 8\n"
    source = TomlSource(tmp_path / "x.toml", text)
    with pytest.raises(WeamError) as toml:
        PretrainSettings.from_table(
            {"mask_prob": 1.5}, source=source, fixed={"langs": ["de"], "out": "o", "alignments": "a"}
        )
    assert str(toml.value) == f"{tmp_path / 'x.toml'}:2: [pretrain] mask_prob {cli.value.problem}"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"max_steps": "five"}, "max_steps must be an integer, got 'five'"),
        ({"max_steps": -3}, "max_steps must be at least 1, got -3"),
        ({"epochs": 0}, "epochs must be above 0, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer, got 2.5"),
        ({"cp_unaligned": "yes"}, "cp_unaligned must be true or false, got 'yes'"),
        ({"swap": "one-2-one"}, "did you mean 'one-to-one'?"),
    ],
)
def test_wrong_types_and_ranges_are_one_line_errors(tmp_path, value, problem):
    with pytest.raises(WeamError) as err:
        PretrainSettings.from_table(value, fixed={"langs": ["de"], "out": "o", "alignments": "a"})
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_cli_list_values_are_checked_too():
    with pytest.raises(SettingError, match="--seeds must be integers separated by commas, got '1,x'"):
        FinetuneSettings(task="sib200", model="tiny", out="o", seeds="1,x")
    with pytest.raises(SettingError, match="--lang names 'de' twice"):
        PretrainSettings(langs="de,de", out="o", alignments="a")
    assert PretrainSettings(langs="de, zh", out="o", alignments="a").langs == ["de", "zh"]


def _demo_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "examples" / "demo.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "demo.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "mask_prob = 0.3",
            "mask_prb = 0.3",
            "mask_prb",
            "[pretrain] unknown key 'mask_prb'; did you mean 'mask_prob'?",
        ),
        ("head_lr = 1e-3", "head_lr = -1.0", "head_lr", "[finetune] head_lr must be above 0, got -1"),
        ("max_steps = 200", 'max_steps = "five"', "max_steps", "[pretrain] max_steps must be an integer"),
        ("batch_size = 64", "batch_size = 0", "batch_size = 0", "[evaluate] batch_size must be at least 1"),
        ("[compare]", "[comapre]", "[comapre]", "unknown section [comapre]; did you mean [compare]?"),
        ("seed = 42", 'langs = ["de"]', 'langs = ["de"]', "[pretrain] 'langs' is set by the experiment grid"),
        (
            "seed = 42",
            'lang = ["de"]',
            'lang = ["de"]',
            "'langs' is set by the experiment grid: [pretrain] lang_sets",
        ),
        (
            "max_length = 64\nmax_train",
            'train = "x.tsv"\nmax_train',
            'train = "x.tsv"',
            "[finetune] 'train' belongs in [task]",
        ),
        (
            'code_style = "iso1"',
            'code_style = "iso"',
            "code_style",
            "[task] code_style must be one of flores, iso1",
        ),
    ],
)
def test_experiment_config_errors_name_file_line_and_suggestion(tmp_path, old, new, needle, message):
    path = _demo_with(tmp_path, old, new)
    with pytest.raises(WeamError) as err:
        load_config(path)
    assert f"{path}:{_line(path, needle)}:" in str(err.value)
    assert message in str(err.value)


def test_every_pretrain_setting_reaches_the_grid_and_its_record(tmp_path):
    path = _demo_with(
        tmp_path,
        "lambda = 1.0",
        'cp_partner = "any"\nlogging_steps = 7\nhead_warmup_lr = 0.002\nlambda = 1.0',
    )
    steps = plan_experiment(load_config(path))
    pre = [s for s in steps if s.kind == "pretrain"]
    assert pre and all(s.settings.cp_partner == "any" and s.settings.logging_steps == 7 for s in pre)
    assert all(s.settings.head_warmup_lr == 0.002 for s in pre)
    assert pre[0].settings.to_dict()["cp_partner"] == "any"


def test_changing_a_setting_changes_that_step_and_what_depends_on_it(tmp_path):
    before = {s.key: s.fingerprint for s in plan_experiment(load_config(_demo_with(tmp_path, "x", "x")))}
    after = {
        s.key: s.fingerprint
        for s in plan_experiment(load_config(_demo_with(tmp_path, "mask_prob = 0.3", "mask_prob = 0.2")))
    }
    changed = {k for k in before if before[k] != after[k]}
    assert any(k.startswith("pretrain/") for k in changed)
    assert not any(k.startswith("align/") or "baseline" in k for k in changed)  # upstream and untouched
    assert {k for k in changed if k.startswith(("finetune/", "evaluate/"))} == {
        k for k in before if k.startswith(("finetune/", "evaluate/")) and "baseline" not in k
    }


@pytest.mark.parametrize(
    ("pairs", "epochs", "max_steps", "steps", "ended_by"),
    [
        (100, 2.0, None, 14, "epochs"),  # 7 batches of 16 per epoch
        (100, None, 30, 30, "max_steps"),
        (100, 2.0, 10, 10, "max_steps-cap"),  # the cap comes first
        (100, 2.0, 1000, 14, "epochs"),  # the epochs come first: max_steps no longer overrides
        (4 * 1997, 2.0, 1000, 500, "epochs"),  # examples/study.toml, 4 languages: 2 epochs, not 4
    ],
)
def test_epochs_and_max_steps_whichever_comes_first(pairs, epochs, max_steps, steps, ended_by):
    batch = 16 if pairs == 100 else 32  # study.toml's batch size
    plan = plan_steps(pairs, batch_size=batch, grad_accum=1, world_size=1, epochs=epochs, max_steps=max_steps)
    assert (plan.steps, plan.ended_by) == (steps, ended_by)
    assert plan.epochs == pytest.approx(steps / plan.steps_per_epoch)


def test_default_length_is_two_epochs_unless_steps_are_given():
    assert PretrainSettings(langs=["de"], out="o", alignments="a").planned_epochs == 2.0
    assert PretrainSettings(langs=["de"], out="o", alignments="a", max_steps=5).planned_epochs is None


def test_a_value_equal_to_the_default_does_not_change_fingerprints(tmp_path):
    """Writing a default out (or weam gaining a new option with a default) re-runs nothing."""
    written = {s.key: s.fingerprint for s in plan_experiment(load_config(_demo_with(tmp_path, "x", "x")))}
    implicit = plan_experiment(load_config(_demo_with(tmp_path, "mask_prob = 0.3\n", "")))
    assert {s.key: s.fingerprint for s in implicit} == written
