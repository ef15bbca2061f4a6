"""tokenize-kit: format-preserving tokenization, PII scanning and synthetic data for Egyptian and
Saudi customer extracts.

The friendly API is re-exported here lazily so that ``import tokenize_kit`` stays cheap (the CLI
imports it on every start) and the primitive layers (:mod:`tokenize_kit.fpe`) stay independent.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "tokenize_table": "tokenize_kit.table",
    "detokenize_table": "tokenize_kit.table",
    "Policy": "tokenize_kit.policy",
    "Keyset": "tokenize_kit.keys",
    "FF1": "tokenize_kit.fpe",
    "FF3_1": "tokenize_kit.fpe",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenize_kit' has no attribute {name!r}")
    return getattr(import_module(module), name)
