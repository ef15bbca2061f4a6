"""Excel .xlsx read and written directly (SpreadsheetML over a zip), bounded and exact.

Why not openpyxl's read-only reader: it pads every row to the widest cell reference it meets (a 170 KB file
whose cells sit far apart took 2.7 GB), holds a cell's whole text however large (a 1.5 MB zip bomb expands to a
1.5 GiB cell), and under ``data_only`` cannot tell a formula without a cached value from an empty cell.  Here:

* the zip's directory is checked before anything is parsed: total unzipped size and each part's compression
  ratio (:class:`~tokenize_kit.io.Limits`), and no XML part may declare a DTD (entity expansion);
* the sheet is parsed as a stream (expat), so memory is bounded by a batch of rows, and a run of text without
  markup longer than the cell limit stops the parse at once;
* the declared dimension and every cell reference are checked against the sheet-size limit, empty cells are
  never materialised, trailing empty rows are dropped;
* a formula's cached value is read; a formula without one is an error naming its column and row;
* cells keep their kind: numbers, dates (by their number format), booleans and text; a column mixing kinds
  is an Arrow dense union, which the writers write back kind by kind.

Why not openpyxl's writer: it turns text starting with ``=`` into a live formula, silently truncates text over
32,767 characters, stamps the document with the current time and builds a Python object per cell.  Here every
text cell is an inline string (never a formula), text Excel cannot hold is an error naming column and row, the
zip entries carry a fixed date and the workbook no timestamp (re-runs are byte-identical), and rows are built
column by column in Arrow.  The output is the minimal SpreadsheetML package (ECMA-376 Part 1): content types,
relationships, workbook, styles and one sheet named as the input's.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from xml.etree import ElementTree
from xml.parsers import expat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .io import InputError, Limits, as_text, duplicates, limit_error

MAIN_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main")
REL_NS = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "http://purl.oclc.org/ooxml/officeDocument/relationships")
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Excel's own sheet size (rows, columns): a reference beyond it is not a valid workbook
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
#: Excel's limit on a cell's text, in UTF-16 code units
EXCEL_CELL_CHARS = 32_767
#: a part smaller than this is not checked for its compression ratio (tiny parts compress oddly)
RATIO_GRACE = 1 << 20
#: cells held per batch while reading, so a wide sheet's batches stay small
CELLS_PER_BATCH = 1_000_000
#: the 1900 date system's day 0 (Excel counts 1900-02-29, which did not exist; serials below 61 are a day off)
EPOCH_1900 = np.datetime64("1899-12-30", "ms")
EPOCH_1904 = np.datetime64("1904-01-01", "ms")
DAY_MS = 86_400_000
#: built-in number formats that show dates or times (ECMA-376 Part 1, 18.8.30; the same ids as openpyxl)
BUILTIN_DATE_FORMATS = frozenset((14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47))
BUILTIN_TIME_FORMATS = frozenset((18, 19, 20, 21, 45, 46, 47))
BUILTIN_DURATION_FORMATS = frozenset((46,))
# number-format code patterns, after openpyxl.styles.numbers: quoted literals and [locale/colour] blocks are not
# date parts; [h], [m], [s] are elapsed time
_FORMAT_NOISE = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_PART = re.compile(r"(?<![_\\])[dmhysDMHYS]")
_DAY_PART = re.compile(r"(?<![_\\])[dyDY]")
_ELAPSED = re.compile(r"\[hh?\]|\[mm?\]|\[ss?\]", re.I)
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")


#: what reading a damaged zip raises (a bad header, a damaged deflate stream, a wrong CRC, an unknown method)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError,
              struct.error, OverflowError)


class _Serial(float):
    """A number shown as a date and time (its cell's number format)."""


class _Date(_Serial):
    """A number shown as a date."""


class _Time(float):
    """A number shown as a time of day."""


class _Duration(float):
    """A number shown as elapsed time ([h]:mm:ss)."""


# -- the zip ------------------------------------------------------------------------------------------
def _open_zip(path: Path, name: str, limits: Limits) -> zipfile.ZipFile:
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{name} is not an .xlsx zip: an encrypted (password-protected) workbook or an old .xls; "
                         "save a copy as .xlsx without a password")
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except ZIP_ERRORS:
        raise InputError(f"{name} is not a readable .xlsx workbook (not a zip, or a damaged one)") from None
    total = sum(i.file_size for i in infos)
    if total > limits.max_xlsx_bytes:
        raise limit_error(name, f"the workbook's unzipped size, {total:,} bytes,", "max_xlsx_bytes",
                          limits.max_xlsx_bytes)
    for info in infos:
        if info.file_size > RATIO_GRACE and info.file_size > limits.max_xlsx_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise limit_error(name, f"part {info.filename} unzips to {ratio:,} times its zipped size (a zip bomb?); "
                              "the compression ratio", "max_xlsx_ratio", limits.max_xlsx_ratio)
    return zf


def _check_no_dtd(chunk: bytes, part: str, name: str) -> None:
    if b"<!DOCTYPE" in chunk or b"<!ENTITY" in chunk:
        raise InputError(f"{name}: part {part} declares a DTD, which a workbook never does (entity expansion "
                         "is refused)")


