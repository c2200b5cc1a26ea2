"""The component registry objectives and task families register in (common/registry.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from weamcli.common.errors import WeamError
from weamcli.common.registry import Registry


@dataclass
class Options:
    weight: float = 1.0


def test_register_get_and_suggest():
    things = Registry("objective")

    @things.register("tlm", options=Options)
    class Tlm:
        pass

    @things.register("weam")
    class Weam:
        pass

    assert things.names() == ("tlm", "weam") and "tlm" in things and "mlm" not in things
    assert things.get("tlm") is Tlm and things.options_of("tlm") is Options
    assert things.options_of("weam") is None
    with pytest.raises(WeamError, match="unknown objective 'wem' .*did you mean 'weam'"):
        things.get("wem")
    with pytest.raises(RuntimeError, match="registered twice"):
        things.register("tlm")(Weam)


def test_package_is_imported_on_first_use(tmp_path, monkeypatch):
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from weamcli.common.registry import Registry\nREG = Registry('thing', package='plugins')\n"
    )
    (package / "alpha.py").write_text(
        "from plugins import REG\n\n@REG.register('alpha')\nclass Alpha:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import plugins

    assert plugins.REG.names() == ("alpha",)  # imported by the first question, not by hand
