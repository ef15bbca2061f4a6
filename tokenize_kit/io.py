"""Streaming readers and writers for the files extracts travel in: CSV/TSV (optionally gzipped), Parquet,
JSON Lines and Excel .xlsx, with the encodings Egyptian and Saudi exports use.

Readers yield Arrow record batches; CSV columns are read as text, never inferred (the header too), so
``00123`` and ``1.50`` pass through untouched.  Writers write to a temporary file beside the target that
:func:`atomic_output` renames into place only when everything succeeded.  ``-`` stands for standard input
(spooled once to an anonymous temporary file) and standard output (see :class:`SpooledOutput`).

Every input is bounded by :class:`Limits` (cell size, and for .xlsx the unzipped size, compression ratio and
sheet dimensions): a hostile or broken file fails fast with an error naming the limit and its option.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .limits import LIMIT_OPTIONS, Limits
from .strict_json import DuplicateKeyError, unique_keys
from .utf8 import group_bytes

FORMATS = ("csv", "tsv", "parquet", "jsonl", "xlsx")
#: formats that may be gzipped (Parquet and .xlsx compress their own content)
GZIP_FORMATS = ("csv", "tsv", "jsonl")
DEFAULT_BATCH = 200_000
#: bytes of input per batch (Arrow's size of the rows read, every column): a batch's memory grows with its bytes,
#: not its rows, and text columns need many times their own size while they are transformed (a free-text note
#: about a hundred times, with its row's other PII columns), so a file of wide rows gets fewer rows per batch.
#: ``batch_size`` still caps the rows.  Tokens never depend on where batches end.
DEFAULT_BATCH_BYTES = 4 << 20
#: fewest rows per batch, however wide the rows
MIN_BATCH_ROWS = 1024
#: the name that stands for standard input or output
STDIO = "-"


class InputError(ValueError):
    """A file cannot be read as asked; the message says where (line/row) and how to fix it."""


def limit_error(where: str, what: str, limit: str, value: int | None = None) -> InputError:
    """The error for an exceeded limit: what exceeded it, the limit's value and the option that raises it."""
    option = LIMIT_OPTIONS[limit]
    shown = f" of {value:,}" if value is not None else ""
    return InputError(f"{where}: {what} is over the limit{shown} set by {option}; raise it (e.g. {option} "
                      f"{_EXAMPLES[limit]}) if the file is trusted")


_EXAMPLES = {"max_cell_bytes": "64MiB", "max_xlsx_bytes": "4GiB", "max_xlsx_ratio": "1000",
             "max_xlsx_cells": "200000000"}


def detect_format(path: str | os.PathLike[str], override: str | None = None) -> str:
    if override:
        if override not in FORMATS:
            raise InputError(f"unknown format {override!r}; choose one of: {', '.join(FORMATS)}")
        return override
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".txt", "csv"), (".parquet", "parquet"), (".pq", "parquet"),
                     (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".xlsx", "xlsx")):
        if name.endswith(ext):
            return fmt
    raise InputError(f"cannot tell the format of {path} from its name; pass --input-format/--output-format")


GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file is gzip-compressed (by its first bytes, whatever its name)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def _open_binary(path: Path) -> BinaryIO:
    if is_gzip(path):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # (a binary file; typeshed does not say so)
    return open(path, "rb")


def _open_arrow(path: Path) -> pa.NativeFile:
    """``path`` as an Arrow input stream: Arrow's I/O thread then reads into Arrow buffers without the GIL
    (a Python file object would be read through Python calls and bytes objects)."""
    if is_gzip(path):
        return pa.CompressedInputStream(pa.OSFile(str(path), "rb"), "gzip")
    return pa.OSFile(str(path), "rb")


# -- standard input ------------------------------------------------------------------------------------
_STDIN: list[Any] = []  # [the spool file, its path]: standard input can be read only once


def input_file(path: str | os.PathLike[str]) -> Path:
    """The file to read for INPUT: the path itself, or for ``-`` standard input copied once into an anonymous
    temporary file (the input is read more than once: sniffed, parsed, hashed; a pipe can be read once)."""
    if str(path) != STDIO:
        return Path(path)
    if not _STDIN:
        spool = _anonymous_file()
        shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
        spool.flush()
        _STDIN[:] = [spool, _path_of(spool)]
    return _STDIN[1]


def _anonymous_file() -> Any:
    """A temporary file that leaves nothing behind: on Linux it has no name at all (``O_TMPFILE``), so not
    even SIGKILL can leave it on disk; elsewhere it is deleted when closed or at exit."""
    if Path("/proc/self/fd").is_dir():
        return tempfile.TemporaryFile(prefix=".tokenize-kit.")
    return tempfile.NamedTemporaryFile(prefix=".tokenize-kit.")


def _path_of(fh: Any) -> Path:
    name = getattr(fh, "name", None)
    if isinstance(name, str):
        return Path(name)
    return Path(f"/proc/self/fd/{fh.fileno()}")


