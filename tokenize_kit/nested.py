"""The leaves of nested columns (JSON Lines objects and arrays, Parquet struct / list / map columns).

A leaf is named by a path from its column: ``extra.phone`` (a struct field), ``phones[]`` (the items of a
list), ``attrs{key}`` and ``attrs{value}`` (a map's keys and values), combined as deep as the data goes
(``contacts[].mobile``).  :func:`leaves` lists every leaf of a column with the row each value belongs to;
:func:`map_leaves` rebuilds a column with some leaves replaced, keeping its structure, nulls and types.

>>> col = pa.array([{"phone": "01012345678", "tags": ["a", "b"]}, None, {"phone": None, "tags": []}])
>>> [(leaf.path, leaf.values.to_pylist(), leaf.rows.tolist()) for leaf in leaves("extra", col)]
[('extra.phone', ['01012345678', None, None], [0, 1, 2]), ('extra.tags[]', ['a', 'b'], [0, 0])]
>>> new = map_leaves("extra", col, lambda path, values, rows: pc.utf8_upper(values) if path.endswith("[]") else None)
>>> new.to_pylist()
[{'phone': '01012345678', 'tags': ['A', 'B']}, None, {'phone': None, 'tags': []}]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def is_nested(t: pa.DataType) -> bool:
    return (pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t)
            or pa.types.is_fixed_size_list(t) or pa.types.is_map(t))


@dataclass
class Leaf:
    """One leaf: its path, its values (any non-nested type) and the row of its column each value belongs to."""

    path: str
    values: pa.Array
    rows: np.ndarray


def leaves(path: str, arr: pa.Array | pa.ChunkedArray, rows: np.ndarray | None = None) -> list[Leaf]:
    """Every leaf under ``arr`` (``arr`` itself when it is not nested)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    rows = np.arange(len(arr), dtype=np.int64) if rows is None else rows
    return list(_walk(path, arr, rows))


def _list_parts(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(offsets starting at 0, the items of this slice) of a list or map array."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return np.arange(len(arr) + 1, dtype=np.int64) * size, arr.flatten()
    offsets = arr.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    items = (arr.keys if pa.types.is_map(arr.type) else arr.values).slice(lo, hi - lo)
    return offsets - lo, items


def _struct_child(arr: pa.StructArray, i: int) -> pa.Array:
    """Field ``i`` of a struct array with the struct's own nulls applied (a null struct has null fields)."""
    child = arr.field(i)
    if arr.null_count:
        child = pc.if_else(arr.is_valid(), child, pa.nulls(len(child), child.type))
    return child


def _walk(path: str, arr: pa.Array, rows: np.ndarray) -> Iterator[Leaf]:
    t = arr.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            yield from _walk(f"{path}.{t.field(i).name}", _struct_child(arr, i), rows)
    elif pa.types.is_map(t):
        offsets, keys = _list_parts(arr)
        owner = rows[np.repeat(np.arange(len(arr)), np.diff(offsets))]
        lo = int(arr.offsets[0].as_py())
        yield from _walk(f"{path}{{key}}", keys, owner)
        yield from _walk(f"{path}{{value}}", arr.items.slice(lo, len(keys)), owner)
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        offsets, items = _list_parts(arr)
        owner = rows[np.repeat(np.arange(len(arr)), np.diff(offsets))]
        yield from _walk(f"{path}[]", items, owner)
    else:
        yield Leaf(path, arr, rows)


def map_leaves(path: str, arr: pa.Array | pa.ChunkedArray,
               fn: Callable[[str, pa.Array, np.ndarray], pa.Array | None], rows: np.ndarray | None = None) -> pa.Array:
    """``arr`` with every leaf for which ``fn(path, values, rows)`` returns an array replaced by it (same length;
    its type may differ), structure, nulls and every other leaf kept."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    rows = np.arange(len(arr), dtype=np.int64) if rows is None else rows
    return _map(path, arr, rows, fn)


def _mask(arr: pa.Array) -> pa.Array | None:
    return pc.is_null(arr) if arr.null_count else None


def _map(path: str, arr: pa.Array, rows: np.ndarray, fn: Callable[[str, pa.Array, np.ndarray], pa.Array | None]
         ) -> pa.Array:
    t = arr.type
    if pa.types.is_struct(t) and t.num_fields == 0:
        return arr  # an empty object ({}): no leaf
    if pa.types.is_struct(t):
        children = [_map(f"{path}.{t.field(i).name}", _struct_child(arr, i), rows, fn) for i in range(t.num_fields)]
        fields = [pa.field(t.field(i).name, c.type, t.field(i).nullable) for i, c in enumerate(children)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=_mask(arr))
    if pa.types.is_map(t):
        offsets, keys = _list_parts(arr)
        owner = rows[np.repeat(np.arange(len(arr)), np.diff(offsets))]
        lo = int(arr.offsets[0].as_py())
        new_keys = _map(f"{path}{{key}}", keys, owner, fn)
        new_items = _map(f"{path}{{value}}", arr.items.slice(lo, len(keys)), owner, fn)
        return pa.MapArray.from_arrays(pa.array(offsets.astype(np.int32)), new_keys, new_items,
                                       mask=_mask(arr))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        offsets, items = _list_parts(arr)
        owner = rows[np.repeat(np.arange(len(arr)), np.diff(offsets))]
        new_items = _map(f"{path}[]", items, owner, fn)
        if pa.types.is_fixed_size_list(t):
            return pa.FixedSizeListArray.from_arrays(new_items, t.list_size, mask=_mask(arr))
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        off_type = np.int64 if pa.types.is_large_list(t) else np.int32
        return cls.from_arrays(pa.array(offsets.astype(off_type)), new_items, mask=_mask(arr))
    new = fn(path, arr, rows)
    return arr if new is None else new


def paths(path: str, t: pa.DataType) -> list[tuple[str, pa.DataType]]:
    """The leaf paths of a column type, with the leaf types."""
    if pa.types.is_struct(t):
        return [p for i in range(t.num_fields) for p in paths(f"{path}.{t.field(i).name}", t.field(i).type)]
    if pa.types.is_map(t):
        return paths(f"{path}{{key}}", t.key_type) + paths(f"{path}{{value}}", t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return paths(f"{path}[]", t.value_type)
    return [(path, t)]


def root(path: str) -> str:
    """The column a path starts at (the longest column name is the caller's to choose: see :func:`split`)."""
    for i, ch in enumerate(path):
        if ch in ".[{":
            return path[:i]
    return path


def split(path: str, columns: list[str]) -> tuple[str, str] | None:
    """(column, rest) when ``path`` names a leaf inside one of ``columns`` (the longest column name that is a
    prefix followed by ``.``, ``[`` or ``{``), else None."""
    best = None
    for c in columns:
        if len(path) > len(c) and path.startswith(c) and path[len(c)] in ".[{" and (best is None or len(c) > len(best)):
            best = c
    return (best, path[len(best):]) if best is not None else None
