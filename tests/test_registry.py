import json
import os
import shutil
from pathlib import Path

import pytest

from weamcli.common import models as registry
from weamcli.common.errors import WeamError
from weamcli.common.models import ModelRef, ensure_built, load_model, load_tokenizer, resolve_model

pytestmark = pytest.mark.slow  # seconds a test: left out of `make test-fast`


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_presets_resolve_to_hub_names():
    # mbert/xlmr are hub presets; offline and uncached they give the one-line download hint
    for preset, hub in registry.HUB_PRESETS.items():
        with pytest.raises(WeamError) as err:
            resolve_model(preset)
        assert hub in str(err.value) and "huggingface-cli download" in str(err.value)
        assert "\n" not in str(err.value)


def test_uncached_hub_name_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeamError) as err:
        resolve_model("FacebookAI/xlm-roberta-large")
    msg = str(err.value)
    assert "FacebookAI/xlm-roberta-large" in msg and "HF_HUB_OFFLINE" in msg and "\n" not in msg


def test_hub_name_online_is_passed_through(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    ref = resolve_model("mbert")
    assert ref.path == "bert-base-multilingual-cased" and ref.kind == "preset"


def test_unknown_name_lists_presets():
    with pytest.raises(WeamError) as err:
        resolve_model("no-such-model")
    assert "e5-small" in str(err.value) and "tiny" in str(err.value)


def test_missing_local_folder():
    with pytest.raises(WeamError, match="model folder not found"):
        resolve_model("./does/not/exist")


def test_folder_without_config(tmp_path):
    with pytest.raises(WeamError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_tiny_builds_once_and_loads_without_weam(fresh_home):
    messages = []
    folder = ensure_built("tiny", progress=messages.append)
    assert any("building tiny" in m for m in messages)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    messages.clear()
    assert ensure_built("tiny", progress=messages.append) == folder
    assert messages == []  # second use: no rebuild
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    # a plain save_pretrained folder: transformers loads it with no weam code involved
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert model.config.hidden_size == 64 and len(tok) == model.config.vocab_size
    assert tok("Hallo Welt")["input_ids"][0] == tok.cls_token_id
    # nothing temporary left beside it
    assert [p.name for p in folder.parent.iterdir()] == ["tiny"]


def test_local_folder_is_accepted(fresh_home):
    folder = ensure_built("tiny")
    ref = resolve_model(str(folder))
    assert ref.kind == "folder" and Path(ref.path) == folder.resolve()
    assert load_tokenizer(ref).is_fast


@pytest.mark.parametrize("damage", ["truncate", "delete_marker", "delete_weights"])
def test_corrupt_cache_is_rebuilt(fresh_home, damage):
    folder = ensure_built("tiny")
    if damage == "truncate":
        with open(folder / "model.safetensors", "r+b") as fh:
            fh.truncate(100)
    elif damage == "delete_marker":
        (folder / registry.BUILD_MARKER).unlink()
    else:
        (folder / "model.safetensors").unlink()
    messages = []
    ensure_built("tiny", progress=messages.append)
    assert any("rebuilding" in m for m in messages)
    assert registry._is_complete(folder)
    load_model(ModelRef("tiny", str(folder), "preset"))


def test_interrupted_build_leaves_no_folder(fresh_home, monkeypatch):
    def boom(target, say):
        (target / "partial.bin").write_bytes(b"x" * 10)
        raise KeyboardInterrupt

    monkeypatch.setitem(registry._BUILDERS, "tiny", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_built("tiny")
    models = fresh_home / "models"
    assert not models.exists()  # not even the empty cache folder the build made


def test_num_layers_truncates(fresh_home):
    ref = resolve_model("tiny", num_layers=1)
    assert load_model(ref).config.num_hidden_layers == 1
    assert ref.label == "tiny-L1"
    with pytest.raises(WeamError, match="exceeds"):
        load_model(resolve_model("tiny", num_layers=5))
    with pytest.raises(WeamError, match="at least 1"):
        resolve_model("tiny", num_layers=0)


def test_folder_without_tokenizer(fresh_home, tmp_path):
    src = ensure_built("tiny")
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(src / "config.json", bare / "config.json")
    with pytest.raises(WeamError, match="tokenizer"):
        load_tokenizer(resolve_model(str(bare)))


def test_weam_home_default(monkeypatch, tmp_path):
    monkeypatch.delenv("WEAM_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert registry.weam_home() == tmp_path / "weam"


def test_metadata_reports_bad_json(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "weam.json").write_text('{"text_prefix": \n oops}')
    ref = resolve_model(str(tmp_path))
    with pytest.raises(WeamError) as err:
        _ = ref.text_prefix
    assert "weam.json:2" in str(err.value)


def test_e5_metadata(e5_ref):
    assert e5_ref.text_prefix == "query: "
    meta = json.loads((Path(e5_ref.path) / "weam.json").read_text())
    assert meta["has_mlm_head"] is False
    assert os.path.getsize(Path(e5_ref.path) / "model.safetensors") > 400_000_000
