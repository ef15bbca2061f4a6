"""Find raw PII in a file or table, and prove a delivery carries none of its input's raw values.

**Scan.**  Every string leaf of every column is read: plain text, integers (IDs and phones exported as numbers),
binary that is UTF-8, and the leaves of nested columns (struct fields ``col.field``, list items ``col[]``, map
keys and values ``col{key}`` / ``col{value}``).  Each cell goes through the free-text finders
(:mod:`tokenize_kit.pii.free_text`), so IDs, phones, IBANs, e-mails, names and addresses are found whether a
cell holds exactly one value (counted per column and kind, with the share of non-empty cells) or carries them
inside text (counted as ``in_text``).  A column of a type the scanner cannot read is reported as unreadable and
makes the scan fail (fail closed): it is never taken as clean.

**Gate** (``against``: the raw input of a delivery, ``policy``: what was tokenized).  The input and the output
are read side by side, row by row.  For every row the raw values of the input's policy columns and the PII found
in its free text are written as comparison keys: a phone as its national significant number, an ID as its
digits, an e-mail in lower case, an IBAN compact and upper case, a name as each pair of consecutive parts and an
address as each run of three words that holds something the address types encrypt (letters folded: alef forms,
final ة/ه and ي/ى, diacritics, tatweel, case).  The output row's cells and the PII found inside them are keyed
the same way, with every reading of every run of digits.  A key of the input row found in the same output row
is a **leak** (the scan fails); a key found in another row only is counted as a **coincidence**: realistic tokens
share the space of real values (about n**2 / domain such pairs among n values).  In a tokenized name or address
column, lexicon names and kept places meet a pair of their own row's raw value by chance, so such a pair is
counted as a coincidence too, unless every word key of one raw value of two or more words is in that one output
value: the value passed whole (a column left raw), a leak.  And when more than :data:`IMPLAUSIBLE_SHARE` of a
column's rows with an ID, phone, e-mail or IBAN reading equal a raw value of another row, far beyond chance, the
gate fails too: the delivery carries raw values, or its rows are not in the input's order.

Memory is bounded whatever the file size and the number of distinct values: leaks are decided slice by slice
(:data:`GATE_ROWS` rows of both files), and coincidences through hash partitions spilled to a temporary folder
and compared in blocks of at most :data:`PART_BUDGET` bytes; the words' keys are remembered in bounded caches
only.

Reports never contain a value: counts per column and kind, and row numbers (1 = the first data row).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__, nested
from .pii import find_numbers as fn
from .pii import find_words as fw
from .pii import free_text as ft
from .pii import name_lexicon as nl
from .pii.find_codes import find_emails, find_ibans
from .pii.iban import _compact_array as iban_compact
from .pii.text import NON_ASCII_DIGIT_CHARS, SEPARATOR_CHARS
from .pii.textview import TextView, in_sorted, plain_strings
from .table import EMPTY_MARKERS
from .utf8 import group_bytes

FORMAT = "tokenize-kit-scan"
FORMAT_VERSION = 1
#: a column is reported as holding a kind when at least this share of its non-empty cells are one value of it
MIN_SHARE = 0.05
#: single-word name cells count only when at least this share of the column is names (a first-name column)
MIN_NAME_SHARE = 0.3
#: ... and hold at least this many distinct names (or half as many as their cells, in a small file)
MIN_NAME_DISTINCT = 20
#: row numbers kept per column and kind in a report
MAX_ROWS = 20
REPORT_KINDS = ("national_id", "phone", "iban", "email", "name", "address")
_KIND_OF_SPAN = {"eg_national_id": "national_id", "sa_national_id": "national_id", "phone": "phone",
                 "iban": "iban", "email": "email", "person_name": "name", "eg_address": "address",
                 "sa_address": "address"}
_KIND_OF_TYPE = {"eg_national_id": "national_id", "sa_national_id": "national_id", "phone": "phone",
                 "eg_phone": "phone", "sa_phone": "phone", "iban": "iban", "email": "email", "person_name": "name",
                 "eg_address": "address", "sa_address": "address"}


class ScanError(ValueError):
    """The scan cannot run as asked (rows not aligned, spill folder unusable ...); never shows a value."""


# -- reading every string leaf ----------------------------------------------------------------------------------
def leaves(batch: pa.RecordBatch | pa.Table, skip: Iterable[str] = ()) -> tuple[list[nested.Leaf],
                                                                          list[tuple[str, str]]]:
    """The readable leaves of a batch as text (nested columns leaf by leaf: :mod:`tokenize_kit.nested`), and the
    (path, type) of the leaves that cannot be read."""
    skip = set(skip)
    out: list[nested.Leaf] = []
    bad: list[tuple[str, str]] = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if name in skip:
            continue
        for leaf in nested.leaves(str(name), col):
            text, problem = _leaf_text(leaf.values)
            if problem:
                bad.append((leaf.path, problem))
            elif text is not None:
                out.append(nested.Leaf(leaf.path, text, leaf.rows))
    return out, bad


def _leaf_text(arr: pa.Array) -> tuple[pa.Array | None, str]:
    """A leaf as text to scan (None: a type that holds no text), or why it cannot be read."""
    t = arr.type
    if pa.types.is_dictionary(t):
        return _leaf_text(arr.dictionary_decode())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return plain_strings(arr), ""
    if pa.types.is_integer(t):
        return pc.cast(arr, pa.string()), ""
    if pa.types.is_union(t):  # an .xlsx column mixing numbers, dates and text
        from .io import as_text

        return plain_strings(as_text(arr)), ""
    if pa.types.is_floating(t):  # an ID or phone saved as a number: its digits (whole values as integers)
        finite = pc.fill_null(pc.is_finite(arr), False)
        whole = pc.and_(finite, pc.equal(pc.floor(arr), arr))
        ints = pc.cast(pc.if_else(whole, arr, pa.scalar(None, t)), pa.int64(), safe=False)
        return pc.if_else(whole, pc.cast(ints, pa.string()), pc.cast(arr, pa.string())), ""
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        try:
            text = arr.cast(pa.binary()).cast(pa.string())
            text.validate(full=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None, f"{t} (not UTF-8 text)"
        return text, ""
    if pa.types.is_boolean(t) or pa.types.is_temporal(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        return None, ""  # readable, and holds no text
    return None, str(t)


def _non_empty(values: pa.Array) -> np.ndarray:
    core = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
    empty = pc.is_in(core, value_set=pa.array(EMPTY_MARKERS, pa.string())).to_numpy(zero_copy_only=False)
    return ~empty & pc.is_valid(values).to_numpy(zero_copy_only=False)


# -- findings ---------------------------------------------------------------------------------------------------
@dataclass
class KindCount:
    count: int = 0
    rows: list[int] = field(default_factory=list)

    def add(self, rows: np.ndarray) -> None:
        self.count += len(rows)
        room = MAX_ROWS - len(self.rows)
        if room > 0 and len(rows):
            self.rows.extend(int(r) for r in np.unique(rows)[:room])

    def merge(self, other: KindCount) -> None:
        """Add a later slice's count (its rows come after these: the first :data:`MAX_ROWS` stay the first)."""
        self.count += other.count
        self.rows.extend(other.rows[: max(0, MAX_ROWS - len(self.rows))])

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "rows": list(self.rows)}


