import pytest

from weamcli.common.errors import WeamError
from weamcli.common.files import atomic_dir, atomic_file
from weamcli.common.run_records import append_records, read_records, write_run_record


def test_run_record_has_config_versions_seed_metrics(tmp_path):
    rec = write_run_record(
        tmp_path, "align", {"backend": "eflomal", "path": tmp_path}, seed=7, metrics={"aer": 0.25}
    )
    write_run_record(tmp_path, "align", {"backend": "simalign"}, seed=8)
    rows = read_records(tmp_path / "run.jsonl")
    assert len(rows) == 2
    assert rows[0]["seed"] == 7 and rows[0]["metrics"] == {"aer": 0.25}
    assert rows[0]["config"]["path"] == str(tmp_path)
    assert rows[0]["versions"]["torch"] and rows[0]["versions"]["python"]
    assert rec["command"] == "align"


def test_append_repairs_missing_newline(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"a": 1}')
    append_records(p, [{"b": 2}])
    assert read_records(p) == [{"a": 1}, {"b": 2}]


def test_atomic_file_keeps_old_content_on_error(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(p) as fh:
        fh.write("new")
        raise RuntimeError
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "a").write_text("x")
        raise ValueError
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("x")
    assert (target / "a").read_text() == "x"
    with pytest.raises(WeamError, match="already exists"), atomic_dir(target):
        pass
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "b").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
