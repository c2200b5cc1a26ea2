"""The steps axis: `weam pretrain --snapshot-steps` saves full models along one run, and
`[pretrain] steps` in an experiment fine-tunes and evaluates those snapshots, training each
pre-training run once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pretrain_fixtures import make_alignment_folder, run_pretrain
from safetensors.torch import load_file

from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records
from weamcli.experiment.run import load_config, plan_experiment, run_experiment
from weamcli.experiment.steps import STEP_RUNNERS, model_name

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

FAST = dict(model="tiny", batch_size=8, max_length=48, logging_steps=2, max_pairs=40, bf16=False)


@pytest.fixture(scope="module")
def aligned(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aligned")
    make_alignment_folder(shared_data, root / "align-en-de", "de", "deu", 48)
    return root


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _meta(folder: Path) -> dict:
    return json.loads((folder / "weam.json").read_text())


def test_snapshots_are_full_models_along_one_run(aligned, tmp_path):
    out = tmp_path / "run"
    result = run_pretrain(
        ["de"],
        out,
        alignments=str(aligned / "align-en-{lang}"),
        max_steps=6,
        snapshot_steps=[4, 2, 6],
        cache_dir=tmp_path / "cache",
        **FAST,
    )
    assert result.steps == 6
    snaps = out / "snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == ["step-2", "step-4"]  # 6 is the final model
    final = _weights(out)
    seen = []
    for step in (2, 4):
        folder = snaps / f"step-{step}"
        meta = _meta(folder)
        assert meta["steps"] == meta["pretrain_steps"] == step and meta["method"] == "weam"
        assert 0 < meta["epochs"] < _meta(out)["epochs"]
        weights = _weights(folder)
        # saved at full size like the final model, whatever the run trained with
        assert {k: v.shape for k, v in weights.items()} == {k: v.shape for k, v in final.items()}
        assert (folder / "tokenizer_config.json").is_file()
        assert read_records(folder / "run.jsonl")[-1]["metrics"]["steps"] == step
        seen.append(weights)
    layer = next(k for k in final if "layer.0.attention" in k and k.endswith("weight"))
    # training went on between the points: three different encoders
    assert not torch.equal(seen[0][layer], seen[1][layer])
    assert not torch.equal(seen[1][layer], final[layer])
    record = read_records(out / "run.jsonl")[-1]["metrics"]
    assert sorted(record["snapshots"]) == ["2", "4"]


def test_a_resumed_run_makes_the_same_snapshots(aligned, tmp_path):
    from transformers import TrainerCallback

    class StopAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    common = dict(
        FAST,
        alignments=str(aligned / "align-en-{lang}"),
        max_steps=6,
        save_steps=3,
        snapshot_steps=[2, 5],
        cache_dir=tmp_path / "cache",
    )
    run_pretrain(["de"], tmp_path / "straight", **common)
    with pytest.raises(KeyboardInterrupt):
        run_pretrain(["de"], tmp_path / "killed", callbacks=[StopAfterSave()], **common)
    assert (tmp_path / "killed" / "snapshots" / "step-2" / "weam.json").is_file()
    assert not (tmp_path / "killed" / "snapshots" / "step-5").exists()
    run_pretrain(["de"], tmp_path / "killed", resume=True, **common)
    for step in (2, 5):
        a = _weights(tmp_path / "straight" / "snapshots" / f"step-{step}")
        b = _weights(tmp_path / "killed" / "snapshots" / f"step-{step}")
        for k in a:  # same seed, batches and masks: equal up to float round-off
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_a_snapshot_past_the_end_is_refused_before_any_output(aligned, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(WeamError, match=r"--snapshot-steps 9 is after the run's last step \(6 optimiser"):
        run_pretrain(
            ["de"],
            out,
            alignments=str(aligned / "align-en-{lang}"),
            max_steps=6,
            snapshot_steps=[2, 9],
            cache_dir=tmp_path / "cache",
            **FAST,
        )
    assert not out.exists()


CONFIG = """
[experiment]
name = "steps"
out = "{out}"
seeds = [13, 42]
tasks = ["sib200", "tatoeba"]

