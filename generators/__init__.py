"""Synthetic Egyptian and Saudi customer datasets (schema-driven, vectorised, deterministic, batch-streamed).

>>> from generators import generate_table
>>> t = generate_table("eg-consumer-finance", "customers", 3, seed=1)
>>> t.num_rows, t.column_names[:3]
(3, ['customer_id', 'national_id', 'gender'])
"""

from . import finance, people, utility  # noqa: F401  (register their kinds)
from .columns import KINDS, kind
from .engine import BATCH_ROWS, generate_batch, generate_dataset, generate_table, iter_batches, iter_table, tables_of
from .schema import Schema, SchemaError, builtin_names, load

__all__ = ["BATCH_ROWS", "KINDS", "Schema", "SchemaError", "builtin_names", "generate_batch", "generate_dataset",
           "generate_table", "iter_batches", "iter_table", "kind", "load", "tables_of"]
