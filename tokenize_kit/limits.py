"""What one input may cost: the bounds that make a hostile or broken file fail fast with a clear error.

Kept apart from :mod:`tokenize_kit.io` (no pyarrow here) so the command line can show the defaults in its help
without loading the data libraries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on one input; each has a command-line option to raise it (:data:`LIMIT_OPTIONS`).

    The defaults fit real extracts with a wide margin; a hostile file (a zip bomb, a cell of hundreds of
    megabytes, a sheet whose cells sit a million rows apart) fails within seconds and a bounded amount of
    memory instead of exhausting the machine."""

    #: bytes of one cell's text, any format
    max_cell_bytes: int = 1 << 20
    #: .xlsx: total unzipped size of the workbook (its zip directory is checked before anything is parsed)
    max_xlsx_bytes: int = 1 << 30
    #: .xlsx: a part's unzipped size over its zipped size (zip bombs compress a thousandfold and more; Apache POI
    #: refuses beyond 100 by default too)
    max_xlsx_ratio: int = 100
    #: .xlsx: rows x columns of the sheet, as declared by its dimension or as reached by its cells
    max_xlsx_cells: int = 50_000_000


#: the command-line option of each limit, named in its error message
LIMIT_OPTIONS = {"max_cell_bytes": "--max-cell-bytes", "max_xlsx_bytes": "--max-xlsx-bytes",
                 "max_xlsx_ratio": "--max-xlsx-ratio", "max_xlsx_cells": "--max-xlsx-cells"}


def parse_size(text: str | int) -> int:
    """``"1MiB"``, ``"512k"``, ``"2GB"`` or a plain number (multiples are binary either way: k = 1024)."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 1048576, 512k, 1MiB, 2GB)")
    return int(m[1]) << (10 * " KMGT".index(m[2].upper() or " "))
