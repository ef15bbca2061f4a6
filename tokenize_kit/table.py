"""The Python API: tokenize and detokenize whole tables (pyarrow or pandas) per a policy.

Per policy column, all work is columnar: cast to text (integer ID/phone columns keep every digit),
set aside empty cells and placeholders, strip surrounding whitespace (restored around the token),
de-duplicate, validate with the column's PII type, tokenize the valid values, handle the invalid
ones per ``on_invalid``, and scatter the results back.  Nothing in a policy column is ever returned
raw unless the policy says ``method: keep``.

Detokenization dispatches on validity: the type's tokens are always valid, and the generic token of
an invalid value is cycle-walked until it is invalid too and not an empty marker such as ``na`` (which
detokenize would leave as it is; see :mod:`tokenize_kit.pii.charclass`), so each token is reversed by the map
that made it.

>>> import pyarrow as pa
>>> from tokenize_kit.keys import Keyset
>>> keyset = Keyset.generate()
>>> policy = {"columns": {"mobile": {"type": "phone"}}}
>>> extract = pa.table({"mobile": ["01012345678", "N/A", "+966 50 123 4567"], "amount": [10, 20, 30]})
>>> tokens = tokenize_table(extract, policy, keyset)
>>> [t[:3] for t in tokens["mobile"].to_pylist()], tokens["amount"].to_pylist()
(['010', 'N/A', '+96'], [10, 20, 30])
>>> detokenize_table(tokens, policy, keyset).equals(extract)
True
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import nested
from .io import InputError
from .keys import as_keyset
from .pii import registry
from .pii.base import ColumnSpec, Crypto, Parse, PIIType, SubkeySource, int_domain_subkeys, scoped_domain
from .pii.charclass import charclass
from .policy import Policy, PolicyError
from .primitives import hmac_sha256_hex
from .quasi import TYPES as QUASI_TYPES
from .subkeys import DATE_SHIFT, HASH, SURROGATE
from .utf8 import group_bytes

if TYPE_CHECKING:
    import pandas as pd

    from .keys import Keyset
    from .pii.free_text import RowColumn

#: cells treated as empty: kept as they are, never tokenized, counted as "empty" (compared after trimming)
EMPTY_MARKERS = ("", "N/A", "n/a", "NA", "na", "#N/A", "null", "NULL", "Null", "None", "none", "NaN", "nan",
                 "-", "--", "غير متوفر", "لا يوجد", "غير معروف")
IRREVERSIBLE = ("mask", "hash", "redact", "surrogate")
#: what Excel makes of a long number: 2.9001011234567E+13 (its last digits are gone)
SCIENTIFIC = r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$"
DEFAULT_MARKER = "[REDACTED]"
#: the characters ``utf8_trim_whitespace`` trims (Unicode Zs and bidi classes WS, B, S), as an RE2 class: the
#: lead and trail kept around a token are exactly what the trim took off (RE2's ``\s`` is ASCII-only and would
#: drop, say, an Excel export's leading no-break space from the token)
TRIMMED = r"[\t-\r\x{1C}-\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"


class TokenizeError(ValueError):
    """A column cannot be processed; the message names the column and row, never a value."""


@dataclass
class ColumnReport:
    method: str
    type: str
    tokenized: int = 0
    empty: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    left_as_is: int = 0
    output_type: str = ""
    #: free text: spans found per kind (IDs, phones, names ...), and spans masked because no reversible token
    #: could be written for them
    found: dict[str, int] = field(default_factory=dict)
    irreversible: int = 0

    def add(self, other: ColumnReport) -> None:
        self.tokenized += other.tokenized
        self.empty += other.empty
        self.left_as_is += other.left_as_is
        for k, v in other.invalid.items():
            self.invalid[k] = self.invalid.get(k, 0) + v
        for k, v in other.found.items():
            self.found[k] = self.found.get(k, 0) + v
        self.irreversible += other.irreversible
        self.output_type = other.output_type or self.output_type


@dataclass
class TableReport:
    """Counts per column, merged over batches; written into delivery manifests."""

    key: str = ""
    key_version: int = 0
    algorithm: str = ""
    rows: int = 0
    columns: dict[str, ColumnReport] = field(default_factory=dict)
    #: the subkey derivation (:mod:`tokenize_kit.subkeys`)
    derivation: int = 0

    def add(self, other: TableReport) -> None:
        self.key, self.key_version, self.algorithm = other.key, other.key_version, other.algorithm
        self.derivation = other.derivation
        self.rows += other.rows
        for name, col in other.columns.items():
            if name in self.columns:
                self.columns[name].add(col)
            else:
                self.columns[name] = ColumnReport(col.method, col.type, 0, 0, {}, 0, col.output_type)
                self.columns[name].add(col)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tokenize_table(table, policy, keyset: Keyset | str | os.PathLike[str], *, report: TableReport | None = None,
                   row_offset: int = 0, passphrase: str | None = None):
    """Tokenize the policy's columns of a pyarrow Table/RecordBatch or pandas DataFrame (same kind back).

    ``keyset`` is a :class:`~tokenize_kit.keys.Keyset` or a keyset file's path (its passphrase from
    ``passphrase``, ``$TOKENIZE_KIT_PASSPHRASE`` or a prompt, see :func:`~tokenize_kit.keys.as_keyset`).
    A policy's ``suppress:`` counts the equivalence classes of the table it is given: call it with the whole
    table (the ``tokenize`` command and :func:`tokenize_kit.spark.tokenize` count over the whole input)."""
    return _run(table, policy, as_keyset(keyset, passphrase), report, row_offset, decrypt=False)


def detokenize_table(table, policy, keyset: Keyset | str | os.PathLike[str], *, report: TableReport | None = None,
                     row_offset: int = 0, passphrase: str | None = None):
    """Reverse :func:`tokenize_table` (columns with irreversible methods are left as they are); ``keyset`` as
    there."""
    return _run(table, policy, as_keyset(keyset, passphrase), report, row_offset, decrypt=True)


def crypto_for(policy: Policy, keyset: SubkeySource) -> Crypto:
    try:
        return Crypto(keyset, key_name=policy.key, version=policy.key_version, algorithm=policy.algorithm,
                      derivation=policy.derivation)
    except ValueError as exc:
        raise TokenizeError(f"policy key: {exc}") from None


def policy_subkeys(policy: Policy) -> set[tuple[str, str]]:
    """The (purpose, domain) pairs of every subkey that tokenizing or detokenizing ``policy``'s columns can use:
    each type's declared :attr:`~tokenize_kit.pii.base.PIIType.subkeys` (method ``fpe``), its ``surrogate`` or
    ``hash`` key, and the generic tokens' keys for invalid values, under the column's ``domain:`` setting."""
    out: set[tuple[str, str]] = set()
    for spec in policy.columns.values():
        if spec.type in QUASI_TYPES:  # keyless, except a reversible date shift's PRF
            if spec.method == "date_shift" and spec.options.get("reversible", True):
                out.add((DATE_SHIFT, "date_shift"))
            continue
        t = registry.get(spec.type)
        needed: list[tuple[str, str]] = []
        if spec.method == "fpe":
            needed += t.subkeys
        elif spec.method == "surrogate":
            needed.append((SURROGATE, t.domain))
        elif spec.method == "hash":
            needed.append((HASH, t.domain))
        if spec.method in ("fpe", "surrogate") and spec.on_invalid == "generic" and t.has_invalid:
            needed += int_domain_subkeys(t.domain + "/generic")
        out.update((purpose, scoped_domain(domain, t.domain, spec.domain) if spec.domain else domain)
                   for purpose, domain in needed)
    return out


def check_columns(policy: Policy, column_names: list[str]) -> None:
    missing = [c for c in policy.columns if c not in column_names and nested.split(c, column_names) is None]
    if missing:
        hint = ""
        if len(column_names) == 1:  # a file read as one column: delimited by something else?
            found = [d for d in (";", "\t", "|", ",") if d in str(column_names[0])]
            if found:
                shown = {"\t": "tab"}.get(found[0], repr(found[0]))
                hint = (f" (the file was read as one column whose name holds {shown}: if that is its delimiter, "
                        f"pass --delimiter {shown})")
        raise TokenizeError(
            f"policy column(s) {missing} not in the data; its columns are: {', '.join(map(str, column_names))}"
            + hint
        )
    for name, spec in policy.columns.items():
        entity = _entity_of(spec)
        if entity is not None and entity not in column_names:
            raise TokenizeError(f"column {name!r}: its entity column {entity!r} is not in the data; its columns "
                                f"are: {', '.join(map(str, column_names))}")


def _entity_of(spec: ColumnSpec) -> str | None:
    """The column a transform reads besides its own (a date shift's entity), if any."""
    return spec.options.get("entity") if spec.method == "date_shift" else None


def transform_table(table: pa.Table, policy: Policy, crypto: Crypto, decrypt: bool, row_offset: int = 0
                    ) -> dict[str, tuple[pa.Array | None, ColumnReport | None]]:
    """Every policy column of one table: {name: (new column, counts)}.

    A column whose transform reads another column (a date shift keyed by its entity) gets that column's raw
    values: as they came in when tokenizing (read before the entity column is tokenized), as they come out when
    detokenizing (after it is detokenized).  Free-text columns come last, with the row's own values of the other
    policy columns (method fpe) before and after, so a customer's phone, ID or name in the notes gets the
    column's token whatever way the note writes it (row-aware text, :mod:`tokenize_kit.pii.free_text`).

    Nested columns (struct, list, map: JSON Lines objects and arrays, Parquet nested types) are transformed leaf
    by leaf (:func:`transform_nested`): a policy entry may name a leaf by its path (``extra.phone``,
    ``contacts[].mobile``), and the entry of the column itself applies to its other leaves.  For a nested column
    the result holds its new column under the column's name (with no counts when the policy names only paths
    inside it), and each path entry's counts with no column."""
    from .pii.free_text import RowColumn

    out: dict[str, tuple[pa.Array | None, ColumnReport | None]] = {}
    context: list[RowColumn] = []
    text_cols = any(s.type == "free_text" for s in policy.columns.values())
    names = table.column_names
    roots = _nested_roots(table, policy)

    def order(n: str) -> tuple[bool, bool, bool]:
        spec = policy.columns[n]
        return n in roots, spec.type == "free_text", _entity_of(spec) is not None

    for name in sorted((n for n in policy.columns if n in names), key=order):
        spec = policy.columns[name]
        if name in roots:
            continue
        entity_name = _entity_of(spec)
        entity = None
        if entity_name is not None:
            if decrypt and entity_name in out:
                entity = out[entity_name][0]
            else:
                entity = table.column(names.index(entity_name)).combine_chunks()
        col = table.column(names.index(name)).combine_chunks()
        if spec.type == "free_text":
            out[name] = transform_column(col, spec, crypto, decrypt, row_offset, context=context)
            continue
        out[name] = transform_column(col, spec, crypto, decrypt, row_offset, entity=entity)
        new = out[name][0]
        if (text_cols and spec.method == "fpe" and spec.type in LINKED_TYPES and new is not None
                and not pa.types.is_floating(new.type)):
            context.append(RowColumn(spec, _as_text(col, spec)[0], _as_text(new, spec)[0]))
    for root, entries in roots.items():
        col = table.column(names.index(root)).combine_chunks()
        new, reports = transform_nested(root, col, entries, crypto, decrypt, row_offset, context)
        out[root] = (new, reports.pop(root, None))
        for entry, rep in reports.items():
            out[entry] = (None, rep)
    return {n: out[n] for n in [*policy.columns, *(r for r in roots if r not in policy.columns)] if n in out}


def _nested_roots(table: pa.Table, policy: Policy) -> dict[str, dict[str, ColumnSpec]]:
    """The nested columns of the table with the policy entries that reach into them (the column's own entry,
    paths inside it); a nested column the policy does not cover is refused: its leaves may hold anything."""
    names = table.column_names
    roots: dict[str, dict[str, ColumnSpec]] = {}
    for name, spec in policy.columns.items():
        if name in names and nested.is_nested(table.schema.field(name).type):
            roots.setdefault(name, {})[name] = spec
        elif name not in names:
            where = nested.split(name, names)
            if where is not None:
                if not nested.is_nested(table.schema.field(where[0]).type):
                    raise TokenizeError(f"policy column {name!r}: column {where[0]!r} holds no nested values "
                                        f"(type {table.schema.field(where[0]).type}); name the column itself")
                roots.setdefault(where[0], {})[name] = spec
    for field_ in table.schema:
        pii_leaves = [p for p, t in nested.paths(field_.name, field_.type) if _pii_leaf(t)]
        if nested.is_nested(field_.type) and field_.name not in roots and pii_leaves:
            raise TokenizeError(
                f"column {field_.name!r} holds nested values ({field_.type}) that may carry PII, and the policy does "
                f"not cover it: list it with type free_text (every text inside it is tokenized), name its leaves "
                f"(e.g. '{pii_leaves[0]}: {{type: phone}}'), or mark it "
                f"{{type: free_text, method: keep}} to pass it through")
    return roots


#: leaf types that can hold PII (text, and numbers that may be IDs or phones)
def _pii_leaf(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_dictionary(t)


def transform_nested(root: str, col: pa.Array, entries: dict[str, ColumnSpec], crypto: Crypto, decrypt: bool,
                     row_offset: int, context: Sequence[RowColumn] = ()
                     ) -> tuple[pa.Array, dict[str, ColumnReport]]:
    """A nested column with its leaves transformed: a leaf named by a path entry by that entry, the others by the
    column's own entry (``free_text`` for texts inside, ``keep`` to pass through, or a type for every leaf such
    as ``phones: {type: phone}`` on a list of phones).  Every text or integer leaf must be covered."""
    from .pii.free_text import RowColumn

    own = entries.get(root)
    uncovered = [p for p, t in nested.paths(root, col.type) if _pii_leaf(t) and p not in entries and own is None]
    if uncovered:
        raise TokenizeError(f"column {root!r}: leaves {uncovered} are not in the policy; name them (e.g. "
                            f"'{uncovered[0]}: {{type: free_text}}') or give the column itself a type or method keep")
    unknown = [p for p in entries if p != root and p not in dict(nested.paths(root, col.type))]
    if unknown:
        raise TokenizeError(f"column {root!r} has no leaf {unknown[0]!r}; its leaves are: "
                            f"{', '.join(p for p, _ in nested.paths(root, col.type))}")
    reports: dict[str, ColumnReport] = {}

    def leaf(path: str, values: pa.Array, rows: np.ndarray) -> pa.Array | None:
        spec = entries.get(path, own)
        if spec is None or spec.method == "keep" or not _pii_leaf(values.type):
            return None
        entry = path if path in entries else root
        spec = replace(spec, column=path)
        ctx = [RowColumn(c.spec, c.before.take(pa.array(rows)), c.after.take(pa.array(rows))) for c in context]
        new, rep = transform_column(values, spec, crypto, decrypt, row_offset, context=ctx)
        if entry in reports:
            reports[entry].add(rep)
        else:
            reports[entry] = rep
        return new

    return nested.map_leaves(root, col, leaf), reports


def _run(table, policy, keyset, report, row_offset, decrypt):
    policy = Policy.load(policy)
    kind, arrow, index = _to_arrow(table)
    check_columns(policy, arrow.column_names)
    crypto = crypto_for(policy, keyset)
    local = TableReport(crypto.key_name, crypto.version, crypto.algorithm, arrow.num_rows,
                        derivation=crypto.derivation)
    source = arrow
    for name, (new, col_report) in transform_table(arrow, policy, crypto, decrypt, row_offset).items():
        if col_report is not None:
            local.columns[name] = col_report
        if new is not None:
            i = arrow.column_names.index(name)
            arrow = arrow.set_column(i, pa.field(name, new.type, nullable=True), new)
    if policy.suppress is not None and not decrypt:  # over this table: call it with the whole table
        from .risk import RiskGate

        gate = RiskGate(policy)
        gate.prepare(lambda: [source])
        arrow = gate.apply(source, arrow, row_offset)
    if report is not None:
        report.add(local)
    return _from_arrow(arrow, kind, index)


#: column types whose values are looked for in the same row's free text (row-aware text)
LINKED_TYPES = ("eg_national_id", "sa_national_id", "phone", "eg_phone", "sa_phone", "email", "iban",
                "person_name", "eg_address", "sa_address")


def _to_arrow(table) -> tuple[str, pa.Table, Any]:
    if isinstance(table, pa.Table):
        return "table", table, None
    if isinstance(table, pa.RecordBatch):
        return "batch", pa.Table.from_batches([table]), None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(table, pd.DataFrame):
        return "pandas", _from_pandas(table), table.index
    raise TypeError("expected a pyarrow.Table, pyarrow.RecordBatch or pandas.DataFrame")


def _from_pandas(df: pd.DataFrame) -> pa.Table:
    """``pa.Table.from_pandas``, whose errors quote the cell they failed on (``Could not convert '2850615...'``):
    on failure the column and row are found and named instead, and the message is not passed on."""
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        pass
    for position, name in enumerate(df.columns):
        try:
            pa.Table.from_pandas(df.iloc[:, [position]], preserve_index=False)
            continue
        except (pa.ArrowException, ValueError, TypeError, OverflowError):
            pass  # (raised below, outside this block, so Arrow's message is not kept as the error's context)
        values = df.iloc[:, position].tolist()
        kinds = [type(v) for v in values if v is not None and v == v]  # (NaN != NaN: a missing value)
        first = kinds[0] if kinds else object
        row = next((i + 1 for i, v in enumerate(values) if v is not None and v == v and type(v) is not first), None)
        where = f"column {name!r}" + (f", row {row}" if row else "")
        odd = type(values[row - 1]).__name__ if row else "value"
        raise TokenizeError(
            f"{where}: a {odd} among {first.__name__} values, which Arrow cannot hold in one column; give the "
            f"column one type (e.g. df[{name!r}] = df[{name!r}].astype('string'))")
    raise TokenizeError("the DataFrame cannot be converted to Arrow (the error is not shown: it may quote a cell)")


def _from_arrow(arrow: pa.Table, kind: str, index) -> pa.Table | pa.RecordBatch | pd.DataFrame:
    if kind == "table":
        return arrow
    if kind == "batch":
        return arrow.combine_chunks().to_batches()[0] if arrow.num_rows else pa.RecordBatch.from_pylist(
            [], schema=arrow.schema
        )
    df = arrow.to_pandas()
    df.index = index
    return df


def _as_text(col: pa.Array, spec: ColumnSpec) -> tuple[pa.Array, str]:
    t = col.type
    if pa.types.is_string(t):
        return col, "string"
    if pa.types.is_large_string(t):
        return col.cast(pa.string()), "large_string"
    if pa.types.is_integer(t):
        return pc.cast(col, pa.string()), "int"
    if pa.types.is_floating(t):
        raise TokenizeError(
            f"column {spec.column!r} is stored as floating point: an ID or phone number stored as a float may "
            "have lost digits (e.g. Excel's 2.9E+13); export the column as text and run again"
        )
    if pa.types.is_dictionary(t):
        return pc.cast(col, pa.string()), "string"
    if pa.types.is_union(t):  # an .xlsx column mixing text and numbers: every cell as its text
        from .io import as_text

        return as_text(col), "string"
    raise TokenizeError(f"column {spec.column!r} has type {t}; expected text or integers")


#: errors of Arrow, numpy and the PII types whose messages may quote a cell (``Could not convert '2850...'``,
#: ``Failed to parse string: '...'``): re-raised by :func:`transform_column` without their message
_QUOTING_ERRORS = (pa.ArrowException, ValueError, TypeError, ArithmeticError, IndexError, KeyError, UnicodeError,
                   AttributeError, AssertionError)


def transform_column(
    col: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool, row_offset: int = 0,
    entity: pa.Array | None = None, context: Sequence[RowColumn] = (),
) -> tuple[pa.Array, ColumnReport]:
    """Tokenize (or detokenize) one column; returns the new column and its counts.  ``entity``: the raw entity
    column of a date shift (see :func:`transform_table`); ``context``: for a free-text column, the same rows'
    other policy columns (row-aware text).

    Our own errors (:class:`TokenizeError`) name the column and row and never a value.  Any other error from
    Arrow, numpy or a PII type may quote a cell, so it is replaced by one that names the column, the batch's
    rows, the error's type and where it was raised, and nothing of its message (raised outside the ``except``,
    so not even the exception chain keeps the original)."""
    try:
        return _transform_column(col, spec, crypto, decrypt, row_offset, entity, context)
    except (TokenizeError, PolicyError, InputError):  # ours: written never to hold a value
        raise
    except _QUOTING_ERRORS as exc:
        failure = _failure_site(exc)
    raise TokenizeError(f"column {spec.column!r}, rows {row_offset + 1}-{row_offset + len(col)}: {failure} (its "
                        "message is withheld because it may quote a cell; please report it)")


def _failure_site(exc: BaseException) -> str:
    """'ArrowInvalid in _apply (table.py:490)': the error's type and the innermost of our functions it came from."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}tokenize_kit{os.sep}" in f.filename] or frames
    where = f" in {ours[-1].name} ({Path(ours[-1].filename).name}:{ours[-1].lineno})" if ours else ""
    return f"{type(exc).__name__}{where}"


def _transform_column(
    col: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool, row_offset: int = 0,
    entity: pa.Array | None = None, context: Sequence[RowColumn] = (),
) -> tuple[pa.Array, ColumnReport]:
    if spec.type in QUASI_TYPES:  # generalize / date_shift: see tokenize_kit.transforms
        from .transforms import transform_column as transform_quasi

        return transform_quasi(col, spec, crypto, decrypt, row_offset, entity)
    pii_type = registry.get(spec.type)
    rep = ColumnReport(spec.method, spec.type)
    text, origin = _as_text(col, spec)
    if spec.domain:
        crypto = crypto.scoped(pii_type.domain, spec.domain)
    if spec.type == "free_text" and spec.method == "fpe":
        return _free_text_column(col, text, spec, crypto, decrypt, context, rep)
    filled = pc.fill_null(text, "") if text.null_count else text
    core = pc.utf8_trim_whitespace(filled)
    # trimming only removes bytes: some value is padded (its whitespace is kept around its token) exactly when
    # the trimmed column is shorter
    any_padded = len(group_bytes(core)) != len(group_bytes(filled))
    if any_padded:
        parts = pc.extract_regex(filled, rf"^(?P<lead>{TRIMMED}*)(?P<core>(?s:.*?))(?P<trail>{TRIMMED}*)$")
        lead, trail = pc.struct_field(parts, "lead"), pc.struct_field(parts, "trail")
    empty_np = _empty_markers(core)
    if text.null_count:
        empty_np |= pc.is_null(text).to_numpy(zero_copy_only=False)
    rep.empty = int(empty_np.sum())
    every_row = rep.empty == 0
    work_idx = np.arange(len(text)) if every_row else np.flatnonzero(~empty_np)
    if len(work_idx) == 0:
        rep.output_type = str(col.type)
        return col, rep
    work = core if every_row else core.take(pa.array(work_idx))
    uniq, pos = distinct_in_slices(work, pii_type.slice_values) if pii_type.slice_values else distinct(work)
    if pii_type.has_invalid and not decrypt and _has_e(uniq):
        sci_u = pc.match_substring_regex(uniq, SCIENTIFIC).to_numpy(zero_copy_only=False)
        if sci_u.any():
            sci = sci_u[pos]
            first = int(np.flatnonzero(sci)[0])
            raise TokenizeError(
                f"column {spec.column!r}, row {row_offset + int(work_idx[first]) + 1}: a number in scientific "
                f"notation ({int(sci.sum())} such row(s)); the digits of this {spec.type} were lost by Excel. "
                "Re-export the column as text (format the cells as Text before saving) and run again"
            )
    if decrypt and spec.method in IRREVERSIBLE:
        rep.left_as_is = len(work_idx)
        rep.output_type = str(col.type)
        return col, rep
    if spec.method == "keep":
        rep.left_as_is = len(work_idx)
        rep.output_type = str(col.type)
        return col, rep
    pieces: list[tuple[np.ndarray, pa.Array]] = []  # (distinct-value indices, their outputs)
    step = pii_type.slice_values or len(uniq)
    valid = np.concatenate([_valid_slice(pii_type, uniq.slice(a, step), a, spec, crypto, decrypt, pieces)
                            for a in range(0, len(uniq), step)])
    counts_valid = np.bincount(pos, minlength=len(uniq))
    vi = np.flatnonzero(valid)
    rep.tokenized = int(counts_valid[vi].sum())
    ii = np.flatnonzero(~valid)
    if len(ii):
        handling = spec.on_invalid if spec.method in ("fpe", "surrogate") else spec.method
        if spec.on_invalid == "error" and spec.method in ("fpe", "surrogate"):
            bad_rows = np.flatnonzero(np.isin(pos, ii))
            row = row_offset + int(work_idx[bad_rows[0]]) + 1
            raise TokenizeError(
                f"column {spec.column!r}, row {row}: value is not a valid {spec.type} "
                f"({len(bad_rows)} such row(s) in this batch); fix the data or set on_invalid: generic|redact|null"
            )
        inv = uniq.take(pa.array(ii))
        if spec.method in ("fpe", "surrogate"):
            if decrypt and handling in ("redact", "null"):
                res = inv  # nothing to reverse: leave as is
            elif handling == "generic":
                res = charclass(inv, crypto, pii_type.domain + "/generic", decrypt=decrypt,
                                avoid=lambda a: _valid(pii_type, a, spec) | _empty_markers(a))
            elif handling == "redact":
                res = pa.array([spec.options.get("marker", DEFAULT_MARKER)] * len(ii), pa.string())
            else:  # null
                res = pa.nulls(len(ii), pa.string())
        else:
            res = _apply(pii_type, inv, spec, crypto, decrypt)
        pieces.append((ii, res))
        rep.invalid[handling] = int(counts_valid[ii].sum())
    tokens = _scatter(pieces, pos)
    if any_padded:
        wrapped = pc.binary_join_element_wise(lead.take(pa.array(work_idx)), tokens, trail.take(pa.array(work_idx)),
                                              "")
    else:
        wrapped = tokens
    if tokens.null_count:  # rows whose token is null (on_invalid: null) stay null
        wrapped = pc.if_else(pc.is_null(tokens), pa.nulls(len(tokens), pa.string()), wrapped)
    full = wrapped if every_row else pc.replace_with_mask(text, pa.array(~empty_np), wrapped)
    out = _restore_type(full, origin, col, spec)
    rep.output_type = str(out.type)
    return out, rep


def _valid_slice(pii_type: PIIType, uniq: pa.Array, at: int, spec: ColumnSpec, crypto: Crypto, decrypt: bool,
                 pieces: list[tuple[np.ndarray, pa.Array]]) -> np.ndarray:
    """Which of these distinct values (from index ``at`` of the column's) are valid; their outputs are appended
    to ``pieces`` as (distinct-value indices, outputs)."""
    parsed = pii_type.parse(uniq, spec) if pii_type.has_invalid else None
    valid = parsed.ok if parsed is not None else np.ones(len(uniq), dtype=bool)
    vi = np.flatnonzero(valid)
    if len(vi) == len(uniq):  # every value valid: the type reuses this parse
        pieces.append((at + vi, _apply(pii_type, uniq, spec, crypto, decrypt, parsed)))
    elif len(vi):
        pieces.append((at + vi, _apply(pii_type, uniq.take(pa.array(vi)), spec, crypto, decrypt)))
    return valid


def _free_text_column(col: pa.Array, text: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool,
                      context: Sequence[RowColumn], rep: ColumnReport) -> tuple[pa.Array, ColumnReport]:
    """A free-text column: every row through the free-text layer (with the row's own column values); notes are
    nearly all distinct and their tokens depend on their row, so they are not de-duplicated.  Empty cells and
    placeholders are left as they are."""
    from .pii import free_text

    filled = pc.fill_null(text, "") if text.null_count else text
    empty = _empty_markers(pc.utf8_trim_whitespace(filled))
    if text.null_count:
        empty |= pc.is_null(text).to_numpy(zero_copy_only=False)
    rep.empty = int(empty.sum())
    work = np.flatnonzero(~empty)
    rep.tokenized = len(work)
    if not len(work):
        rep.output_type = str(col.type)
        return col, rep
    every = len(work) == len(text)
    sub = filled if every else filled.take(pa.array(work))
    ctx = context if every else [free_text.RowColumn(c.spec, c.before.take(pa.array(work)), c.after.take(
        pa.array(work))) for c in context]
    outcome = free_text.transform(sub, crypto, spec, decrypt=decrypt, context=ctx)
    rep.found = dict(outcome.counts)
    rep.irreversible = outcome.irreversible
    new = outcome.values if every else pc.replace_with_mask(text, pa.array(~empty), outcome.values)
    out = _restore_type(new, _as_text(col, spec)[1], col, spec)
    rep.output_type = str(out.type)
    return out, rep


def distinct(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a null-free string array in first-occurrence order, and each row's index into
    them (``uniq.take(pos)`` is ``values``), as ``dictionary_encode`` gives them.  When every value is distinct,
    ``uniq`` is ``values`` itself and ``pos`` is ``0..n-1``.

    A column of plain digit strings (IDs and phones as most extracts hold them, nearly all distinct within a
    batch) is de-duplicated on integer keys: a string of 1-17 ASCII digits is exactly identified by its value
    and its length, so ``value * 32 + length`` is a key that two strings share only when they are equal.
    One sort of the keys finds the repeated ones, and only the rows holding those are grouped, which is cheaper
    than hashing the strings (pyarrow's hash table grows and rehashes as it meets a batch of new values).  Any
    other column goes through one hash pass (``dictionary_encode``)."""
    n = len(values)
    keys = _digit_keys(values)
    if keys is None:
        encoded = pc.dictionary_encode(values)
        return encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeated):
        return values, np.arange(n)
    rows = np.flatnonzero(np.isin(keys, repeated))  # the rows whose value occurs more than once
    _, first, group = np.unique(keys[rows], return_index=True, return_inverse=True)
    first_rows = rows[first]
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    keep[first_rows] = True  # every value's first row
    pos = np.cumsum(keep) - 1
    pos[rows] = pos[first_rows][group.ravel()]
    return values.filter(pa.array(keep)), pos


#: :func:`distinct_in_slices` de-duplicates slice by slice when the first slice has at least this share distinct
NEARLY_DISTINCT = 0.9


def distinct_in_slices(values: pa.Array, step: int) -> tuple[pa.Array, np.ndarray]:
    """:func:`distinct`, each slice of ``step`` rows on its own when the first slice is nearly all distinct
    (:data:`NEARLY_DISTINCT`), as a text column of names or addresses is: a hash table of a million distinct
    strings is fresh memory the kernel faults in, while slices reuse theirs.  A value repeated across slices is
    then encrypted once per slice, to the same token; a column of repeated values is de-duplicated whole."""
    if len(values) <= step:
        return distinct(values)
    head_u, head_pos = distinct(values.slice(0, step))
    if len(head_u) < NEARLY_DISTINCT * step:
        return distinct(values)
    uniq, pos, base = [head_u], [head_pos], len(head_u)
    for a in range(step, len(values), step):
        u, p = distinct(values.slice(a, step))
        uniq.append(u)
        pos.append(p + base)
        base += len(u)
    if base == len(values):  # every slice distinct: the values as they are
        return values, np.arange(base)
    return pa.concat_arrays(uniq), np.concatenate(pos)


def _digit_keys(values: pa.Array) -> np.ndarray | None:
    """``int(v) * 32 + len(v)`` per value when every value is 1 to 17 ASCII digits, else None."""
    if not len(values) or values.null_count or not pa.types.is_string(values.type):
        return None
    lengths = np.diff(_byte_offsets(values))
    if lengths.min() < 1 or lengths.max() > 17:
        return None
    data = group_bytes(values)
    if data.min() < 0x30 or data.max() > 0x39:
        return None
    return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False) * 32 + lengths


@functools.cache
def _empty_set() -> pa.Array:
    return pa.array(EMPTY_MARKERS, pa.string())


def _byte_offsets(values: pa.Array) -> np.ndarray:
    off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1 + values.offset)[values.offset :]
    return off.astype(np.int64) - int(off[0])


@functools.cache
def _marker_length_table() -> np.ndarray:
    """``table[min(n, len(table) - 1)]``: whether some empty marker is ``n`` bytes long."""
    lengths = [len(m.encode("utf-8")) for m in EMPTY_MARKERS]
    table = np.zeros(max(lengths) + 2, dtype=bool)
    table[lengths] = True
    return table


def _empty_markers(core: pa.Array) -> np.ndarray:
    """Which values are one of :data:`EMPTY_MARKERS` (compared only where the byte length can match)."""
    if not pa.types.is_string(core.type) or core.null_count:
        return pc.fill_null(pc.is_in(core, value_set=_empty_set()), False).to_numpy(zero_copy_only=False)
    table = _marker_length_table()
    maybe = table[np.minimum(np.diff(_byte_offsets(core)), len(table) - 1)]
    if not maybe.any():
        return maybe
    rows = np.flatnonzero(maybe)
    out = np.zeros(len(core), dtype=bool)
    sub = core if len(rows) == len(core) else core.take(pa.array(rows))
    out[rows] = pc.is_in(sub, value_set=_empty_set()).to_numpy(zero_copy_only=False)
    return out


def _has_e(values: pa.Array) -> bool:
    """Whether some value may be a number in scientific notation (a cheap, exact pre-check of
    :data:`SCIENTIFIC`): a match is three bytes or more, its first a digit and its second a ``.`` or an ``e``/``E``.
    Two bytes per value are read, not the whole text (an address column starts with digits but is long)."""
    data = group_bytes(values)
    if not len(data):
        return False
    off = _byte_offsets(values)
    starts = off[:-1][off[1:] - off[:-1] >= 3]
    if not len(starts):
        return False
    second = data[starts + 1]
    return bool(np.any(((data[starts] - 0x30) < 10) & ((second == 0x2E) | ((second | 0x20) == 0x65))))


def _as_string_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def _scatter(pieces: list[tuple[np.ndarray, pa.Array]], pos: np.ndarray) -> pa.Array:
    """The output per row: ``pieces`` hold the outputs of disjoint sets of distinct values (covering all
    of them), ``pos`` maps each row to its distinct value.  Stays in Arrow (no Python strings)."""
    if len(pieces) == 1:
        values = _as_string_array(pieces[0][1])
        if len(values) == len(pos):  # every row distinct: rows are already in first-occurrence order
            return values
        return values.take(pa.array(pos))
    order = np.concatenate([idx for idx, _ in pieces])
    values = pa.concat_arrays([_as_string_array(res) for _, res in pieces])
    if len(order) == len(pos) and bool((order[1:] > order[:-1]).all()):  # (slices of a column of distinct values)
        return values
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    return values.take(pa.array(where[pos]))


def _valid(pii_type: PIIType, values: pa.Array, spec: ColumnSpec) -> np.ndarray:
    if not pii_type.has_invalid:
        return np.ones(len(values), dtype=bool)
    return pii_type.valid_mask(values, spec)


def _apply(pii_type: PIIType, values: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool,
           parsed: Parse | None = None) -> pa.Array:
    method = spec.method
    if method == "fpe":
        if decrypt:
            return pii_type.detokenize(values, crypto, spec, parsed)
        return pii_type.tokenize(values, crypto, spec, parsed)
    if method == "surrogate":
        return pii_type.surrogate(values, crypto, spec)
    if method == "mask":
        return mask(values, int(spec.options.get("keep_last", 4)), int(spec.options.get("keep_first", 0)),
                    str(spec.options.get("mask_char", "*")))
    if method == "hash":
        return pa.array(hmac_sha256_hex(crypto.key(HASH, pii_type.domain), values.to_pylist()), pa.string())
    if method == "redact":
        return pa.array([spec.options.get("marker", DEFAULT_MARKER)] * len(values), pa.string())
    raise TokenizeError(f"column {spec.column!r}: unknown method {method!r}")  # pragma: no cover


def mask(values: pa.Array, keep_last: int = 4, keep_first: int = 0, mask_char: str = "*") -> pa.Array:
    """Replace letters and digits by ``mask_char`` except the first/last N of them; separators stay."""
    from .pii.text import decode, encode, row_ids

    cps, off = decode(values)
    is_alnum = np.array([chr(c).isalnum() for c in np.unique(cps)], dtype=bool) if len(cps) else np.zeros(0, bool)
    uniq = np.unique(cps)
    alnum = np.zeros(len(cps), dtype=bool)
    if len(cps):
        alnum = is_alnum[np.searchsorted(uniq, cps)]
    rows = row_ids(off)
    csum = np.cumsum(alnum)
    before = np.concatenate([[0], csum])[off[:-1]]
    total = np.concatenate([[0], csum])[off[1:]] - before
    rank = csum - before[rows]  # 1-based rank of each alnum char in its row
    hide = alnum & (rank > keep_first) & (rank <= total[rows] - keep_last)
    out = cps.copy()
    out[hide] = ord(mask_char)
    return encode(out, off)


def _restore_type(full: pa.Array, origin: str, col: pa.Array, spec: ColumnSpec) -> pa.Array:
    if origin == "large_string":
        return full.cast(pa.large_string())
    if origin != "int":
        return full
    ok = pc.fill_null(pc.match_substring_regex(full, r"^[1-9][0-9]{0,17}$|^0$"), True)
    if pc.all(ok).as_py():
        wide = pc.cast(full, pa.int64())  # (at most 18 digits: every one fits)
        lo, hi = pc.min_max(wide).values()
        info = np.iinfo(col.type.to_pandas_dtype())
        if lo.as_py() is None or (info.min <= lo.as_py() and hi.as_py() <= info.max):
            return wide.cast(col.type)
    return full  # some token cannot be this integer type (a leading zero, or too large): the column becomes text
