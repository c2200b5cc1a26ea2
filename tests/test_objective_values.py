"""Every objective computes the losses, and records the settings, it did before objectives became
registered components.

``data/objective_losses.json`` holds, per objective, the loss and its parts on a fixed batch of
three pairs (tiny model, fixed mask seed, non-default options), before and after one SGD step, as
recorded by the code before the objectives package existed (``python tests/test_objective_values.py
--record`` writes it anew: only do that for a change meant to alter the losses).
``data/objective_settings.json`` holds, per objective, what its settings recorded then (the step
fingerprint's values, the run record's options, its own options with defaults, whether it uses the
head): an experiment's finished steps stay done across the change.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from weamcli.common.models import load_model, load_tokenizer, resolve_model
from weamcli.pretrain.masking import build_pair, word_pieces
from weamcli.pretrain.model import PretrainingModel
from weamcli.pretrain.objectives import make_collator
from weamcli.pretrain.objectives.code_switch import switch_words

RECORDED = Path(__file__).parent / "data" / "objective_losses.json"
RECORDED_SETTINGS = Path(__file__).parent / "data" / "objective_settings.json"
# per objective: the options it is built with (non-default where it has options of its own)
CASES: dict[str, dict[str, Any]] = {
    "weam": {"lam": 2.0, "cp_unaligned": True},
    "tlm": {},
    "mlm": {},
    "align-l2": {"l2_layer": 1, "l2_word_vector": "mean", "l2_reg": 0.5},
    "contrastive": {"temperature": 0.1, "pooling": "cls"},
    "tlm+contrastive": {"contrastive_weight": 0.25, "temperature": 0.2},
    "weam+contrastive": {"lam": 0.5, "cp_partner": "any", "contrastive_weight": 0.5, "pooling": "mean"},
    "code-switch": {},
}


def _features(tok) -> list[dict[str, Any]]:
    rows = [
        ("the cat sat on the mat", "die Katze sass auf der Matte", [(0, 0), (1, 1), (2, 2), (5, 5)]),
        ("hello world", "hallo Welt", [(0, 0), (1, 1)]),
        ("a longer English sentence than the others", "ein Satz", [(1, 1), (3, 0)]),
    ]
    lexicon = {"cat": "Katze", "world": "Welt", "sat": "sass"}
    features = []
    for index, (en, xx, links) in enumerate(rows):
        src, tgt = word_pieces([en.split(), xx.split()], tok, no_space=False)
        ex = build_pair(src, tgt, links, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id, max_length=32)
        switched = switch_words(en.split(), links, lexicon, prob=1.0, seed=0, index=index)
        (cs,) = word_pieces([switched], tok, no_space=False)
        ex["cs_input_ids"] = [tok.cls_token_id, *cs["ids"], tok.sep_token_id]
        ex["example"] = index
        features.append(ex)
    return features


def measure(objective: str, mlm, tok) -> dict[str, Any]:
    """The objective's outputs on the fixed batch (eval mode: no dropout; masks keyed by the seed),
    before and after one SGD step on its loss, and what it trains."""
    batch = make_collator(objective, tok.pad_token_id)(_features(tok))
    model = PretrainingModel(
        copy.deepcopy(mlm),
        objective=objective,
        mask_id=tok.mask_token_id,
        pad_id=tok.pad_token_id,
        replace_pool=torch.arange(1000, 1200),
        mask_prob=0.4,
        **CASES[objective],
    ).eval()
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = model(**batch, mask_seed=5)
    before["loss"].backward()
    torch.optim.SGD(trainable, lr=0.5).step()
    with torch.no_grad():
        after = model(**batch, mask_seed=5)
    return {
        "batch": sorted(batch),
        "trainable": sum(p.numel() for p in trainable),
        "before": {k: float(v.detach()) for k, v in before.items()},
        "after": {k: float(v) for k, v in after.items()},
    }


@pytest.fixture(scope="module")
def tiny(tiny_ref):
    from transformers import AutoModelForMaskedLM

    return load_model(tiny_ref, AutoModelForMaskedLM).eval(), load_tokenizer(tiny_ref)


@pytest.mark.parametrize("objective", list(CASES))
def test_objective_computes_the_recorded_losses(tiny, objective):
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))[objective]
    got = measure(objective, *tiny)
    assert got["batch"] == recorded["batch"] and got["trainable"] == recorded["trainable"]
    for when in ("before", "after"):
        assert list(got[when]) == list(recorded[when]), when
        assert got[when] == pytest.approx(recorded[when], rel=1e-5, abs=1e-6), when


def settings_record(objective: str, options: dict[str, Any]) -> dict[str, Any]:
    from weamcli.experiment.plan import effective_values
    from weamcli.pretrain.settings import PretrainSettings

    s = PretrainSettings(langs=["de"], out="x", alignments="a", objective=objective, **options)
    return {
        "eff": effective_values(s),
        "dict": s.to_dict(),
        "vals": s.objective_values(),
        "head": s.uses_head,
    }


SETTINGS_CASES: dict[str, dict[str, Any]] = {
    "weam": {},
    "tlm": {"lam": 2.0},  # weam's options are recorded with every objective, as before
    "mlm": {},
    "align-l2": {"l2_reg": 0.5},
    "contrastive": {},
    "tlm+contrastive": {"temperature": 0.1},
    "weam+contrastive": {"contrastive_weight": 0.5, "cp_partner": "any"},
    "code-switch": {"switch_prob": 0.3},
}


@pytest.mark.parametrize("objective", list(SETTINGS_CASES))
def test_objective_settings_record_what_they_recorded(objective):
    recorded = json.loads(RECORDED_SETTINGS.read_text(encoding="utf-8"))[objective]
    got = json.loads(json.dumps(settings_record(objective, SETTINGS_CASES[objective])))
    assert got == recorded


if __name__ == "__main__" and "--record" in sys.argv:
    from transformers import AutoModelForMaskedLM

    ref = resolve_model("tiny")
    mlm, tok = load_model(ref, AutoModelForMaskedLM).eval(), load_tokenizer(ref)
    values = {objective: measure(objective, mlm, tok) for objective in CASES}
    RECORDED.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
    settings = {o: settings_record(o, kw) for o, kw in SETTINGS_CASES.items()}
    RECORDED_SETTINGS.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {RECORDED} and {RECORDED_SETTINGS}")
