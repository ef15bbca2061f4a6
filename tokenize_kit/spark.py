"""tokenize-kit on Apache Spark: the same engine, the same tokens, for extracts that outgrow one machine.

``tokenize(df, policy, keyset)`` / ``detokenize(...)`` run :func:`tokenize_kit.table.transform_columns`
inside ``DataFrame.mapInArrow``: each Arrow batch of each partition goes straight into the vectorised
engine (no per-row Python UDF), so a file tokenized on a laptop and a table tokenized on a cluster join.

Keys on a cluster: the keyset is opened once on the driver and only a :class:`DerivedKeyset` travels to
the executors: the HKDF subkeys of the (purpose, domain) pairs the policy's types declare
(:func:`~tokenize_kit.table.policy_subkeys`), nothing else.  It travels inside the pickled ``mapInArrow``
closure (Spark ships closures to executors; it never puts them in plans, logs or the UI); its ``repr`` shows
no key bytes.

``pyspark`` is an optional extra (``pip install tokenize-kit[spark]``): nothing else imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .keys import Keyset, KeysetError
from .policy import Policy
from .subkeys import DEFAULT_DERIVATION, FPE
from .table import TableReport, TokenizeError, check_columns, crypto_for, policy_subkeys, transform_columns

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

class DerivedKeyset:
    """The subkeys one policy needs, derived on the driver; the same ``subkey`` interface as a Keyset.

    Asking for any other (purpose, domain), algorithm or derivation raises: an executor can never derive anything
    else.
    """

    def __init__(self, name: str, version: int, fingerprint: str, algorithm: str, derivation: int,
                 subkeys: dict[tuple[str, str], bytes]) -> None:
        self._name, self._version, self._fingerprint = name, version, fingerprint
        self._algorithm, self._derivation = algorithm, derivation
        self._subkeys = dict(subkeys)

    @classmethod
    def for_policy(cls, keyset: Keyset, policy: Policy) -> DerivedKeyset:
        """The subkeys of :func:`~tokenize_kit.table.policy_subkeys` (what the policy's types declare)."""
        crypto = crypto_for(policy, keyset)
        subkeys = {
            (purpose, domain): keyset.subkey(domain, purpose=purpose, algorithm=crypto.algorithm,
                                             derivation=crypto.derivation, name=crypto.key_name,
                                             version=crypto.version)
            for purpose, domain in policy_subkeys(policy)
        }
        return cls(crypto.key_name, crypto.version, keyset.fingerprint(crypto.key_name, crypto.version),
                   crypto.algorithm, crypto.derivation, subkeys)

    def domains(self) -> list[tuple[str, str]]:
        return sorted(self._subkeys)

    def primary_version(self, name: str = "default") -> int:
        self._check_name(name)
        return self._version

    def check_version(self, name: str, version: int) -> None:
        self._check_name(name)
        if version != self._version:
            raise KeysetError(f"only version {self._version} of key {name!r} was shipped to the executors")

    def fingerprint(self, name: str = "default", version: int | None = None) -> str:
        return self._fingerprint

    def subkey(self, domain: str, *, purpose: str = FPE, algorithm: str = "ff1",
               derivation: int = DEFAULT_DERIVATION, name: str = "default", version: int | None = None) -> bytes:
        self._check_name(name)
        if version is not None:
            self.check_version(name, version)
        if derivation != self._derivation or (purpose == FPE and algorithm != self._algorithm):
            raise KeysetError(f"only subkeys of derivation {self._derivation} for {self._algorithm} were shipped to "
                              "the executors")
        try:
            return self._subkeys[(purpose, domain)]
        except KeyError:
            raise KeysetError(f"subkey ({purpose}, {domain}) was not derived for this policy") from None

    def _check_name(self, name: str) -> None:
        if name != self._name:
            raise KeysetError(f"only key {self._name!r} was shipped to the executors")

    def __repr__(self) -> str:
        return f"DerivedKeyset(key={self._name!r}, version={self._version}, subkeys={len(self._subkeys)})"

    __str__ = __repr__


def _spark_output_schema(df: DataFrame, policy: Policy):
    """Same schema as the input: policy columns keep their type (integer ID columns stay integers)."""
    return df.schema


def _transform(df: DataFrame, policy: Any, keyset: Keyset | DerivedKeyset, decrypt: bool) -> DataFrame:
    policy = Policy.load(policy)
    try:
        check_columns(policy, list(df.columns))  # before any job runs
    except TokenizeError as exc:
        raise TokenizeError(f"{exc} (Spark DataFrame)") from None
    derived = keyset if isinstance(keyset, DerivedKeyset) else DerivedKeyset.for_policy(keyset, policy)
    policy_doc = policy.to_dict()
    schema = _spark_output_schema(df, policy)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pol = Policy.load(policy_doc)
        crypto = crypto_for(pol, derived)
        for batch in batches:
            if batch.num_rows == 0:
                yield batch
                continue
            arrays = list(batch.columns)
            done = transform_columns(pa.Table.from_batches([batch]), pol, crypto, decrypt)
            for name, (new, _) in done.items():
                i = batch.schema.get_field_index(name)
                target = batch.schema.field(i).type
                if new.type != target:
                    try:
                        new = new.cast(target)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        raise TokenizeError(
                            f"column {name!r}: tokens do not fit the column's type {target}; cast it to string first"
                        ) from None
                arrays[i] = new
            yield pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    return df.mapInArrow(run, schema)


def tokenize(df: DataFrame, policy: Any, keyset: Keyset | DerivedKeyset) -> DataFrame:
    """Tokenize the policy's columns of a Spark DataFrame (same tokens as :func:`tokenize_kit.tokenize_table`)."""
    return _transform(df, policy, keyset, decrypt=False)


def detokenize(df: DataFrame, policy: Any, keyset: Keyset | DerivedKeyset) -> DataFrame:
    """Reverse :func:`tokenize`."""
    return _transform(df, policy, keyset, decrypt=True)


def scan(df: DataFrame, covered: Iterable[str] = ()) -> DataFrame:
    """Findings per column (column, type, count, non_empty, confidence): a small DataFrame, no values."""
    from pyspark.sql import functions as F

    from .scan import ScanResult, scan_batch

    covered = list(covered)
    out_schema = "part long, column string, type string, count long, non_empty long"

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else 0
        result = ScanResult()
        for batch in batches:
            scan_batch(batch, result, covered)
        rows = {"part": [], "column": [], "type": [], "count": [], "non_empty": []}
        for col in result.columns.values():
            for t, n in [*((k, v.count) for k, v in col.kinds_found().items()),
                         *((f"{k} (in text)", v.count) for k, v in col.in_text.items() if v.count)]:
                rows["part"].append(part)
                rows["column"].append(col.column)
                rows["type"].append(t)
                rows["count"].append(n)
                rows["non_empty"].append(col.non_empty)
        yield pa.RecordBatch.from_pydict(rows, schema=pa.schema([("part", pa.int64()), ("column", pa.string()),
                                                                 ("type", pa.string()),
                                                                 ("count", pa.int64()), ("non_empty", pa.int64())]))

    per_part = df.mapInArrow(run, out_schema)
    agg = per_part.groupBy("column", "type").agg(F.sum("count").alias("count"))
    # one non_empty figure per (partition, column): distinct on the partition too, or two partitions
    # with equal counts would collapse into one
    non_empty = per_part.select("part", "column", "non_empty").distinct().groupBy("column").agg(
        F.sum("non_empty").alias("non_empty"))
    return (agg.join(non_empty, "column")
            .withColumn("confidence", F.round(F.col("count") / F.col("non_empty"), 4))
            .orderBy("column", "type"))


def generate(spark: Any, dataset: Any, table: str | None = None, rows: int = 1_000_000, seed: int = 0) -> DataFrame:
    """A synthetic table as a Spark DataFrame, generated on the executors.

    Batch ``k`` of the dataset (``generators.BATCH_ROWS`` main-table rows and their children) is
    generated on partition ``k`` from the same seeded streams as on one machine, and IDs are unique by
    construction (no shared state), so the result equals
    ``generators.generate_table(dataset, table, rows, seed)`` row for row, in order.
    ``dataset`` is a built-in name, a schema file path (read on the driver) or a ``Schema``.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    from generators import BATCH_ROWS, generate_batch
    from generators import load as load_schema
    from generators.schema import Schema

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


def report_for(table: pa.Table, policy: Any, keyset: Keyset) -> TableReport:  # pragma: no cover - helper
    from .table import tokenize_table

    rep = TableReport()
    tokenize_table(table, policy, keyset, report=rep)
    return rep
