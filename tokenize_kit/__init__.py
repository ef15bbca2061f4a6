"""tokenize-kit: format-preserving tokenization, PII scanning and synthetic data for Egyptian and
Saudi customer extracts.

The friendly API is re-exported here lazily so that ``import tokenize_kit`` stays cheap (the CLI
imports it on every start) and the primitive layers (:mod:`tokenize_kit.fpe`) stay independent.

>>> import pyarrow as pa
>>> from tokenize_kit import Keyset, tokenize_table
>>> from tokenize_kit.pii import eg_national_id
>>> extract = pa.table({"national_id": ["29801010123456"]})
>>> out = tokenize_table(extract, {"columns": {"national_id": {"type": "eg_national_id"}}}, Keyset.generate())
>>> token = out["national_id"][0].as_py()
>>> token != "29801010123456", eg_national_id.is_valid(token)
(True, True)
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
