"""The Python API: tokenize and detokenize whole tables (pyarrow or pandas) per a policy.

Per policy column, all work is columnar: cast to text (integer ID/phone columns keep every digit),
set aside empty cells and placeholders, strip surrounding whitespace (restored around the token),
de-duplicate, validate with the column's PII type, tokenize the valid values, handle the invalid
ones per ``on_invalid``, and scatter the results back.  Nothing in a policy column is ever returned
raw unless the policy says ``method: keep``.

Detokenization dispatches on validity: the type's tokens are always valid, and the generic token of
an invalid value is cycle-walked until it is invalid too (see :mod:`tokenize_kit.pii.charclass`), so
each token is reversed by the map that made it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .pii import registry
from .pii.base import ColumnSpec, Crypto, PIIType
from .pii.charclass import charclass
from .policy import Policy

if TYPE_CHECKING:
    import pandas as pd

    from .keys import Keyset

#: cells treated as empty: kept as they are, never tokenized, counted as "empty" (compared after trimming)
EMPTY_MARKERS = ("", "N/A", "n/a", "NA", "na", "#N/A", "null", "NULL", "Null", "None", "none", "NaN", "nan",
                 "-", "--", "غير متوفر", "لا يوجد", "غير معروف")
IRREVERSIBLE = ("mask", "hash", "redact", "surrogate")
#: what Excel makes of a long number: 2.9001011234567E+13 (its last digits are gone)
SCIENTIFIC = r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$"
DEFAULT_MARKER = "[REDACTED]"


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

    def add(self, other: ColumnReport) -> None:
        self.tokenized += other.tokenized
        self.empty += other.empty
        self.left_as_is += other.left_as_is
        for k, v in other.invalid.items():
            self.invalid[k] = self.invalid.get(k, 0) + v
        self.output_type = other.output_type or self.output_type


@dataclass
class TableReport:
    """Counts per column, merged over batches; written into delivery manifests."""

    key: str = ""
    key_version: int = 0
    algorithm: str = ""
    rows: int = 0
    columns: dict[str, ColumnReport] = field(default_factory=dict)

    def add(self, other: TableReport) -> None:
        self.key, self.key_version, self.algorithm = other.key, other.key_version, other.algorithm
        self.rows += other.rows
        for name, col in other.columns.items():
            if name in self.columns:
                self.columns[name].add(col)
            else:
                self.columns[name] = ColumnReport(col.method, col.type, 0, 0, {}, 0, col.output_type)
                self.columns[name].add(col)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ScopedCrypto:
    """A Crypto whose subkey domains are renamed (policy ``domain:`` override)."""

    def __init__(self, crypto: Crypto, old: str, new: str) -> None:
        self._c, self._old, self._new = crypto, old, new
        self.key_name, self.version, self.algorithm = crypto.key_name, crypto.version, crypto.algorithm

    def _d(self, domain: str) -> str:
        return self._new + domain[len(self._old) :] if domain.startswith(self._old) else f"{self._new}/{domain}"

    def cipher(self, domain: str, alphabet: str):
        return self._c.cipher(self._d(domain), alphabet)

    def tweak(self, *parts: str | bytes) -> bytes:
        return self._c.tweak(*parts)

    def hmac_key(self, domain: str) -> bytes:
        return self._c.hmac_key(self._d(domain))

    def prp_key(self, domain: str) -> bytes:
        return self._c.prp_key(self._d(domain))


def tokenize_table(table, policy, keyset: Keyset, *, report: TableReport | None = None, row_offset: int = 0):
    """Tokenize the policy's columns of a pyarrow Table/RecordBatch or pandas DataFrame (same kind back)."""
    return _run(table, policy, keyset, report, row_offset, decrypt=False)


def detokenize_table(table, policy, keyset: Keyset, *, report: TableReport | None = None, row_offset: int = 0):
    """Reverse :func:`tokenize_table` (columns with irreversible methods are left as they are)."""
    return _run(table, policy, keyset, report, row_offset, decrypt=True)


def crypto_for(policy: Policy, keyset: Keyset) -> Crypto:
    try:
        return Crypto(keyset, key_name=policy.key, version=policy.key_version, algorithm=policy.algorithm)
    except ValueError as exc:
        raise TokenizeError(f"policy key: {exc}") from None


def check_columns(policy: Policy, column_names: list[str]) -> None:
    missing = [c for c in policy.columns if c not in column_names]
    if missing:
        raise TokenizeError(
            f"policy column(s) {missing} not in the data; its columns are: {', '.join(map(str, column_names))}"
        )


def _run(table, policy, keyset, report, row_offset, decrypt):
    policy = Policy.load(policy)
    kind, arrow, index = _to_arrow(table)
    check_columns(policy, arrow.column_names)
    crypto = crypto_for(policy, keyset)
    local = TableReport(crypto.key_name, crypto.version, crypto.algorithm, arrow.num_rows)
    for name, spec in policy.columns.items():
        i = arrow.column_names.index(name)
        col = arrow.column(i)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        new, col_report = transform_column(col, spec, crypto, decrypt, row_offset)
        local.columns[name] = col_report
        arrow = arrow.set_column(i, pa.field(name, new.type, nullable=True), new)
    if report is not None:
        report.add(local)
    return _from_arrow(arrow, kind, index)


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
        return "pandas", pa.Table.from_pandas(table, preserve_index=False), table.index
    raise TypeError("expected a pyarrow.Table, pyarrow.RecordBatch or pandas.DataFrame")


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
    raise TokenizeError(f"column {spec.column!r} has type {t}; expected text or integers")


