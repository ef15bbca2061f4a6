"""Builders of hostile input files for the tests: small on disk, built in milliseconds, expensive to read naively.

The .xlsx bombs are written byte by byte (a zip's local headers, raw deflate data, central directory), so a
part can unzip to 1.5 GiB from 1.5 MB without the test compressing 1.5 GiB: deflate's output for a block of
identical bytes after a full flush is the same every time, so it is made once and repeated.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def repeated_deflate(prefix: bytes, byte: bytes, count: int, suffix: bytes) -> tuple[bytes, int]:
    """Raw deflate data of ``prefix + byte * count + suffix`` (count a multiple of 16 MiB) without compressing
    all of it, and its unzipped size."""
    block = byte * (1 << 24)
    assert count % len(block) == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)]
    once = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    out += [once] * (count // len(block))
    out.append(c.compress(suffix) + c.flush())
    return b"".join(out), len(prefix) + count + len(suffix)


def write_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip of (name, raw deflate data, CRC-32, declared unzipped size) entries, written as is (so a test can
    declare sizes that lie)."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size in entries:
        offset = len(local)
        fname = name.encode()
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(fname), 0)
        local += fname + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                               len(fname), 0, 0, 0, 0, 0, offset) + fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(local), 0)
    path.write_bytes(bytes(local) + bytes(central) + end)
    return path


def _entry(name: str, text: str | bytes) -> tuple[str, bytes, int, int]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return name, deflate(data), zlib.crc32(data), len(data)


def workbook_parts(shared: bool = False) -> list[tuple[str, bytes, int, int]]:
    rels = (f'<?xml version="1.0"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (f'<Relationship Id="rId2" Type="{DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
               if shared else "") + "</Relationships>")
    book = (f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    types = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
             '<Override PartName="/xl/worksheets/sheet1.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
             + ('<Override PartName="/xl/sharedStrings.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                if shared else "") + "</Types>")
    root = (f'<?xml version="1.0"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    return [_entry("[Content_Types].xml", types), _entry("_rels/.rels", root), _entry("xl/workbook.xml", book),
            _entry("xl/_rels/workbook.xml.rels", rels)]


def sheet_xml(rows: str, dimension: str | None = None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0"?><worksheet xmlns="{MAIN}">{dim}<sheetData>{rows}</sheetData></worksheet>'


def header_row(names: list[str], row: int = 1) -> str:
    from tokenize_kit.xlsx import _letters

    cells = "".join(f'<c r="{_letters(i + 1)}{row}" t="inlineStr"><is><t>{n}</t></is></c>'
                    for i, n in enumerate(names))
    return f'<row r="{row}">{cells}</row>'


def xlsx(path: Path, rows: str, dimension: str | None = None) -> Path:
    """A workbook whose sheet holds ``rows`` (SpreadsheetML ``<row>`` elements)."""
    return write_zip(path, [*workbook_parts(), _entry("xl/worksheets/sheet1.xml", sheet_xml(rows, dimension))])


def cell_bomb(path: Path, gib: float = 1.5, lie: bool = False) -> Path:
    """A shared string of ``gib`` GiB of 'A' (1.5 MB zipped): a cell that exhausts memory if held whole.
    ``lie``: the zip's directory declares the part 1 MB (the CRC is not computed: nothing may get that far)."""
    count = int(gib * (1 << 30)) // (1 << 24) * (1 << 24)
    data, size = repeated_deflate(f'<?xml version="1.0"?><sst xmlns="{MAIN}"><si><t>'.encode(), b"A", count,
                                  b"</t></si></sst>")
    sheet = sheet_xml(header_row(["id", "mobile"]) + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>')
    return write_zip(path, [*workbook_parts(shared=True), _entry("xl/worksheets/sheet1.xml", sheet),
                            ("xl/sharedStrings.xml", data, 0, (1 << 20) if lie else size)])


def inline_cell_bomb(path: Path, mib: int = 64) -> Path:
    """One inline-string cell of ``mib`` MiB (a 50 MB single cell, in a sheet)."""
    count = mib // 16 * (1 << 24)
    head = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>' + header_row(["id", "notes"])
    head += '<row r="2"><c r="B2" t="inlineStr"><is><t>'
    data, size = repeated_deflate(head.encode(), b"A", count, b"</t></is></c></row></sheetData></worksheet>")
    return write_zip(path, [*workbook_parts(), ("xl/worksheets/sheet1.xml", data, 0, size)])


def far_styled_cells(path: Path, rows: int = 200_000) -> Path:
    """A narrow table whose every row also has an empty, formatted cell in Excel's last column (XFD): openpyxl's
    read-only reader pads each row to 16,384 cells."""
    body = [header_row(["id", "mobile"])]
    body += [f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>2980101012345{r % 10}</t></is></c>'
             f'<c r="XFD{r}" s="0"/></row>' for r in range(2, rows + 2)]
    return xlsx(path, "".join(body))


def wide_header_many_rows(path: Path, rows: int = 200_000) -> Path:
    """A header reaching column XFD and many one-cell rows: 16,384 columns x rows cells once padded."""
    body = ['<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
            '<c r="XFD1" t="inlineStr"><is><t>last</t></is></c></row>']
    body += [f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(2, rows + 2)]
    return xlsx(path, "".join(body))


def far_row(path: Path, row: int = 1_048_576, width: int = 3) -> Path:
    """A header and one value a million rows below it (the rows between are empty)."""
    from tokenize_kit.xlsx import _letters

    names = ["id", "mobile", "n"][:width] + [f"c{i}" for i in range(3, width)]
    return xlsx(path, header_row(names) + f'<row r="{row}"><c r="{_letters(width)}{row}"><v>1</v></c></row>')