[model]
base = "tiny"
layers = [0, 1]
layers_methods = ["baseline", "weam"]

[pretrain]
methods = ["weam", "tlm"]
lang_sets = [["de"], ["de", "sw"]]
lang_sets_methods = ["weam"]
steps = [0, 2, 4]
source = "x.{{lang}}"
target = "y.{{lang}}"
batch_size = 8
max_length = 48
max_pairs = 40
bf16 = false

[evaluate.tatoeba]
langs = ["deu"]

[compare]
bootstrap = 200
"""


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text.format(out=tmp_path / "out"), encoding="utf-8")
    return path


def test_the_plan_runs_each_pretraining_once_and_evaluates_every_point(tmp_path):
    config = load_config(_config(tmp_path))
    steps = plan_experiment(config)
    pretrains = {s.key: s for s in steps if s.kind == "pretrain"}
    # weam on both language sets, tlm on the first only; the 1-layer depth for baseline and weam
    # only, on the first language set
    assert sorted(pretrains) == [
        "pretrain/tlm-de-full",
        "pretrain/weam-de-L1",
        "pretrain/weam-de-full",
        "pretrain/weam-de-sw-full",
    ]
    for step in pretrains.values():
        assert step.settings.max_steps == 4 and step.settings.snapshot_steps == [2]
    finetunes = {s.key: s for s in steps if s.kind == "finetune"}
    weam2 = finetunes["finetune/sib200/weam-de-full@2/seed-13"]
    weam4 = finetunes["finetune/sib200/weam-de-full@4/seed-42"]
    assert weam2.settings.model == str(config.out / "pretrain/weam-de-full/snapshots/step-2")
    assert weam4.settings.model == str(config.out / "pretrain/weam-de-full")
    assert weam2.needs == weam4.needs == ["pretrain/weam-de-full"]
    assert weam2.fingerprint != finetunes["finetune/sib200/weam-de-full@4/seed-13"].fingerprint
    assert model_name(config, weam2.params) == "tiny+weam(de)@2"
    # the steps axis on the reference cells (first language set, first depth): weam-de and tlm-de
    # at 2 and 4; the other language set and depth at the last point only. 2 baselines + 2 x 2 +
    # 2 = 8 models; sib200 per seed, the tatoeba probe once each
    assert len(finetunes) == 8 * 2
    assert "finetune/sib200/weam-de-sw-full@4/seed-13" in finetunes
    assert "finetune/sib200/weam-de-L1@4/seed-13" in finetunes
    assert not any(
        k.startswith(("finetune/sib200/weam-de-sw-full@2", "finetune/sib200/weam-de-L1@2")) for k in finetunes
    )
    probes = [s for s in steps if s.kind == "evaluate" and s.params["task"] == "tatoeba"]
    assert len(probes) == 8
    # probes first, then seed by seed: a grid stopped part-way has every model at its first seed
    seeds = [s.params["seed"] for s in steps if s.kind in ("finetune", "evaluate")]
    assert seeds == sorted(seeds, key=lambda x: (x is not None, [None, 13, 42].index(x)))
    base_l1 = next(s for s in probes if s.key == "evaluate/tatoeba/baseline-L1")
    assert base_l1.settings.num_layers == 1 and base_l1.settings.models == ["tiny"]
    assert not any(s.kind == "finetune" and "tatoeba" in s.key for s in steps)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("steps = [0, 2, 4]", "steps = [0, 2, 4]\nmax_steps = 10", "max_steps cannot be combined with steps"),
        ("steps = [0, 2, 4]", "steps = [0, 2, 2]", "steps must be distinct counts"),
        ("steps = [0, 2, 4]", 'steps = ["two"]', "steps must be a list of step counts"),
        ('lang_sets_methods = ["weam"]', 'lang_sets_methods = ["waem"]', "did you mean 'weam'"),
        ('layers_methods = ["baseline", "weam"]', 'layers_methods = ["mlm"]', "'mlm' is not one of"),
    ],
)
def test_axis_keys_are_checked(tmp_path, old, new, needle):
    path = _config(tmp_path, CONFIG.replace(old, new))
    with pytest.raises(WeamError, match=needle) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_the_experiment_trains_once_per_run_and_fine_tunes_the_snapshots(shared_data, tmp_path):
    """A real pre-training (tiny model, 40 NTREX pairs) with steps = [0, 2, 4]: one run, the
    step-2 snapshot and the end are what the later steps receive."""
    text = CONFIG.replace('methods = ["weam", "tlm"]', 'methods = ["weam"]').replace(
        'lang_sets = [["de"], ["de", "sw"]]', 'lang_sets = [["de"]]'
    )
    text = text.replace("layers = [0, 1]", "layers = [0]")
    text = text.replace('tasks = ["sib200", "tatoeba"]', 'task = "sib200"')
    text = text.replace('[evaluate.tatoeba]\nlangs = ["deu"]\n', "")
    path = _config(tmp_path, text)
    trained: list[str] = []
    given: dict[str, str] = {}

    def align(step, config, steps, say):
        make_alignment_folder(shared_data, step.out, "de", "deu", 48)
        return {}

    def pretrain(step, config, steps, say):
        trained.append(step.key)
        return STEP_RUNNERS["pretrain"](step, config, steps, say)

    def finetune(step, config, steps, say):
        given[step.key] = step.settings.model
        return {}

    result = run_experiment(
        path,
        runners={
            "align": align,
            "pretrain": pretrain,
            "finetune": finetune,
            "evaluate": lambda *a: {},
            "compare": lambda *a: {},
        },
    )
    assert not result.failed
    assert trained == ["pretrain/weam-de-full"]
    out = tmp_path / "out" / "pretrain" / "weam-de-full"
    for seed in (13, 42):
        assert given[f"finetune/weam-de-full@2/seed-{seed}"] == str(out / "snapshots" / "step-2")
        assert given[f"finetune/weam-de-full@4/seed-{seed}"] == str(out)
    assert _meta(out / "snapshots" / "step-2")["steps"] == 2 and _meta(out)["steps"] == 4


def test_models_pretrained_from_a_cut_base_pair_with_the_baseline_of_their_depth(tmp_path):
    """A grid with layers = [12, 6] pre-trains from "e5-small-L12"/"-L6" (the recorded base model
    carries the depth): each model is compared with the plain model of its own depth."""
    from comparison_fixtures import make_row, write_rows

    from weamcli.compare.build import compare_results

    def rows(name, k, layers, method="baseline", base="e5-small"):
        extra = {} if method == "baseline" else {"pretrain_langs": ["de"], "pretrain_steps": 200}
        return make_row(
            name,
            "de",
            [i < k for i in range(100)],
            method=method,
            num_layers=layers,
            base_model=base,
            **extra,
        )

    path = write_rows(
        tmp_path / "results.jsonl",
        [
            rows("e5-small-L12", 70, 12),
            rows("e5-small-L6", 50, 6),
            rows("e5-small+weam(de)-L12", 75, 12, "weam", "e5-small-L12"),
            rows("e5-small+weam(de)-L6", 52, 6, "weam", "e5-small-L6"),
        ],
    )
    comparison = compare_results([path], "baseline", n_boot=200)
    refs = {c.name: c.reference for c in comparison.columns}
    assert refs["e5-small+weam(de)-L12"] == "e5-small-L12"
    assert refs["e5-small+weam(de)-L6"] == "e5-small-L6"
    assert comparison.cell("de", "e5-small+weam(de)-L6").delta == pytest.approx(0.02)


@pytest.mark.parametrize(("name", "pretrains", "models"), [("study-cpu", 9, 13), ("study", 11, 23)])
def test_the_study_configs_are_valid(shared_data, name, pretrains, models):
    """The shipped study grids load (every key checked) and plan what their comments say."""
    config = load_config(Path(__file__).resolve().parents[1] / "examples" / f"{name}.toml")
    steps = plan_experiment(config)
    assert sum(s.kind == "pretrain" for s in steps) == pretrains
    probes = [s for s in steps if s.kind == "evaluate" and s.params["task"] == "tatoeba"]
    assert len(probes) == models  # one probe per model