def sniff_format(path: Path) -> str:
    """The format of an unnamed input (standard input) from its first bytes: JSON Lines start with ``{``,
    .xlsx is a zip, Parquet starts with ``PAR1``; anything else is read as CSV."""
    with _open_binary(path) as fh:
        head = fh.read(4096)
    text = head.lstrip(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


class SpooledOutput:
    """OUTPUT ``-``: the job writes into an anonymous temporary file, copied to standard output by
    :meth:`commit` once the whole job (output and manifest) succeeded, so a failed job writes nothing there
    (a half-written delivery piped onward would look complete)."""

    def __init__(self) -> None:
        self._fh = _anonymous_file()
        self.path = _path_of(self._fh)

    def __enter__(self) -> BinaryIO:
        return self._fh

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.close()
        else:
            self._fh.flush()

    def commit(self, out: BinaryIO | None = None) -> None:
        """Copy the output to ``out`` (standard output).  A reader that went away (``| head``) is an InputError:
        the output is written straight to the file descriptor, so no half-flushed buffer is left for Python to
        fail on again at exit."""
        out = out if out is not None else sys.stdout.buffer
        self._fh.seek(0)
        try:
            try:
                fd = out.fileno()
            except (AttributeError, OSError, ValueError):  # (not a real file: a test's capture)
                shutil.copyfileobj(self._fh, out, 1 << 20)
                out.flush()
                return
            out.flush()
            while chunk := self._fh.read(1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        except BrokenPipeError:
            raise InputError("standard output was closed before the whole output was written (the reader of the "
                             "pipe stopped early): it received only part, and the manifest was removed") from None
        finally:
            self.close()

    def close(self) -> None:
        self._fh.close()


# -- encodings and delimiters ----------------------------------------------------------------------------
@dataclass(frozen=True)
class TextEncoding:
    """How a CSV/TSV file is written as text: codec, whether it starts with a byte-order mark, its line
    terminator and (CSV only) its delimiter, all kept on output so a file comes back as it came.

    ``codec`` is ``utf-8``, ``utf-16-le``, ``utf-16-be`` (Excel's "Unicode Text") or any Python codec such as
    ``cp1256``; the BOM is separate (``bom``), so a UTF-16 file's BOM is written once, not per batch."""

    codec: str
    bom: bool = False
    newline: str = "\r\n"
    delimiter: str | None = None

    @property
    def label(self) -> str:
        """The encoding's name as users give it (``utf-8-sig``, ``utf-16``, ``cp1256``)."""
        if self.bom:
            return "utf-8-sig" if self.codec == "utf-8" else "utf-16"
        return self.codec

    @property
    def reader_codec(self) -> str:
        """The Python codec that decodes the whole file, BOM included."""
        return self.label

    @property
    def bom_bytes(self) -> bytes:
        if not self.bom:
            return b""
        return {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE,
                "utf-16-be": codecs.BOM_UTF16_BE}[self.codec]


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(f"unknown encoding {name!r} (try utf-8, utf-8-sig, utf-16 or cp1256)") from None


def detect_encoding(path: Path, override: str | None = None, sample: int = 4 << 20) -> TextEncoding:
    """A byte-order mark (UTF-8, UTF-16 LE/BE) decides; else strict UTF-8 of a sample; else UTF-16 without a BOM
    when every other byte is zero; else Windows-1256.  ``override`` (``--encoding``) wins; a BOM that matches it
    is still recognised and kept."""
    with _open_binary(path) as fh:
        head = fh.read(sample)
    bom = next((codec for mark, codec in _BOMS if head.startswith(mark)), None)
    if override:
        norm = _codec(override)
        if norm == "utf-8-sig":
            enc = TextEncoding("utf-8", True)
        elif norm == "utf-16":  # endianness from the BOM (little-endian without one, as Python reads it)
            enc = TextEncoding(bom if bom in ("utf-16-le", "utf-16-be") else "utf-16-le", bom is not None)
        else:
            enc = TextEncoding(norm, bom == norm)
    elif bom:
        enc = TextEncoding(bom, True)
    else:
        try:
            codecs.getincrementaldecoder("utf-8")(errors="strict").decode(head, final=False)
            enc = TextEncoding("utf-8")
        except UnicodeDecodeError:
            zeros_odd, zeros_even = head[1::2].count(0), head[0::2].count(0)
            if len(head) >= 4 and zeros_odd > len(head) // 4 and not zeros_even:
                enc = TextEncoding("utf-16-le")
            elif len(head) >= 4 and zeros_even > len(head) // 4 and not zeros_odd:
                enc = TextEncoding("utf-16-be")
            else:
                enc = TextEncoding("cp1256")
    text = codecs.getincrementaldecoder(enc.reader_codec)(errors="replace").decode(head[: 1 << 16], final=False)
    first_nl = text.find("\n")
    return replace(enc, newline="\r\n" if first_nl > 0 and text[first_nl - 1] == "\r" else "\n")


def output_encoding(name: str, like: TextEncoding) -> TextEncoding:
    """``--output-encoding NAME`` applied to the input's text layout (line ending and delimiter kept).
    ``utf-16`` writes what Excel's "Unicode Text" is: little-endian with a BOM."""
    norm = _codec(name)
    if norm == "utf-8-sig":
        return replace(like, codec="utf-8", bom=True)
    if norm == "utf-16":
        return replace(like, codec="utf-16-le", bom=True)
    return replace(like, codec=norm, bom=False)


#: delimiters recognised in a .csv/.txt file when ``--delimiter`` is not given, in order of preference
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def parse_delimiter(text: str) -> str:
    """``--delimiter``: one character, or ``tab`` / ``\\t``, ``comma``, ``semicolon``, ``pipe``."""
    d = _DELIMITER_NAMES.get(text.lower(), text)
    if len(d) != 1 or d in ('"', "\r", "\n"):
        raise InputError(f"--delimiter must be one character (or tab, comma, semicolon, pipe), got {text!r}")
    return d


def detect_delimiter(path: Path, enc: TextEncoding, sample: int = 1 << 16) -> str:
    """``,``, ``;`` or tab: the one that splits the first records of a sample into the same number (> 1) of
    fields, preferring the comma; a comma when none does (a one-column file, or ragged rows reported later)."""
    with _open_binary(path) as fh:
        raw = fh.read(sample)
    text = codecs.getincrementaldecoder(enc.reader_codec)(errors="replace").decode(raw, final=len(raw) < sample)
    if len(raw) == sample:  # drop a last record cut by the sample's end
        text = text[: max(text.rfind("\n"), 0)]
    best, best_width = ",", 1
    for delim in DELIMITERS:
        widths = {len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim) if r}
        if len(widths) == 1 and (width := widths.pop()) > 1:
            if delim == ",":
                return ","
            if width > best_width:
                best, best_width = delim, width
    return best


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Python's csv module refuses fields over a process-wide size (128 KiB); set ours while we read, then put
    the caller's back."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(limit, previous))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _text_stream(path: Path, enc: TextEncoding) -> io.TextIOWrapper:
    return io.TextIOWrapper(_open_binary(path), encoding=enc.reader_codec, newline="", errors="strict")


def _line_of_bad_bytes(path: Path, enc: TextEncoding) -> int | None:
    decoder = codecs.getincrementaldecoder(enc.reader_codec)(errors="strict")
    line = 1
    with _open_binary(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + decoder.decode(chunk[: exc.start], final=False).count("\n") if exc.start else line
            line += text.count("\n")
    return None


def _decode_error(path: Path, enc: TextEncoding) -> InputError:
    line = _line_of_bad_bytes(path, enc)
    where = f"line {line}" if line else "somewhere"
    others = [e for e in ("utf-8", "utf-16", "cp1256") if e != enc.label and not (enc.bom and e == "utf-16")]
    return InputError(f"{path}: bytes at {where} are not valid {enc.label}; pass --encoding with the file's "
                      f"encoding (e.g. {' or '.join(others)}; Windows Arabic exports are cp1256, Excel's "
                      "\"Unicode Text\" is utf-16)")


# -- readers -------------------------------------------------------------------------------------------
def read_batches(
    path: str | os.PathLike[str], fmt: str | None = None, *, encoding: str | None = None,
    batch_size: int = DEFAULT_BATCH, delimiter: str | None = None, limits: Limits | None = None,
    columns: list[str] | None = None, batch_bytes: int | None = None,
) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    """Open ``path`` (``-``: standard input); return (batch iterator, info) where info has the format, the
    encoding (CSV/TSV), the schema and total rows when known.  Every input yields at least one batch, so a
    header-only or zero-row file still gives its columns.

    ``columns``: read only these (CSV skips the other columns' conversion, Parquet their decoding); a name not
    in the file raises InputError listing the file's columns.  ``batch_bytes``: batches of about this many bytes
    (see :data:`DEFAULT_BATCH_BYTES`; at least :data:`MIN_BATCH_ROWS` rows), and at most ``batch_size`` rows;
    ``None``: ``batch_size`` rows."""
    try:
        batches, info = _open_batches(path, fmt, encoding, batch_size, delimiter, limits or Limits(), columns,
                                      batch_bytes)
    except READ_ERRORS as exc:
        failure = _unreadable(path, exc)
    else:
        return _guarded(batches, path), info
    raise failure  # (outside the except block: the original error, which may quote data, is not chained)


#: what reading a damaged or unreadable file may raise beyond our own errors: a damaged gzip or zip stream,
#: a disk error, Python's CSV parser.  Their messages can quote the data (Arrow's CSV errors quote the row), so
#: only their type is shown.
READ_ERRORS = (OSError, EOFError, zlib.error, csv.Error, UnicodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError)


def _unreadable(path: str | os.PathLike[str], exc: BaseException) -> InputError:
    return InputError(f"{path}: the file cannot be read ({type(exc).__name__}: a damaged or truncated file, or a "
                      "disk error)")


def _guarded(batches: Iterator[pa.RecordBatch], path: str | os.PathLike[str]) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except InputError:
        raise
    except READ_ERRORS as exc:
        failure = _unreadable(path, exc)
    else:
        return
    raise failure  # (outside the except block: the original error, which may quote data, is not chained)


def _open_batches(path: str | os.PathLike[str], fmt: str | None, encoding: str | None, batch_size: int,
                  delimiter: str | None, limits: Limits, columns: list[str] | None, batch_bytes: int | None = None
                  ) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    name = str(path)
    path = input_file(path)
    if not path.exists():
        raise InputError(f"input file {path} does not exist")
    if path.is_dir():
        raise InputError(f"input {path} is a folder, not a file")
    fmt = detect_format(path, fmt) if name != STDIO or fmt else sniff_format(path)
    if fmt not in GZIP_FORMATS and is_gzip(path):
        raise InputError(f"{name}: a gzipped {fmt} file is not supported (gunzip it first; {fmt} is compressed "
                         "already)")
    if fmt in ("csv", "tsv"):
        enc = detect_encoding(path, encoding)
        if delimiter:
            delim = parse_delimiter(delimiter)
        elif fmt == "tsv":
            delim = "\t"
        else:
            delim = detect_delimiter(path, enc)
        enc = replace(enc, delimiter=delim if fmt == "csv" else None)
        header = _csv_header(path, enc, delim, limits)
        if columns is not None:
            _check_wanted(columns, header, name)
        schema = pa.schema([pa.field(h, pa.string()) for h in (header if columns is None else columns)])
        return _at_least_one(_csv_batches(path, enc, delim, header, batch_size, limits, columns, batch_bytes),
                             schema), {
            "format": fmt, "encoding": enc, "rows": None, "schema": schema, "delimiter": delim}
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq  # (imported when needed: it is slow to import)

            # pre_buffer off: with it, the buffered ranges of every row group read so far stayed allocated (390 MB
            # after 20 M rows in 400 row groups); without it memory stays flat, at the same speed
            pf = pq.ParquetFile(path, pre_buffer=False)
        except (pa.ArrowInvalid, OSError):
            raise InputError(f"{name} is not a readable Parquet file (corrupt or not Parquet)") from None
        schema = pf.schema_arrow
        if columns is not None:
            _check_wanted(columns, schema.names, name)
            schema = pa.schema([schema.field(c) for c in columns])
        batches = sized_batches(_parquet_batches(pf, name, batch_size, limits, columns), batch_bytes)
        return _at_least_one(batches, schema), {"format": fmt, "rows": pf.metadata.num_rows, "schema": schema}
    if fmt == "jsonl":
        batches, info = _jsonl_batches(path, name, batch_size, limits, batch_bytes), {"format": fmt, "rows": None}
    else:
        from .xlsx import read_xlsx

        batches, info = read_xlsx(path, batch_size, limits, name=name)
        batches, info = _at_least_one(batches, None), {"format": fmt, "rows": None, **info}
    if fmt != "jsonl":  # (JSON Lines blocks are cut by bytes as they are read)
        batches = sized_batches(batches, batch_bytes)
    return (batches if columns is None else _selected(batches, columns, name)), info


def rows_for_bytes(rows: int, nbytes: int, batch_size: int, batch_bytes: int | None) -> int:
    """Rows per batch for rows of ``nbytes / rows`` bytes: about ``batch_bytes`` bytes, at least
    :data:`MIN_BATCH_ROWS` rows, at most ``batch_size`` rows (``batch_size`` if ``batch_bytes`` is None)."""
    if not batch_bytes or rows <= 0 or nbytes <= 0:
        return batch_size
    return min(batch_size, max(MIN_BATCH_ROWS, int(batch_bytes * rows / nbytes)))


def sized_batches(batches: Iterator[pa.RecordBatch], batch_bytes: int | None) -> Iterator[pa.RecordBatch]:
    """Each batch of more than ``batch_bytes`` bytes cut into equal consecutive slices of at most about that size
    (zero-copy; none cut if None): for readers whose batches are counted in rows (Parquet, .xlsx)."""
    for batch in batches:
        parts = -(-batch.nbytes // batch_bytes) if batch_bytes else 1
        size = max(MIN_BATCH_ROWS, -(-batch.num_rows // parts)) if parts > 1 else batch.num_rows
        if size >= batch.num_rows:
            yield batch
            continue
        for start in range(0, batch.num_rows, size):
            yield batch.slice(start, size)


def _check_wanted(columns: list[str], names: list[str], name: str) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"column(s) {missing} not in {name}; its columns are: {', '.join(map(str, names))}")


def _selected(batches: Iterator[pa.RecordBatch], columns: list[str], name: str) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        _check_wanted(columns, batch.schema.names, name)
        yield batch.select(columns)


def _at_least_one(batches: Iterator[pa.RecordBatch], schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
    """The batches, or one empty batch of ``schema`` when there are none (a header-only or zero-row file)."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty and schema is not None:
        yield pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _byte_sizes(col: pa.Array) -> np.ndarray:
    """Each cell's size in bytes, from a text or binary column's offsets (no cell is touched)."""
    large = pa.types.is_large_string(col.type) or pa.types.is_large_binary(col.type)
    off = np.frombuffer(col.buffers()[1], dtype=np.int64 if large else np.int32, count=len(col) + 1 + col.offset)
    return np.diff(off[col.offset:])


def check_cell_sizes(batch: pa.RecordBatch, limit: int, where: str, row_offset: int,
                     line_of: Callable[[int], int] | None = None) -> None:
    """Refuse a cell whose text is over ``limit`` bytes, naming column and row (or line, with ``line_of``): from
    the columns' offsets (one pass over an integer array per text column; no cell is touched)."""
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        t = col.type
        if not (pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t)
                or pa.types.is_large_binary(t)) or len(col) == 0:
            continue
        large = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
        off = np.frombuffer(col.buffers()[1], dtype=np.int64 if large else np.int32, count=len(col) + 1 + col.offset)
        if int(off[-1]) - int(off[col.offset]) <= limit:
            continue  # the whole column is smaller than one cell may be
        sizes = _byte_sizes(col)
        if sizes.max() > limit:
            row = row_offset + int(np.argmax(sizes > limit)) + 1
            at = f"line {line_of(row)}" if line_of else f"row {row}"
            raise limit_error(f"{where}: column {name!r}, {at}", f"a cell of {int(sizes.max()):,} bytes",
                              "max_cell_bytes", limit)


def duplicates(names: list[str]) -> list[str]:
    """The names that occur more than once (a header of many thousand columns too: one pass)."""
    return sorted(name for name, n in Counter(names).items() if n > 1)


def check_utf8(batch: pa.RecordBatch, where: str, row_offset: int) -> None:
    """Refuse text columns holding bytes that are not UTF-8 (Arrow's JSON and Parquet readers do not check;
    every later text kernel would fail on them), naming column and row."""
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        row = next((i for i, v in enumerate(col.cast(pa.binary()).to_pylist()) if v is not None and not _is_utf8(v)),
                   None)
        at = f", row {row_offset + row + 1}" if row is not None else ""
        raise InputError(f"{where}: column {name!r}{at}: text that is not valid UTF-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _csv_header(path: Path, enc: TextEncoding, delimiter: str, limits: Limits) -> list[str]:
    """The header record, parsed as CSV (a quoted header cell may hold the delimiter or a line break)."""
    try:
        with _csv_field_limit(limits.max_cell_bytes), _text_stream(path, enc) as text:
            header = next(csv.reader(text, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise _decode_error(path, enc) from None
    except csv.Error:
        raise InputError(f"{path}: the header (line 1) is not readable CSV: an unterminated quote, or a cell "
                         f"over the limit ({LIMIT_OPTIONS['max_cell_bytes']})") from None
    if not header or header == [""]:
        raise InputError(f"{path} is empty: expected a header row")
    dupes = duplicates(header)
    if dupes:
        raise InputError(f"{path}: duplicate column name(s) in the header: {dupes}")
    return header


def _first_ragged_line(path: Path, enc: TextEncoding, delimiter: str, width: int, limit: int
                       ) -> tuple[int, int] | None:
    """(line number, field count) of the first record whose field count differs from the header's."""
    with _csv_field_limit(limit), _text_stream(path, enc) as text:
        reader = csv.reader(text, delimiter=delimiter)
        line = 1
        try:
            for record in reader:
                if reader.line_num > 1 and len(record) != width and record:
                    return line, len(record)
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError):
            return None
    return None


def _strict_csv_check(path: Path, enc: TextEncoding, delimiter: str, limit: int) -> None:
    """Read the whole file with Python's strict CSV parser: a quote that is never closed, or closed before
    anything but a delimiter or line end, is an error naming the line where its record starts (Arrow's
    parser would merge the rows that follow into one cell)."""
    with _csv_field_limit(limit), _text_stream(path, enc) as text:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as exc:
            if "field larger" in str(exc):
                raise limit_error(f"{path}: line {reader.line_num}", "a cell", "max_cell_bytes", limit) from None
            raise InputError(
                f"{path}: line {start}: a quote opened in this record is never closed, or is closed in the middle "
                "of a field (the rows after it would merge into one cell); fix the quoting (a quote inside a "
                'quoted field is written twice: "")') from None
        except UnicodeDecodeError:
            raise _decode_error(path, enc) from None


def _long_record(path: Path, enc: TextEncoding, delimiter: str, limits: Limits, block: int) -> InputError:
    """The error for a record longer than the largest block we read: a cell over the limit (with its line), or
    a record of many large cells."""
    with _csv_field_limit(limits.max_cell_bytes), _text_stream(path, enc) as text:
        reader = csv.reader(text, delimiter=delimiter)
        start = 1
        try:
            for record in reader:
                if sum(map(len, record)) >= block // 4:
                    break
                start = reader.line_num + 1
        except csv.Error:
            return limit_error(f"{path}: line {reader.line_num}", "a cell", "max_cell_bytes",
                               limits.max_cell_bytes)
        except UnicodeDecodeError:
            return _decode_error(path, enc)
    return limit_error(f"{path}: line {start}", f"a record longer than {block:,} bytes (the cells' limit "
                       "times four)", "max_cell_bytes", limits.max_cell_bytes)


#: CSV bytes parsed per block.  Arrow's streaming reader reads up to 32 blocks ahead of the consumer, so the
#: block size bounds memory (8 MB blocks held ~260 MB of read-ahead; 512 KB blocks parse as fast); blocks are
#: coalesced into ``batch_size`` rows before they are processed.  A record longer than a block is retried with
#: larger blocks, up to four times the cell-size limit.
CSV_BLOCK = 1 << 19
FIRST_CSV_BATCH = 1 << 16


def _has_line_break(col: pa.Array) -> bool:
    """Whether any cell of a text column holds a CR or LF.  Both are below 14, so a column whose smallest byte is
    not (nearly every column: one SIMD reduction over its data buffer, no copy) holds neither."""
    data = group_bytes(col)
    if not len(data) or data.min() >= 14:
        return False
    return bool(np.any(data == 10) or np.any(data == 13))


def _utf8_copy(path: Path, enc: TextEncoding) -> Any:
    """``path`` (in ``enc``, not UTF-8) re-encoded as UTF-8 into an anonymous temporary file, 1 MB at a time.

    Why not Arrow's own ``ReadOptions(encoding=...)``: it decodes through a Python codec object that Arrow's
    read-ahead threads hold.  When a read stops early (a ragged row, a bad byte, any error in the job), read-ahead
    is still in flight; the thread that drops the last reference then needs the GIL, and if the interpreter is
    already shutting down it is ended inside C++ code and the process aborts ("terminate called without an active
    exception").  Decoding here, in the caller's thread, leaves Arrow a plain file."""
    decoder = codecs.getincrementaldecoder(enc.reader_codec)(errors="strict")
    spool = _anonymous_file()
    try:
        with _open_binary(path) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                spool.write(decoder.decode(chunk).encode("utf-8"))
            spool.write(decoder.decode(b"", final=True).encode("utf-8"))
        spool.flush()
    except UnicodeDecodeError:
        spool.close()
        raise _decode_error(path, enc) from None
    except BaseException:
        spool.close()
        raise
    return spool


def _csv_batches(path: Path, enc: TextEncoding, delimiter: str, header: list[str], batch_size: int,
                 limits: Limits, columns: list[str] | None = None, batch_bytes: int | None = None
                 ) -> Iterator[pa.RecordBatch]:
    copy = None if enc.codec == "utf-8" else _utf8_copy(path, enc)
    try:
        yield from _csv_batches_utf8(path, copy, enc, delimiter, header, batch_size, limits, columns, batch_bytes)
    finally:
        if copy is not None:
            copy.close()


def _csv_batches_utf8(path: Path, copy: Any, enc: TextEncoding, delimiter: str, header: list[str],
                      batch_size: int, limits: Limits, columns: list[str] | None, batch_bytes: int | None
                      ) -> Iterator[pa.RecordBatch]:
    """The batches of ``path``, or of ``copy`` (its UTF-8 copy) when there is one; messages name ``path``."""
    # (no invalid_row_handler: pyarrow decodes the row's text to call it, and a row of undecodable bytes then
    # prints an "Exception ignored" traceback; a ragged row is told from Arrow's error instead)
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    names = header
    block = CSV_BLOCK
    max_block = CSV_BLOCK
    while max_block < 4 * limits.max_cell_bytes:
        max_block *= 8
    # the first batch is smaller, so the work starts sooner (the output does not depend on batch boundaries)
    target = min(batch_size, FIRST_CSV_BATCH)
    consumed = 0  # rows taken from the reader (a retry with larger blocks skips them)
    checked_quotes = False
    pending: list[pa.RecordBatch] = []
    pending_rows = pending_bytes = 0
    while True:
        read_opts = pacsv.ReadOptions(encoding="utf8", block_size=block, use_threads=True)
        conv = pacsv.ConvertOptions(column_types={h: pa.string() for h in names}, strings_can_be_null=False,
                                    quoted_strings_can_be_null=False, include_columns=columns)
        try:
            source = _open_arrow(path) if copy is None else pa.OSFile(str(_path_of(copy)), "rb")
            reader = pacsv.open_csv(source, read_options=read_opts, parse_options=parse_opts,
                                    convert_options=conv)
            if any(t != pa.string() for t in reader.schema.types):
                # Arrow's header differs from ours (never seen; a safeguard): its names, every one as text
                if names == reader.schema.names:
                    raise InputError(f"{path}: could not read every column as text")
                names = reader.schema.names
                continue
            skip = consumed
            for batch in reader:
                if skip:
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch = batch.slice(skip)
                    skip = 0
                check_cell_sizes(batch, limits.max_cell_bytes, str(path), consumed)
                if not checked_quotes and any(_has_line_break(c) for c in batch.columns):
                    # a cell spans lines: a real multi-line cell, or rows merged by an unclosed quote
                    _strict_csv_check(path, enc, delimiter, limits.max_cell_bytes)
                    checked_quotes = True
                consumed += batch.num_rows
                pending.append(batch)
                pending_rows += batch.num_rows
                pending_bytes += batch.nbytes
                # (rows of the size the bytes read so far give: a batch of about batch_bytes, at most target rows)
                while pending_rows >= (size := rows_for_bytes(pending_rows, pending_bytes, target, batch_bytes)):
                    out, pending = _split_rows(pending, size)
                    pending_rows -= size
                    pending_bytes = sum(b.nbytes for b in pending)
                    target = batch_size
                    yield out
            break
        except InputError:
            raise
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            ragged = re.search(r"Expected \d+ columns, got (\d+)", str(exc))
            if "straddl" in str(exc) and not ragged:
                if block < max_block:
                    block *= 8  # a record longer than a block: read again with larger blocks
                    continue
                raise _long_record(path, enc, delimiter, limits, block) from None
            if ragged:
                found = _first_ragged_line(path, enc, delimiter, len(header), limits.max_cell_bytes)
                where = f"line {found[0]} has {found[1]} fields" if found else f"a row has {ragged[1]} fields"
                raise InputError(
                    f"{path}: {where}, the header has {len(header)} (a ragged row; check quoting or the delimiter: "
                    f"it was read with {delimiter_name(delimiter)}, --delimiter sets another)"
                ) from None
            text = str(exc)
            if "UTF8" in text or "decode" in text.lower() or isinstance(exc, UnicodeDecodeError):
                raise _decode_error(path, enc) from None
            raise InputError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None
    if pending_rows:
        yield _split_rows(pending, pending_rows)[0]


def delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "',' (comma)", ";": "';' (semicolon)"}.get(delimiter, repr(delimiter))


def _split_rows(batches: list[pa.RecordBatch], rows: int) -> tuple[pa.RecordBatch, list[pa.RecordBatch]]:
    """The first ``rows`` rows of ``batches`` as one contiguous batch, and the rest."""
    if len(batches) == 1 and batches[0].num_rows == rows:
        return batches[0], []
    table = pa.Table.from_batches(batches)
    head = table.slice(0, rows).combine_chunks().to_batches()
    out = head[0] if len(head) == 1 else pa.Table.from_batches(head).combine_chunks().to_batches()[0]
    return out, table.slice(rows).to_batches()


def _rebatch(batch: pa.RecordBatch, size: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, size):
        yield batch.slice(start, size)


def _parquet_batches(pf: Any, name: str, batch_size: int, limits: Limits, columns: list[str] | None = None
                     ) -> Iterator[pa.RecordBatch]:
    rows = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            check_cell_sizes(batch, limits.max_cell_bytes, name, rows)
            check_utf8(batch, name, rows)
            rows += batch.num_rows
            yield batch
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{name}: Parquet data is corrupt or unreadable") from None


#: bytes of JSON Lines parsed per block (a line must fit in one): sixteen times the cell limit (16 MiB by
#: default), at least this.  Arrow fixes a column's type from the first block it appears in.
JSONL_BLOCK = 1 << 16
JSONL_BLOCK_CELLS = 16


def _jsonl_batches(path: Path, name: str, batch_size: int, limits: Limits, batch_bytes: int | None = None
                   ) -> Iterator[pa.RecordBatch]:
    import pyarrow.json as pajson

    block = max(JSONL_BLOCK, JSONL_BLOCK_CELLS * limits.max_cell_bytes)
    parse = pajson.ParseOptions()
    rows = 0
    first_schema: pa.Schema | None = None
    while True:
        try:
            reader = pajson.open_json(_open_arrow(path), read_options=pajson.ReadOptions(block_size=block),
                                      parse_options=parse)
            skip = rows
            for batch in reader:
                if skip:  # a second read (with a schema the first one could not infer) resumes where it failed
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                if not _names_are_text(batch.schema):  # Arrow takes any bytes as a key, at any depth
                    _diagnose_jsonl(path, name, block, limits)
                    raise InputError(f"{name}: a key holds bytes that are not UTF-8 (JSON Lines are UTF-8)")
                check_cell_sizes(batch, limits.max_cell_bytes, name, rows, lambda row: _jsonl_line(path, row))
                try:
                    batch.validate(full=True)
                except pa.ArrowException:  # text that is not UTF-8: the line-by-line reading below names the line
                    _diagnose_jsonl(path, name, block, limits)
                    check_utf8(batch, name, rows)
                    _check_valid(batch, name, rows)
                first_schema = first_schema or batch.schema
                for part in _rebatch(batch, rows_for_bytes(batch.num_rows, batch.nbytes, batch_size, batch_bytes)):
                    rows += part.num_rows
                    yield part
            return
        except pa.ArrowInvalid as exc:
            if "Empty JSON stream" in str(exc) and rows == 0:
                return  # no rows and no columns: an empty JSON Lines file
            fractions = _diagnose_jsonl(path, name, block, limits, first_schema)
            if not fractions or first_schema is None or parse.explicit_schema is not None:
                raise InputError(f"{name}: not valid JSON Lines (one JSON object per line)") from None
            # integers in the first block, fractions in a later one: read on with those columns as floats (as
            # Arrow reads a block holding both), every column in the first block's order
            schema = pa.schema([pa.field(f.name, pa.float64()) if f.name in fractions else f for f in first_schema])
            parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")


def _names_are_text(t: pa.Schema | pa.DataType) -> bool:
    """Whether every field name in ``t``, at any depth, is valid UTF-8."""
    fields = list(t) if isinstance(t, pa.Schema) else [t.field(i) for i in range(t.num_fields)]
    for f in fields:
        try:
            f.name  # noqa: B018 (decoding the name is the check)
        except UnicodeDecodeError:
            return False
        if not _names_are_text(f.type):
            return False
    return True


def _jsonl_line(path: Path, row: int) -> int:
    """The line of the ``row``-th object (blank lines hold none), for an error message."""
    seen = 0
    with _open_binary(path) as fh:
        for line_no, line in enumerate(iter(lambda: fh.readline(1 << 20), b""), 1):
            if line.strip():
                seen += 1
            if seen == row:
                return line_no
            while line and not line.endswith(b"\n"):  # (a long line read in pieces)
                line = fh.readline(1 << 20)
    return row


_JSON_KINDS = {bool: "true/false", int: "a number", float: "a number", str: "text", dict: "an object",
               list: "an array"}


def _diagnose_jsonl(path: Path, name: str, block: int, limits: Limits, known: pa.Schema | None = None
                    ) -> set[str]:
    """Arrow refused the file: read it line by line and raise an error naming the line (and the column for a
    type clash, or a key that first appears after the columns were set by the first block, ``known``).  If every
    line is valid and every column holds one kind of value, Arrow failed only because a number column holds
    integers in one block and fractions in a later one: return the top-level columns holding fractions."""
    first: dict[str, tuple[str, int]] = {}  # column path -> (kind, first line holding it)
    fractions: set[str] = set()
    with _open_binary(path) as fh:
        line_no = 0
        while True:
            line = fh.readline(block + 1)
            if not line:
                break
            line_no += 1
            if len(line) > block and not line.endswith(b"\n"):
                raise limit_error(f"{name}: line {line_no}", f"a line longer than {block:,} bytes (sixteen times the "
                                  "cells' limit)", "max_cell_bytes", limits.max_cell_bytes)
            if not line.strip():
                continue
            try:
                doc = json.loads(line.decode("utf-8"), object_pairs_hook=unique_keys)
            except DuplicateKeyError as exc:
                raise InputError(f"{name}: line {line_no}: key {exc.key!r} given twice in one object") from None
            except UnicodeDecodeError:
                raise InputError(f"{name}: line {line_no}: bytes that are not UTF-8 (JSON Lines are UTF-8)") from None
            except json.JSONDecodeError as exc:  # its message names the problem and column, never the text
                raise InputError(f"{name}: line {line_no}: not valid JSON ({exc.msg} at character {exc.colno}); "
                                 "JSON Lines hold one JSON object per line") from None
            if not isinstance(doc, dict):
                raise InputError(f"{name}: line {line_no}: {_JSON_KINDS.get(type(doc), 'a value')} where a JSON "
                                 "object is expected (JSON Lines hold one object per line)")
            new = [k for k in doc if known is not None and k not in known.names]
            if new:
                raise InputError(
                    f"{name}: line {line_no}: key {new[0]!r} first appears here, after the columns were set by the "
                    f"file's first {block:,} bytes; give it in the first line (null where empty), or convert the "
                    "file to CSV or Parquet")
            for path_, value in _json_leaves(doc, ""):
                kind = _JSON_KINDS.get(type(value))
                if kind is None:
                    continue
                if isinstance(value, float):
                    fractions.add(path_)
                seen = first.setdefault(path_, (kind, line_no))
                if seen[0] != kind:
                    raise InputError(
                        f"{name}: column {path_!r}: line {line_no} holds {kind} where line {seen[1]} holds "
                        f"{seen[0]} (a type clash: a JSON Lines column holds one type; quote the numbers to make "
                        "the column text)")
    return {p for p in fractions if "/" not in p and "[]" not in p}


def _check_valid(batch: pa.RecordBatch, name: str, rows: int) -> None:
    """Columns Arrow's JSON reader built but could not make valid (seen: arrays that hold only nulls)."""
    for col_name, col in zip(batch.schema.names, batch.columns, strict=True):
        try:
            col.validate(full=True)
        except pa.ArrowException:
            bad = col_name
            break
    else:
        return
    raise InputError(f"{name}: column {bad!r}, rows {rows + 1}-{rows + batch.num_rows}: values the JSON reader cannot "
                     "hold (e.g. arrays holding only nulls); give the column values of one type")


def _json_leaves(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(column path, value) for an object's members, nested objects and array elements included."""
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}/{k}" if prefix else str(k)
            yield path, v
            if isinstance(v, (dict, list)):
                yield from _json_leaves(v, path)
    elif isinstance(value, list):
        for v in value:
            yield prefix + "[]", v
            if isinstance(v, (dict, list)):
                yield from _json_leaves(v, prefix + "[]")


# -- writers -------------------------------------------------------------------------------------------
class BatchWriter:
    """Writes batches in one format to a binary file object.

    ``compress`` gzips the output (CSV/TSV/JSON Lines), reproducibly: no file name and no time in the gzip
    header, so a re-run gives the same bytes.  ``sheet`` names an .xlsx output's sheet (the input's name)."""

    def __init__(self, fh: BinaryIO, fmt: str, encoding: TextEncoding | None = None, *, compress: bool = False,
                 sheet: str | None = None) -> None:
        if compress and fmt not in GZIP_FORMATS:
            raise InputError(f"a gzipped {fmt} output is not supported ({fmt} is compressed already); drop the .gz")
        self._gzip = gzip.GzipFile(filename="", fileobj=fh, mode="wb", compresslevel=6, mtime=0) if compress else None
        self.fh: Any = self._gzip if self._gzip is not None else fh
        self._raw = fh
        self.fmt = fmt
        self.encoding = encoding or TextEncoding("utf-8")
        self.delimiter = "\t" if fmt == "tsv" else (self.encoding.delimiter or ",")
        self.sheet = sheet
        self._pq: Any = None
        self._schema: pa.Schema | None = None
        self._header_done = False
        self._xlsx: Any = None
        self._rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self._schema is None:
            self._schema = batch.schema
        elif batch.schema.names != self._schema.names:
            added = [n for n in batch.schema.names if n not in self._schema.names]
            raise InputError(f"the columns changed after row {self._rows:,} (new: {added}); every row of a file "
                             "must have the same columns")
        elif batch.schema != self._schema and self.fmt == "parquet":
            batch = _conform(batch, self._schema)
        if self.fmt in ("csv", "tsv"):
            self._write_csv(batch)
        elif self.fmt == "parquet":
            if self._pq is None:
                import pyarrow.parquet as pq

                self._schema = _parquet_schema(self._schema)
                self._pq = pq.ParquetWriter(self.fh, self._schema)
            self._pq.write_batch(_for_parquet(batch, self._schema))
        elif self.fmt == "jsonl":
            self._write_jsonl(batch)
        else:
            self._write_xlsx(batch)
        self._rows += batch.num_rows

    def _write_csv(self, batch: pa.RecordBatch) -> None:
        """Minimal quoting (like Python's csv module and Excel), vectorised over whole columns, so columns
        outside the policy come back byte for byte from a minimally quoted input.

        Nothing is done against "CSV injection" (a cell starting with ``=``, ``+``, ``-`` or ``@`` that a
        spreadsheet would run as a formula): a tokenizer must not alter columns outside the policy, and the
        tokens of policy columns never start with ``=``/``+``/``@`` unless the value did.  Write .xlsx for
        people who open the file in Excel: there every text cell is text, never a formula."""
        delimiter = self.delimiter
        newline = self.encoding.newline
        pieces: list[Any] = []
        if not self._header_done:
            header = pa.array(list(batch.schema.names), pa.string())
            line = delimiter.join(_csv_quote(header, delimiter).to_pylist()) + newline
            pieces.append(line.encode("utf-8"))
            self._header_done = True
            if self.encoding.bom:
                self.fh.write(self.encoding.bom_bytes)
        if batch.num_rows:
            cols = [_as_text(c) for c in batch.columns]
            quoted = [_csv_quote(c, delimiter) for c in cols]
            if all(q is c for q, c in zip(quoted, cols, strict=True)):
                # nothing to quote: Arrow's CSV writer joins the fields (the bytes are the same as below), straight
                # into the file when it is UTF-8
                table = pa.Table.from_arrays(cols, names=[str(i) for i in range(len(cols))])
                options = pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none",
                                             eol=newline, batch_size=1 << 16)
                if self.encoding.codec == "utf-8":
                    for piece in pieces:
                        self.fh.write(piece)
                    pacsv.write_csv(table, self.fh, options)
                    return
                sink = pa.BufferOutputStream()
                pacsv.write_csv(table, sink, options)
                pieces.append(sink.getvalue())
            else:
                # one kernel call builds every line: field, delimiter, field, ..., newline
                parts: list[Any] = []
                for c in quoted:
                    parts += [c, delimiter]
                parts[-1] = newline
                lines = pc.binary_join_element_wise(*parts, "")
                pieces.append(_string_payload(lines))
        if self.encoding.codec != "utf-8":
            self._write_encoded(pieces, batch)
            return
        for piece in pieces:  # the lines are written straight from Arrow's buffer, without a copy
            if len(piece):
                self.fh.write(piece)

    def _write_encoded(self, pieces: list[Any], batch: pa.RecordBatch) -> None:
        data = b"".join(bytes(p) for p in pieces)
        try:
            data = data.decode("utf-8").encode(self.encoding.codec)
        except UnicodeEncodeError:
            raise InputError(f"{_unencodable(batch, self.encoding.codec, self._rows)} cannot be written in "
                             f"{self.encoding.label}; pass --output-encoding utf-8 (or utf-16)") from None
        self.fh.write(data)

    def _write_jsonl(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.fh.write(_string_payload(jsonl_lines(batch)))

    def _write_xlsx(self, batch: pa.RecordBatch) -> None:
        from .xlsx import XlsxWriter

        if self._xlsx is None:
            self._xlsx = XlsxWriter(self.fh, batch.schema.names, self.sheet)
        self._xlsx.write(batch)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._xlsx is not None:
            self._xlsx.close()
        if self._gzip is not None:
            self._gzip.close()  # (writes the gzip trailer; the file itself stays open)


def _unencodable(batch: pa.RecordBatch, codec: str, row_offset: int) -> str:
    """'column X, row N' of the first cell that ``codec`` cannot encode (on the error path only)."""
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        for i, v in enumerate(_as_text(col).to_pylist()):
            try:
                v.encode(codec)
            except UnicodeEncodeError:
                return f"column {name!r}, row {row_offset + i + 1}: a character"
    return "the header: a character"


def as_text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any column as Arrow text (nulls stay null): numbers, dates and booleans by Arrow's cast, a dense union (an
    .xlsx column mixing numbers, dates and text) child by child, each row then taking its own child's text."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_string(t):
        return col
    if pa.types.is_union(t):
        return _union_text(col)
    if pa.types.is_dictionary(t):
        return as_text(col.dictionary_decode())
    return pc.cast(col, pa.string())


def _union_text(col: pa.UnionArray) -> pa.Array:
    children = [as_text(col.field(i)) for i in range(col.type.num_fields)]
    child_of_code = np.zeros(128, dtype=np.int64)
    child_of_code[list(col.type.type_codes)] = np.arange(col.type.num_fields)
    child = child_of_code[col.type_codes.to_numpy(zero_copy_only=False)]
    if col.type.mode == "dense":
        within = col.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        within = np.arange(len(col), dtype=np.int64) + col.offset
    base = np.concatenate([[0], np.cumsum([len(c) for c in children])])
    return pa.concat_arrays(children).take(pa.array(base[child] + within))


def _as_text(col: pa.Array) -> pa.Array:
    col = as_text(col)
    return pc.fill_null(col, "") if col.null_count else col


def _parquet_schema(schema: pa.Schema) -> pa.Schema:
    """Parquet has no union type: a column mixing kinds (from .xlsx) is written as text."""
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_union(f.type) else f for f in schema],
                     metadata=schema.metadata)


def _for_parquet(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if not any(pa.types.is_union(t) for t in batch.schema.types):
        return batch
    cols = [as_text(c) if pa.types.is_union(c.type) else c for c in batch.columns]
    return _conform(pa.RecordBatch.from_arrays(cols, names=batch.schema.names), schema)


#: bytes that make a CSV field need quotes (besides the delimiter)
_QUOTE_BYTES = (b'"', b"\r", b"\n")


def _csv_quote(col: pa.Array, delimiter: str) -> pa.Array:
    """Quote the fields that need it (delimiter, quote, CR or LF inside), doubling inner quotes."""
    data = group_bytes(col).tobytes()  # a fast pre-check on the whole column (memchr): most need no quotes
    if all(data.find(b) < 0 for b in (delimiter.encode(), *_QUOTE_BYTES)):
        return col
    pattern = "[" + ("\t" if delimiter == "\t" else ",") + '"\r\n]'
    needs = pc.match_substring_regex(col, pattern)
    if not pc.any(needs).as_py():
        return col
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, col)


def _string_payload(arr: pa.Array) -> np.ndarray:
    """The concatenated UTF-8 bytes of a string array (a view of its data buffer, no per-row copy)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return group_bytes(arr)


#: JSON's two-character escapes; every other control character becomes \\u00XX (RFC 8259, section 7)
_JSON_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def jsonl_lines(batch: pa.RecordBatch) -> pa.Array:
    """One JSON object per row, each line ending in ``\\n``, built column by column in Arrow.

    Text is written as it is (no ``\\u`` escapes for Arabic), with only what RFC 8259 requires escaped;
    integers and booleans as JSON numbers and literals; floats keep a decimal point (so they read back as
    floats) and NaN/infinity become ``null``; nulls are ``null``; dates, times and decimals as their ISO or
    exact text.  Nested values (rare in extracts) go through :func:`json.dumps` value by value."""
    parts: list[Any] = []
    for i, (name, col) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        parts += [("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":", _json_values(col)]
    parts.append("}\n")
    return pc.binary_join_element_wise(*parts, "")


def _json_values(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        return _json_values(col.cast(t.value_type))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = col.cast(pa.string()) if pa.types.is_large_string(t) else col
        out = pc.binary_join_element_wise('"', _json_escape(text), '"', "")  # (null stays null)
    elif pa.types.is_integer(t):
        out = pc.cast(col, pa.string())
    elif pa.types.is_boolean(t):
        out = pc.if_else(col, "true", "false")
    elif pa.types.is_floating(t):
        text = pc.cast(col, pa.string())
        whole = pc.invert(pc.match_substring_regex(text, "[.eEna]"))  # 100 -> 100.0 (nan/inf are nulled below)
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        out = pc.if_else(pc.is_finite(col), text, pa.scalar(None, pa.string()))
    elif pa.types.is_temporal(t) or pa.types.is_decimal(t):  # ISO dates and times, exact decimals: as text
        out = pc.binary_join_element_wise('"', pc.cast(col, pa.string()), '"', "")
    elif pa.types.is_union(t):  # an .xlsx column mixing kinds: each row written as its own kind
        out = _union_json(col)
    else:  # nested or binary values (rare in extracts): one json.dumps per value
        out = pa.array([json.dumps(v, ensure_ascii=False, default=str) for v in col.to_pylist()], pa.string())
    return pc.fill_null(out, "null") if out.null_count else out


def _union_json(col: pa.UnionArray) -> pa.Array:
    children = [_json_values(col.field(i)) for i in range(col.type.num_fields)]
    child_of_code = np.zeros(128, dtype=np.int64)
    child_of_code[list(col.type.type_codes)] = np.arange(col.type.num_fields)
    child = child_of_code[col.type_codes.to_numpy(zero_copy_only=False)]
    within = (col.offsets.to_numpy(zero_copy_only=False).astype(np.int64) if col.type.mode == "dense"
              else np.arange(len(col), dtype=np.int64) + col.offset)
    base = np.concatenate([[0], np.cumsum([len(c) for c in children])])
    return pa.concat_arrays(children).take(pa.array(base[child] + within))


def _json_escape(text: pa.Array) -> pa.Array:
    """Escape backslashes, quotes and control characters for a JSON string (whole column at once)."""
    data = group_bytes(text)
    if not len(data):
        return text
    if np.any(data == 0x5C):
        text = pc.replace_substring(text, "\\", "\\\\")
    if np.any(data == 0x22):
        text = pc.replace_substring(text, '"', '\\"')
    for code in np.unique(data[data < 0x20]).tolist():
        text = pc.replace_substring(text, chr(code), _JSON_SHORT_ESCAPES.get(code, f"\\u{code:04x}"))
    return text


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give a later batch the first batch's schema (e.g. an all-null column typed differently)."""
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        names = [f.name for f in schema if f.type != batch.schema.field(f.name).type]
        raise InputError(
            f"column(s) {names} changed type between batches (e.g. integer tokens in one batch, text in another); "
            "read the column as text"
        ) from None


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """A partial file beside ``path``, fsynced and placed when the block succeeds, deleted on any error, Ctrl-C,
    SIGTERM or SIGHUP; an existing ``path`` is an error unless ``overwrite`` (see :mod:`tokenize_kit.commit`)."""
    if str(path) == STDIO:  # (standard output is written through SpooledOutput; no file named '-' is created)
        raise InputError("'-' stands for standard input or output, not a file to write here; give a file path")
    from .commit import committed_file  # (commit imports this module)

    with committed_file(path, overwrite=overwrite) as fh:
        yield fh


def write_json_atomic(path: Path, doc: dict[str, Any], *, overwrite: bool = False) -> None:
    with atomic_output(path, overwrite=overwrite) as fh:
        fh.write((json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
