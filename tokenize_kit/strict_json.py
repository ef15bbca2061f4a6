"""JSON objects read strictly: a key given twice is an error, not a silent "last one wins" (a keyset or a JSON
Lines row whose duplicate key hides a value).

>>> import json
>>> json.loads('{"a": 1}', object_pairs_hook=unique_keys)
{'a': 1}
>>> json.loads('{"a": 1, "a": 2}', object_pairs_hook=unique_keys)
Traceback (most recent call last):
...
tokenize_kit.strict_json.DuplicateKeyError: a
"""

from __future__ import annotations

from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object gave ``key`` twice (the key is a name of the document, never one of its values)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' ``object_pairs_hook`` refusing a key given twice."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(k)
        out[k] = v
    return out
