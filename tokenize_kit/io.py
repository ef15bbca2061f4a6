"""Streaming readers and writers for the files extracts travel in: CSV/TSV (optionally .gz), Parquet,
JSON Lines and Excel .xlsx, with the encodings Egyptian and Saudi exports use.

Readers yield Arrow record batches; CSV columns are read as text, never inferred, so ``00123`` and
``1.50`` pass through untouched.  Writers write to a temporary file beside the target that
:class:`AtomicOutput` renames into place only when everything succeeded.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .utf8 import group_bytes

FORMATS = ("csv", "tsv", "parquet", "jsonl", "xlsx")
DEFAULT_BATCH = 200_000


class InputError(ValueError):
    """A file cannot be read as asked; the message says where (line/row) and how to fix it."""


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


def _open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


def _open_arrow(path: Path) -> pa.NativeFile:
    """``path`` as an Arrow input stream: Arrow's I/O thread then reads into Arrow buffers without the GIL
    (a Python file object would be read through Python calls and bytes objects)."""
    if str(path).lower().endswith(".gz"):
        return pa.CompressedInputStream(pa.OSFile(str(path), "rb"), "gzip")
    return pa.OSFile(str(path), "rb")


@dataclass
class TextEncoding:
    """A CSV encoding: codec name, whether a UTF-8 byte-order mark is present (kept on output), and the
    line terminator the file uses (kept on output too)."""

    codec: str
    bom: bool = False
    newline: str = "\r\n"

    @property
    def label(self) -> str:
        return "utf-8-sig" if self.bom else self.codec


def detect_encoding(path: Path, override: str | None = None, sample: int = 4 << 20) -> TextEncoding:
    """BOM -> UTF-8 with BOM; strict UTF-8 decode of a sample -> UTF-8; otherwise Windows-1256."""
    if override:
        try:
            codecs.lookup(override)
        except LookupError:
            raise InputError(f"unknown encoding {override!r} (try utf-8, utf-8-sig or cp1256)") from None
        norm = codecs.lookup(override).name
        return TextEncoding("utf-8", True) if norm == "utf-8-sig" else TextEncoding(norm)
    with _open_binary(path) as fh:
        head = fh.read(sample)
    first_nl = head.find(b"\n")
    newline = "\r\n" if first_nl > 0 and head[first_nl - 1 : first_nl] == b"\r" else "\n"
    if head.startswith(codecs.BOM_UTF8):
        return TextEncoding("utf-8", True, newline)
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(head, final=False)
        return TextEncoding("utf-8", False, newline)
    except UnicodeDecodeError:
        return TextEncoding("cp1256", False, newline)


def _line_of_bad_bytes(path: Path, enc: TextEncoding) -> int | None:
    decoder = codecs.getincrementaldecoder(enc.codec)(errors="strict")
    line = 1
    with _open_binary(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: exc.start].count(b"\n")
            line += text.count("\n")
    return None


# -- readers -------------------------------------------------------------------------------------------
def read_batches(
    path: str | os.PathLike[str], fmt: str | None = None, *, encoding: str | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> tuple[Iterator[pa.RecordBatch], dict[str, Any]]:
    """Open ``path``; return (batch iterator, info) where info has the format, encoding and total rows if known."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file {path} does not exist")
    fmt = detect_format(path, fmt)
    if fmt in ("csv", "tsv"):
        enc = detect_encoding(path, encoding)
        return _csv_batches(path, enc, "\t" if fmt == "tsv" else ",", batch_size), {
            "format": fmt, "encoding": enc, "rows": None}
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq  # (imported when needed: it is slow to import)

            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError):
            raise InputError(f"{path} is not a readable Parquet file (corrupt or not Parquet)") from None
        return _parquet_batches(pf, path, batch_size), {"format": fmt, "rows": pf.metadata.num_rows,
                                                         "schema": pf.schema_arrow}
    if fmt == "jsonl":
        return _jsonl_batches(path, batch_size), {"format": fmt, "rows": None}
    return _xlsx_batches(path, batch_size), {"format": fmt, "rows": None}


def _csv_header(path: Path, enc: TextEncoding, delimiter: str) -> list[str]:
    import csv

    with _open_binary(path) as fh:
        first = fh.readline()
    try:
        line = first.decode(enc.label)
    except UnicodeDecodeError:
        raise InputError(f"{path}: line 1 cannot be decoded as {enc.label}; pass --encoding") from None
    header = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), None)
    if not header:
        raise InputError(f"{path} is empty: expected a header row")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: duplicate column name(s) in the header: {dupes}")
    return header