def transform_column(
    col: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool, row_offset: int = 0
) -> tuple[pa.Array, ColumnReport]:
    """Tokenize (or detokenize) one column; returns the new column and its counts."""
    pii_type = registry.get(spec.type)
    rep = ColumnReport(spec.method, spec.type)
    text, origin = _as_text(col, spec)
    if spec.domain:
        crypto = _ScopedCrypto(crypto, pii_type.domain, spec.domain)  # type: ignore[assignment]
    filled = pc.fill_null(text, "")
    core = pc.utf8_trim_whitespace(filled)
    padded = pc.not_equal(core, filled)  # rows with surrounding whitespace (kept around the token)
    any_padded = bool(pc.any(padded).as_py())
    if any_padded:
        parts = pc.extract_regex(filled, r"^(?P<lead>\s*)(?P<core>(?s:.*?))(?P<trail>\s*)$")
        lead, trail = pc.struct_field(parts, "lead"), pc.struct_field(parts, "trail")
    empty = pc.or_(pc.is_null(text), pc.is_in(core, value_set=pa.array(EMPTY_MARKERS, pa.string())))
    empty_np = empty.to_numpy(zero_copy_only=False)
    rep.empty = int(empty_np.sum())
    work_idx = np.flatnonzero(~empty_np)
    if len(work_idx) == 0:
        rep.output_type = str(col.type)
        return col, rep
    work = core.take(pa.array(work_idx))
    if pii_type.has_invalid and not decrypt and pc.any(pc.match_substring(work, "e", ignore_case=True)).as_py():
        sci = pc.match_substring_regex(work, SCIENTIFIC).to_numpy(zero_copy_only=False)
        if sci.any():
            first = int(np.flatnonzero(sci)[0])
            raise TokenizeError(
                f"column {spec.column!r}, row {row_offset + int(work_idx[first]) + 1}: a number in scientific "
                f"notation ({int(sci.sum())} such row(s)); the digits of this {spec.type} were lost by Excel. "
                "Re-export the column as text (format the cells as Text before saving) and run again"
            )
    uniq = pc.unique(work)
    pos = pc.index_in(work, value_set=uniq).to_numpy(zero_copy_only=False)
    if decrypt and spec.method in IRREVERSIBLE:
        rep.left_as_is = len(work_idx)
        rep.output_type = str(col.type)
        return col, rep
    if spec.method == "keep":
        rep.left_as_is = len(work_idx)
        rep.output_type = str(col.type)
        return col, rep
    valid = _valid(pii_type, uniq, spec)
    out_u = np.empty(len(uniq), dtype=object)
    counts_valid = np.bincount(pos, minlength=len(uniq))
    vi = np.flatnonzero(valid)
    if len(vi):
        vals = uniq if len(vi) == len(uniq) else uniq.take(pa.array(vi))  # same object: types reuse their parse
        out_u[vi] = _apply(pii_type, vals, spec, crypto, decrypt).to_pylist()
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
            if handling == "generic":
                avoid = (lambda a: _valid(pii_type, a, spec)) if pii_type.has_invalid else None
                res = charclass(inv, crypto, pii_type.domain + "/generic", decrypt=decrypt, avoid=avoid).to_pylist()
            elif handling == "redact":
                res = [None if decrypt else spec.options.get("marker", DEFAULT_MARKER)] * len(ii)
            else:  # null
                res = [None] * len(ii)
            if decrypt and handling in ("redact", "null"):
                res = inv.to_pylist()  # nothing to reverse: leave as is
        else:
            res = _apply(pii_type, inv, spec, crypto, decrypt).to_pylist()
        out_u[ii] = res
        rep.invalid[handling] = int(counts_valid[ii].sum())
    tokens = pa.array(out_u, pa.string()).take(pa.array(pos))
    if any_padded:
        wrapped = pc.binary_join_element_wise(lead.take(pa.array(work_idx)), tokens, trail.take(pa.array(work_idx)),
                                              "")
    else:
        wrapped = tokens
    # rows whose token is null (on_invalid: null) stay null
    wrapped = pc.if_else(pc.is_null(tokens), pa.nulls(len(tokens), pa.string()), wrapped)
    full = pc.replace_with_mask(text, pa.array(~empty_np), wrapped)
    out = _restore_type(full, origin, col, spec)
    rep.output_type = str(out.type)
    return out, rep


def _valid(pii_type: PIIType, values: pa.Array, spec: ColumnSpec) -> np.ndarray:
    if not pii_type.has_invalid:
        return np.ones(len(values), dtype=bool)
    try:
        return pii_type.valid_mask(values, spec)
    except TypeError:
        return pii_type.valid_mask(values)


def _apply(pii_type: PIIType, values: pa.Array, spec: ColumnSpec, crypto: Crypto, decrypt: bool) -> pa.Array:
    method = spec.method
    if method == "fpe":
        return pii_type.detokenize(values, crypto, spec) if decrypt else pii_type.tokenize(values, crypto, spec)
    if method == "surrogate":
        return pii_type.surrogate(values, crypto, spec)
    if method == "mask":
        return mask(values, int(spec.options.get("keep_last", 4)), int(spec.options.get("keep_first", 0)),
                    str(spec.options.get("mask_char", "*")))
    if method == "hash":
        key = crypto.hmac_key(pii_type.domain)
        return pa.array([hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest() for v in values.to_pylist()],
                        pa.string())
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
        return pc.cast(full, col.type)
    return full  # some token cannot be an integer (e.g. a leading zero): the column becomes text
