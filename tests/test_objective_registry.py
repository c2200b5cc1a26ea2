"""Objectives as registered components: every registered objective trains through `weam pretrain`,
and the settings (CLI flags, checks, the experiment TOML) are made from what the objectives declare."""

from __future__ import annotations

import json

import pytest
from pretrain_fixtures import make_generated_alignment_folder, run_pretrain

from weamcli.common.errors import WeamError
from weamcli.common.run_records import read_records
from weamcli.pretrain.objectives import OBJECTIVES, build_objective, objective_names
from weamcli.pretrain.settings import OBJECTIVE_OPTIONS, PretrainSettings

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`

BASE = dict(langs=["de"], out="x", alignments="a")


@pytest.fixture(scope="module")
def generated_de(tmp_path_factory):
    return make_generated_alignment_folder(tmp_path_factory.mktemp("gen") / "align-en-de", "de", 24)


@pytest.mark.parametrize("name", objective_names())
def test_every_registered_objective_trains_a_step_on_tiny(generated_de, tmp_path, name):
    """One optimiser step of `weam pretrain` with each objective: its parts logged and recorded, its
    own options recorded with their defaults, and the model card says what the objective reads."""
    objective = OBJECTIVES.get(name)
    out = tmp_path / "out"
    result = run_pretrain(
        ["de"],
        out,
        alignments=str(generated_de),
        cache_dir=tmp_path / "cache",
        model="tiny",
        objective=name,
        batch_size=4,
        max_length=32,
        max_steps=1,
        logging_steps=1,
        save_steps=0,
    )
    assert result.steps == 1 and list(result.losses) == list(objective.parts)
    assert all(first is not None for first, _ in result.losses.values())
    final = read_records(out / "run.jsonl")[-1]
    assert all(final["metrics"][f"loss_{part}_last"] is not None for part in objective.parts)
    own = build_objective(name).values()
    assert all(final["config"][key] == value for key, value in own.items())
    assert json.loads((out / "weam.json").read_text())["method"] == name
    card = (out / "README.md").read_text(encoding="utf-8")
    assert objective.summary in card
    assert ("masking probability" in card) == objective.masks  # +contrastive and code-switch mask too
    for key, value in build_objective(name).values(recorded=True).items():  # all it reads (λ for weam)
        if value is None:
            continue  # not shown: align-l2's l2_layer None, the last layer
        assert f"{key} {value}" in card


def test_settings_offer_every_registered_option_to_its_readers_only():
    flags = {o.name: o for o in PretrainSettings.options()}
    assert PretrainSettings.option_by_key()["objective"].spec.choices == objective_names()
    for name in objective_names():
        for opt in OBJECTIVES.get(name).option_list():
            assert opt.name in flags, f"{name}'s option {opt.name} is not a setting"
            if opt.name in OBJECTIVE_OPTIONS:
                assert name in OBJECTIVE_OPTIONS[opt.name]
                assert flags[opt.name].default is None and name in flags[opt.name].spec.help
    assert OBJECTIVE_OPTIONS["temperature"] == ("contrastive", "tlm+contrastive", "weam+contrastive")
    assert OBJECTIVE_OPTIONS["contrastive_weight"] == ("tlm+contrastive", "weam+contrastive")
    with pytest.raises(WeamError, match="--temperature is read only by --objective contrastive or"):
        PretrainSettings(**BASE, objective="weam", temperature=0.1)


def test_contrastive_pairs_are_compositions_reading_the_inner_objectives_options():
    both = build_objective("weam+contrastive", {"lam": 0.5, "temperature": 0.2, "contrastive_weight": 0.3})
    assert type(both.wrapped) is OBJECTIVES.get("weam") and both.wrapped.options.lam == 0.5
    assert both.options.temperature == 0.2 and both.options.contrastive_weight == 0.3
    assert both.parts == ("mp", "cp", "contrastive") and both.masks
    assert both.values() == {"temperature": 0.2, "pooling": "mean", "contrastive_weight": 0.3}
    alone = build_objective("contrastive")
    assert (
        alone.wrapped is None
        and not alone.masks
        and alone.values() == {"temperature": 0.05, "pooling": "mean"}
    )


def test_building_an_objective_checks_its_name_and_options():
    with pytest.raises(WeamError, match="unknown objective 'wem'.*did you mean 'weam'"):
        build_objective("wem")
    with pytest.raises(WeamError, match="the contrastive objective has no option 'l2_reg'"):
        build_objective("contrastive", {"l2_reg": 0.5})
    with pytest.raises(WeamError, match="--pooling must be one of mean, cls"):
        build_objective("contrastive", {"pooling": "max"})
    # weam's options are recorded by every run, so any objective takes them (as before)
    assert build_objective("tlm", {"lam": 2.0}).values() == {}