@dataclass
class ColumnFinding:
    column: str
    cells: int = 0
    non_empty: int = 0
    #: cells that are one value of a kind (the whole trimmed cell)
    values: dict[str, KindCount] = field(default_factory=dict)
    #: values of a kind found inside longer text
    in_text: dict[str, KindCount] = field(default_factory=dict)
    #: single-word name cells (a first-name column), reported only when they are most of the column and varied
    single_names: KindCount = field(default_factory=KindCount)
    #: stable hashes of distinct single-word name cells, up to :data:`MIN_NAME_DISTINCT` (a column repeating a
    #: word or two that happen to be names, a nationality "سعودي", is no first-name column)
    single_distinct: set[int] = field(default_factory=set)
    #: whole cells per PII type (eg_national_id, phone, person_name, sa_address ...): for suggesting a policy
    types: dict[str, int] = field(default_factory=dict)

    def share(self, kind: str) -> float:
        k = self.values.get(kind)
        return k.count / self.non_empty if k and self.non_empty else 0.0

    def kinds_found(self) -> dict[str, KindCount]:
        out = {k: v for k, v in self.values.items() if v.count and self.share(k) >= MIN_SHARE}
        singles = self.single_names.count
        if (self.non_empty and singles / self.non_empty >= MIN_NAME_SHARE
                and len(self.single_distinct) >= min(MIN_NAME_DISTINCT, singles // 2)):
            names = KindCount(**self.single_names.to_dict())
            if "name" in self.values:  # (whole names of several parts, and single ones: other cells)
                names = KindCount(self.values["name"].count + singles,
                                  sorted(set(self.values["name"].rows) | set(names.rows))[:MAX_ROWS])
            out["name"] = names
        return out

    @property
    def found(self) -> bool:
        return bool(self.kinds_found()) or any(v.count for v in self.in_text.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "cells": self.cells,
            "non_empty": self.non_empty,
            "values": {k: {**v.to_dict(), "share": round(self.share(k), 4)} for k, v in self.kinds_found().items()},
            "in_text": {k: v.to_dict() for k, v in self.in_text.items() if v.count},
        }


@dataclass
class ScanResult:
    columns: dict[str, ColumnFinding] = field(default_factory=dict)
    rows: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    #: column -> kind -> raw values of the input found in their own row of the output
    leaks: dict[str, dict[str, KindCount]] = field(default_factory=dict)
    #: column -> kind -> output values equal to a raw value of another row, or in a tokenized name or address
    #: column some words of their own row's raw value (coincidences, not leaks)
    collisions: dict[str, dict[str, int]] = field(default_factory=dict)
    #: column -> kind -> (rows, rows probed): coincidences far more common than realistic tokens meet by chance
    #: (:data:`IMPLAUSIBLE_SHARE`): IDs, phones, e-mails or IBANs equal to raw values of other rows (raw values, or
    #: rows out of the input's order), or a token column's words equal to their own row's raw words (parts of raw
    #: names or addresses); the gate fails
    implausible: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    kept_by_policy: list[str] = field(default_factory=list)
    file: str = ""
    against: str | None = None

    @property
    def found(self) -> bool:
        return (any(c.found for c in self.columns.values()) or bool(self.leaks) or bool(self.unreadable)
                or bool(self.implausible))

    def merge(self, part: ScanResult) -> None:
        """Add the :func:`scan_batch` findings of a later slice, scanned into its own result (as if it had been
        scanned into this one)."""
        self.rows += part.rows
        for path, typ in part.unreadable.items():
            self.unreadable.setdefault(path, typ)
        for path, f in part.columns.items():
            mine = self.columns.setdefault(path, ColumnFinding(path))
            mine.cells += f.cells
            mine.non_empty += f.non_empty
            mine.single_names.merge(f.single_names)
            room = max(0, MIN_NAME_DISTINCT - len(mine.single_distinct))
            mine.single_distinct |= set(sorted(f.single_distinct - mine.single_distinct)[:room])
            for mine_kinds, theirs in ((mine.values, f.values), (mine.in_text, f.in_text)):
                for kind, count in theirs.items():
                    mine_kinds.setdefault(kind, KindCount()).merge(count)
            for type_name, n in f.types.items():
                mine.types[type_name] = mine.types.get(type_name, 0) + n

    @property
    def leak_count(self) -> int:
        return sum(k.count for kinds in self.leaks.values() for k in kinds.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "file": self.file,
            "against": self.against,
            "rows": self.rows,
            "pii_found": self.found,
            "columns": [c.to_dict() for c in self.columns.values() if c.found],
            "unreadable": [{"column": c, "type": t} for c, t in self.unreadable.items()],
            "leaks": [{"column": c, "kind": k, **v.to_dict()} for c, kinds in self.leaks.items()
                      for k, v in kinds.items()],
            "coincidences": [{"column": c, "kind": k, "count": v} for c, kinds in self.collisions.items()
                             for k, v in kinds.items()],
            "implausible_coincidences": [{"column": c, "kind": k, "count": n, "probed": m}
                                         for c, kinds in self.implausible.items() for k, (n, m) in kinds.items()],
            "kept_by_policy": list(self.kept_by_policy),
        }


def _cell_kinds(det: ft.Detection, values: pa.Array) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Rows (indices into ``values``) whose whole trimmed cell is one value of a kind, and rows of values of a
    kind found inside longer text."""
    s, e, k = det.all_spans()
    view = det.view
    if not len(s):
        return {}, {}
    rows = view.row[s]
    core = pc.utf8_trim_whitespace(values)
    lead = pc.utf8_length(values).to_numpy(zero_copy_only=False) - pc.utf8_length(
        pc.utf8_ltrim_whitespace(values)).to_numpy(zero_copy_only=False)
    core_len = pc.utf8_length(core).to_numpy(zero_copy_only=False)
    base = view.row_off[rows] + lead[rows]
    whole = (s == base) & (e == base + core_len[rows])
    # a name or an address cell may hold punctuation the span leaves out: whole when the span holds every
    # letter and digit of the cell
    if (~whole).any():
        alnum = np.concatenate([[0], np.cumsum((view.cls & (fw.LETTER | fw.DIGIT)) != 0)])
        row_alnum = alnum[view.row_off[1:]] - alnum[view.row_off[:-1]]
        whole |= (alnum[e] - alnum[s]) == row_alnum[rows]
    values_by: dict[str, np.ndarray] = {}
    text_by: dict[str, np.ndarray] = {}
    for t in np.unique(k).tolist():
        sel = k == t
        values_by[ft.SPAN_KINDS[t]] = np.unique(rows[sel & whole])
        text_by[ft.SPAN_KINDS[t]] = rows[sel & ~whole]
    return values_by, text_by


def _single_names(values: pa.Array) -> np.ndarray:
    """Cells that are one word of the name lexicon (a first-name column).

    >>> _single_names(pa.array(["محمد", "محمد أحمد", "سعودي", "x", None])).tolist()
    [True, False, True, False, False]
    """
    core = pc.utf8_trim_whitespace(values)
    enc = pc.dictionary_encode(core)
    d = enc.dictionary
    if not len(d):
        return np.zeros(len(values), dtype=bool)
    # one word whose folded form is a lexicon key (the whole column at once); only those are parsed, for the
    # written layout a name part must have
    hit = fw.lexicon_names(nl.fold_array(d)) & ~pc.match_substring(d, " ").to_numpy(zero_copy_only=False)
    at = np.flatnonzero(hit)
    hit[at] = [nl.parse(w) is not None for w in d.take(pa.array(at)).to_pylist()]
    idx = enc.indices
    out = hit[pc.fill_null(idx, 0).to_numpy(zero_copy_only=False)]
    return out & idx.is_valid().to_numpy(zero_copy_only=False) if idx.null_count else out


@cache
def _place_names() -> pa.Array:
    """Folded whole names of the places the reference data knows (:func:`_known_places`; villages left out), less
    single words that are also given names (منى is a place and a name): a cell that is one of them names a place
    (a district named after a king, الملك فهد; Eastern Province), not a person nor a resident's address."""
    given = set(nl.key_array().to_pylist())
    return pa.array(sorted({f for f in map(nl.fold, _known_places(villages=False)) if " " in f or f not in given}),
                    pa.string())


#: a cell that may be a place's name alone: up to 40 characters, no digit and no "@" (one regex pass; the folding
#: that follows costs several, and IDs, phones, e-mails and IBANs never need it)
_MAYBE_PLACE = r"^[^0-9\x{0660}-\x{0669}\x{06F0}-\x{06F9}@]{1,40}$"


def _places(values: pa.Array) -> np.ndarray:
    """Cells that are a known place's name and nothing else (:func:`_place_names`), in any spelling folding
    evens out.

    >>> _places(pa.array(["الملك فهد", "حي الملك فهد", "Eastern Province", "منى", "فهد القحطاني", None])).tolist()
    [True, False, True, False, False, False]
    """
    core = pc.utf8_trim_whitespace(values)
    short = np.flatnonzero(pc.fill_null(pc.match_substring_regex(core, _MAYBE_PLACE), False)
                           .to_numpy(zero_copy_only=False))
    out = np.zeros(len(values), dtype=bool)
    if len(short):
        folded = nl.fold_array(core.take(pa.array(short)))
        out[short] = pc.fill_null(pc.is_in(folded, value_set=_place_names()), False).to_numpy(zero_copy_only=False)
    return out


def scan_batch(batch: pa.RecordBatch | pa.Table, result: ScanResult, covered: Iterable[str] = (),
               row_offset: int = 0) -> None:
    """Add one batch's findings to ``result`` (columns in ``covered``, the policy's, are skipped)."""
    result.rows += batch.num_rows
    found_leaves, bad = leaves(batch, covered)
    for path, typ in bad:
        result.unreadable.setdefault(path, typ)
    for leaf in found_leaves:
        finding = result.columns.setdefault(leaf.path, ColumnFinding(leaf.path))
        finding.cells += len(leaf.values)
        keep = _non_empty(leaf.values)
        finding.non_empty += int(keep.sum())
        if keep.any():
            keep &= ~_places(leaf.values)  # (a place's name alone: not PII)
        if not keep.any():
            continue
        idx = np.flatnonzero(keep)
        values = leaf.values.take(pa.array(idx))
        det = ft.detect(values)
        whole, inside = _cell_kinds(det, values)
        for type_name, r in whole.items():
            if len(r):
                finding.values.setdefault(_KIND_OF_SPAN[type_name], KindCount()).add(leaf.rows[idx[r]] + row_offset + 1)
                finding.types[type_name] = finding.types.get(type_name, 0) + len(r)
        for type_name, r in inside.items():
            if len(r):
                finding.in_text.setdefault(_KIND_OF_SPAN[type_name], KindCount()).add(
                    leaf.rows[idx[r]] + row_offset + 1)
        singles = _single_names(values)
        if singles.any():
            at = np.flatnonzero(singles)
            finding.single_names.add(leaf.rows[idx[at]] + row_offset + 1)
            room = MIN_NAME_DISTINCT - len(finding.single_distinct)
            if room > 0:  # (a few distinct cells, hashed: no value is kept; of any 2 x as many, room are new)
                distinct = pc.unique(pc.utf8_trim_whitespace(values.take(pa.array(at))))
                new = {zlib.crc32(v.encode("utf-8")) for v in distinct[: 2 * MIN_NAME_DISTINCT].to_pylist()}
                finding.single_distinct |= set(sorted(new - finding.single_distinct)[:room])


# -- the gate ---------------------------------------------------------------------------------------------------
def _digit_keys(digits: pa.Array, plus: np.ndarray | None = None) -> list[pa.Array]:
    """Comparison keys of digit strings in every reading: "d:" + the digits (an ID), and "p:" + the national
    significant number after whatever prefix a phone may be written with (00/+ and the country code, the bare
    country code, the trunk 0)."""
    keys = [pc.binary_join_element_wise("d:", digits, "")]
    nsn = digits
    for prefix in ("0020", "00966", "20", "966", "0"):
        nsn = pc.if_else(pc.starts_with(nsn, prefix), pc.utf8_slice_codeunits(nsn, len(prefix)), nsn)
    keys.append(pc.binary_join_element_wise("p:", nsn, ""))
    for prefix in ("20", "966"):  # bare country code that is also a valid start of the number: both readings
        alt = pc.if_else(pc.starts_with(digits, prefix), pc.utf8_slice_codeunits(digits, len(prefix)), digits)
        keys.append(pc.binary_join_element_wise("p:", alt, ""))
    return keys


def _word_keys(w_row: np.ndarray, w_text: pa.Array) -> tuple[np.ndarray, pa.Array, np.ndarray, pa.Array, pa.Array]:
    """(row, "n:" key) of every pair of consecutive words and (row, "a:" key) of every run of three, folded; and
    every word folded (``w_row``, ``w_text``: the words' rows and texts, in order)."""
    if len(w_row) < 1:
        z = np.zeros(0, np.int64)
        return z, pa.array([], pa.string()), z, pa.array([], pa.string()), pa.array([], pa.string())
    enc = pc.dictionary_encode(w_text)
    table = _word_table(enc.dictionary)
    idx = enc.indices
    i = idx.to_numpy(zero_copy_only=False)
    folded = table.folded.take(idx)
    if len(w_row) < 2:
        z = np.zeros(0, np.int64)
        return z, pa.array([], pa.string()), z, pa.array([], pa.string()), folded
    stripped = table.stripped.take(idx)  # the word without a glued و/ب/ل/ف/ك (بأحمد -> احمد)
    has_prefix = table.prefixed[i]
    same1 = w_row[1:] == w_row[:-1]
    i2 = np.flatnonzero(same1)
    rows2, pairs = [w_row[i2]], [pc.binary_join_element_wise("n:", folded.take(pa.array(i2)), " ",
                                                              folded.take(pa.array(i2 + 1)), "")]
    for a_arr, b_arr, sel in ((stripped, folded, has_prefix[i2]), (folded, stripped, has_prefix[i2 + 1]),
                              (stripped, stripped, has_prefix[i2] & has_prefix[i2 + 1])):
        j = i2[sel]
        if len(j):
            rows2.append(w_row[j])
            pairs.append(pc.binary_join_element_wise("n:", a_arr.take(pa.array(j)), " ", b_arr.take(pa.array(j + 1)),
                                                     ""))
    r3, k3 = _core_keys(w_row, folded, (~table.kept[i], table.known[i]))
    return np.concatenate(rows2), pa.concat_arrays(pairs), r3, k3, folded


@dataclass
class _WordTable:
    """Per distinct word: folded; folded without a glued preposition, and
    whether it had one; kept by the address types; a known place name."""

    folded: pa.Array
    stripped: pa.Array
    prefixed: np.ndarray
    kept: np.ndarray
    known: np.ndarray


def _word_table(words: pa.Array) -> _WordTable:
    """The :class:`_WordTable` of ``words`` (distinct single words) in whole-array steps: an output's words are
    mostly new (tokens), so a per-word memo would miss and a per-word Python call would set the gate's pace."""
    folded = fw.fold_array(words)
    long_enough = pc.utf8_length(folded).to_numpy(zero_copy_only=False) > 3
    prefixed = long_enough & pc.is_in(pc.utf8_slice_codeunits(folded, 0, 1),
                                      value_set=_prefix_letters()).to_numpy(zero_copy_only=False)
    stripped = pc.if_else(pa.array(prefixed), pc.utf8_slice_codeunits(folded, 1), folded)
    kept = fw.kept_roles(words, folded) != 0
    known = pc.is_in(folded, value_set=_place_value_set()).to_numpy(zero_copy_only=False)
    return _WordTable(folded, stripped, prefixed, kept, known)


@cache
def _prefix_letters() -> pa.Array:
    return pa.array(sorted(chr(c) for c in fw.PREFIX_LETTERS), pa.string())


@cache
def _place_value_set() -> pa.Array:
    return pa.array(sorted(_place_words()), pa.string())


#: distinct name parts whose folded form is remembered between slices (names recur in every slice; a bound, so
#: a file of ever-new words keeps memory flat)
WORD_MEMO = 1 << 17


@lru_cache(maxsize=WORD_MEMO)
def _fold(word: str) -> str:
    return nl.fold(word)


@cache
def _known_places(villages: bool = True) -> frozenset[str]:
    """Every place name of the reference data: cities, governorates, districts, regions and their capitals, in
    Arabic and English, and with ``villages`` Egypt's villages and their markaz."""
    from . import refdata

    names: set[str] = set()
    for table, cols in (("eg_cities", ("name_ar", "name_en")), ("eg_villages", ("markaz_ar", "name_ar")),
                        ("eg_governorates", ("name_ar", "name_en")), ("sa_cities", ("name_ar", "name_en")),
                        ("sa_city_districts", ("name_ar", "name_en")), ("sa_districts", ("name_ar", "name_en")),
                        ("sa_regions", ("name_ar", "name_en", "capital_ar", "capital_en"))):
        if table == "eg_villages" and not villages:
            continue
        try:
            t = refdata.table(table)
        except ValueError:
            continue
        names.update(str(v) for c in cols if c in t.column_names for v in t.column(c).to_pylist() if v)
    return frozenset(names)


@cache
def _place_words() -> frozenset[str]:
    """Folded words of every place name the reference data knows (:func:`_known_places`): a town's name in an
    address is not what identifies its resident."""
    return frozenset(nl.fold(w) for name in _known_places() for w in name.split())


def _core_keys(row: np.ndarray, folded: pa.Array, core: tuple[np.ndarray, np.ndarray]
               ) -> tuple[np.ndarray, pa.Array]:
    """"a:" keys of an address's core: each pair of consecutive core words of a row (structure words and kept
    places left out, so "13 ش التحرير" and "13 شارع التحرير، الدقي" give the same key), except pairs that are a
    town's name alone ("تمى الأمديد": not what identifies a resident, and often a column of its own)."""
    mask, known = core
    ci = np.flatnonzero(mask)
    if len(ci) < 2:
        return np.zeros(0, np.int64), pa.array([], pa.string())
    same = row[ci[1:]] == row[ci[:-1]]
    a, b = ci[:-1][same], ci[1:][same]
    keep = ~(known[a] & known[b])
    a, b = a[keep], b[keep]
    return row[a], pc.binary_join_element_wise("a:", folded.take(pa.array(a)), " ", folded.take(pa.array(b)), "")


def _name_keys(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(row, key) of a name value: every pair of consecutive parts, and a one-part name itself."""
    view = TextView(values)
    ps, pe = nl.name_parts(view)
    if not len(ps):
        return np.zeros(0, np.int64), pa.array([], pa.string())
    parts = view.strings(ps, pe)
    enc = pc.dictionary_encode(parts)
    folded = pa.array([_fold(x).replace(" ", "") for x in enc.dictionary.to_pylist()], pa.string()).take(
        enc.indices)
    row = view.row[ps]
    same = row[1:] == row[:-1]
    i2 = np.flatnonzero(same)
    pair_keys = pc.binary_join_element_wise("n:", folded.take(pa.array(i2)), " ", folded.take(pa.array(i2 + 1)), "")
    count = np.bincount(row, minlength=len(values))
    single = np.flatnonzero(count[row] == 1)
    single_keys = pc.binary_join_element_wise("w:", folded.take(pa.array(single)), "")
    return np.concatenate([row[i2], row[single]]), pa.concat_arrays([pair_keys, single_keys])


def _address_keys(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(row, key) of an address: each pair of consecutive core words (see :func:`_core_keys`), and a one-word
    core (a street name alone) as a single word."""
    view = TextView(values)
    ws, we = fw.word_spans(view, np.zeros(len(view), dtype=bool))
    if not len(ws):
        return np.zeros(0, np.int64), pa.array([], pa.string())
    w_row, w_text = view.row[ws], view.strings(ws, we)
    enc = pc.dictionary_encode(w_text)
    table = _word_table(enc.dictionary)
    i = enc.indices.to_numpy(zero_copy_only=False)
    folded = table.folded.take(enc.indices)
    core = ~table.kept[i], table.known[i]
    r2, k2 = _core_keys(w_row, folded, core)
    count = np.bincount(w_row[core[0]], minlength=len(values))
    lone = np.flatnonzero(core[0] & ~core[1] & (count[w_row] == 1)
                          & ~pc.ascii_is_decimal(w_text).to_numpy(zero_copy_only=False))
    k1 = pc.binary_join_element_wise("w:", folded.take(pa.array(lone)), "")
    return np.concatenate([r2, w_row[lone]]), pa.concat_arrays([k2, k1])


def _column_raw_keys(values: pa.Array, type_name: str) -> tuple[np.ndarray, pa.Array]:
    """(row, key) of a policy column's raw values."""
    values = plain_strings(values)
    core = pc.utf8_trim_whitespace(values)
    keep = _non_empty(core) & (pc.utf8_length(core).to_numpy(zero_copy_only=False) >= 4)
    rows = np.flatnonzero(keep)
    if not len(rows):
        return rows, pa.array([], pa.string())
    sub = core.take(pa.array(rows))
    kind = _KIND_OF_TYPE.get(type_name, "")
    if kind in ("phone", "national_id"):
        from .pii.text import digits_only

        digits = digits_only(sub)
        if kind == "phone":
            keys = _digit_keys(digits)[1:2]
        else:
            keys = [pc.binary_join_element_wise("d:", digits, "")]
        return np.concatenate([rows] * len(keys)), pa.concat_arrays(keys)
    if kind == "email":
        return rows, pc.binary_join_element_wise("e:", pc.utf8_lower(sub), "")
    if kind == "iban":
        return rows, pc.binary_join_element_wise("i:", iban_compact(sub), "")
    if kind == "name":
        r, k = _name_keys(sub)
        return rows[r], k
    if kind == "address":
        r, k = _address_keys(sub)
        return rows[r], k
    # any other type: the value itself, as written
    return rows, pc.binary_join_element_wise("v:", sub, "")


def _text_raw_keys(values: pa.Array, context: list[ft.RowColumn]) -> tuple[np.ndarray, pa.Array]:
    """(row, key) of the PII found in a free-text column of the input (with the row's own values)."""
    det = ft.detect(plain_strings(values), None, context)
    s, e, k = det.all_spans()
    if not len(s):
        return np.zeros(0, np.int64), pa.array([], pa.string())
    view = det.view
    rows = view.row[s]
    texts = view.strings(s, e)
    out_rows, out_keys = [], []
    kinds = np.array([_KIND_OF_SPAN[x] for x in ft.SPAN_KINDS])[k]
    for kind in np.unique(kinds).tolist():
        sel = np.flatnonzero(kinds == kind)
        r, keys = _column_raw_keys(texts.take(pa.array(sel)), {"phone": "phone", "national_id": "eg_national_id",
                                                                "email": "email", "iban": "iban",
                                                                "name": "person_name",
                                                                "address": "eg_address"}[kind])
        out_rows.append(rows[sel][r])
        out_keys.append(keys)
    return np.concatenate(out_rows), pa.concat_arrays(out_keys)


def raw_keys(batch: pa.Table, policy: Any) -> tuple[np.ndarray, pa.Array, np.ndarray, np.ndarray]:
    """(row, key, kind index, value) of every raw value of a batch of the input that must not reach the delivery:
    the policy's columns (every leaf of a nested one, and a path entry's leaf) and the PII in its free text.
    ``value`` numbers the column value a key is of (-1 for PII found in free text): :func:`_whole_values` asks
    whether every word key of one value is in one output value."""
    rows, keys, values = [], [], []
    base = 0
    names = batch.column_names
    # the raw values on both sides (one array: its words are made once)
    context = [ft.RowColumn(spec, v, v) for name, spec in policy.columns.items()
               if spec.type in _KIND_OF_TYPE and spec.method != "keep" and name in names
               and not nested.is_nested(batch.schema.field(name).type)
               for v in [plain_strings(batch.column(names.index(name)).combine_chunks())]]
    for name, spec in policy.columns.items():
        # a generalised column holds the class its raw value was put in, by the policy's choice (a city's
        # governorate may equal the row's raw governorate): its raw values are not searched for
        if spec.method in ("keep", "generalize"):
            continue
        if name in names:
            found = nested.leaves(name, batch.column(names.index(name)))
        else:
            where = nested.split(name, names)
            if where is None:
                continue
            found = [leaf for leaf in nested.leaves(where[0], batch.column(names.index(where[0])))
                     if leaf.path == name]
        for leaf in found:
            if nested.is_nested(leaf.values.type) or not _textual(leaf.values.type):
                continue
            text = plain_strings(_as_text(leaf.values))
            if spec.type == "free_text":
                r, k = _text_raw_keys(text, context if leaf.path == name and len(text) == batch.num_rows else [])
                values.append(np.full(len(r), -1, dtype=np.int64))
            else:
                r, k = _column_raw_keys(text, spec.type)
                values.append(base + r.astype(np.int64))
                base += len(text)
            rows.append(leaf.rows[r])
            keys.append(k)
    if not rows:
        return np.zeros(0, np.int64), pa.array([], pa.string()), np.zeros(0, np.int8), np.zeros(0, np.int64)
    k_all = pa.concat_arrays(keys)
    return np.concatenate(rows), k_all, _key_kind(k_all), np.concatenate(values)


def _textual(t: pa.DataType) -> bool:
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
            or pa.types.is_dictionary(t) or pa.types.is_union(t))


def _as_text(values: pa.Array) -> pa.Array:
    if pa.types.is_union(values.type) or pa.types.is_dictionary(values.type):
        from .io import as_text

        return as_text(values)
    return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())


_KEY_KIND = {"d": "national_id", "p": "phone", "e": "email", "i": "iban", "n": "name", "w": "name",
             "a": "address", "v": "value"}
GATE_KINDS = ("national_id", "phone", "email", "iban", "name", "address", "value")


_KIND_OF_BYTE = np.full(256, GATE_KINDS.index("value"), dtype=np.int8)
for _c, _k in _KEY_KIND.items():
    _KIND_OF_BYTE[ord(_c)] = GATE_KINDS.index(_k)


def _key_kind(keys: pa.Array) -> np.ndarray:
    """The kind index of each key, from its one-letter ASCII prefix (read straight from the UTF-8 buffer)."""
    return _KIND_OF_BYTE[_key_prefix(keys)]


def raw_words(r_rows: np.ndarray, r_keys: pa.Array) -> np.ndarray:
    """Sorted (row, coarse hash) numbers of every word of the input's word keys (names' and addresses' pairs and
    single words; :func:`tokenize_kit.pii.free_text.row_keys`), for :func:`output_keys`' first look."""
    sel = np.flatnonzero(np.isin(_key_kind(r_keys), _WORD_KINDS))
    if not len(sel):
        return np.zeros(0, dtype=np.uint64)
    view = TextView(r_keys.take(pa.array(sel)))
    # a key's words: its runs of characters other than a space, after the two-character prefix ("n:")
    word = view.cps != 0x20
    word[view.row_off[:-1]] = False
    word[view.row_off[:-1] + 1] = False
    ws = np.flatnonzero(word & ~view.prev(word))
    we = np.flatnonzero(word & ~view.next(word)) + 1
    return np.unique(ft.row_keys(view.coarse_hashes(ws, we), r_rows[sel][view.row[ws]]))


def _meeting_words(view: TextView, ws: np.ndarray, we: np.ndarray, rows: np.ndarray, raw: np.ndarray
                   ) -> np.ndarray:
    """Which words lie in a row (of the slice: ``rows[value]``) where some word may be a word of the input's word
    keys of that row: its coarse hash, or its hash less its first character's (the word without a glued
    preposition, بأحمد -> احمد), is among the row's raw word hashes.  A word key (every word of it folded, or
    folded without the preposition) equal to a raw key has each of its words in the raw key, and folding keeps
    coarse hashes, so a row without such a word has no word key that meets the input: its words are left out
    before the keys are made (most rows of a delivery)."""
    value_row = view.row[ws]
    row = rows[value_row]
    h, first = view.coarse_hashes(ws, we), view.coarse_chars(ws)
    meets = (first == 0) | in_sorted(raw, ft.row_keys(h, row)) | in_sorted(raw, ft.row_keys(h - first, row))
    keep = np.zeros(view.rows, dtype=bool)
    keep[value_row[meets]] = True
    return keep[value_row]


@dataclass
class RawLook:
    """What :func:`output_keys` needs of a slice's raw keys for its first looks: the :func:`raw_words`, and which
    kinds of key each row of the slice has (rows x :data:`GATE_KINDS`)."""

    words: np.ndarray
    kinds: np.ndarray

    @classmethod
    def of(cls, r_rows: np.ndarray, r_keys: pa.Array, r_kind: np.ndarray, rows: int) -> RawLook:
        kinds = np.zeros((rows, len(GATE_KINDS)), dtype=bool)
        kinds[r_rows, r_kind] = True
        return cls(raw_words(r_rows, r_keys), kinds)


#: a cell whose compact form (:func:`tokenize_kit.pii.iban._compact_array`: separators removed, Arabic-Indic digits
#: made ASCII, letters upper-cased) can be made of ASCII letters and digits alone: only such a cell can give an
#: IBAN-shaped key
_IBAN_CHARS = f"^[A-Za-z0-9{NON_ASCII_DIGIT_CHARS}{SEPARATOR_CHARS}]{{15,}}$"


def _whole_cell_rows(core: pa.Array, own: np.ndarray | None, kind: str) -> np.ndarray:
    """The cells of an output leaf whose whole-cell key of ``kind`` is made: with ``own`` (per cell, whether its
    input row has a key of that kind) the cells that can meet the input, in their own row or as a coincidence: a
    "v:" key only where the row has one (it is never a coincidence probe), an "e:" key also where the cell holds an
    ``@`` and an "i:" key also where it can have an IBAN's shape (:func:`_lone`'s shapes); without, every cell."""
    if own is None:
        return np.arange(len(core))
    if kind == "email":
        own = own | pc.fill_null(pc.match_substring(core, "@"), False).to_numpy(zero_copy_only=False)
    elif kind == "iban":
        own = own | pc.fill_null(pc.match_substring_regex(core, _IBAN_CHARS), False).to_numpy(zero_copy_only=False)
    return np.flatnonzero(own)


def output_keys(leaf: nested.Leaf, raw: RawLook | None = None) -> tuple[np.ndarray, pa.Array]:
    """(row, key) of everything an output leaf could carry of the input: the trimmed cell itself in every key
    form, every run of digits in every reading, e-mails, IBANs and word pairs and triples.  ``raw``: the slice's
    :class:`RawLook`; whole-cell keys are then made only where they can meet the input (:func:`_whole_cell_rows`)
    and word keys only in rows where they may meet one (:func:`_meeting_words`)."""
    values = leaf.values
    core = pc.utf8_trim_whitespace(values)
    rows_l: list[np.ndarray] = []
    keys_l: list[pa.Array] = []
    # whole cells
    for prefix, kind, form in (("v:", "value", None), ("e:", "email", pc.utf8_lower), ("i:", "iban", iban_compact)):
        sel = _whole_cell_rows(core, None if raw is None else raw.kinds[leaf.rows, GATE_KINDS.index(kind)], kind)
        if len(sel):
            cells = core if len(sel) == len(core) else core.take(pa.array(sel))
            rows_l.append(sel)
            keys_l.append(pc.binary_join_element_wise(prefix, cells if form is None else form(cells), ""))
    view = TextView(values)
    # digits: every candidate run of groups
    nums = fn.candidates(view)
    if len(nums.c_match):
        cand = np.arange(len(nums.c_match))
        digits = nums.candidate_digits(cand)
        crow = view.row[nums.g_start[nums.c_a]]
        for k in _digit_keys(digits):
            rows_l.append(crow)
            keys_l.append(k)
    s, e = find_emails(view)
    if len(s):
        rows_l.append(view.row[s])
        keys_l.append(pc.binary_join_element_wise("e:", pc.utf8_lower(view.strings(s, e)), ""))
    s, e = find_ibans(view)
    if len(s):
        rows_l.append(view.row[s])
        keys_l.append(pc.binary_join_element_wise("i:", iban_compact(view.strings(s, e)), ""))
    ws, we = fw.word_spans(view, np.zeros(len(view), dtype=bool))  # (their roles are the word table's)
    if raw is not None and len(ws):
        keep = _meeting_words(view, ws, we, leaf.rows, raw.words)
        ws, we = ws[keep], we[keep]
    w_row = view.row[ws]
    r2, k2, r3, k3, folded = _word_keys(w_row, view.strings(ws, we))
    rows_l += [r2, r3]
    keys_l += [k2, k3]
    # single words (a one-part name): "w:" keys
    if len(ws):
        rows_l.append(w_row)
        keys_l.append(pc.binary_join_element_wise("w:", folded, ""))
    return np.concatenate(rows_l), pa.concat_arrays([plain_strings(k) for k in keys_l])


def _hash64(keys: pa.Array) -> np.ndarray:
    """A 64-bit hash of each key's UTF-8 bytes (a polynomial over the bytes, the whole column at once in numpy;
    it only narrows: every leak is confirmed by comparing the strings)."""
    if not len(keys):
        return np.zeros(0, dtype=np.uint64)
    data = plain_strings(keys)
    off32 = np.frombuffer(data.buffers()[1], dtype=np.int32, count=len(data) + 1 + data.offset)[data.offset :]
    off = off32.astype(np.int64) - int(off32[0])
    buf = group_bytes(data)
    lengths = np.diff(off)
    # FNV-1a style polynomial hash over bytes, vectorised (only narrows; every leak is confirmed by string)
    pos = np.arange(len(buf), dtype=np.int64) - np.repeat(off[:-1], lengths)
    powers = _powers(int(lengths.max(initial=1)) + 1)
    sums = np.zeros(len(buf) + 1, dtype=np.uint64)
    np.cumsum((buf.astype(np.uint64) + np.uint64(1)) * powers[pos], out=sums[1:])
    return (sums[off[1:]] - sums[off[:-1]]) ^ (lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))


