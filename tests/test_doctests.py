"""Run the doctest examples in the docstrings of the library modules.

The PII modules follow python-stdnum: their docstrings document the format with examples, and those
examples are only trustworthy if they are executed.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tokenize_kit

SKIP = ("tokenize_kit.spark", "tokenize_kit.cli")


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tokenize_kit.__path__, prefix="tokenize_kit."):
        if not info.name.startswith(SKIP):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"