class _Parser:
    """An expat parser fed from a zip part in chunks, refusing DTDs and runs of text too long for a cell.

    ``handlers`` maps expat handler names to callables; namespaces are resolved (``ns local`` names)."""

    def __init__(self, zf: zipfile.ZipFile, part: str, name: str, limits: Limits, **handlers: Any) -> None:
        self.zf, self.part, self.name, self.limits = zf, part, name, limits
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.buffer_text = True
        self.parser.buffer_size = 1 << 16
        for key, fn in handlers.items():
            setattr(self.parser, key, fn)
        #: a cell's text is at most the limit; its markup (entities, escapes) at most a few times that
        self.max_gap = 8 * limits.max_cell_bytes + (1 << 16)

    def feed(self) -> Iterator[None]:
        """Parse the part chunk by chunk, pausing after each one (the handlers may have work to hand on)."""
        gap = 0
        tail = b""
        try:
            with self.zf.open(self.part) as fh:
                while chunk := fh.read(1 << 20):
                    _check_no_dtd(tail + chunk, self.part, self.name)
                    tail = chunk[-16:]
                    last = chunk.rfind(b"<")
                    gap = gap + len(chunk) if last < 0 else len(chunk) - last
                    if gap > self.max_gap:
                        raise limit_error(f"{self.name}: part {self.part}", "a run of text longer than any cell may "
                                          "hold (a cell or attribute over the cells' limit)", "max_cell_bytes",
                                          self.limits.max_cell_bytes)
                    self.parser.Parse(chunk, False)
                    yield
                self.parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise InputError(f"{self.name}: part {self.part} is not well-formed XML (line {exc.lineno}, column "
                             f"{exc.offset}: {expat.ErrorString(exc.code)})") from None
        except ZIP_ERRORS as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{self.name}: part {self.part} cannot be unzipped (a damaged workbook: "
                             f"{type(exc).__name__})") from None
        yield

    def run(self) -> None:
        for _ in self.feed():
            pass