_POWERS: dict[int, np.ndarray] = {}


def _powers(size: int) -> np.ndarray:
    size = 1 << max(size - 1, 1).bit_length()
    p = _POWERS.get(size)
    if p is None:
        p = np.ones(size, dtype=np.uint64)
        np.cumprod(np.full(size - 1, np.uint64(0x100000001B3), dtype=np.uint64), out=p[1:])
        _POWERS[size] = p
    return p


class _Partitions:
    """uint64 records appended to ``parts`` files by the top bits of their hash, in a private temporary folder.

    Every failure to create, write or read the folder is a :class:`ScanError` naming the folder; :meth:`close`
    always removes it."""

    def __init__(self, directory: str | os.PathLike[str] | None, parts: int, label: str) -> None:
        self.base = Path(directory) if directory else Path(tempfile.gettempdir())
        self.parts = parts
        self.shift = np.uint64(64 - int(np.log2(parts)))
        self.written = 0
        self._files: list[Any] = []
        try:
            self.dir = Path(tempfile.mkdtemp(prefix=f"tokenize-kit-scan-{label}-", dir=directory))
        except OSError as exc:
            raise ScanError(f"cannot create a spill folder in {self.base}: {exc.strerror}; "
                            "pass --spill-dir with a writable folder") from None
        try:
            self._files = [open(self.dir / f"{i:03d}.u64", "wb") for i in range(parts)]
        except OSError as exc:
            self.close()
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> ScanError:
        return ScanError(f"the spill folder {self.base} is full or not writable ({exc.strerror}): the gate had "
                         f"written {self.written / 2**20:,.0f} MB there; free space there (the gate spills about "
                         "16 bytes per value of the delivery's ID, phone, e-mail and IBAN readings) or pass "
                         "--spill-dir with a folder on a larger disk")

    def add(self, hashes: np.ndarray, payload: np.ndarray | None = None) -> None:
        if not len(hashes):
            return
        part = (hashes >> self.shift).astype(np.int64)
        order = np.argsort(part, kind="stable")
        cut = np.searchsorted(part[order], np.arange(self.parts + 1))
        items = hashes[order] if payload is None else np.stack([hashes[order], payload[order]], axis=1)
        try:
            for i in range(self.parts):
                if cut[i + 1] > cut[i]:
                    chunk = np.ascontiguousarray(items[cut[i] : cut[i + 1]])
                    self._files[i].write(chunk.tobytes())
                    self.written += chunk.nbytes
        except OSError as exc:
            raise self._failed(exc) from None

    def chunks(self, i: int, width: int, budget: int) -> Iterator[np.ndarray]:
        """Partition ``i`` as arrays of at most ``budget`` bytes (records of ``width`` uint64)."""
        path = self.dir / f"{i:03d}.u64"
        try:
            self._files[i].flush()
            count = path.stat().st_size // (8 * width)
        except OSError as exc:
            raise self._failed(exc) from None
        step = max(1, budget // (8 * width))
        for start in range(0, count, step):
            try:
                data = np.fromfile(path, dtype=np.uint64, count=min(step, count - start) * width,
                                   offset=start * 8 * width)
            except OSError as exc:
                raise self._failed(exc) from None
            yield data.reshape(-1, width) if width > 1 else data

    def close(self) -> None:
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass  # a full disk refusing the last buffered bytes: the folder is removed below all the same
        self._files = []
        shutil.rmtree(self.dir, ignore_errors=True)


def _aligned(a: Iterator[pa.RecordBatch], b: Iterator[pa.RecordBatch]) -> Iterator[tuple[pa.Table, pa.Table]]:
    """The two streams cut into pieces of equal row ranges."""
    buf_a: list[pa.RecordBatch] = []
    buf_b: list[pa.RecordBatch] = []
    na = nb = 0
    done_a = done_b = False
    while True:
        while not done_a and na <= nb:
            x = next(a, None)
            if x is None:
                done_a = True
            else:
                buf_a.append(x)
                na += x.num_rows
        while not done_b and nb <= na:
            y = next(b, None)
            if y is None:
                done_b = True
            else:
                buf_b.append(y)
                nb += y.num_rows
        take = min(na, nb)
        if take == 0:
            if (done_a and done_b) or (done_a and na == 0 and nb) or (done_b and nb == 0 and na):
                if na != nb:
                    raise ScanError("the delivery and the input have different row counts: scan --against compares "
                                    "them row by row (pass the input the delivery was made from)")
                return
            continue
        ta = pa.Table.from_batches(buf_a)
        tb = pa.Table.from_batches(buf_b)
        yield ta.slice(0, take), tb.slice(0, take)
        rest_a, rest_b = ta.slice(take), tb.slice(take)
        buf_a, buf_b = rest_a.to_batches(), rest_b.to_batches()
        na, nb = rest_a.num_rows, rest_b.num_rows
        if done_a and done_b and na == 0 and nb == 0:
            return
        if (done_a and na == 0 and nb) or (done_b and nb == 0 and na):
            raise ScanError("the delivery and the input have different row counts: scan --against compares them "
                            "row by row (pass the input the delivery was made from)")


#: rows of the input and the output compared at once.  A slice's keys (every reading of every run of digits, word
#: pairs and runs) take many times its text, so the slice, not the reader's batch, bounds the gate's memory.  A
#: small slice is also faster: its temporaries are reused from the process's heap instead of being mapped afresh
#: for every slice and faulted in page by page (docs/benchmarks.md)
GATE_ROWS = 4_096
#: bytes of a spilled partition held in memory at once while counting coincidences (raw hashes, and as much again
#: of probes): a partition larger than this is compared block by block, so memory stays bounded whatever the
#: number of distinct values
PART_BUDGET = 64 << 20
_LONE = [GATE_KINDS.index(k) for k in ("national_id", "phone", "email", "iban")]
#: a column's share of probed rows (digits, e-mails, IBANs) equal to a raw value of another row above which the
#: gate fails: realistic tokens meet another row's raw value about as often as the raw values fill their domain
#: (a few in a thousand for a million mobiles), a delivery with raw values in rows out of the input's order in
#: nearly every row.  Counted from :data:`IMPLAUSIBLE_ROWS` such rows up (a tiny file meets nothing by chance).
#: An extract holding most numbers of a phone prefix (tens of millions) meets this share by chance: ``scan
#: --coincidence-share`` raises it for such files.
IMPLAUSIBLE_SHARE = 0.5
IMPLAUSIBLE_ROWS = 10


def implausible(rows: int, base: int, share: float = IMPLAUSIBLE_SHARE) -> bool:
    """Whether ``rows`` of ``base`` rows meeting raw values is more than chance explains (the gate then fails).

    >>> implausible(30, 40), implausible(20, 40), implausible(9, 9), implausible(30, 40, share=0.8)
    (True, False, False, False)
    """
    return rows >= IMPLAUSIBLE_ROWS and rows > share * base
_WORD_KINDS = [GATE_KINDS.index(k) for k in ("name", "address")]


def _lone(keys: pa.Array, kind: np.ndarray) -> np.ndarray:
    """Keys that identify a value on their own, for coincidence counting: digit readings, and e-mails and IBANs
    that have the shape of one (a whole cell of any column is keyed as both; only real shapes can coincide)."""
    lone = np.isin(kind, _LONE)
    for k, shape in (("email", r"^e:[^@\s]+@[^@\s]+$"), ("iban", r"^i:[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")):
        sel = lone & (kind == GATE_KINDS.index(k))
        if sel.any():
            idx = np.flatnonzero(sel)
            ok = pc.match_substring_regex(keys.take(pa.array(idx)), shape).to_numpy(zero_copy_only=False)
            lone[idx[~ok]] = False
    return lone


@dataclass
class Comparison:
    """What one aligned slice of the input and the output holds, rows counted from the slice's first row."""

    #: (output column, kind, unique rows): raw values of the input in their own output row
    leaks: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    #: (output column, kind, unique rows): word pairs of a tokenized name or address column equal to the row's raw
    #: pair, its raw value not there whole (realistic tokens meeting, counted as coincidences)
    words: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    #: hashes of the input's keys that identify a value alone (digits, e-mails, IBANs)
    raw_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    #: (output column, kind index per probe, row per probe, hash per probe): the same kinds of output keys not in
    #: their own row, to be looked up among every row's raw hashes
    probes: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    #: kind (name, address) -> rows of the slice whose input has a word key of that kind: the share of them with
    #: ``words`` in a column is what chance must explain
    word_rows: dict[str, int] = field(default_factory=dict)


def _token_columns(policy: Any) -> frozenset[str]:
    return frozenset(n for n, spec in policy.columns.items()
                     if spec.method == "fpe" and spec.type in ("person_name", "eg_address", "sa_address"))


def compare(raw: pa.Table, out: pa.Table, policy: Any) -> Comparison:
    """Compare one aligned slice of the input and the output (the gate's row-local step; the single-process
    :class:`Gate` and :func:`tokenize_kit.spark.scan_against` both build on it)."""
    c = Comparison()
    r_rows, r_keys, r_kind, r_value = raw_keys(raw, policy)
    if not len(r_keys):
        return c
    # coincidences: only keys that identify a value on their own (digits, e-mails, IBANs)
    c.raw_hashes = _hash64(r_keys.filter(pa.array(_lone(r_keys, r_kind))))
    own = pc.binary_join_element_wise(pc.cast(pa.array(r_rows), pa.string()), r_keys, "\x1f")
    out_leaves, _ = leaves(out)
    token_columns = _token_columns(policy)
    look = RawLook.of(r_rows, r_keys, r_kind, raw.num_rows)
    c.word_rows = {GATE_KINDS[k]: int(look.kinds[:, k].sum()) for k in _WORD_KINDS}
    keyed = []
    for leaf in out_leaves:
        o_rows, o_keys = output_keys(leaf, look)
        if len(o_keys):
            keyed.append((leaf, o_rows, o_keys, pc.binary_join_element_wise(
                pc.cast(pa.array(leaf.rows[o_rows]), pa.string()), o_keys, "\x1f")))
    if not keyed:
        return c
    # one lookup of every column's keys (the raw keys' hash table is built once per slice, not per column)
    probes = pa.concat_arrays([k[3] if k[3].type == pa.string() else k[3].cast(pa.string()) for k in keyed])
    hits = pc.is_in(probes, value_set=own).to_numpy(zero_copy_only=False)
    ends = np.cumsum([len(k[3]) for k in keyed])
    for k, hit_end in zip(keyed, ends.tolist(), strict=True):
        leaf, o_rows, o_keys, _ = k
        kind_o = _key_kind(o_keys)
        hit = hits[hit_end - len(o_keys) : hit_end]
        if hit.any() and leaf.path in token_columns:
            # a tokenized name or address column holds lexicon names and kept places by design: a pair of
            # its words equal to a raw pair of the same row is two realistic tokens meeting, not a leak; but a
            # raw value of two or more words whose every word key is in one output value passed whole (a column
            # left raw): those keys stay leaks
            words = np.isin(kind_o, _WORD_KINDS) & hit
            if words.any():
                idx = np.flatnonzero(words)
                whole = _whole_values(k[3].take(pa.array(idx)), o_rows[idx], own, r_keys, r_value)
                words[idx[whole]] = False
            if words.any():
                for kind in np.unique(kind_o[words]).tolist():
                    c.words.append((leaf.path, GATE_KINDS[kind],
                                    np.unique(leaf.rows[o_rows[words & (kind_o == kind)]])))
                hit = hit & ~words
        if hit.any():
            kinds = kind_o[hit]
            rows = leaf.rows[o_rows[hit]]
            for kind in np.unique(kinds).tolist():
                # one leak per (row, kind): the digits of one value match in several readings
                c.leaks.append((leaf.path, GATE_KINDS[kind], np.unique(rows[kinds == kind])))
        # probes for coincidences: digit, e-mail and IBAN keys not found in their own row
        lone_o = _lone(o_keys, kind_o) & ~hit
        if lone_o.any():
            idx = np.flatnonzero(lone_o)
            c.probes.append((leaf.path, kind_o[idx], leaf.rows[o_rows[idx]].astype(np.int64),
                             _hash64(o_keys.take(pa.array(idx)))))
    return c


def _whole_values(found: pa.Array, o_value: np.ndarray, own: pa.Array, r_keys: pa.Array, r_value: np.ndarray
                  ) -> np.ndarray:
    """Which of the output word keys ``found`` ("row\x1fkey" strings, each equal to one of ``own``; ``o_value``:
    the output value each is of) complete a raw column value of two or more words: every word key of that value
    (``own`` / ``r_keys`` / ``r_value``, see :func:`raw_keys`) is among the keys found in that one output value.
    Two tokens meet one raw pair by chance; a whole name or address of several words does not."""
    pair = np.isin(_key_prefix(r_keys), _PAIR_PREFIXES)
    word = (r_value >= 0) & np.isin(_key_kind(r_keys), _WORD_KINDS)
    if not (word & pair).any():
        return np.zeros(len(found), dtype=bool)
    sel = np.flatnonzero(word)
    codes = pc.dictionary_encode(pa.concat_arrays([own.take(pa.array(sel)), plain_strings(found)])).indices
    codes = codes.to_numpy(zero_copy_only=False).astype(np.int64)
    n_codes = int(codes.max()) + 1
    r_code, o_code = codes[: len(sel)], codes[len(sel):]
    # each raw value's distinct word keys, and whether one of them is a pair (two words or more)
    values, v_of = np.unique(r_value[sel], return_inverse=True)
    u = np.unique(v_of.astype(np.int64) * n_codes + r_code)
    u_value, u_code = u // n_codes, u % n_codes
    keys_of = np.bincount(u_value, minlength=len(values))
    several = np.bincount(v_of, weights=pair[sel], minlength=len(values)) > 0
    # the raw values each distinct (output value, key) found belongs to, counted per output value
    order = np.argsort(u_code, kind="stable")
    code_sorted, value_sorted = u_code[order], u_value[order]
    o_pairs = np.unique(o_value.astype(np.int64) * n_codes + o_code)
    which, at = _equal_ranges(code_sorted, o_pairs % n_codes)
    ov_u, met = np.unique((o_pairs // n_codes)[which] * len(values) + value_sorted[at], return_counts=True)
    full = ov_u[(met == keys_of[ov_u % len(values)]) & several[ov_u % len(values)]]
    whole = np.zeros(len(found), dtype=bool)
    if len(full):  # the found keys of a completed value
        which, at = _equal_ranges(code_sorted, o_code)
        done = in_sorted(full, o_value.astype(np.int64)[which] * len(values) + value_sorted[at])
        whole[which[done]] = True
    return whole


def _equal_ranges(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``keys[i] == sorted_keys[j]``, as two arrays."""
    lo = np.searchsorted(sorted_keys, keys, side="left")
    reps = np.searchsorted(sorted_keys, keys, side="right") - lo
    which = np.repeat(np.arange(len(keys)), reps)
    return which, np.repeat(lo - np.concatenate([[0], np.cumsum(reps)[:-1]]), reps) + np.arange(int(reps.sum()))


#: the one-letter prefixes of word keys of two or more words (a name's pair, an address's pair)
_PAIR_PREFIXES = np.array([ord("n"), ord("a")], dtype=np.uint8)


def _key_prefix(keys: pa.Array) -> np.ndarray:
    """The first byte of each key (its kind letter)."""
    data = plain_strings(keys)
    if not len(data):
        return np.zeros(0, np.uint8)
    bufs = data.buffers()
    starts = np.frombuffer(bufs[1], dtype=np.int32, count=len(data) + 1 + data.offset)[data.offset : -1]
    return np.frombuffer(bufs[2], dtype=np.uint8)[starts]


def release_freed() -> None:
    """Hand the pages Arrow's pool freed back to the system after a slice (as the pipeline does after a batch):
    the pool keeps them for reuse, and a slice's keys take many times its text, so without this the pages one
    slice freed sit under the next slice's peak."""
    pa.default_memory_pool().release_unused()


@dataclass
class Gate:
    """``scan --against``: leaks by row, coincidences through spilled hash partitions (see the module docstring).

    ``budget``: bytes of one partition compared in memory at once (tests pass a tiny one to force every
    partition through the block-by-block path)."""

    policy: Any
    spill_dir: str | os.PathLike[str] | None = None
    parts: int = 64
    budget: int = PART_BUDGET
    #: the share of a column's rows above which coincidences fail the gate (:data:`IMPLAUSIBLE_SHARE`)
    share: float = IMPLAUSIBLE_SHARE
    _raw: _Partitions | None = None
    _probe: _Partitions | None = None
    _probe_columns: list[str] = field(default_factory=list)
    _rows: int = 0
    #: (column id * 16 + kind) -> the probed output rows, a bit each (the denominator of the implausible share)
    _probed: dict[int, np.ndarray] = field(default_factory=dict)
    #: kind (name, address) -> rows whose input has a word key of that kind (the rows whose tokens could meet
    #: their own raw words; those that do are the result's name and address coincidences)
    _word_base: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Gate:
        self._raw = _Partitions(self.spill_dir, self.parts, "raw")
        try:
            self._probe = _Partitions(self.spill_dir, self.parts, "out")
        except BaseException:
            self._raw.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for p in (self._raw, self._probe):
            if p is not None:
                p.close()

    def add(self, raw: pa.Table, out: pa.Table, result: ScanResult, row_offset: int) -> None:
        """Compare one aligned piece of the input and the output (slice by slice: :data:`GATE_ROWS`)."""
        for start in range(0, out.num_rows, GATE_ROWS):
            self._add(raw.slice(start, GATE_ROWS), out.slice(start, GATE_ROWS), result, row_offset + start)

    def _add(self, raw: pa.Table, out: pa.Table, result: ScanResult, row_offset: int) -> None:
        self.take(compare(raw, out, self.policy), result, row_offset, out.num_rows)
        release_freed()

    def take(self, c: Comparison, result: ScanResult, row_offset: int, n_rows: int) -> None:
        """Count a slice's leaks and word pairs, and spill its hashes (``c``: its :func:`compare`, made here or in
        a worker process)."""
        assert self._raw is not None and self._probe is not None
        self._rows = max(self._rows, row_offset + n_rows)
        self._raw.add(c.raw_hashes)
        for path, kind, rows in c.words:
            bucket2 = result.collisions.setdefault(path, {})
            bucket2[kind] = bucket2.get(kind, 0) + len(rows)
        for kind, n in c.word_rows.items():
            self._word_base[kind] = self._word_base.get(kind, 0) + n
        for path, kind, rows in c.leaks:
            result.leaks.setdefault(path, {}).setdefault(kind, KindCount()).add(rows + row_offset + 1)
        for path, kinds, rows, hashes in c.probes:
            if path not in self._probe_columns:
                self._probe_columns.append(path)
            col_id = self._probe_columns.index(path)
            payload = (col_id * 16 + kinds.astype(np.int64)).astype(np.uint64) << np.uint64(40) | (
                rows + row_offset).astype(np.uint64)
            self._probe.add(hashes, payload)
            for kind in np.unique(kinds).tolist():
                _set_bits(self._probed, col_id * 16 + kind, rows[kinds == kind] + row_offset, self._rows)

    def finish(self, result: ScanResult) -> None:
        """Count the coincidences, partition by partition, each in blocks of at most ``budget`` bytes: a bit per
        (column, kind, row) marks the output rows holding a value equal to a raw value of another row."""
        assert self._raw is not None and self._probe is not None
        bits: dict[int, np.ndarray] = {}
        low = np.uint64((1 << 40) - 1)
        for i in range(self.parts):
            for raw in self._raw.chunks(i, 1, self.budget):
                raw = np.unique(raw)
                for probe in self._probe.chunks(i, 2, self.budget):
                    pos = np.minimum(np.searchsorted(raw, probe[:, 0]), len(raw) - 1)
                    hit = probe[raw[pos] == probe[:, 0], 1]
                    if not len(hit):
                        continue
                    col_kind = (hit >> np.uint64(40)).astype(np.int64)
                    rows = (hit & low).astype(np.int64)
                    for ck in np.unique(col_kind).tolist():
                        _set_bits(bits, ck, rows[col_kind == ck], self._rows)
        for ck, b in bits.items():
            col_id, kind = divmod(ck, 16)
            n = int(np.unpackbits(b).sum())
            result.collisions.setdefault(self._probe_columns[col_id], {})[GATE_KINDS[kind]] = n
            probed = int(np.unpackbits(_grown(self._probed[ck], self._rows)).sum()) if ck in self._probed else n
            if implausible(n, probed, self.share):
                result.implausible.setdefault(self._probe_columns[col_id], {})[GATE_KINDS[kind]] = (n, probed)
        # tokens of a name or address column meet words of their own row's raw value about once in a thousand
        # rows at most (a lexicon name beside a kept بن); in most rows, parts of the raw values passed
        for path, kinds in result.collisions.items():
            for word_kind, base in self._word_base.items():
                n = kinds.get(word_kind, 0)
                if implausible(n, base, self.share):
                    result.implausible.setdefault(path, {})[word_kind] = (n, base)


def _grown(bits: np.ndarray, rows: int) -> np.ndarray:
    """``bits`` with room for ``rows`` bits (zeros appended)."""
    size = (rows + 7) // 8
    return bits if len(bits) >= size else np.concatenate([bits, np.zeros(size - len(bits), dtype=np.uint8)])


def _set_bits(bits: dict[int, np.ndarray], key: int, rows: np.ndarray, n_rows: int) -> None:
    """Set the bits of ``rows`` in ``bits[key]`` (a bit per row, grown to ``n_rows`` as the file is read)."""
    b = bits[key] = _grown(bits.get(key, np.zeros(0, dtype=np.uint8)), n_rows)
    rows = rows.astype(np.int64)
    np.bitwise_or.at(b, rows >> 3, (np.uint8(1) << (rows & 7).astype(np.uint8)))


def scan_file(path: str | os.PathLike[str], *, policy: Any = None, against: str | os.PathLike[str] | None = None,
              input_format: str | None = None, encoding: str | None = None, sample: int | None = None,
              spill_dir: str | os.PathLike[str] | None = None, progress: Any = None, delimiter: str | None = None,
              limits: Any = None, processes: int = 1, coincidence_share: float | None = None) -> ScanResult:
    """Scan a file (skipping the policy's columns), and with ``against`` compare it with the raw input
    (``coincidence_share``: see :attr:`Gate.share`; None: :data:`IMPLAUSIBLE_SHARE`).

    ``processes`` > 1 (with ``against``): the slices are compared by this process and ``processes - 1`` worker
    processes side by side (finding PII in text holds the GIL), their findings taken in file order: the same
    result."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError("processes must be a positive integer")
    from .io import DEFAULT_BATCH_BYTES, read_batches
    from .policy import Policy

    pol = Policy.load(policy) if policy is not None else None
    if against is not None and pol is None:
        raise ScanError("--against needs --policy (which columns of the input were tokenized)")
    covered = list(pol.columns) if pol else []
    result = ScanResult(file=Path(path).name, against=Path(against).name if against else None)
    if pol is not None:
        result.kept_by_policy = [n for n, s in pol.columns.items() if s.method == "keep"]
    # batches of about DEFAULT_BATCH_BYTES (not 200,000 rows: a wide file's batch would be hundreds of MB, held
    # twice with --against): the scan's memory does not follow the row width
    batches, _ = read_batches(path, input_format, encoding=encoding, delimiter=delimiter, limits=limits,
                              batch_bytes=DEFAULT_BATCH_BYTES)
    if against is None:
        seen = 0
        for b in batches:
            if sample is not None and seen >= sample:
                break
            if sample is not None:
                b = b.slice(0, sample - seen)
            scan_batch(b, result, covered, seen)
            seen += b.num_rows
            if progress:
                progress(seen, None)
        return result
    raw_batches, _ = read_batches(against, limits=limits, batch_bytes=DEFAULT_BATCH_BYTES)
    with Gate(pol, spill_dir, share=IMPLAUSIBLE_SHARE if coincidence_share is None else coincidence_share) as gate:
        if processes > 1:
            _gate_in_processes(gate, raw_batches, batches, result, covered, processes, progress)
        else:
            seen = 0
            for raw, out in _aligned(iter(raw_batches), iter(batches)):
                scan_batch(out, result, covered, seen)
                gate.add(raw, out, result, seen)
                seen += out.num_rows
                if progress:
                    progress(seen, None)
        gate.finish(result)
    return result


def _gate_in_processes(gate: Gate, raw_batches: Iterable[pa.RecordBatch], batches: Iterable[pa.RecordBatch],
                       result: ScanResult, covered: list[str], processes: int, progress: Any) -> None:
    """:func:`scan_file`'s gate with worker processes: slice k is done here when k is a multiple of
    ``processes``, else by a worker; at most two slices per process are under way, and their findings are
    taken in file order (the first rows of every count are those one process would list).  A slice a worker
    could not do (any error, a worker that died) is done here, which raises its error, if any."""
    from .text_workers import GateWorkers, gate_part

    workers = GateWorkers(processes - 1, gate.policy, covered)
    pending: deque[tuple[Future | None, pa.Table, pa.Table, int]] = deque()

    def settle() -> None:
        future, raw, out, offset = pending.popleft()
        if future is not None:
            try:
                part, c = future.result()
            except Exception:  # (WorkerError, or the worker's own: done again here)
                part, c = gate_part(raw, out, gate.policy, covered, offset)
        else:
            part, c = gate_part(raw, out, gate.policy, covered, offset)
        result.merge(part)
        gate.take(c, result, offset, out.num_rows)
        if progress:
            progress(offset + out.num_rows, None)

    try:
        k = seen = 0
        for raw_all, out_all in _aligned(iter(raw_batches), iter(batches)):
            for start in range(0, out_all.num_rows, GATE_ROWS):
                raw, out = raw_all.slice(start, GATE_ROWS), out_all.slice(start, GATE_ROWS)
                ours = k % processes == 0
                pending.append((None if ours else workers.submit_compare(raw, out, seen), raw, out, seen))
                k += 1
                seen += out.num_rows
                while len(pending) > 2 * processes:
                    settle()
        while pending:
            settle()
    finally:
        workers.close()


def digest(result: ScanResult) -> str:
    """A short fingerprint of a report (for tests comparing runs); never derived from values."""
    return hashlib.sha256(repr(result.to_dict()).encode()).hexdigest()[:16]
