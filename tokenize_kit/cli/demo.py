"""``tokenize-kit demo``: the whole job end to end on a built-in example (what ``make demo`` runs)."""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path

import click

DEMO_POLICY = """\
# Demo policy: what a consumer-finance company sends a collection agency.
version: 1
algorithm: ff1
columns:
  national_id:  {type: eg_national_id, keep: [governorate]}
  full_name_ar: {type: person_name}
  full_name_en: {type: person_name}
  address_ar:   {type: eg_address}
  mobile:       {type: phone}
  second_phone: {type: phone}
  email:        {type: email}
  salary_iban:  {type: iban}
  agent_notes:  {type: free_text}
"""


#: written first into OUT: marks a folder whose DEMO_FILES the demo may replace on its next run
MARKER = ".tokenize-kit-demo"
#: everything the demo writes into OUT (files, then the folders holding them); nothing else is ever removed
DEMO_FILES = ("extract/customers.csv", "keys.json", "signing.pem", "signing.pub", "policy.yaml",
              "delivery/customers.csv", "delivery/customers.csv.manifest.json", "returned/customers.csv",
              "returned/customers.csv.manifest.json")
DEMO_DIRS = ("extract", "delivery", "returned")


class _Refused(click.ClickException):
    exit_code = 2


def _prepare(out_dir: Path, force: bool) -> None:
    """Make OUT ready without deleting what the demo did not create: an empty or missing folder is used as it is;
    a folder of an earlier demo run (its marker file) loses only the demo's own files; any other folder with content
    is refused unless --force (which deletes it)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise _Refused(f"{out_dir} is a file; give a folder for --out")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if force:
            shutil.rmtree(out_dir)
        elif (out_dir / MARKER).is_file():
            for name in DEMO_FILES:
                (out_dir / name).unlink(missing_ok=True)
            for name in DEMO_DIRS:
                try:
                    (out_dir / name).rmdir()  # (only if empty: a file the user put there stays)
                except OSError:
                    pass
        else:
            raise _Refused(f"{out_dir} exists and holds files the demo did not create; choose another --out "
                           "(an empty or new folder), or pass --force to delete it")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("created by `tokenize-kit demo`; a later demo run may replace its files\n",
                                  encoding="utf-8")


@click.command()
@click.option("--rows", default=20_000, show_default=True, type=click.IntRange(1), help="Customers to generate.")
@click.option("--out", "out_dir", default="demo-out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Working folder: new, empty, or an earlier demo's (only its files are replaced).")
@click.option("--force", is_flag=True, help="Delete --out first, whatever it holds.")
def demo(rows: int, out_dir: Path, force: bool) -> None:
    """Generate customers, tokenize them, scan the delivery, detokenize it, and summarise.

    Everything runs on synthetic data in OUT (keys included), so it is safe to run anywhere.  OUT is
    never deleted without --force: an earlier demo's folder gets its files replaced, any other
    folder with content is refused.
    """
    from generators import generate_dataset
    from tokenize_kit.io import atomic_output
    from tokenize_kit.keys import Keyset
    from tokenize_kit.manifest import create_signing_key, verify
    from tokenize_kit.pipeline import run
    from tokenize_kit.policy import Policy
    from tokenize_kit.scan import scan_file

    _prepare(out_dir, force)
    t0 = time.perf_counter()
    click.echo(f"1. generate  {rows:,} synthetic Egyptian customers (eg-consumer-finance, seed 7)")
    raw = generate_dataset("eg-consumer-finance", out_dir / "extract", rows, seed=7, fmt="csv",
                           tables=["customers"])["customers"]
    _add_agent_notes(raw)
    click.echo(f"   -> {raw} (with agents' notes that mention each customer's name, mobile or ID)")
    click.echo("2. keys      protected keyset + Ed25519 signing key (passphrase from the environment)")
    passphrase = os.environ.get("TOKENIZE_KIT_PASSPHRASE", "demo-passphrase-not-for-production")
    ks = Keyset.generate()
    ks.save(out_dir / "keys.json", passphrase=passphrase)
    create_signing_key(out_dir / "signing.pem", out_dir / "signing.pub", None)
    policy_path = out_dir / "policy.yaml"
    with atomic_output(policy_path) as fh:
        fh.write(DEMO_POLICY.encode("utf-8"))
    policy = Policy.load(policy_path)
    click.echo("3. tokenize  national_id (governorate kept), names, address, phones, email, IBAN, PII inside notes;"
               " other columns untouched")
    from tokenize_kit.manifest import load_private

    delivery = out_dir / "delivery" / "customers.csv"
    delivery.parent.mkdir(exist_ok=True)
    res = run(raw, delivery, policy, ks, sign_key=load_private(out_dir / "signing.pem"))
    click.echo(f"   -> {delivery}: {res.rows:,} rows in {res.seconds:.2f}s ({res.rows / res.seconds:,.0f} rows/s)")
    click.echo("4. scan      the delivery against the raw extract")
    result = scan_file(delivery, policy=policy, against=raw)
    leaked = result.leak_count
    click.echo(f"   -> raw values of covered columns found in the delivery: {leaked}")
    click.echo(f"   -> tokens that happen to equal another customer's real value: "
               f"{sum(n for kinds in result.collisions.values() for n in kinds.values())} "
               "(realistic tokens share the real value space)")
    verify(delivery, out_dir / "signing.pub")
    click.echo("   -> manifest hash and Ed25519 signature verified")
    click.echo("5. detokenize the delivery back")
    back = out_dir / "returned" / "customers.csv"
    back.parent.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res2 = run(delivery, back, policy, ks, detokenize=True)
    identical = back.read_bytes() == raw.read_bytes()
    masked = sum(c.irreversible for c in res.report.columns.values())
    # free text masks (never leaves raw) the rare span its token could not make read the same: those rows, and
    # only those, may come back with '#' where the value was, and the manifest counts them
    differ = [b for a, b in zip(raw.read_text(encoding="utf-8").splitlines(),
                                back.read_text(encoding="utf-8").splitlines(), strict=False) if a != b]
    explained = not identical and masked > 0 and all("#" in line for line in differ)
    verdict = "yes" if identical else (f"yes, except {len(differ)} row(s) with {masked} masked span(s) "
                                       "(irreversible, counted)" if explained else "NO")
    click.echo(f"   -> {back}: {res2.rows:,} rows, byte-identical to the extract: {verdict}")
    first_raw = raw.read_text(encoding="utf-8").splitlines()[1].split(",")
    first_tok = delivery.read_text(encoding="utf-8").splitlines()[1].split(",")
    header = raw.read_text(encoding="utf-8").splitlines()[0].split(",")
    click.echo("\nOne row, before -> after (synthetic data):")
    for name, a, b in zip(header, first_raw, first_tok, strict=True):
        if name in ("national_id", "full_name_ar", "full_name_en", "address_ar", "mobile", "email", "agent_notes"):
            click.echo(f"  {name:<15} {a:<42} -> {b}")
    cols = res.report.columns
    click.echo("\nSummary")
    click.echo(f"  rows tokenized            {res.rows:,}")
    for name, c in cols.items():
        click.echo(f"  {name:<25} {c.tokenized:,} tokenized, {c.empty:,} empty, invalid {sum(c.invalid.values()):,}")
    click.echo(f"  leaks found by scan       {leaked}")
    click.echo(f"  round trip identical      {verdict}")
    click.echo(f"  total time                {time.perf_counter() - t0:.1f}s")
    if leaked or not (identical or explained):
        raise SystemExit(1)


def _add_agent_notes(path: Path) -> None:
    """Append an ``agent_notes`` column: what collection agents type about the customer (the customer's own name,
    mobile without its 0 or in Arabic-Indic digits, the ID grouped), the free text the delivery must not leak."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from generators.notes import for_customers
    from tokenize_kit.io import BatchWriter, atomic_output

    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(",")
    # every column as text, as the pipeline reads it (a mobile's leading 0 must survive)
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())))
    notes = for_customers(table.column("full_name_ar").to_pylist(), table.column("mobile").to_pylist(),
                          table.column("national_id").to_pylist(), seed=7)
    table = table.append_column("agent_notes", pa.array(notes, pa.string()))
    with atomic_output(path, overwrite=True) as fh:  # (its own file, rewritten) in the pipeline's CSV dialect
        writer = BatchWriter(fh, "csv")
        for batch in table.to_batches():
            writer.write(batch)
        writer.close()