def _small_part(zf: zipfile.ZipFile, part: str, name: str) -> ElementTree.Element | None:
    """A small XML part (workbook, relationships, styles) as a tree, or None if absent."""
    try:
        data = zf.read(part)
    except KeyError:
        return None
    except ZIP_ERRORS as exc:
        raise InputError(f"{name}: part {part} cannot be unzipped (a damaged workbook: {type(exc).__name__})") from None
    _check_no_dtd(data, part, name)
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InputError(f"{name}: part {part} is not well-formed XML ({exc.code})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rels(zf: zipfile.ZipFile, part: str, name: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type's last path segment, target part name)."""
    folder = PurePosixPath(part).parent
    rels_part = str(folder / "_rels" / (PurePosixPath(part).name + ".rels")).lstrip("/")
    root = _small_part(zf, rels_part, name)
    out = {}
    for rel in root if root is not None else []:
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        full = target.lstrip("/") if target.startswith("/") else _normalise(str(folder / target))
        out[rel.get("Id", "")] = (rel.get("Type", "").rsplit("/", 1)[-1], full)
    return out


def _normalise(path: str) -> str:
    parts: list[str] = []
    for p in path.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/".join(parts)


# -- the workbook -------------------------------------------------------------------------------------
class _Workbook:
    """What the first sheet needs: its name and part, the shared strings, the date formats, the date system."""

    def __init__(self, zf: zipfile.ZipFile, name: str, limits: Limits) -> None:
        self.zf, self.name, self.limits = zf, name, limits
        root_rels = _rels(zf, "", name)
        book = next((t for kind, t in root_rels.values() if kind == "officeDocument"), "xl/workbook.xml")
        wb = _small_part(zf, book, name)
        if wb is None:
            raise InputError(f"{name} is not an .xlsx workbook (no workbook part)")
        rels = _rels(zf, book, name)
        sheets = [e for e in wb.iter() if _local(e.tag) == "sheet"]
        if not sheets:
            raise InputError(f"{name}: the workbook has no sheet")
        first = sheets[0]
        self.sheet_name = first.get("name") or "Sheet1"
        rid = next((v for k, v in first.attrib.items() if _local(k) == "id"), None)
        self.sheet_part = rels.get(rid or "", ("", ""))[1]
        if self.sheet_part not in zf.NameToInfo:
            raise InputError(f"{name}: the first sheet's part is missing (a damaged workbook)")
        pr = next((e for e in wb.iter() if _local(e.tag) == "workbookPr"), None)
        self.epoch = EPOCH_1904 if pr is not None and pr.get("date1904") in ("1", "true") else EPOCH_1900
        by_kind = {kind: target for kind, target in rels.values()}
        self.kinds = self._styles(by_kind.get("styles"))
        self.strings = self._shared_strings(by_kind.get("sharedStrings"))

    def _styles(self, part: str | None) -> list[type | None]:
        """Per cell style index: the kind its number format shows (_Date, _Serial, _Time, _Duration or None)."""
        root = _small_part(self.zf, part, self.name) if part else None
        if root is None:
            return []
        custom = {}
        for e in root.iter():
            if _local(e.tag) == "numFmt":
                try:
                    custom[int(e.get("numFmtId", ""))] = e.get("formatCode", "")
                except ValueError:
                    continue
        xfs = next((e for e in root if _local(e.tag) == "cellXfs"), None)
        kinds: list[type | None] = []
        for xf in xfs if xfs is not None else []:
            try:
                fmt_id = int(xf.get("numFmtId", "0"))
            except ValueError:
                fmt_id = 0
            kinds.append(_format_kind(fmt_id, custom.get(fmt_id)))
        return kinds

    def _shared_strings(self, part: str | None) -> list[str]:
        if not part or part not in self.zf.NameToInfo:
            return []
        strings: list[str] = []
        text: list[str] = []
        depth = {"t": False, "rph": 0, "size": 0}
        limit = self.limits.max_cell_bytes

        def start(tag: str, attrs: dict) -> None:
            local = tag.rsplit(" ", 1)[-1]
            if local == "t" and not depth["rph"]:
                depth["t"] = True
            elif local == "rPh":
                depth["rph"] += 1
            elif local == "si":
                text.clear()
                depth["size"] = 0

        def end(tag: str) -> None:
            local = tag.rsplit(" ", 1)[-1]
            if local == "t":
                depth["t"] = False
            elif local == "rPh":
                depth["rph"] -= 1
            elif local == "si":
                s = "".join(text)
                strings.append(_unescape(s) if "_x" in s else s)

        def data(chunk: str) -> None:
            if depth["t"]:
                text.append(chunk)
                depth["size"] += len(chunk)
                if depth["size"] > limit:
                    raise limit_error(f"{self.name}: shared string {len(strings) + 1}", "a cell's text",
                                      "max_cell_bytes", limit)

        _Parser(self.zf, part, self.name, self.limits, StartElementHandler=start, EndElementHandler=end,
                CharacterDataHandler=data).run()
        return strings


def _format_kind(fmt_id: int, code: str | None) -> type | None:
    if code is None:
        if fmt_id in BUILTIN_DURATION_FORMATS:
            return _Duration
        if fmt_id in BUILTIN_TIME_FORMATS:
            return _Time
        return _Date if fmt_id in BUILTIN_DATE_FORMATS else None
    first = code.split(";")[0]
    if _ELAPSED.search(first):
        return _Duration
    stripped = _FORMAT_NOISE.sub("", first)
    if not _DATE_PART.search(stripped):
        return None
    if not _DAY_PART.search(stripped):
        return _Time
    return _Serial if re.search(r"(?<![_\\])[hsHS]", stripped) else _Date


def _unescape(s: str) -> str:
    """OOXML's ``_xHHHH_`` escapes (characters XML cannot hold; ``_x005F_`` is a literal underscore)."""
    return _ESCAPED_CHAR.sub(lambda m: chr(int(m[1], 16)), s)


# -- the sheet ----------------------------------------------------------------------------------------
def read_xlsx(path: Path, batch_size: int, limits: Limits, name: str | None = None
              ) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    """The first sheet of ``path`` as batches (first row with a value = header), and ``{"sheet": its name}``.
    The workbook's directory, shared strings and styles are read here, so a bad workbook fails at once."""
    name = name or str(path)
    zf = _open_zip(path, name, limits)
    book = _Workbook(zf, name, limits)
    return _SheetReader(book, batch_size, limits).batches(), {"sheet": book.sheet_name}


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


_LETTERS = re.compile(r"[A-Z]{1,3}")
#: the sheet elements the reader acts on
_SHEET_TAGS = ("c", "v", "t", "f", "rPh", "row", "dimension", "is")


class _SheetReader:
    """Streams the sheet part: cells become Python values per row, rows become Arrow batches."""

    def __init__(self, book: _Workbook, batch_size: int, limits: Limits) -> None:
        self.book, self.limits, self.name = book, limits, book.name
        self.batch_size = batch_size
        self.header: list[str] | None = None
        self.header_row = 0
        self.width = 0
        self.rows_per_batch = batch_size
        #: finished batches, not yet built: (per column with cells, its (row, value) pairs; rows; first row).
        #: Arrow arrays are built one batch at a time as they are handed on, so a jump over many empty rows
        #: queues only small descriptors
        self.out: list[tuple[dict[int, list], int, int]] = []
        # the batch being filled: per column, (row index within the batch, value) pairs
        self.cols: dict[int, list[tuple[int, Any]]] = {}
        self.rows_in_batch = 0
        self.batch_first_row = 0
        self.last_row = 0
        self.row_cells: dict[int, Any] = {}
        self.row_no = 0
        self.col_cursor = 0
        self.cols_cache: dict[str, int] = {}
        self.yielded = False

    def batches(self) -> Iterator[pa.RecordBatch]:
        book = self.book
        strings, kinds, limit = book.strings, book.kinds, self.limits.max_cell_bytes
        # one cell's state, as closure variables (the callbacks run once or twice per XML element: they are kept
        # as short as can be)
        t, s, r, v = "n", None, None, None
        formula = collect = False
        size = rph = 0
        text: list[str] = []
        codes = {f"{ns} {local}": i for ns in MAIN_NS for i, local in enumerate(_SHEET_TAGS)}
        C, V, T, F, RPH, ROW, DIM, IS = (_SHEET_TAGS.index(x) for x in ("c", "v", "t", "f", "rPh", "row", "dimension",
                                                                       "is"))

        def start(tag: str, attrs: dict) -> None:
            nonlocal t, s, r, v, formula, collect, size, rph
            code = codes.get(tag)
            if code == C:
                t, s, r, v = attrs.get("t", "n"), attrs.get("s"), attrs.get("r"), None
                formula = False
                size = 0
                text.clear()
            elif code == V:
                collect = True
                size = 0
                text.clear()
            elif code == T:
                collect = not rph
            elif code == F:
                formula = True
            elif code == RPH:
                rph += 1
            elif code == ROW:
                self._start_row(attrs.get("r"))
            elif code == DIM:
                self._check_dimension(attrs.get("ref", ""))

        def end(tag: str) -> None:
            nonlocal v, collect, rph
            code = codes.get(tag)
            if code == C:
                self._cell(t, s, r, v, formula, strings, kinds)
            elif code == V:
                collect = False
                v = "".join(text)
            elif code == T:
                collect = False
            elif code == IS:
                v = "".join(text)
            elif code == RPH:
                rph -= 1
            elif code == ROW:
                self._end_row()

        def data(chunk: str) -> None:
            nonlocal size
            if collect:
                text.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise limit_error(f"{self.name}: row {max(self.row_no, 1)}", "a cell's text", "max_cell_bytes",
                                      limit)

        parser = _Parser(book.zf, book.sheet_part, self.name, self.limits, StartElementHandler=start,
                         EndElementHandler=end, CharacterDataHandler=data)
        try:
            for _ in parser.feed():
                while self.out:
                    yield self._build(*self.out.pop(0))
            if self.row_cells:  # cells after the last row element
                self._end_row()
            if self.header is None:
                raise InputError(f"{self.name}: the first sheet is empty: expected a header row")
            if self.rows_in_batch or not self.yielded:  # the last rows, or a header-only sheet's empty batch
                self._flush()
            while self.out:
                yield self._build(*self.out.pop(0))
        finally:
            book.zf.close()

    def _check_dimension(self, ref: str) -> None:
        parts = ref.upper().split(":")
        try:
            cells = [self._ref(p) for p in parts]
        except InputError:
            return  # an unreadable dimension is ignored: the cells themselves are checked
        rows = cells[-1][0] - cells[0][0] + 1
        cols = cells[-1][1] - cells[0][1] + 1
        if rows * cols > self.limits.max_xlsx_cells:
            raise limit_error(self.name, f"the sheet's declared dimension {ref} ({rows:,} rows x {cols:,} columns)",
                              "max_xlsx_cells", self.limits.max_xlsx_cells)

    def _ref(self, ref: str) -> tuple[int, int]:
        letters = ref.rstrip("0123456789")
        col = self.cols_cache.get(letters)
        if col is None:
            if not _LETTERS.fullmatch(letters):
                raise InputError(f"{self.name}: a cell reference that is not one (row {self.row_no})")
            col = self.cols_cache.setdefault(letters, _column_index(letters))
        digits = ref[len(letters):]
        if not digits.isdigit():
            raise InputError(f"{self.name}: a cell reference that is not one (row {self.row_no})")
        row = int(digits)
        if not (1 <= row <= EXCEL_ROWS and col <= EXCEL_COLUMNS):
            raise InputError(f"{self.name}: a cell reference beyond Excel's sheet ({EXCEL_ROWS:,} rows x "
                             f"{EXCEL_COLUMNS:,} columns): a damaged or hostile workbook")
        return row, col

    def _start_row(self, r: str | None) -> None:
        if r is not None:
            try:
                row = int(r)
            except ValueError:
                raise InputError(f"{self.name}: a row number that is not one (after row {self.row_no})") from None
            if not 1 <= row <= EXCEL_ROWS:
                raise InputError(f"{self.name}: row {row:,} is beyond Excel's {EXCEL_ROWS:,} rows")
            self.row_no = row
        else:
            self.row_no += 1
        self.col_cursor = 0
        self.row_cells = {}

    def _cell(self, t: str, s: str | None, ref: str | None, v: str | None, formula: bool, strings: list[str],
              kinds: list) -> None:
        if ref is not None:
            row, col = self._ref(ref)
            if row != self.row_no:  # a cell outside its row element (or no row element)
                if self.row_cells:
                    self._end_row()
                self.row_no, self.row_cells = row, {}
        else:
            row, col = self.row_no, self.col_cursor + 1
        self.col_cursor = col
        if formula and not v:
            raise InputError(f"{self.name}: column {self._column_name(col)!r}, row {row}: a formula without a cached "
                             "value (its result was never computed and saved); open the file in Excel and save it, "
                             "or replace the formulas by their values")
        if v is None or (v == "" and t not in ("str", "inlineStr", "s")):
            return
        try:
            if t == "s":
                value: Any = strings[int(v)]
            elif t in ("str", "inlineStr"):
                value = _unescape(v) if "_x" in v else v
            elif t == "b":
                value = {"1": True, "0": False, "true": True, "false": False}[v.strip()]
            elif t == "e":
                value = v
            elif t == "d":
                value = _iso_serial(v, self.book.epoch)
            else:
                value = _number(v)
                if s is not None and kinds:
                    kind = kinds[int(s)] if int(s) < len(kinds) else None
                    if kind is not None and 0 <= value < 2_958_466:  # (Excel's last date: 9999-12-31)
                        value = (_Serial if kind is _Time and value >= 1 else kind)(value)
        except (ValueError, IndexError, KeyError, OverflowError):
            raise InputError(f"{self.name}: column {self._column_name(col)!r}, row {row}: a cell whose value does not "
                             f"match its type ({t!r}): a damaged workbook") from None
        if value == "" and t != "s":
            return
        self.row_cells[col] = value

    def _column_name(self, col: int) -> str:
        if self.header is not None and col <= len(self.header):
            return self.header[col - 1]
        letters = ""
        while col:
            col, rem = divmod(col - 1, 26)
            letters = chr(65 + rem) + letters
        return letters

    def _end_row(self) -> None:
        cells, self.row_cells = self.row_cells, {}
        if not cells:
            return
        row = self.row_no
        if self.header is None:
            self.width = max(cells)
            self.header = [str(cells[i]) if i in cells else f"column_{i}" for i in range(1, self.width + 1)]
            dupes = duplicates(self.header)
            if dupes:
                raise InputError(f"{self.name}: duplicate column name(s) in the header: {dupes}")
            self.header_row = row
            self.rows_per_batch = max(256, min(self.batch_size, CELLS_PER_BATCH // self.width))
            self.batch_first_row = row + 1
            self.last_row = row
            return
        if row <= self.last_row:
            raise InputError(f"{self.name}: row {row} comes after row {self.last_row} (rows out of order: a damaged "
                             "workbook)")
        if max(cells) > self.width:
            raise InputError(f"{self.name}: row {row} has cells beyond the header's {self.width} columns")
        if (row - self.header_row) * self.width > self.limits.max_xlsx_cells:
            raise limit_error(self.name, f"the sheet, reaching row {row:,} over {self.width:,} columns,",
                              "max_xlsx_cells", self.limits.max_xlsx_cells)
        while row - self.batch_first_row >= self.rows_per_batch:  # rows skipped up to here fill whole batches
            self.rows_in_batch = self.rows_per_batch
            self._flush()
        at = row - self.batch_first_row
        for col, value in cells.items():
            self.cols.setdefault(col - 1, []).append((at, value))
        self.rows_in_batch = at + 1
        self.last_row = row

    def _flush(self) -> None:
        self.out.append((self.cols, self.rows_in_batch, self.batch_first_row))
        self.yielded = True
        self.cols = {}
        self.batch_first_row += self.rows_in_batch
        self.rows_in_batch = 0

    def _build(self, cols: dict[int, list[tuple[int, Any]]], n: int, first_row: int) -> pa.RecordBatch:
        assert self.header is not None
        arrays = [_column(cols.get(i, []), n, self.book.epoch) for i in range(self.width)]
        return pa.RecordBatch.from_arrays(arrays, names=self.header)


def _number(v: str) -> int | float:
    s = v.strip()
    if s.lstrip("-").isdigit() and len(s) < 19:
        return int(s)
    f = float(s)
    if f.is_integer() and abs(f) < 2**53:
        return int(f)
    return f


def _iso_serial(v: str, epoch: np.datetime64) -> _Serial:
    """A ``t="d"`` cell (ISO 8601 text) as an Excel serial shown as a date and time."""
    when = dt.datetime.fromisoformat(v.strip().replace("Z", ""))
    ms = int((np.datetime64(when.replace(tzinfo=None), "ms") - epoch) / np.timedelta64(1, "ms"))
    serial = ms / DAY_MS
    if epoch == EPOCH_1900 and serial < 61:
        serial -= 1
    return (_Date if ms % DAY_MS == 0 else _Serial)(serial)


def _serials_to_ms(values: np.ndarray, epoch: np.datetime64) -> np.ndarray:
    days = values.copy()
    if epoch == EPOCH_1900:
        days = np.where((days > 0) & (days < 60), days + 1, days)  # 1900 "leap day" bug: before March 1900
    return np.round(days * DAY_MS).astype(np.int64) + epoch.astype(np.int64)


_KIND_ORDER: tuple[type, ...] = (str, int, float, bool, _Date, _Serial, _Time, _Duration)


def _kind_of(value: Any) -> type[Any]:
    """A mixed column's child for ``value``: numbers share one (float), dates and date-times share one."""
    t = type(value)
    return float if t is int else _Serial if t is _Date else t


def _column(cells: list[tuple[int, Any]], n: int, epoch: np.datetime64) -> pa.Array:
    """One batch column from its (row, value) pairs: one Arrow type when every value has one kind, else a dense
    union of the kinds present (text, number, boolean, date, ...)."""
    if not cells:
        return pa.nulls(n, pa.string())
    at = np.fromiter((c[0] for c in cells), dtype=np.int64, count=len(cells))
    values = [c[1] for c in cells]
    types = set(map(type, values))
    if types == {int, float}:
        types = {float}
    elif types == {_Date, _Serial}:
        types = {_Serial}
    if len(types) == 1:
        kind = types.pop()
        arr = _typed(values, kind, epoch)
        return _spread(arr, at, n)
    # mixed kinds: a dense union, one child per kind
    kinds = [k for k in _KIND_ORDER if k in {_kind_of(v) for v in values}]
    code: dict[type, int] = {k: i for i, k in enumerate(kinds)}
    codes = np.fromiter((code[_kind_of(v)] for v in values), dtype=np.int8, count=len(values))
    children = []
    offsets = np.zeros(len(values), dtype=np.int32)
    for i, k in enumerate(kinds):
        idx = np.flatnonzero(codes == i)
        offsets[idx] = np.arange(len(idx), dtype=np.int32)
        children.append(_typed([values[j] for j in idx], k, epoch))
    # rows without a value: a null of the text child (appended at its end)
    type_ids = np.zeros(n, dtype=np.int8)
    offs = np.zeros(n, dtype=np.int32)
    empty = np.ones(n, dtype=bool)
    empty[at] = False
    type_ids[at] = codes
    offs[at] = offsets
    missing = int(empty.sum())
    if missing:
        text_child = code.get(str)
        if text_child is None:
            kinds.insert(0, str)
            children.insert(0, pa.array([], pa.string()))
            type_ids[at] += 1
            text_child = 0
        children[text_child] = pa.concat_arrays([children[text_child], pa.nulls(missing, pa.string())])
        base = len(children[text_child]) - missing
        type_ids[empty] = text_child
        offs[empty] = base + np.arange(missing, dtype=np.int32)
    return pa.UnionArray.from_dense(pa.array(type_ids, pa.int8()), pa.array(offs, pa.int32()), children,
                                    [_KIND_NAMES[k] for k in kinds])


_KIND_NAMES = {str: "text", int: "integer", float: "number", bool: "boolean", _Date: "date", _Serial: "datetime",
               _Time: "time", _Duration: "duration"}


def _typed(values: list[Any], kind: type, epoch: np.datetime64) -> pa.Array:
    if kind is str:
        return pa.array(values, pa.string())
    if kind is bool:
        return pa.array(values, pa.bool_())
    if kind is int:
        return pa.array(values, pa.int64())
    if kind is float:
        return pa.array(np.array(values, dtype=np.float64))
    raw = np.array(values, dtype=np.float64)
    if kind is _Time:
        return pa.array(np.round(raw % 1 * DAY_MS).astype(np.int32), pa.time32("ms"))
    if kind is _Duration:
        return pa.array(np.round(raw * DAY_MS).astype(np.int64), pa.duration("ms"))
    ms = _serials_to_ms(raw, epoch)
    if kind is _Date and not np.any(ms % DAY_MS):
        return pa.array((ms // DAY_MS).astype(np.int32), pa.date32())
    return pa.array(ms, pa.timestamp("ms"))


def _spread(arr: pa.Array, at: np.ndarray, n: int) -> pa.Array:
    """``arr``'s values at rows ``at`` of an ``n``-row column, nulls elsewhere."""
    if len(at) == n:
        return arr
    pos = np.zeros(n, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    pos[at] = np.arange(len(at))
    mask[at] = False
    return arr.take(pa.array(pos, mask=mask))


# -- the writer ---------------------------------------------------------------------------------------
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: cell styles of the output (styles.xml's cellXfs): 0 General, then dates, date-times, times, durations
_STYLE = {"date": 1, "datetime": 2, "time": 3, "duration": 4}
_STYLES_XML = (
    _XML_DECL + '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="4"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/><numFmt numFmtId="166" formatCode="hh:mm:ss"/>'
    '<numFmt numFmtId="167" formatCode="[h]:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    + "".join(f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
              for i in (164, 165, 166, 167))
    + '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_CONTENT_TYPES = (
    _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = (
    _XML_DECL + f'<Relationships xmlns="{PKG_REL_NS}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_BOOK_RELS = (
    _XML_DECL + f'<Relationships xmlns="{PKG_REL_NS}">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>')
_SHEET_HEAD = (_XML_DECL + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"
#: rows turned into XML at a time (bounds the XML text held in memory)
WRITE_ROWS = 16_384


def _letters(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _xml_attr(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _sheet_title(name: str | None) -> str:
    """Excel's rules for a sheet name: at most 31 characters, none of : \\ / ? * [ ]."""
    title = re.sub(r"[:\\/?*\[\]]", "_", name or "")[:31].strip("'")
    return title or "Sheet1"


class XlsxWriter:
    """Writes batches as one sheet of an .xlsx, streaming the sheet's XML into the zip."""

    def __init__(self, fh: BinaryIO, names: list[str], sheet: str | None = None) -> None:
        self._zip = zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED)
        self._sheet = self._zip.open(self._info("xl/worksheets/sheet1.xml"), "w")
        self._title = _sheet_title(sheet)
        self._names = names
        self._letters = [_letters(i + 1) for i in range(len(names))]
        self._written = 0  # data rows written (the header is Excel's row 1)
        self._sheet.write(_SHEET_HEAD.encode())
        header = pa.array([str(n) for n in names], pa.string())
        self._check_text(header, "the header", None)
        cells = "".join(f'<c r="{letter}1" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
                        for letter, text in zip(self._letters, _xml_text(header).to_pylist(), strict=True))
        self._sheet.write(f'<row r="1">{cells}</row>'.encode())

    @staticmethod
    def _info(part: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(part, date_time=_FIXED_DATE)  # a fixed date: re-runs give the same bytes
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def write(self, batch: pa.RecordBatch) -> None:
        for start in range(0, batch.num_rows, WRITE_ROWS):
            part = batch.slice(start, WRITE_ROWS)
            self._write_rows(part)

    def _write_rows(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        first = self._written + 1  # the first data row of this slice (its Excel row is one more)
        rows = pc.cast(pa.array(np.arange(first + 1, first + 1 + n, dtype=np.int64)), pa.string())
        pieces: list[Any] = ['<row r="', rows, '">']
        for j, col in enumerate(batch.columns):
            pieces.append(self._cells(col, self._letters[j], rows, batch.schema.names[j], first))
        pieces.append("</row>")
        xml = pc.binary_join_element_wise(*pieces, "")
        from .io import _string_payload

        try:
            self._sheet.write(_string_payload(xml).data)
        except RuntimeError:  # zipfile: the entry is over 2 GiB without zip64
            raise InputError("the sheet's XML is over 2 GiB, more than an .xlsx part holds; write CSV or "
                             "Parquet") from None
        self._written += n

    def _cells(self, col: pa.Array, letter: str, rows: pa.Array, name: str, first_row: int) -> pa.Array:
        """Each row's ``<c>`` element for this column ('' where the cell is empty)."""
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        t = col.type
        if pa.types.is_union(t):
            # each child's cells where the row is of its kind, '' elsewhere: joined, every row is its own kind's cell
            children = [self._cells_of_child(col, i, letter, rows, name, first_row) for i in range(t.num_fields)]
            return pc.binary_join_element_wise(*children, "") if len(children) > 1 else children[0]
        return self._typed_cells(col, letter, rows, name, first_row)

    def _cells_of_child(self, col: pa.UnionArray, i: int, letter: str, rows: pa.Array, name: str, first_row: int
                        ) -> pa.Array:
        """The child's cells spread over the union's rows (dense union: by its offsets), '' elsewhere."""
        child = col.field(i)
        offsets = col.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        codes = col.type_codes.to_numpy(zero_copy_only=False)
        mine = codes == col.type.type_codes[i]
        pos = np.where(mine, offsets, 0)
        spread = child.take(pa.array(pos, mask=~mine)) if len(child) else pa.nulls(len(col), child.type)
        return self._typed_cells(spread, letter, rows, name, first_row)

    def _typed_cells(self, col: pa.Array, letter: str, rows: pa.Array, name: str, first_row: int) -> pa.Array:
        t = col.type
        ref = ['<c r="' + letter, rows]
        style = ""
        if pa.types.is_null(t) or col.null_count == len(col):  # no cell at all
            return pa.array([""] * len(col), pa.string())
        if pa.types.is_boolean(t):
            body = pc.if_else(col, '" t="b"><v>1</v></c>', '" t="b"><v>0</v></c>')
            out = pc.binary_join_element_wise(*ref, body, "")
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            num = col.cast(pa.float64()) if pa.types.is_decimal(t) else col
            text = pc.cast(num, pa.string())
            if pa.types.is_floating(num.type):
                finite = pc.is_finite(num)
                if not pc.all(pc.fill_null(finite, True)).as_py():  # NaN and infinities: Excel has none; as text
                    words = pc.if_else(finite, pa.scalar(None, pa.string()), text)
                    out_text = self._text_cells(words, ref, name, first_row)
                    numbers = pc.if_else(finite, text, pa.scalar(None, pa.string()))
                    out_num = pc.binary_join_element_wise(*ref, '"><v>', numbers, "</v></c>", "")
                    return pc.coalesce(out_num, out_text, "")
            out = pc.binary_join_element_wise(*ref, '"><v>', text, "</v></c>", "")
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            serial, kind = _to_serial(col)
            style = str(_STYLE[kind])
            out = pc.binary_join_element_wise(*ref, f'" s="{style}"><v>', pc.cast(serial, pa.string()), "</v></c>", "")
        elif pa.types.is_time(t) or pa.types.is_duration(t):
            ms = col.cast(pa.int64()) if pa.types.is_duration(t) else _time_ms(col)
            serial = pc.divide(pc.cast(ms, pa.float64()), float(DAY_MS))
            style = str(_STYLE["duration" if pa.types.is_duration(t) else "time"])
            out = pc.binary_join_element_wise(*ref, f'" s="{style}"><v>', pc.cast(serial, pa.string()), "</v></c>", "")
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
            return self._text_cells(as_text(col), ref, name, first_row)
        else:  # nested or binary values (rare in extracts): their JSON text
            from .io import _json_values

            return self._text_cells(_json_values(col), ref, name, first_row)
        return pc.fill_null(out, "")

    def _text_cells(self, text: pa.Array, ref: list[Any], name: str, first_row: int) -> pa.Array:
        """Text cells as inline strings: always text, never a formula, whatever the text starts with."""
        if text.null_count == len(text):
            return pa.array([""] * len(text), pa.string())
        self._check_text(text, f"column {name!r}", first_row)
        out = pc.binary_join_element_wise(*ref, '" t="inlineStr"><is><t xml:space="preserve">', _xml_text(text),
                                          "</t></is></c>", "")
        return pc.fill_null(out, "")

    @staticmethod
    def _check_text(text: pa.Array, where: str, first_row: int | None) -> None:
        """Excel holds at most 32,767 characters (UTF-16 code units) per cell: refuse, never truncate."""
        from .io import _byte_sizes

        sizes = _byte_sizes(text)
        long = np.flatnonzero(sizes > EXCEL_CELL_CHARS)
        if not len(long):
            return
        units = pc.utf8_length(text.take(pa.array(long))).to_numpy(zero_copy_only=False)
        astral = pc.count_substring_regex(text.take(pa.array(long)), "[\\x{10000}-\\x{10FFFF}]").to_numpy(
            zero_copy_only=False)
        over = np.flatnonzero(units + astral > EXCEL_CELL_CHARS)
        if len(over):
            if first_row is not None:
                where += f", row {first_row + int(long[over[0]])}"
            raise InputError(f"{where}: a text of {int(units[over[0]] + astral[over[0]]):,} characters; "
                             f"an Excel cell holds at most {EXCEL_CELL_CHARS:,} (write CSV, Parquet or JSON Lines)")

    def close(self) -> None:
        self._sheet.write(_SHEET_TAIL.encode())
        self._sheet.close()
        workbook = (_XML_DECL + '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                    f'<sheet name="{_xml_attr(self._title)}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        for part, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", _BOOK_RELS),
                           ("xl/styles.xml", _STYLES_XML)):
            self._zip.writestr(self._info(part), text.encode("utf-8"))
        self._zip.close()


def _to_serial(col: pa.Array) -> tuple[pa.Array, str]:
    """Dates and timestamps as Excel serials (1900 date system) and whether they show a date or a date-time."""
    if pa.types.is_date(col.type):
        days = pc.fill_null(pc.cast(col.cast(pa.date32()), pa.int32()), 0)
        ms = days.to_numpy(zero_copy_only=False).astype(np.int64) * DAY_MS
        kind = "date"
    else:
        if col.type.tz is not None:  # Excel has no time zones: the local wall time of the stored zone
            col = pc.local_timestamp(col)
        ms = pc.fill_null(pc.cast(col.cast(pa.timestamp("ms")), pa.int64()), 0).to_numpy(zero_copy_only=False)
        kind = "datetime"
    valid = np.asarray(col.is_valid())
    days = (ms - EPOCH_1900.astype(np.int64)) / DAY_MS
    days = np.where((days >= 1) & (days < 61), days - 1, days)  # the 1900 "leap day": before March 1900
    return pa.array(days, mask=~valid), kind


def _time_ms(col: pa.Array) -> pa.Array:
    unit = col.type.unit
    raw = pc.cast(col, pa.int64() if col.type.bit_width == 64 else pa.int32())
    raw = pc.cast(raw, pa.int64())
    scale = {"s": 1000, "ms": 1, "us": 1 / 1000, "ns": 1 / 1_000_000}[unit]
    return pc.cast(pc.multiply(pc.cast(raw, pa.float64()), scale), pa.int64())


#: characters XML 1.0 cannot hold, written as OOXML's _xHHHH_ escapes (tab, LF and CR can be held)
_XML_ILLEGAL = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]


def _xml_text(text: pa.Array) -> pa.Array:
    """Text for an XML element, whole column at once: &, <, > escaped; CR as a character reference (parsers turn a
    raw CR into LF); characters XML cannot hold, and a literal ``_xHHHH_``, as OOXML escapes."""
    from .utf8 import group_bytes

    filled = pc.fill_null(text, "") if text.null_count else text
    data = group_bytes(filled)
    if not len(data):
        return text
    present = np.zeros(256, dtype=bool)
    present[np.unique(data)] = True
    if present[ord("_")]:
        text = pc.replace_substring_regex(text, r"_(x[0-9A-Fa-f]{4}_)", r"_x005F_\1")
    if present[ord("&")]:
        text = pc.replace_substring(text, "&", "&amp;")
    if present[ord("<")]:
        text = pc.replace_substring(text, "<", "&lt;")
    if present[ord(">")]:
        text = pc.replace_substring(text, ">", "&gt;")
    if present[0x0D]:
        text = pc.replace_substring(text, "\r", "&#13;")
    for c in _XML_ILLEGAL:
        if present[c]:
            text = pc.replace_substring(text, chr(c), f"_x{c:04X}_")
    if present[0xEF]:  # U+FFFE and U+FFFF are not XML characters either
        text = pc.replace_substring(pc.replace_substring(text, "\ufffe", "_xFFFE_"), "\uffff", "_xFFFF_")
    return text
