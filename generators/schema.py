"""Dataset schemas: YAML files that say which tables a dataset has and how each column is generated.

A schema is checked completely before any row is drawn; every problem is reported with the table,
the column and what to change.  The built-in schemas live in the top-level ``schemas/`` folder
(shipped as ``generators.schemas``); QA can write their own and pass the file's path wherever a
dataset name is accepted.

.. code-block:: yaml

    dataset: my-dataset
    description: what it is for
    reference_date: 2025-12-31      # "today" for ages and dates, so output never depends on the run date
    tables:
      customers:                    # the first table is the main one: --rows sizes it
        columns:
          customer_id: {kind: sequence, prefix: C, width: 9}
          gender:      {kind: choice, values: [M, F]}
          mobile:      {kind: mobile, country: eg, null_rate: 0.05}
          _internal:   {kind: ...}  # a leading underscore: used by other columns, not written
      orders:
        parent: customers           # child rows follow their parent row
        per_parent: {poisson: 1.5, plus: 0, max: 10}   # or {fixed: 12} or {column: a_parent_count_column}
        columns:
          customer_id: {kind: parent, column: customer_id}

Column options understood by every kind: ``null_rate`` (share of nulls), ``when: {column: c, equals: v}``
(null unless the row's ``c`` equals ``v``), ``dirty`` (``false`` to exempt the column from ``--dirty``,
``true`` to include a column that would not be by default) and ``description``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .columns import KINDS

COMMON_OPTIONS = ("kind", "null_rate", "when", "dirty", "description")
PER_PARENT_FORMS = ({"poisson", "plus", "max"}, {"fixed"}, {"column"})


class SchemaError(ValueError):
    """A schema that cannot be used; the message names the file, table, column and problem."""


@dataclass(frozen=True)
class ColumnDef:
    name: str
    kind: str
    params: dict[str, Any]
    null_rate: float = 0.0
    when: dict[str, Any] | None = None
    dirty: bool | None = None
    description: str = ""

    @property
    def hidden(self) -> bool:
        return self.name.startswith("_")


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: tuple[ColumnDef, ...]
    parent: str | None = None
    per_parent: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def visible(self) -> list[str]:
        return [c.name for c in self.columns if not c.hidden]


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    reference_date: np.datetime64
    tables: dict[str, TableDef]
    source: str

    @property
    def root(self) -> str:
        return next(iter(self.tables))

    def ancestors(self, table: str) -> list[str]:
        out = []
        t = self.tables[table].parent
        while t is not None:
            out.append(t)
            t = self.tables[t].parent
        return out[::-1]


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("generators.schemas").iterdir() if p.name.endswith(".yaml"))


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("generators.schemas") / f"{name}.yaml"))


def load(name_or_path: str | Path) -> Schema:
    """A built-in dataset by name, or a schema file by path."""
    text_path = Path(name_or_path)
    if text_path.suffix in (".yaml", ".yml") or text_path.exists():
        if not text_path.is_file():
            raise SchemaError(f"schema file {str(text_path)!r} not found")
        return parse(text_path.read_text(encoding="utf-8"), source=str(text_path))
    if str(name_or_path) not in builtin_names():
        raise SchemaError(f"unknown dataset {str(name_or_path)!r}; available: {', '.join(builtin_names())} "
                          "(or pass the path of a schema .yaml file)")
    return _builtin(str(name_or_path))


@cache
def _builtin(name: str) -> Schema:
    """A shipped schema, parsed once per process (Faker providers and fixtures load it per call)."""
    p = builtin_path(name)
    return parse(p.read_text(encoding="utf-8"), source=p.name)


def parse(text: str, source: str = "<schema>") -> Schema:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SchemaError(f"{source}: not valid YAML{where}") from None
    return _build(doc, source)


def _fail(source: str, where: str, problem: str) -> SchemaError:
    return SchemaError(f"{source}: {where}: {problem}")


def _build(doc: Any, source: str) -> Schema:
    if not isinstance(doc, dict):
        raise SchemaError(f"{source}: a schema is a mapping with 'dataset', 'reference_date' and 'tables'")
    unknown = set(doc) - {"dataset", "description", "reference_date", "tables"}
    if unknown:
        raise _fail(source, "top level", f"unknown key(s) {sorted(unknown)}; allowed: dataset, description, "
                    "reference_date, tables")
    name = doc.get("dataset")
    if not isinstance(name, str) or not name:
        raise _fail(source, "top level", "'dataset' (the dataset's name) is required")
    ref = doc.get("reference_date", "2025-12-31")
    try:
        ref_date = np.datetime64(ref.isoformat() if isinstance(ref, dt.date) else str(ref), "D")
    except ValueError:
        raise _fail(source, "reference_date", "must be an ISO date such as 2025-12-31") from None
    tables_doc = doc.get("tables")
    if not isinstance(tables_doc, dict) or not tables_doc:
        raise _fail(source, "top level", "'tables' must map table names to their definitions")
    tables: dict[str, TableDef] = {}
    for i, (tname, tdoc) in enumerate(tables_doc.items()):
        tables[tname] = _table(source, str(tname), tdoc, tables, root=(i == 0))
    return Schema(name, str(doc.get("description", "")), ref_date, tables, source)


def _table(source: str, tname: str, tdoc: Any, earlier: dict[str, TableDef], root: bool) -> TableDef:
    where = f"table {tname!r}"
    if not isinstance(tdoc, dict):
        raise _fail(source, where, "must be a mapping with 'columns'")
    unknown = set(tdoc) - {"columns", "parent", "per_parent", "description"}
    if unknown:
        raise _fail(source, where, f"unknown key(s) {sorted(unknown)}; allowed: columns, parent, per_parent, "
                    "description")
    parent = tdoc.get("parent")
    per_parent = tdoc.get("per_parent") or {}
    if root and parent is not None:
        raise _fail(source, where, "the first table is the main table and cannot have a parent")
    if not root:
        if parent is None:
            raise _fail(source, where, f"needs 'parent' (one of the tables above: {', '.join(earlier)})")
        if parent not in earlier:
            raise _fail(source, where, f"parent {parent!r} must be one of the tables above: {', '.join(earlier)}")
        if not isinstance(per_parent, dict) or not any(set(per_parent) <= f and per_parent for f in
                                                        PER_PARENT_FORMS):
            raise _fail(source, where, "per_parent must be {poisson: mean, plus: n, max: n}, {fixed: n} or "
                        "{column: parent_column}")
        if "column" in per_parent and per_parent["column"] not in {c.name for c in earlier[parent].columns}:
            raise _fail(source, where, f"per_parent column {per_parent['column']!r} is not a column of {parent!r}")
    cols_doc = tdoc.get("columns")
    if not isinstance(cols_doc, dict) or not cols_doc:
        raise _fail(source, where, "'columns' must map column names to generators")
    cols: list[ColumnDef] = []
    parent_cols = {c.name for c in earlier[parent].columns} if parent else set()
    for cname, cdoc in cols_doc.items():
        cols.append(_column(source, tname, str(cname), cdoc, {c.name for c in cols}, parent_cols, root))
    return TableDef(tname, tuple(cols), parent, dict(per_parent), str(tdoc.get("description", "")))


def _column(source: str, tname: str, cname: str, cdoc: Any, before: set[str], parent_cols: set[str],
            root: bool) -> ColumnDef:
    where = f"table {tname!r}, column {cname!r}"
    if isinstance(cdoc, str):
        cdoc = {"kind": cdoc}
    if not isinstance(cdoc, dict) or "kind" not in cdoc:
        raise _fail(source, where, "needs a 'kind' (e.g. {kind: choice, values: [a, b]}); kinds: "
                    + ", ".join(sorted(KINDS)))
    k = KINDS.get(cdoc["kind"])
    if k is None:
        raise _fail(source, where, f"unknown kind {cdoc['kind']!r}; kinds: {', '.join(sorted(KINDS))}")
    if k.root_only and not root:
        raise _fail(source, where, f"kind {k.name!r} draws unique values per main-table row and can only be "
                    "used in the first (main) table; copy it into child tables with {kind: parent, column: ...}")
    params = {p: v for p, v in cdoc.items() if p not in COMMON_OPTIONS}
    missing = [p for p in k.required if p not in params]
    if missing:
        raise _fail(source, where, f"kind {k.name!r} needs {', '.join(missing)}")
    allowed = set(k.required) | set(k.optional)
    extra = sorted(set(params) - allowed)
    if extra:
        raise _fail(source, where, f"kind {k.name!r} does not take {', '.join(extra)}; it takes: "
                    + ", ".join(sorted(allowed | set(COMMON_OPTIONS[1:]))))
    for p in k.columns:
        ref = params.get(p)
        if ref is None:
            continue
        _check_ref(source, where, p, str(ref), before, parent_cols)
    if k.name == "parent":
        _check_ref(source, where, "column", f"parent.{params['column']}", before, parent_cols)
    null_rate = cdoc.get("null_rate", 0.0)
    if not isinstance(null_rate, int | float) or not 0 <= null_rate <= 1:
        raise _fail(source, where, "null_rate must be a number between 0 and 1")
    when = cdoc.get("when")
    if when is not None:
        if not isinstance(when, dict) or set(when) != {"column", "equals"}:
            raise _fail(source, where, "when must be {column: name, equals: value}")
        _check_ref(source, where, "when.column", str(when["column"]), before, parent_cols)
    dirty = cdoc.get("dirty")
    if dirty is not None and not isinstance(dirty, bool):
        raise _fail(source, where, "dirty must be true or false")
    return ColumnDef(cname, k.name, {**k.optional, **params}, float(null_rate), when,
                     dirty, str(cdoc.get("description", "")))


def _check_ref(source: str, where: str, param: str, ref: str, before: set[str], parent_cols: set[str]) -> None:
    if ref.startswith("parent."):
        if ref[7:] not in parent_cols:
            raise _fail(source, where, f"{param} refers to {ref!r}, but the parent table has no such column"
                        + (f" (parent columns: {', '.join(sorted(parent_cols))})" if parent_cols else
                           " (this table has no parent)"))
    elif ref not in before:
        raise _fail(source, where, f"{param} refers to {ref!r}, which is not a column defined above it in this "
                    "table (use parent.<column> for the parent row)")
