"""tokenize-kit on Apache Spark: the same engine, the same tokens, for extracts that outgrow one machine.

``tokenize(df, policy, keyset)`` / ``detokenize(...)`` run :func:`tokenize_kit.table.transform_table`
inside ``DataFrame.mapInArrow``: each Arrow batch of each partition goes straight into the vectorised
engine (no per-row Python UDF), so a file tokenized on a laptop and a table tokenized on a cluster join.

Keys on a cluster: the keyset is opened once on the driver and only a :class:`DerivedKeyset` travels to
the executors: the HKDF subkeys of the (purpose, domain) pairs the policy's types declare
(:func:`~tokenize_kit.table.policy_subkeys`), nothing else.  It travels inside the pickled ``mapInArrow``
closure (Spark ships closures to executors; it never puts them in plans, logs or the UI); its ``repr`` shows
no key bytes.

Workers: each function here first runs a one-task job that imports tokenize_kit on an executor
(:func:`check_workers`, once per Spark application), so a cluster whose workers lack the package fails on the
driver with a clear error naming ``PYSPARK_PYTHON``, not at the first action with a worker traceback.

``pyspark`` is an optional extra (``pip install tokenize-kit[spark]``): nothing else imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .derived_keys import DerivedKeyset
from .keys import Keyset, as_keyset
from .policy import Policy
from .table import TokenizeError, check_columns, crypto_for, transform_table

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

class SparkWorkerError(RuntimeError):
    """The Spark workers cannot import tokenize_kit (their Python is not the one it is installed in)."""


#: Spark application ids whose workers were seen to import tokenize_kit
_CHECKED: set[str] = set()


def _probe(_: Any) -> str:
    import importlib

    return str(importlib.import_module("tokenize_kit").__version__)


def check_workers(spark: Any) -> None:
    """Run one tiny task that imports tokenize_kit on an executor; raise :class:`SparkWorkerError` naming
    ``PYSPARK_PYTHON`` if it cannot.  Done once per Spark application (a cached answer after that)."""
    sc = spark.sparkContext if hasattr(spark, "sparkContext") else spark
    app = str(sc.applicationId)
    if app in _CHECKED:
        return
    try:
        sc.parallelize([0], 1).map(_probe).collect()
    except Exception as exc:
        text = str(exc)
        cause = next((line.strip() for line in reversed(text.splitlines())
                      if "ModuleNotFoundError" in line or "ImportError" in line), type(exc).__name__)
        raise SparkWorkerError(
            f"the Spark workers cannot import tokenize_kit ({cause}): run the executors with a Python that has "
            "tokenize-kit installed (set PYSPARK_PYTHON, or spark.pyspark.python, to it, or install the package "
            "on every worker)") from None
    _CHECKED.add(app)


def _spark_output_schema(df: DataFrame, policy: Policy, decrypt: bool = False):
    """Same schema as the input: policy columns keep their type (integer ID columns stay integers), except that
    generalised columns become text (their labels: ``1987``, ``[5000, 10000)``)."""
    from pyspark.sql.types import StringType, StructField, StructType

    if decrypt:
        return df.schema
    text = {n for n, spec in policy.columns.items() if spec.method == "generalize"}
    return StructType([StructField(f.name, StringType(), True) if f.name in text else f for f in df.schema.fields])


def _transform(df: DataFrame, policy: Any, keyset: Any, decrypt: bool, passphrase: str | None = None
               ) -> DataFrame:
    policy = Policy.load(policy)
    try:
        check_columns(policy, list(df.columns))  # before any job runs
    except TokenizeError as exc:
        raise TokenizeError(f"{exc} (Spark DataFrame)") from None
    keyset = as_keyset(keyset, passphrase)
    derived = keyset if isinstance(keyset, DerivedKeyset) else DerivedKeyset.for_policy(keyset, policy)
    check_workers(df.sparkSession)
    policy_doc = policy.to_dict()
    schema = _spark_output_schema(df, policy, decrypt)
    out_schema = _arrow_schema(schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pol = Policy.load(policy_doc)
        crypto = crypto_for(pol, derived)
        for batch in batches:
            if batch.num_rows == 0:
                yield pa.RecordBatch.from_arrays([pa.array([], t) for t in out_schema.types], schema=out_schema)
                continue
            arrays = list(batch.columns)
            for name, (new, _) in transform_table(pa.Table.from_batches([batch]), pol, crypto, decrypt).items():
                if new is None:  # a path inside a nested column: the column itself comes under its own name
                    continue
                i = batch.schema.get_field_index(name)
                target = out_schema.field(i).type
                if new.type != target:
                    try:
                        new = new.cast(target)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        raise TokenizeError(
                            f"column {name!r}: tokens do not fit the column's type {target}; cast it to string first"
                        ) from None
                arrays[i] = new
            yield pa.RecordBatch.from_arrays(arrays, schema=out_schema)

    return df.mapInArrow(run, schema)


def _arrow_schema(schema: Any) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


def tokenize(df: DataFrame, policy: Any, keyset: Keyset | DerivedKeyset | str | os.PathLike[str], *,
             passphrase: str | None = None) -> DataFrame:
    """Tokenize the policy's columns of a Spark DataFrame (same tokens as :func:`tokenize_kit.tokenize_table`).

    ``keyset``: a Keyset, a DerivedKeyset, or a keyset file's path opened on the driver (its passphrase from
    ``passphrase``, ``$TOKENIZE_KIT_PASSPHRASE`` or a prompt).  A policy's ``suppress:`` is applied over the whole
    DataFrame (a window count per equivalence class); more rows to suppress than its ``max_share`` raises
    :class:`~tokenize_kit.risk.RiskRefused` before any output."""
    policy = Policy.load(policy)
    if policy.suppress is None:
        return _transform(df, policy, keyset, False, passphrase)
    check_workers(df.sparkSession)
    flagged, columns = _flag_suppressed(df, policy)
    out = _transform(flagged, policy, keyset, False, passphrase)
    from pyspark.sql import functions as F

    for c in columns:
        out = out.withColumn(c, F.when(F.col(_FLAG), F.lit(None).cast(out.schema[c].dataType)).otherwise(F.col(c)))
    return out.drop(_FLAG)


_FLAG = "__tokenize_kit_suppressed"


def _flag_suppressed(df: DataFrame, policy: Policy) -> tuple[DataFrame, list[str]]:
    """``df`` with a boolean column :data:`_FLAG`: rows in classes smaller than the policy's ``suppress.k``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    from .risk import RiskError, RiskRefused, batch_keys, check_columns, quasi_items

    items = quasi_items(policy)
    if not items:
        raise RiskError("suppress needs quasi-identifiers: list them under quasi: in the policy")
    suppress = policy.suppress
    if suppress is None:
        raise RiskError("the policy has no suppress: settings")
    check_columns(list(df.columns), items, None, "the Spark DataFrame")
    names = [f"__q{i}" for i in range(len(items))]
    schema = StructType([*df.schema.fields, *(StructField(n, StringType(), True) for n in names)])

    def keys(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            t = pa.Table.from_batches([batch])
            cols = [c.cast(pa.string()) for c in batch_keys(t, items, True)]
            yield pa.RecordBatch.from_arrays([*batch.columns, *cols], names=[*batch.schema.names, *names])

    keyed = df.mapInArrow(keys, schema)
    all_null = F.lit(True)
    for n in names:
        all_null = all_null & F.col(n).isNull()
    sizes = F.count(F.lit(1)).over(Window.partitionBy(*names))
    flagged = keyed.withColumn(_FLAG, (sizes < F.lit(suppress.k)) & ~all_null).drop(*names)
    flagged = flagged.withColumn(_FLAG, F.col(_FLAG).cast(BooleanType()))
    total, hit = flagged.agg(F.count(F.lit(1)), F.sum(F.col(_FLAG).cast("long"))).collect()[0]
    hit = int(hit or 0)
    if hit > suppress.max_share * total:
        raise RiskRefused(f"suppression would empty {hit:,} of {total:,} rows, over the policy's max_share "
                          f"{suppress.max_share:.2%}: generalise more or allow more suppression")
    return flagged, list(dict.fromkeys(i.column for i in items))


def detokenize(df: DataFrame, policy: Any, keyset: Keyset | DerivedKeyset | str | os.PathLike[str], *,
               passphrase: str | None = None) -> DataFrame:
    """Reverse :func:`tokenize` (``keyset`` as there)."""
    return _transform(df, policy, keyset, True, passphrase)


def scan(df: DataFrame, covered: Iterable[str] = ()) -> DataFrame:
    """Findings per column (column, type, count, non_empty, confidence): a small DataFrame, no values."""
    from pyspark.sql import functions as F

    from .scan import ScanResult, scan_batch

    covered = list(covered)
    check_workers(df.sparkSession)
    out_schema = "part long, column string, type string, count long, non_empty long"

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else 0
        result = ScanResult()
        for batch in batches:
            scan_batch(batch, result, covered)
        rows: dict[str, list[Any]] = {"part": [], "column": [], "type": [], "count": [], "non_empty": []}
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


_RAW = "__tokenize_kit_raw__"
_GATE_SCHEMA = pa.schema([("rec", pa.string()), ("column", pa.string()), ("kind", pa.string()),
                          ("key", pa.string()), ("hash", pa.int64())])


class _GateRecords:
    """The records one batch of :func:`scan_against` sends back: leaks, word coincidences, raw hashes, probes."""

    def __init__(self) -> None:
        self.cols: dict[str, list[pa.Array]] = {f: [] for f in _GATE_SCHEMA.names}

    def emit(self, rec: str, column: str | None, kind: pa.Array | str | None, key: pa.Array | None,
             hashes: np.ndarray | None, n: int) -> None:
        self.cols["rec"].append(pa.array([rec] * n, pa.string()))
        self.cols["column"].append(pa.array([column] * n, pa.string()))
        self.cols["kind"].append(kind if isinstance(kind, pa.Array) else pa.array([kind] * n, pa.string()))
        self.cols["key"].append(key if key is not None else pa.nulls(n, pa.string()))
        self.cols["hash"].append(pa.array(hashes.view(np.int64)) if hashes is not None else pa.nulls(n, pa.int64()))

    def batch(self) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([pa.concat_arrays(self.cols[f]) for f in _GATE_SCHEMA.names],
                                          schema=_GATE_SCHEMA)


def scan_against(delivery: DataFrame, raw: DataFrame, policy: Any, on: str, *,
                 coincidence_share: float | None = None) -> dict[str, Any]:
    """The delivery gate (``scan --against``) on Spark: the leaks and coincidences :class:`tokenize_kit.scan.Gate`
    finds, counted alike (tested equal on a standalone cluster).

    Spark keeps no row order, so the delivery and its input are paired by ``on``: a column both hold unchanged and
    the policy leaves alone (a customer or loan number), unique per row.  Each pair of rows goes through
    :func:`tokenize_kit.scan.compare` on the executors (no value reaches the driver); coincidences are a semi-join
    of the delivery's probe hashes with the input's.  Returns ``{"rows", "leaks": {column: {kind: {"count",
    "keys"}}}, "coincidences": {column: {kind: count}}, "implausible": {column: {kind: {"count", "probed"}}}}``,
    ``keys`` being up to 20 ``on`` values of leaking rows; the delivery fails the gate when ``leaks`` or
    ``implausible`` (more raw values of other rows, or raw words of their own row in a token column, than chance
    explains) is not empty.
    ``coincidence_share``: as ``scan --coincidence-share`` (default :data:`tokenize_kit.scan.IMPLAUSIBLE_SHARE`).
    Columns outside the policy are scanned by :func:`scan`."""
    from pyspark.sql import functions as F

    from .scan import IMPLAUSIBLE_SHARE, MAX_ROWS, ScanError, compare, implausible

    share = IMPLAUSIBLE_SHARE if coincidence_share is None else coincidence_share

    policy = Policy.load(policy)
    doc = policy.to_dict()
    check_workers(delivery.sparkSession)
    if on in policy.columns:
        raise ScanError(f"scan_against pairs rows by {on!r}, which the policy changes: pass a column left as it is")
    for df, what in ((delivery, "delivery"), (raw, "input")):
        if on not in df.columns:
            raise ScanError(f"the {what} DataFrame has no column {on!r} to pair rows by")
    out_cols = [c for c in delivery.columns if c != on]
    raw_cols = [c for c in raw.columns if c != on]
    joined = delivery.join(raw.select(F.col(on), *(F.col(c).alias(_RAW + c) for c in raw_cols)), on, "inner")
    n_out, n_raw, n_joined = delivery.count(), raw.count(), joined.count()
    if not n_out == n_raw == n_joined:
        raise ScanError(f"the delivery ({n_out:,} rows) and the input ({n_raw:,} rows) do not pair one to one by "
                        f"{on!r} ({n_joined:,} pairs): scan_against needs the input the delivery was made from and "
                        "a column unique per row")
    schema = "rec string, column string, kind string, key string, hash long"

    def records(t: pa.Table, pol: Policy) -> Iterator[pa.RecordBatch]:
        from .scan import GATE_KINDS

        keys = t.column(on).cast(pa.string())
        out = t.select(out_cols)
        rw = t.select([_RAW + c for c in raw_cols]).rename_columns(raw_cols)
        c = compare(rw, out, pol)
        recs = _GateRecords()
        for rec, found in (("leak", c.leaks), ("word", c.words)):
            for path, kind, rows in found:
                recs.emit(rec, path, kind, keys.take(pa.array(rows)).combine_chunks(), None, len(rows))
        if len(c.raw_hashes):
            uniq = np.unique(c.raw_hashes)
            recs.emit("raw", None, None, None, uniq, len(uniq))
        for path, kinds, rows, hashes in c.probes:
            kind_names = pa.array(np.array(GATE_KINDS, dtype=object)[kinds], pa.string())
            recs.emit("probe", path, kind_names, keys.take(pa.array(rows)).combine_chunks(), hashes, len(rows))
        for kind, n in c.word_rows.items():  # (the rows that could meet words of their own: a count in "hash")
            recs.emit("base", None, kind, None, np.array([n], dtype=np.int64), 1)
        if recs.cols["rec"]:
            yield recs.batch()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from .scan import GATE_ROWS

        pol = Policy.load(doc)
        for batch in batches:
            # in the single-process gate's slices (its comparison is row-local: the same findings, less memory)
            for start in range(0, batch.num_rows, GATE_ROWS):
                yield from records(pa.Table.from_batches([batch.slice(start, GATE_ROWS)]), pol)

    recs = joined.mapInArrow(run, schema).persist()
    try:
        report: dict[str, Any] = {"rows": n_out, "leaks": {}, "coincidences": {}}
        leaks = (recs.filter(F.col("rec") == "leak").groupBy("column", "kind")
                 .agg(F.countDistinct("key").alias("n"),
                      F.slice(F.array_sort(F.collect_set("key")), 1, MAX_ROWS).alias("keys")).collect())
        for r in leaks:
            report["leaks"].setdefault(r["column"], {})[r["kind"]] = {"count": int(r["n"]), "keys": list(r["keys"])}
        raw_hashes = recs.filter(F.col("rec") == "raw").select("hash").distinct()
        probes = recs.filter(F.col("rec") == "probe").join(raw_hashes, "hash", "left_semi")
        words = recs.filter(F.col("rec") == "word")
        for r in (words.unionByName(probes).groupBy("column", "kind").agg(F.countDistinct("key").alias("n"))
                  .collect()):
            report["coincidences"].setdefault(r["column"], {})[r["kind"]] = int(r["n"])
        # coincidences far beyond chance fail the gate (tokenize_kit.scan.implausible): of the probed rows for IDs,
        # phones, e-mails and IBANs; of the rows with a raw name or address for a token column's own-row words
        # (the coincidences above: probes and words never share a kind)
        report["implausible"] = {}
        probed = {(r["column"], r["kind"]): int(r["n"]) for r in recs.filter(F.col("rec") == "probe")
                  .groupBy("column", "kind").agg(F.countDistinct("key").alias("n")).collect()}
        base = {r["kind"]: int(r["n"]) for r in recs.filter(F.col("rec") == "base").groupBy("kind")
                .agg(F.sum("hash").alias("n")).collect()}
        for column, kinds in report["coincidences"].items():
            for kind, n in kinds.items():
                m = probed.get((column, kind), base.get(kind, 0))
                if implausible(n, m, share):
                    report["implausible"].setdefault(column, {})[kind] = {"count": n, "probed": m}
    finally:
        recs.unpersist()
    return report


def risk(df: DataFrame, quasi: Sequence[str] = (), *, policy: Any = None, sensitive: str | None = None,
         k: int | None = None, l: int | None = None, delivered: bool = False) -> Any:  # noqa: E741
    """The re-identification risk of a Spark DataFrame: the same :class:`~tokenize_kit.risk.RiskReport` as
    ``tokenize-kit risk`` / :func:`tokenize_kit.risk.measure_table` on the same rows.

    The class keys are computed per Arrow batch on the executors (the same code as on one machine) and grouped
    by Spark; only counts reach the driver (sizes and numbers of classes), never a key."""
    from pyspark.sql import functions as F

    from .risk import RiskError, RiskReport, batch_keys, check_columns, quasi_items
    from .risk import as_delivered as key_of

    pol = Policy.load(policy) if policy is not None else None
    items = quasi_items(pol, quasi)
    if not items:
        raise RiskError("no quasi-identifiers: name some with quasi=, or in the policy")
    check_columns(list(df.columns), items, sensitive, "the Spark DataFrame")
    check_workers(df.sparkSession)
    names = [f"q{i}" for i in range(len(items))]
    key_schema = ", ".join(f"{n} string" for n in names) + (", s string" if sensitive else "")
    simulate = not delivered
    suppress = pol.suppress if pol is not None and simulate else None

    def keys(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            t = pa.Table.from_batches([batch])
            cols = [c.cast(pa.string()) for c in batch_keys(t, items, simulate)]
            if sensitive:
                cols.append(key_of(t.column(sensitive).combine_chunks()).cast(pa.string()))
            yield pa.RecordBatch.from_arrays(cols, names=[*names, *(["s"] if sensitive else [])])

    keyed = df.mapInArrow(keys, key_schema)
    if sensitive:
        pairs = keyed.groupBy(*names, "s").count()
        classes = pairs.groupBy(*names).agg(F.sum("count").alias("n"), F.count(F.lit(1)).alias("l"),
                                            F.sum(F.col("count") * F.log(F.col("count"))).alias("nlogn"))
    else:
        classes = keyed.groupBy(*names).agg(F.count(F.lit(1)).alias("n"))
    all_null = F.lit(True)
    for n in names:
        all_null = all_null & F.col(n).isNull()
    small = (F.col("n") < F.lit(suppress.k)) if suppress else F.lit(False)
    classes = classes.withColumn("kind", F.when(all_null, "none").when(small, "suppressed").otherwise("class"))
    if not sensitive:
        classes = classes.withColumn("l", F.lit(0)).withColumn("nlogn", F.lit(0.0))
    # one small table reaches the driver: per (kind, size, distinct l), how many classes and their lowest entropy
    summary = classes.groupBy("kind", "n", "l").agg(
        F.count(F.lit(1)).alias("classes"),
        F.min(F.log(F.col("n")) - F.col("nlogn") / F.col("n")).alias("h")).collect()
    totals: dict[str, int] = {}
    sizes: dict[int, int] = {}
    l_counts: dict[int, list[int]] = {}
    low = None
    for r in summary:
        size, c = int(r["n"]), int(r["classes"])
        totals[r["kind"]] = totals.get(r["kind"], 0) + size * c
        if r["kind"] != "class":
            continue
        sizes[size] = sizes.get(size, 0) + c
        entry = l_counts.setdefault(int(r["l"]), [0, 0])
        entry[0] += c
        entry[1] += size * c
        low = float(r["h"]) if low is None else min(low, float(r["h"]))
    rep = RiskReport(sum(totals.values()), [i.name for i in items], sizes,
                     totals.get("none", 0) + totals.get("suppressed", 0), totals.get("suppressed", 0), sensitive,
                     k_target=k, l_target=l)
    if suppress is not None:
        rep.suppress_limit = suppress.max_share
    if sensitive:
        import math

        rep.l_counts = l_counts
        if low is not None:
            rep.entropy_l = float(math.exp(max(low, 0.0)))
    return rep
