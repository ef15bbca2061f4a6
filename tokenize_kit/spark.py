"""tokenize-kit on Apache Spark: the same engine, the same tokens, for extracts that outgrow one machine.

``tokenize(df, policy, keyset)`` / ``detokenize(...)`` run :func:`tokenize_kit.table.transform_column`
inside ``DataFrame.mapInArrow``: each Arrow batch of each partition goes straight into the vectorised
engine (no per-row Python UDF), so a file tokenized on a laptop and a table tokenized on a cluster join.

Keys on a cluster: the keyset is opened once on the driver and only a :class:`DerivedKeyset` travels to
the executors: the HKDF subkeys for the (domain, purpose) pairs the policy's types can use, nothing
else.  It travels inside the pickled ``mapInArrow`` closure (Spark ships closures to executors; it
never puts them in plans, logs or the UI); its ``repr`` shows no key bytes.

``pyspark`` is an optional extra (``pip install tokenize-kit[spark]``): nothing else imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .keys import Keyset, KeysetError
from .pii import registry
from .policy import Policy
from .table import TableReport, TokenizeError, check_columns, crypto_for, transform_column

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

PURPOSES = ("fpe", "hmac", "prp")
SUBDOMAINS = ("", "/generic", "/keep-shift", "/host")
#: types whose tokens are made under other types' domains
USES = {"free_text": ("eg_national_id", "sa_national_id", "phone")}


class DerivedKeyset:
    """The subkeys one policy needs, derived on the driver; the same ``subkey`` interface as a Keyset.

    Asking for any other (domain, purpose) raises: an executor can never derive anything else.
    """

    def __init__(self, name: str, version: int, fingerprint: str, subkeys: dict[tuple[str, str], bytes]) -> None:
        self._name, self._version, self._fingerprint = name, version, fingerprint
        self._subkeys = dict(subkeys)

    @classmethod
    def for_policy(cls, keyset: Keyset, policy: Policy) -> DerivedKeyset:
        crypto = crypto_for(policy, keyset)
        bases: set[str] = set()
        for spec in policy.columns.values():
            t = registry.get(spec.type)
            names = (t.domain, *(registry.get(u).domain for u in USES.get(spec.type, ())))
            for d in names:
                bases.add(d if not spec.domain else (spec.domain if d == t.domain else f"{spec.domain}/{d}"))
        subkeys = {
            (base + sub, purpose): keyset.subkey(base + sub, name=crypto.key_name, version=crypto.version,
                                                 purpose=purpose)
            for base in bases for sub in SUBDOMAINS for purpose in PURPOSES
        }
        return cls(crypto.key_name, crypto.version, keyset.fingerprint(crypto.key_name, crypto.version), subkeys)

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

    def subkey(self, domain: str, *, name: str = "default", version: int | None = None, purpose: str = "fpe") -> bytes:
        self._check_name(name)
        try:
            return self._subkeys[(domain, purpose)]
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
            for name, spec in pol.columns.items():
                i = batch.schema.get_field_index(name)
                new, _ = transform_column(arrays[i], spec, crypto, decrypt)
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
    out_schema = "column string, type string, count long, non_empty long"

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        result = ScanResult()
        for batch in batches:
            scan_batch(batch, result, covered)
        rows = {"column": [], "type": [], "count": [], "non_empty": []}
        for col in result.columns.values():
            for t, n in [*col.types.items(), *((f"{k} (in text)", v) for k, v in col.in_text.items())]:
                rows["column"].append(col.column)
                rows["type"].append(t)
                rows["count"].append(n)
                rows["non_empty"].append(col.non_empty)
        yield pa.RecordBatch.from_pydict(rows, schema=pa.schema([("column", pa.string()), ("type", pa.string()),
                                                                 ("count", pa.int64()), ("non_empty", pa.int64())]))

    per_part = df.mapInArrow(run, out_schema)
    totals = df.select([F.count(F.lit(1)).alias("_rows")])
    agg = per_part.groupBy("column", "type").agg(F.sum("count").alias("count"))
    non_empty = per_part.select("column", "non_empty").distinct().groupBy("column").agg(
        F.sum("non_empty").alias("non_empty"))
    del totals
    return (agg.join(non_empty, "column")
            .withColumn("confidence", F.round(F.col("count") / F.col("non_empty"), 4))
            .orderBy("column", "type"))


def report_for(table: pa.Table, policy: Any, keyset: Keyset) -> TableReport:  # pragma: no cover - helper
    from .table import tokenize_table

    rep = TableReport()
    tokenize_table(table, policy, keyset, report=rep)
    return rep
