"""Run the doctest examples in the docstrings of the library modules.

The PII modules follow python-stdnum: their docstrings document the format with examples, and those
examples are only trustworthy if they are executed.  Every module is expected to show at least one example;
the modules that hold none are listed in :data:`NO_EXAMPLES`, so a module that loses its examples (or a new
module without any) fails here instead of passing with nothing run.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import generators
import tokenize_kit

#: not run here: the command line (its help texts are tested through the command) and Spark (needs a session)
SKIP = ("tokenize_kit.cli", "tokenize_kit.spark", "generators.spark", "generators.schemas")

#: modules without examples: entry points, exception lists, file and process plumbing (tested end to end), and
#: generator internals (tested through the generated data)
NO_EXAMPLES = frozenset({
    "tokenize_kit.__main__",
    "tokenize_kit.fpe.errors",
    "tokenize_kit.pii",
    "tokenize_kit.pii.exceptions",
    "tokenize_kit.pii.free_text",
    "tokenize_kit.io",
    "tokenize_kit.limits",
    "tokenize_kit.manifest",
    "tokenize_kit.refdata.build_name_lexicon",
    "tokenize_kit.riskchart",
    "tokenize_kit.suggest",
    "tokenize_kit.xlsx",
    "generators.columns",
    "generators.dirty",
    "generators.engine",
    "generators.finance",
    "generators.people",
    "generators.pytest_plugin",
    "generators.realism",
    "generators.reference",
    "generators.schema",
    "generators.utility",
})


def _modules() -> list[str]:
    names = []
    for pkg in (tokenize_kit, generators):
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            if not info.name.startswith(SKIP):
                names.append(info.name)
    names += ["tokenize_kit", "generators"]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"
    if name in NO_EXAMPLES:
        assert result.attempted == 0, f"{name} has examples now: remove it from NO_EXAMPLES"
    else:
        assert result.attempted > 0, f"{name} runs no example: add one to its docstrings (or list it in NO_EXAMPLES)"


def test_no_examples_list_names_real_modules() -> None:
    missing = NO_EXAMPLES - set(_modules())
    assert not missing, f"NO_EXAMPLES names modules that do not exist: {sorted(missing)}"
