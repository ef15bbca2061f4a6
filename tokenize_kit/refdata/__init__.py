"""Reference tables shared by the PII types and the generators (sources in ``SOURCES.md``).

>>> governorates = table("eg_governorates")
>>> governorates.num_rows >= 27, "eg_governorates" in names()
(True, True)
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv


def path(name: str) -> Path:
    return Path(str(resources.files(__package__) / f"{name}.csv"))


def names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files(__package__).iterdir() if p.name.endswith(".csv"))


@cache
def table(name: str) -> pa.Table:
    """A reference table, all columns read as text except integer ``code`` columns."""
    p = path(name)
    if not p.exists():
        raise ValueError(f"no reference table {name!r}; available: {', '.join(names())}")
    opts = pacsv.ConvertOptions(strings_can_be_null=False)
    return pacsv.read_csv(p, convert_options=opts)
