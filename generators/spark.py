"""Synthetic datasets generated on Spark executors (``pip install tokenize-kit[spark]``).

The generators live beside the tokenizer, not inside it: ``tokenize_kit`` never imports ``generators``
(the command line, the composition root, is the exception).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .engine import BATCH_ROWS, generate_batch
from .schema import Schema
from .schema import load as load_schema

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def generate(spark: Any, dataset: Any, table: str | None = None, rows: int = 1_000_000, seed: int = 0) -> DataFrame:
    """A synthetic table as a Spark DataFrame, generated on the executors.

    Batch ``k`` of the dataset (``generators.BATCH_ROWS`` main-table rows and their children) is
    generated on partition ``k`` from the same seeded streams as on one machine, and IDs are unique by
    construction (no shared state), so the result equals
    ``generators.generate_table(dataset, table, rows, seed)`` row for row, in order.
    ``dataset`` is a built-in name, a schema file path (read on the driver) or a ``Schema``.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = dataset if isinstance(dataset, Schema) else load_schema(dataset)
    table = table or schema.root
    if table not in schema.tables:
        raise ValueError(f"dataset {schema.name!r} has no table {table!r}; tables: {', '.join(schema.tables)}")
    if rows < 0:
        raise ValueError("rows must be >= 0")
    arrow_schema = generate_batch(schema, 0, seed, [table], 0)[table].schema
    n_batches = -(-rows // BATCH_ROWS)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for rb in batches:
            for k in rb.column(0).to_pylist():
                yield generate_batch(schema, k, seed, [table], rows)[table]

    ids = spark.range(0, n_batches, 1, numPartitions=max(1, n_batches))
    return ids.mapInArrow(run, from_arrow_schema(arrow_schema))