def _first_ragged_line(path: Path, enc: TextEncoding, delimiter: str, width: int) -> tuple[int, int] | None:
    """(line number, field count) of the first record whose field count differs from the header's."""
    import csv

    with _open_binary(path) as fh:
        text = io.TextIOWrapper(fh, encoding=enc.label, newline="", errors="replace")
        reader = csv.reader(text, delimiter=delimiter)
        line = 1
        for record in reader:
            if reader.line_num > 1 and len(record) != width and record:
                return line, len(record)
            line = reader.line_num + 1
    return None


#: CSV bytes parsed per block.  Arrow's streaming reader reads up to 32 blocks ahead of the consumer, so the
#: block size bounds memory (8 MB blocks held ~260 MB of read-ahead; 512 KB blocks parse as fast); blocks are
#: coalesced into ``batch_size`` rows before they are processed.  A record longer than a block is retried with
#: larger blocks.
CSV_BLOCK = 1 << 19
FIRST_CSV_BATCH = 1 << 16
CSV_MAX_BLOCK = 1 << 30


def _csv_batches(path: Path, enc: TextEncoding, delimiter: str, batch_size: int) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path, enc, delimiter)

    ragged_seen: list[int] = []

    def ragged(row: Any) -> str:
        ragged_seen.append(row.actual_columns)
        return "error"

    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=ragged)
    conv = pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False,
                                quoted_strings_can_be_null=False)
    block = CSV_BLOCK
    # the first batch is smaller, so the work starts sooner (the output does not depend on batch boundaries)
    target = min(batch_size, FIRST_CSV_BATCH)
    consumed = 0  # rows taken from the reader (a retry with larger blocks skips them)
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    while True:
        read_opts = pacsv.ReadOptions(encoding=enc.label if enc.codec != "utf-8" else "utf8",
                                      block_size=block, use_threads=True)
        try:
            reader = pacsv.open_csv(_open_arrow(path), read_options=read_opts, parse_options=parse_opts,
                                    convert_options=conv)
            skip = consumed
            for batch in reader:
                if skip:
                    if batch.num_rows <= skip:
                        skip -= batch.num_rows
                        continue
                    batch = batch.slice(skip)
                    skip = 0
                consumed += batch.num_rows
                pending.append(batch)
                pending_rows += batch.num_rows
                while pending_rows >= target:
                    out, pending = _split_rows(pending, target)
                    pending_rows -= target
                    target = batch_size
                    yield out
            break
        except InputError:
            raise
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if "straddl" in str(exc) and block < CSV_MAX_BLOCK and not ragged_seen:
                block *= 8  # a record longer than a block: read again with larger blocks
                continue
            if ragged_seen:
                found = _first_ragged_line(path, enc, delimiter, len(header))
                where = f"line {found[0]} has {found[1]} fields" if found else f"a row has {ragged_seen[0]} fields"
                raise InputError(
                    f"{path}: {where}, the header has {len(header)} (a ragged row; check quoting or the delimiter)"
                ) from None
            text = str(exc)
            if "UTF8" in text or "decode" in text.lower() or isinstance(exc, UnicodeDecodeError):
                line = _line_of_bad_bytes(path, enc)
                where = f"line {line}" if line else "somewhere"
                raise InputError(f"{path}: bytes at {where} are not valid {enc.label}; pass --encoding "
                                 "(e.g. --encoding cp1256 for Windows Arabic exports)") from None
            raise InputError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None
    if pending_rows:
        yield _split_rows(pending, pending_rows)[0]


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


