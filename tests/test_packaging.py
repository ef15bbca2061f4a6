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


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_version_in_one_place():
    """``tokenize_kit.__version__`` is the only place the version is written; pyproject reads it from there."""
    import importlib.metadata

    import tokenize_kit

    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tokenize_kit.__version__"}
    assert importlib.metadata.version("tokenize-kit") == tokenize_kit.__version__


def test_python_floor_is_the_same_everywhere():
    import re

    floor = re.fullmatch(r">=(\d+)\.(\d+)", _pyproject()["project"]["requires-python"]).groups()
    dotted, short = ".".join(floor), "".join(floor)
    assert f"python3 (>= {dotted})" in (REPO / "Makefile").read_text()
    assert f"`python3` ({dotted}+)" in (REPO / "README.md").read_text(encoding="utf-8")
    assert _pyproject()["tool"]["ruff"]["target-version"] == f"py{short}"
    assert _pyproject()["tool"]["mypy"]["python_version"] == dotted


#: distribution name -> import name, where they differ
IMPORT_NAMES = {"PyYAML": "yaml"}
#: modules that exist for an optional extra and may import it
OPTIONAL_MODULES = {"pandas": ("tokenize_kit/table.py", "generators/pytest_plugin.py"),
                    "faker": ("generators/faker_providers/",),
                    "pyspark": ("tokenize_kit/spark.py", "generators/spark.py"),
                    "pytest": ("generators/pytest_plugin.py",)}  # loaded by pytest only (entry point pytest11)


def _imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the files (relative paths) that import it anywhere."""
    import ast

    found: dict[str, set[str]] = {}
    for top in ("tokenize_kit", "generators"):
        for path in (REPO / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                         else [])
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(path.relative_to(REPO).as_posix())
    return found


def test_runtime_dependencies_are_what_the_runtime_imports():
    import re

    imported = _imported_modules()
    project = _pyproject()["project"]
    for requirement in project["dependencies"]:
        dist = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
        assert IMPORT_NAMES.get(dist, dist.lower()) in imported, f"{dist} is a dependency nothing imports"
    extras = {re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower()
              for name, reqs in project["optional-dependencies"].items() for r in reqs}
    for dist in sorted(extras - {re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower() for r in project["dependencies"]}):
        name = IMPORT_NAMES.get(dist, dist)
        allowed = OPTIONAL_MODULES.get(name, ())
        wrong = sorted(f for f in imported.get(name, ()) if not any(f.startswith(a) for a in allowed))
        assert not wrong, f"{dist} is an optional or development package, but {wrong} import it"
