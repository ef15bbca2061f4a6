"""Per-type throughput through the table API's column path (de-duplication included), tokenize and detokenize,
on columns shaped like users' data, each checked for an exact round trip (issue 16, target 1: every PII type at
>= 500,000 values/s on 1,000,000 distinct values).

Inputs (seeded; built once into ``bench-out/cache`` or ``$TOKENIZE_KIT_BENCH_CACHE`` because generating them
takes a minute or more, and reused by later runs):

* ``person_name``: 1 M distinct 4-part Arabic names drawn by the project's generator from the weighted name pools
  (``person_names.csv``) of both datasets (Egyptian customers, and Saudi water-utility customers with their
  nationalities' pools), de-duplicated;
* ``email``: 1 M distinct addresses the generator derives from Latin names (dots, digits, mixed providers);
* ``iban``: 1 M distinct Egyptian and Saudi IBANs from the generator;
* ``eg_address`` / ``sa_address``: 1 M distinct addresses of the generator (its Egyptian addresses are 98% distinct
  in 200,000 rows but 93% in 1 M, so more are drawn and de-duplicated; the share among those drawn is printed);
  Saudi ones written out from the national-address columns (building number, street, district, city, postal code)
  as such an address is typed;
* ``free_text``: 1 M distinct agents' notes of :mod:`generators.notes` with 0-2 planted PII spans (notes with 3 are
  left out; generating them takes about four minutes here, once);
* national IDs and phones as before (random valid values).

The anchor of each run is the ``eg_national_id`` row (a type already at full speed): the machine's speed drifts
with the load of other processes, so compare figures of one run only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.keys import Keyset
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.eg_national_id import compose_arrow
from tokenize_kit.pii.sa_national_id import compose as compose_sa
from tokenize_kit.table import transform_column

N = int(os.environ.get("TOKENIZE_KIT_BENCH_PII_N", 1_000_000))
TARGET = 500_000
#: notes generated once and cached (as many as the other types' values: issue 16 measures every type on 1 M)
NOTES = int(os.environ.get("TOKENIZE_KIT_BENCH_PII_NOTES", 1_000_000))
#: customers drawn per dataset to get N distinct names / e-mails / IBANs
DRAW = int(N * 1.25)
SEED = 16
VERSION = 2  # bump when the inputs change, so stale caches are not reused
NOTES_VERSION = 1  # (the same, for the notes)


def _cache_dir() -> Path:
    d = Path(os.environ.get("TOKENIZE_KIT_BENCH_CACHE", Path(__file__).resolve().parent.parent / "bench-out" /
                            "cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _customers(dataset: str, columns: list[str]) -> pa.Table:
    from generators import iter_table

    return pa.Table.from_batches([b.select(columns) for b in iter_table(dataset, "customers", DRAW, seed=SEED)])


def _distinct(values: pa.Array, n: int, label: str, stats: dict[str, str]) -> pa.Array:
    """The first ``n`` distinct non-null values after a seeded shuffle (so both datasets mix), and the share of
    distinct values among what was drawn (printed)."""
    values = values.drop_null()
    uniq = pc.unique(values.take(pa.array(np.random.default_rng(SEED).permutation(len(values)))))
    stats[label] = f"{len(uniq):,} distinct of {len(values):,} drawn ({len(uniq) / len(values):.1%})"
    if len(uniq) < n:
        raise RuntimeError(f"only {len(uniq):,} distinct {label} values for the benchmark's {n:,}")
    return uniq.slice(0, n)


def _build_generated(path: Path) -> None:
    eg = _customers("eg-consumer-finance", ["full_name_ar", "email", "salary_iban", "address_ar"])
    sa = _customers("sa-water-utility", ["full_name_ar", "email", "refund_iban", "building_number", "street_ar",
                                         "district_ar", "city_ar", "postal_code"])
    stats: dict[str, str] = {}
    names = pa.concat_arrays([eg.column("full_name_ar").combine_chunks(), sa.column("full_name_ar").combine_chunks()])
    four = pc.equal(pc.count_substring(names, " "), 3)
    stats["4-part share of drawn names"] = f"{pc.sum(four).as_py() / len(names):.1%}"
    names = _distinct(names.filter(four), N, "person_name", stats)
    emails = _distinct(pa.concat_arrays([eg.column("email").combine_chunks(), sa.column("email").combine_chunks()]),
                       N, "email", stats)
    eg_iban, sa_iban = eg.column("salary_iban").combine_chunks(), sa.column("refund_iban").combine_chunks()
    n_sa = min(N // 2, len(sa_iban.drop_null()))
    ibans = pa.concat_arrays([_distinct(eg_iban, N - n_sa, "iban EG", stats), _distinct(sa_iban, n_sa, "iban SA",
                                                                                           stats)])
    ibans = ibans.take(pa.array(np.random.default_rng(SEED).permutation(N)))
    sa_addr = pc.binary_join_element_wise(sa.column("building_number"), " ", sa.column("street_ar"), "، حي ",
                                          sa.column("district_ar"), "، ", sa.column("city_ar"), " ",
                                          sa.column("postal_code"), "")
    table = pa.table({"person_name": names, "email": emails, "iban": ibans,
                      "eg_address": _distinct(eg.column("address_ar").combine_chunks(), N, "eg_address", stats),
                      "sa_address": _distinct(sa_addr.combine_chunks(), N, "sa_address", stats)})
    _write(table, path, stats)


def _build_notes(path: Path) -> None:
    from generators import notes

    start = time.perf_counter()
    text: list[str] = []
    spans = 0
    seed = SEED
    while len(text) < NOTES:
        got = notes.generate(min(50_000, 2 * (NOTES - len(text))), seed=seed)
        for t, s in zip(got.text, got.spans, strict=True):
            if len(s) <= 2 and len(text) < NOTES:
                text.append(t)
                spans += len(s)
        seed += 1
        print(f"   generating notes: {len(text):,} / {NOTES:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    arr = pa.array(text, pa.string())
    stats = {"free_text": f"{NOTES:,} notes, mean {pc.mean(pc.utf8_length(arr)).as_py():.0f} characters, "
                          f"{spans / NOTES:.2f} planted PII spans per note, "
                          f"{pc.count_distinct(arr).as_py() / NOTES:.1%} distinct"}
    _write(pa.table({"free_text": arr}), path, stats)


def _write(table: pa.Table, path: Path, stats: dict[str, str]) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".partial")
    try:
        pq.write_table(table.replace_schema_metadata({"stats": repr(stats)}), tmp)
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path, build) -> tuple[pa.Table, dict[str, str]]:
    import ast

    import pyarrow.parquet as pq

    if not path.exists():
        t = time.perf_counter()
        build(path)
        print(f"   (inputs generated once into {path}: {time.perf_counter() - t:.0f} s)", flush=True)
    table = pq.read_table(path)
    return table, ast.literal_eval(table.schema.metadata[b"stats"].decode())


def _random_columns() -> dict[str, tuple[str, pa.Array]]:
    rng = np.random.default_rng(1)
    dates = np.datetime64("1950-01-01") + rng.integers(0, 25000, N).astype("timedelta64[D]")
    gov = np.array([1, 2, 12, 13, 21, 24, 88])[rng.integers(0, 7, N)]
    eg = compose_arrow(dates, gov, rng.integers(0, 10000, N), rng.integers(0, 10, N))
    sa = compose_sa(rng.integers(1, 3, N), rng.integers(0, 10**8, N))
    eg_mobile = pa.array(np.char.add(np.char.add("01", rng.choice(["0", "1", "2", "5"], N)),
                                     np.char.zfill(rng.integers(0, 10**8, N).astype(str), 8)).tolist())
    sa_mobile = pa.array(np.char.add(np.char.add("+9665", rng.choice(["0", "3", "5", "6"], N)),
                                     np.char.zfill(rng.integers(0, 10**7, N).astype(str), 7)).tolist())
    return {
        "eg_national_id (anchor)": ("eg_national_id", eg),
        "sa_national_id": ("sa_national_id", sa),
        "eg_phone (mobile, national form)": ("phone", eg_mobile),
        "sa_phone (mobile, E.164)": ("phone", sa_mobile),
    }


def notes() -> tuple[pa.Array, str]:
    """The distinct generated notes (cached) and what they are."""
    table, stats = _load(_cache_dir() / f"pii-notes-v{NOTES_VERSION}-{NOTES}-s{SEED}.parquet", _build_notes)
    return table.column("free_text").combine_chunks(), stats["free_text"]


def columns() -> tuple[dict[str, tuple[str, pa.Array]], dict[str, str]]:
    """Every benchmark column (label -> (type, values)) and the printed facts about the generated ones."""
    cache = _cache_dir()
    gen, stats = _load(cache / f"pii-v{VERSION}-{N}-s{SEED}.parquet", _build_generated)
    notes, note_stats = _load(cache / f"pii-notes-v{NOTES_VERSION}-{NOTES}-s{SEED}.parquet", _build_notes)
    stats |= note_stats
    out = _random_columns()

    def col(table: pa.Table, name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    out |= {
        f"person_name ({len(gen):,} distinct, 4-part Arabic)": ("person_name", col(gen, "person_name")),
        f"email ({len(gen):,} distinct)": ("email", col(gen, "email")),
        f"iban ({len(gen):,} distinct, EG and SA)": ("iban", col(gen, "iban")),
        f"eg_address ({len(gen):,} distinct, generated)": ("eg_address", col(gen, "eg_address")),
        f"sa_address ({len(gen):,} distinct, generated)": ("sa_address", col(gen, "sa_address")),
        f"free_text ({len(notes):,} notes, 0-2 spans)": ("free_text", col(notes, "free_text")),
    }
    return out, stats


def measure(values: pa.Array, type_name: str, crypto: Crypto) -> tuple[float, float, bool, str]:
    """(values/s tokenize, values/s detokenize, whether the round trip is right, what it was) of one column
    through the table API.  Right: every value back exactly, except rows whose spans were masked (free text,
    irreversible by design and counted in the report): those must hold the mask."""
    spec = ColumnSpec("c", type_name)
    t = time.perf_counter()
    tokens, report = transform_column(values, spec, crypto, decrypt=False)
    enc = len(values) / (time.perf_counter() - t)
    t = time.perf_counter()
    back, _ = transform_column(tokens, spec, crypto, decrypt=True)
    dec = len(values) / (time.perf_counter() - t)
    differ = np.flatnonzero(pc.fill_null(pc.not_equal(back, values), True).to_numpy(zero_copy_only=False))
    if not len(differ):
        return enc, dec, True, "exact"
    masked = int(getattr(report, "irreversible", 0) or 0)
    sel = pa.array(differ)
    mask_only = bool(masked) and all("#" in b and "#" not in v for b, v in zip(
        back.take(sel).to_pylist(), values.take(sel).to_pylist(), strict=True))
    if mask_only:
        return enc, dec, True, f"exact but {len(differ):,} rows holding {masked:,} masked spans (counted)"
    return enc, dec, False, f"FAILED in {len(differ):,} rows"


def main() -> None:
    print(f"   load average at start: {os.getloadavg()[0]:.1f} (2 cores)", flush=True)
    cols, stats = columns()
    for label, fact in stats.items():
        print(f"   input {label}: {fact}")
    crypto = Crypto(Keyset.generate())
    ok = True
    for label, (type_name, values) in cols.items():
        enc, dec, exact, how = measure(values, type_name, crypto)
        met = enc >= TARGET and dec >= TARGET
        ok &= met and exact
        print(f"   {label:<42}: {enc:>10,.0f} values/s tokenize, {dec:>10,.0f}/s detokenize, "
              f"round trip {how}  [>= {TARGET:,}/s both ways: "
              f"{'met' if met else 'MISSED'}]", flush=True)
    print(f"   PII targets: {'all met' if ok else 'NOT all met'}")


if __name__ == "__main__":
    main()