def _parquet_batches(pf: Any, path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    try:
        yield from pf.iter_batches(batch_size=batch_size)
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{path}: Parquet data is corrupt or unreadable") from None


def _jsonl_batches(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    import pyarrow.json as pajson

    try:
        reader = pajson.open_json(_open_binary(path), read_options=pajson.ReadOptions(block_size=16 << 20))
        for batch in reader:
            yield from _rebatch(batch, batch_size)
    except pa.ArrowInvalid:
        raise InputError(f"{path}: not valid JSON Lines (one JSON object per line)") from None


def _xlsx_batches(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a bad file
        raise InputError(f"{path} is not a readable .xlsx workbook") from None
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if not header:
        raise InputError(f"{path}: the first sheet is empty: expected a header row")
    names = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
    buf: list[tuple] = []
    excel_row = 1
    for row in rows:
        excel_row += 1
        buf.append(row)
        if len(buf) >= batch_size:
            yield _xlsx_batch(names, buf, path, excel_row - len(buf) + 1)
            buf = []
    if buf or excel_row == 1:
        yield _xlsx_batch(names, buf, path, excel_row - len(buf) + 1)
    wb.close()


def _xlsx_cell(v: Any, path: Path, col: str, row: int) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        return repr(v)
    return str(v)


def _xlsx_batch(names: list[str], rows: list[tuple], path: Path, first_row: int) -> pa.RecordBatch:
    width = len(names)
    cols: list[list[str | None]] = [[] for _ in names]
    for r, row in enumerate(rows):
        if len(row) > width and any(v is not None for v in row[width:]):
            raise InputError(f"{path}: row {first_row + r} has cells beyond the header's {width} columns")
        for i in range(width):
            v = row[i] if i < len(row) else None
            cols[i].append(_xlsx_cell(v, path, names[i], first_row + r))
    return pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], names=names)


# -- writers -------------------------------------------------------------------------------------------
class BatchWriter:
    """Writes batches in one format to a binary file object."""

    def __init__(self, fh: BinaryIO, fmt: str, encoding: TextEncoding | None = None) -> None:
        self.fh, self.fmt = fh, fmt
        self.encoding = encoding or TextEncoding("utf-8")
        self._pq: Any = None
        self._schema: pa.Schema | None = None
        self._header_done = False
        self._xlsx = None
        self._ws = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._schema is None:
            self._schema = batch.schema
        elif batch.schema != self._schema:
            batch = _conform(batch, self._schema)
        if self.fmt in ("csv", "tsv"):
            self._write_csv(batch)
        elif self.fmt == "parquet":
            if self._pq is None:
                import pyarrow.parquet as pq

                self._pq = pq.ParquetWriter(self.fh, self._schema)
            self._pq.write_batch(batch)
        elif self.fmt == "jsonl":
            self._write_jsonl(batch)
        else:
            self._write_xlsx(batch)

    def _write_csv(self, batch: pa.RecordBatch) -> None:
        """Minimal quoting (like Python's csv module and Excel), vectorised over whole columns, so columns
        outside the policy come back byte for byte from a minimally quoted input."""
        delimiter = "\t" if self.fmt == "tsv" else ","
        newline = self.encoding.newline
        pieces: list[Any] = []
        if not self._header_done:
            header = pa.array(list(batch.schema.names), pa.string())
            line = delimiter.join(_csv_quote(header, delimiter).to_pylist()) + newline
            if self.encoding.bom:
                self.fh.write(codecs.BOM_UTF8)
            pieces.append(line.encode("utf-8"))
            self._header_done = True
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
            data = b"".join(bytes(p) for p in pieces)
            try:
                data = data.decode("utf-8").encode(self.encoding.codec)
            except UnicodeEncodeError:
                raise InputError(
                    f"a value cannot be written in {self.encoding.codec}; pass --output-encoding utf-8"
                ) from None
            self.fh.write(data)
            return
        for piece in pieces:  # the lines are written straight from Arrow's buffer, without a copy
            if len(piece):
                self.fh.write(piece)

    def _write_jsonl(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.fh.write(_string_payload(jsonl_lines(batch)))

    def _write_xlsx(self, batch: pa.RecordBatch) -> None:
        if self._xlsx is None:
            from openpyxl import Workbook

            self._xlsx = Workbook(write_only=True)
            self._ws = self._xlsx.create_sheet()
            self._ws.append(list(batch.schema.names))
        for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            self._ws.append(list(row))

    def close(self) -> None:
        if self._schema is None and self.fmt in ("csv", "tsv"):
            return
        if self._pq is not None:
            self._pq.close()
        if self._xlsx is not None:
            self._xlsx.save(self.fh)


def _as_text(col: pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    return pc.fill_null(col, "") if col.null_count else col


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
    else:  # nested or binary values (rare in extracts): one json.dumps per value
        out = pa.array([json.dumps(v, ensure_ascii=False, default=str) for v in col.to_pylist()], pa.string())
    return pc.fill_null(out, "null") if out.null_count else out


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


class _Terminated(Exception):
    pass


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A temp file beside ``path``; fsync + rename on success, deleted on any error, Ctrl-C or SIGTERM."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # turn SIGTERM into an exception so the finally-block cleans up
        raise _Terminated()

    try:
        if previous is not None:
            signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not in the main thread
        previous = None
    ok = False
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        ok = True
    except _Terminated:
        raise SystemExit(143) from None
    finally:
        if not ok and os.path.exists(tmp):
            os.unlink(tmp)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    with atomic_output(path) as fh:
        fh.write((json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
