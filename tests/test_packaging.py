"""Every package directory is listed in pyproject (a forgotten one would be missing from the wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_all_packages_listed():
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    found = set()
    for top in ("tokenize_kit", "generators"):
        for init in (REPO / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(REPO).parts))
    found.add("generators.schemas")
    assert found <= listed, f"packages missing from pyproject: {sorted(found - listed)}"
    assert conf["package-dir"]["generators.schemas"] == "schemas"
