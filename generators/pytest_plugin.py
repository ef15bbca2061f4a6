"""pytest plugin (entry point ``pytest11``): seeded synthetic fixtures in one line.

.. code-block:: python

    def test_my_pipeline(eg_customers):            # a pandas DataFrame, 200 customers, seed 0
        assert eg_customers["national_id"].str.len().eq(14).all()

    def test_bigger(synthetic_dataset):
        tables = synthetic_dataset("sa-water-utility", rows=1000, seed=7)   # dict of DataFrames
        assert set(tables) == {"customers", "meters", "bills", "service_requests"}

Importing this module is cheap (it is loaded by every pytest run in an environment where
tokenize-kit is installed): the generators are imported only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

FIXTURE_ROWS = 200


def _dataset(name: str, rows: int, seed: int, tables: list[str] | None = None) -> dict[str, Any]:
    import pyarrow as pa

    from generators import generate_batch, load

    schema = load(name)
    wanted = tables or list(schema.tables)
    parts: dict[str, list] = {t: [] for t in wanted}
    from generators.engine import BATCH_ROWS

    for k in range(max(1, -(-rows // BATCH_ROWS))):
        for t, rb in generate_batch(schema, k, seed, wanted, rows).items():
            parts[t].append(rb)
    return {t: pa.Table.from_batches(b).to_pandas() for t, b in parts.items()}


@pytest.fixture(scope="session")
def synthetic_dataset() -> Callable[..., dict[str, Any]]:
    """Factory: ``synthetic_dataset(name, rows=200, seed=0, tables=None)`` -> {table: DataFrame}."""

    def make(name: str, rows: int = FIXTURE_ROWS, seed: int = 0, tables: list[str] | None = None):
        return _dataset(name, rows, seed, tables)

    return make


@pytest.fixture(scope="session")
def eg_customers() -> Any:
    """200 Egyptian consumer-finance customers (pandas DataFrame), seed 0."""
    return _dataset("eg-consumer-finance", FIXTURE_ROWS, 0, ["customers"])["customers"]


@pytest.fixture(scope="session")
def sa_customers() -> Any:
    """200 Saudi water-utility account holders (pandas DataFrame), seed 0."""
    return _dataset("sa-water-utility", FIXTURE_ROWS, 0, ["customers"])["customers"]
