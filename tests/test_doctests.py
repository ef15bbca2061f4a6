"""Run the doctest examples in the docstrings of the library modules.

The PII modules follow python-stdnum: their docstrings document the format with examples, and those
examples are only trustworthy if they are executed.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import generators
import tokenize_kit

SKIP = ("tokenize_kit.spark", "tokenize_kit.cli", "generators.schemas")


def _modules() -> list[str]:
    names = []
    for pkg in (tokenize_kit, generators):
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            if not info.name.startswith(SKIP):
                names.append(info.name)
    names.append("generators")
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"
