"""``tokenize-kit tokenize | detokenize | scan | verify``: the delivery workflow on files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tokenize_kit.cli.keys import load_keyset
from tokenize_kit.limits import LIMIT_OPTIONS, Limits, parse_size

KEYSET_ENV = "TOKENIZE_KIT_KEYSET"
THREADS_ENV = "TOKENIZE_KIT_THREADS"
PROCESSES_ENV = "TOKENIZE_KIT_PROCESSES"
EXIT_FOUND = 1
EXIT_ERROR = 2


class UsageProblem(click.ClickException):
    exit_code = EXIT_ERROR


def _errors():
    from tokenize_kit.io import InputError
    from tokenize_kit.keys import KeysetError
    from tokenize_kit.manifest import VerifyError
    from tokenize_kit.policy import PolicyError
    from tokenize_kit.risk import RiskError
    from tokenize_kit.table import TokenizeError

    return (InputError, KeysetError, PolicyError, TokenizeError, VerifyError, RiskError)


def _progress(quiet: bool, label: str):
    from .progress import progress_line

    return progress_line(quiet, label)


def _job(input_path, output_path, policy, keyset_path, detok, opts):
    from tokenize_kit.manifest import load_private
    from tokenize_kit.pipeline import run
    from tokenize_kit.risk import RiskRefused

    if keyset_path is None:
        raise UsageProblem(f"no keyset: pass --keyset PATH or set {KEYSET_ENV}")
    try:
        ks = load_keyset(Path(keyset_path))
        if detok:
            policy, checked = _checked_against_delivery(input_path, policy, ks, opts)
        sign_key = load_private(Path(opts["sign"])) if opts.get("sign") else None
        update, done = _progress(opts["quiet"], "detokenize" if detok else "tokenize")
        result = run(
            input_path, output_path, policy, ks, detokenize=detok,
            input_format=opts["input_format"], output_format=opts["output_format"], encoding=opts["encoding"],
            output_encoding=opts["output_encoding"], batch_size=opts["batch_size"],
            batch_bytes=opts["batch_bytes"], sign_key=sign_key,
            progress=update, overwrite=opts["force"], threads=opts["threads"], processes=opts["processes"],
            manifest_file=opts.get("manifest") or opts.get("output_manifest"), delimiter=opts["delimiter"],
            limits=_limits(opts), max_risk=opts.get("max_risk"),
            quasi=[c.strip() for q in opts.get("quasi", ()) for c in q.split(",") if c.strip()],
        )
        done()
    except click.ClickException as exc:
        exc.exit_code = EXIT_ERROR
        raise
    except RiskRefused as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(EXIT_FOUND)
    except _errors() as exc:
        raise UsageProblem(str(exc)) from None
    except KeyboardInterrupt:
        raise UsageProblem("interrupted; no output was written") from None
    except MemoryError:  # (partial files are already removed)
        raise UsageProblem("out of memory; lower --batch-bytes or --threads, or raise the limits' options only as far "
                           "as memory allows; no output was written") from None
    except OSError as exc:  # an environment problem outside the output's own files (those are named by the commit)
        from tokenize_kit.commit import describe_os_error

        where = exc.filename if exc.filename is not None else "a file"
        raise UsageProblem(f"cannot use {where}: {describe_os_error(exc)}; no output was written") from None
    if detok:  # (told once the job succeeded, so that an error stays one line)
        click.echo(checked, err=True)
    rate = result.rows / max(result.seconds, 1e-9)
    manifest = opts.get("manifest") or opts.get("output_manifest") or Path(str(output_path) + ".manifest.json").name
    click.echo(
        f"{'detokenized' if detok else 'tokenized'} {result.rows:,} rows in {result.seconds:.2f}s "
        f"({rate:,.0f} rows/s) -> {'standard output' if output_path == '-' else output_path} (+ {manifest})",
        err=True,
    )
    for name, col in result.report.columns.items():
        invalid = ", ".join(f"{k} {v:,}" for k, v in col.invalid.items()) or "none"
        click.echo(f"  {name}: {col.type}/{col.method}: {col.tokenized:,} done, {col.empty:,} empty, "
                   f"invalid: {invalid}", err=True)
    risk = result.manifest.get("risk")
    if risk is not None:
        k = f", smallest class {risk['min_k']} (target {risk['max_risk']})" if "min_k" in risk else ""
        click.echo(f"  risk: {risk['suppressed_rows']:,} row(s) suppressed{k}", err=True)


class _Size(click.ParamType):
    """A size in bytes: 1048576, 512k, 64MiB, 2GB (k = 1024)."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_DEFAULTS = Limits()


def _input_options(f):
    """Reading options shared by tokenize, detokenize and scan: the delimiter and the limits on one input."""
    options = [
        click.option("--delimiter", help="CSV delimiter (one character, or 'tab'); default: detected among "
                     "',', ';' and tab (.tsv: tab)."),
        click.option("--max-cell-bytes", type=_Size(), default=_DEFAULTS.max_cell_bytes, show_default=True,
                     help="Refuse a cell larger than this, any format (e.g. 64MiB to raise it)."),
        click.option("--max-xlsx-bytes", type=_Size(), default=_DEFAULTS.max_xlsx_bytes, show_default=True,
                     help=".xlsx: refuse a workbook that unzips to more than this (checked before parsing)."),
        click.option("--max-xlsx-ratio", type=click.IntRange(1), default=_DEFAULTS.max_xlsx_ratio,
                     show_default=True, help=".xlsx: refuse a part that unzips to more than this many times its "
                     "zipped size (a zip bomb)."),
        click.option("--max-xlsx-cells", type=click.IntRange(1), default=_DEFAULTS.max_xlsx_cells,
                     show_default=True, help=".xlsx: refuse a sheet of more rows x columns than this (declared or "
                     "reached by its cells)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _limits(opts) -> Limits:
    return Limits(**{name: opts[name] for name in LIMIT_OPTIONS})


def _job_options(f):
    options = [
        click.option("--policy", "policy", required=True, type=click.Path(exists=True, dir_okay=False),
                     help="Policy YAML: which columns hold which PII type."),
        click.option("--keyset", "keyset_path", envvar=KEYSET_ENV, type=click.Path(exists=True, dir_okay=False),
                     help=f"Keyset file (or ${KEYSET_ENV}); its passphrase from $TOKENIZE_KIT_PASSPHRASE or a prompt."),
        click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl", "xlsx"]),
                     help="Override the input format (default: from the file name)."),
        click.option("--output-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl", "xlsx"]),
                     help="Override the output format (default: from the file name)."),
        click.option("--encoding", help="CSV input encoding (default: detected: UTF-8, UTF-8 with BOM or cp1256)."),
        click.option("--output-encoding", help="CSV output encoding (default: the input's, BOM kept)."),
        click.option("--batch-size", default=200_000, show_default=True, type=click.IntRange(1000),
                     help="Most rows per batch; memory stays flat whatever the file size."),
        click.option("--batch-bytes", type=_Size(), default="4MiB", show_default=True,
                     help="About this much input per batch (wide rows of text: fewer rows); lower it if memory "
                     "is short, raise it for speed."),
        click.option("--threads", type=click.IntRange(1), envvar=THREADS_ENV,
                     help=f"Worker threads (or ${THREADS_ENV}; default: one per CPU)."),
        click.option("--processes", type=click.IntRange(1), envvar=PROCESSES_ENV, default=1, show_default=True,
                     help=f"Processes for free text (or ${PROCESSES_ENV}).  Finding PII in notes holds "
                     "Python's GIL, so threads do not run it side by side; with N >= 2, the notes of a file of "
                     "more than one batch are split between this process and N-1 worker processes (one per CPU "
                     "is fastest), each worker taking about 350 MB more memory.  The output is the same."),
        click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return _input_options(f)


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False, allow_dash=True))
@_job_options
@click.option("--sign", type=click.Path(exists=True, dir_okay=False),
              help="Ed25519 private key (from `keys create-signing`) to sign the manifest.")
@click.option("--manifest", type=click.Path(dir_okay=False),
              help="Write the manifest here (default: OUTPUT.manifest.json; required when OUTPUT is -).")
@click.option("--max-risk", type=click.IntRange(min=2), metavar="K",
              help="Refuse (exit 1, nothing written) unless the delivery is K-anonymous over the policy's "
                   "quasi-identifiers (and --quasi).")
@click.option("--quasi", multiple=True, metavar="COLS", help="More quasi-identifier columns for --max-risk.")
def tokenize(input_path, output_path, policy, keyset_path, **opts):
    """Tokenize the policy's columns of INPUT into OUTPUT (+ OUTPUT.manifest.json).

    \b
    Columns not in the policy pass through unchanged.  OUTPUT appears only when the whole job
    succeeded (temp file + fsync + rename); on any error, Ctrl-C or kill there is no OUTPUT.
    INPUT or OUTPUT may be - (standard input/output; OUTPUT - needs --manifest, and is written only
    once the job succeeded).  A .gz name is gzipped.
    With --max-risk K a delivery whose smallest equivalence class (see `tokenize-kit risk`) is
    below K is refused: exit 1, nothing written.
    \b
    Example:
      export TOKENIZE_KIT_KEYSET=keys.json TOKENIZE_KIT_PASSPHRASE=...
      tokenize-kit tokenize collections.csv delivery.csv --policy policy.yaml --sign signing.pem
      tokenize-kit scan delivery.csv --against collections.csv --policy policy.yaml
      extract-tool | tokenize-kit tokenize - - --policy policy.yaml --manifest out.manifest.json > out.csv
    """
    _job(input_path, output_path, policy, keyset_path, False, opts)


def _checked_against_delivery(input_path, policy_path, ks, opts):
    """The policy to detokenize INPUT with, its key version taken from the delivery's manifest once the keyset,
    key version, algorithm and policy were checked against it (see :func:`tokenize_kit.manifest.check_delivery`),
    and a line saying what was checked (told once the job succeeded, so an error stays one line).

    The manifest is ``--manifest`` or INPUT.manifest.json.  Without one (a vendor's results file) nothing can be
    checked: the key version is ``--key-version``, the policy's ``key_version``, or the key's only version; a key
    with several versions and none named is refused, since guessing would give plausible wrong values."""
    from dataclasses import replace

    from tokenize_kit.manifest import MANIFEST_SUFFIX, check_delivery, load_manifest
    from tokenize_kit.policy import Policy

    policy = Policy.load(policy_path)
    asked = opts.get("key_version")
    mpath = opts.get("delivery_manifest")
    if mpath is None and input_path != "-" and Path(str(input_path) + MANIFEST_SUFFIX).is_file():
        mpath = str(input_path) + MANIFEST_SUFFIX
    if mpath is not None:
        version = check_delivery(load_manifest(mpath), policy, ks, key_version=asked, source=str(mpath))
        return replace(policy, key_version=version), (
            f"verified against {mpath}: keyset, key {policy.key!r} version {version}, {policy.algorithm} and policy "
            "match the delivery")
    versions = ks.versions(policy.key)
    if asked is not None and policy.key_version is not None and asked != policy.key_version:
        raise UsageProblem(f"--key-version {asked} contradicts the policy's key_version {policy.key_version}")
    version = asked or policy.key_version
    if version is None:
        if len(versions) > 1:
            raise UsageProblem(
                f"no manifest for {input_path}: key {policy.key!r} has versions {', '.join(map(str, versions))} and "
                "nothing says which made the tokens; pass --manifest DELIVERY.manifest.json (the delivery the file "
                "came from) or --key-version N")
        version = versions[0]
    ks.check_version(policy.key, version)
    return replace(policy, key_version=version), (
        f"warning: nothing verified: no manifest for {input_path}, so the keyset, algorithm and policy could not be "
        f"checked against the delivery (used key {policy.key!r} version {version}); pass --manifest "
        "DELIVERY.manifest.json to check them")


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(dir_okay=False, allow_dash=True))
@_job_options
@click.option("--manifest", "delivery_manifest", type=click.Path(exists=True, dir_okay=False),
              help="The delivery's manifest to check against (default: INPUT.manifest.json when it exists); give "
                   "it for a vendor's results file made from that delivery.")
@click.option("--key-version", type=click.IntRange(1), metavar="N",
              help="The key version the tokens were made with, for a file without a manifest when the key has "
                   "several versions (with a manifest: must agree with it).")
@click.option("--output-manifest", type=click.Path(dir_okay=False),
              help="Write OUTPUT's manifest here (default: OUTPUT.manifest.json; required when OUTPUT is -).")
def detokenize(input_path, output_path, policy, keyset_path, **opts):
    """Reverse tokens in INPUT (a delivery, or a vendor's results file) back to the original values.

    \b
    Before writing anything it checks INPUT's manifest (INPUT.manifest.json, or --manifest of the
    delivery a results file came from): the keyset's fingerprint, the key version, the algorithm and
    the policy must be those the delivery was made with, else it refuses (exit 2) naming the field
    that differs; the key version is taken from the manifest, so `keys rotate` does not matter.
    Without a manifest: --key-version N is needed when the key has several versions; with a single
    version it proceeds and says on stderr that nothing was verified.
    \b
    Columns with irreversible methods (mask, hash, redact, surrogate) are left as they are.
    \b
    Examples:
      tokenize-kit detokenize delivery.csv back.csv --policy policy.yaml
      tokenize-kit detokenize vendor-results.csv results.csv --policy policy.yaml
          --manifest delivery.csv.manifest.json   (a vendor's file, checked against the delivery)
    """
    opts["sign"] = None
    _job(input_path, output_path, policy, keyset_path, True, opts)


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: the versioned report (format tokenize-kit-scan, counts and row numbers, never values).")
@click.option("--sample", type=click.IntRange(1), help="Scan only the first N rows (not with --against).")
@click.option("--policy", type=click.Path(exists=True, dir_okay=False),
              help="Skip the policy's (tokenized) columns: report only PII in columns it does not cover.")
@click.option("--against", type=click.Path(exists=True, dir_okay=False),
              help="The raw input INPUT was made from, its rows in the same order: fail if any raw value of its "
                   "policy columns, or any PII in its free text, is in its own row of INPUT in any written form, or "
                   "if raw values sit in other rows far more often than tokens meet them by chance (needs "
                   "--policy).")
@click.option("--suggest-policy", type=click.Path(dir_okay=False), help="Write a starting policy YAML here.")
@click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet", "jsonl", "xlsx"]))
@click.option("--encoding", help="CSV encoding (default: detected).")
@click.option("--spill-dir", type=click.Path(file_okay=False),
              help="Folder for the gate's temporary hash partitions (default: the system temp folder; about 16 "
                   "bytes per ID, phone, e-mail and IBAN value of the delivery; removed at the end).")
@click.option("--coincidence-share", type=click.FloatRange(0, 1, min_open=True),
              help="With --against (default 0.5): fail when more than this share of a column's rows equal raw "
                   "values of other rows (or, in a name or address token column, raw words of their own row).  "
                   "Tokens meet them by "
                   "chance about as often as the raw values fill their domain: raise it only for an extract holding "
                   "most numbers of a phone prefix (tens of millions).")
@click.option("--processes", type=click.IntRange(1), envvar=PROCESSES_ENV, default=1, show_default=True,
              help=f"With --against: compare the files in this many processes in all, this one and N-1 workers "
                   f"(or ${PROCESSES_ENV}; one per CPU is fastest; finding PII in text holds Python's GIL, so "
                   "threads would not help).  The report is the same.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
@click.option("--force", is_flag=True, help="Replace the --suggest-policy file if it exists.")
@_input_options
def scan(input_path, out_format, sample, policy, against, suggest_policy, input_format, encoding, spill_dir,
         coincidence_share, processes, quiet, force, **opts):
    """Find raw PII in INPUT: national IDs, phones, IBANs, e-mails, names and addresses, as whole cells and
    inside text, in every column (nested JSON / Parquet fields too).

    \b
    Exit status: 0 nothing found, 1 PII found (or a column it cannot read), 2 error.  Gate a delivery with:
      tokenize-kit scan delivery.csv --against extract.csv --policy policy.yaml || exit 1
    Reports counts and row numbers per column and kind, never a value.
    """
    from tokenize_kit.scan import ScanError, scan_file

    if sample is not None and against:
        raise UsageProblem("--sample cannot be used with --against: the gate reads every row")
    if suggest_policy and Path(suggest_policy).exists() and not force:
        raise UsageProblem(f"{suggest_policy} already exists; choose another path or pass --force to replace it")
    try:
        update, done = _progress(quiet, "scan --against" if against else "scan")
        result = scan_file(input_path, policy=policy, against=against, input_format=input_format,
                           encoding=encoding, sample=sample, spill_dir=spill_dir, delimiter=opts["delimiter"],
                           limits=_limits(opts), progress=update, processes=processes,
                           coincidence_share=coincidence_share)
        done()
    except click.ClickException:
        raise
    except (*_errors(), ScanError) as exc:
        raise UsageProblem(str(exc)) from None
    if suggest_policy:
        try:
            _suggest(result, Path(suggest_policy), force)
        except _errors() as exc:
            raise UsageProblem(str(exc)) from None
    if out_format == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_scan(result, bool(against))
    sys.exit(EXIT_FOUND if result.found else 0)


def _rows(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:5])) + (" ..." if len(rows) > 5 else "")


def _print_scan(result, against: bool) -> None:
    found = [c for c in result.columns.values() if c.found]
    click.echo(f"scanned {result.rows:,} rows, {len(result.columns)} column(s) outside the policy")
    for c in found:
        parts = [f"{k}: {v.count:,} cells ({c.share(k):.0%}), rows {_rows(v.rows)}" for k, v in c.kinds_found().items()]
        parts += [f"{k} inside text: {v.count:,}, rows {_rows(v.rows)}" for k, v in c.in_text.items() if v.count]
        click.echo(f"  PII in column {c.column!r}: " + "; ".join(parts))
    for col, typ in result.unreadable.items():
        click.echo(f"  CANNOT READ column {col!r} (type {typ}): it is not known to be clean")
    for col, kinds in result.leaks.items():
        for kind, v in kinds.items():
            click.echo(f"  RAW {kind.upper()} OF THE INPUT in column {col!r}: {v.count:,} in their own row "
                       f"(rows {_rows(v.rows)})")
    for col, kinds in result.collisions.items():
        for kind, n in kinds.items():
            where = ("a raw value of another row, or two words of their own row's" if kind in ("name", "address")
                     else "a raw value of another row")
            click.echo(f"  note: {n:,} {kind} token(s) in column {col!r} equal {where} "
                       "(a coincidence of realistic tokens, not a leak)")
    for col, kinds in result.implausible.items():
        for kind, (n, probed) in kinds.items():
            if kind in ("name", "address"):
                click.echo(f"  TOO MANY RAW {kind.upper()} WORDS OF THEIR OWN ROW in column {col!r}: {n:,} of "
                           f"{probed:,} rows, far more than realistic tokens meet by chance: parts of the raw values "
                           "passed (a name cut to some of its parts, an address to its street)")
            else:
                click.echo(f"  TOO MANY RAW {kind.upper()} VALUES OF OTHER ROWS in column {col!r}: {n:,} of "
                           f"{probed:,} rows, far more than realistic tokens meet by chance: the delivery carries raw "
                           "values, or its rows are not in the input's order (the gate compares them row by row: "
                           "pass the input in the delivery's order)")
    if result.kept_by_policy and against:
        click.echo(f"  not checked (method keep in the policy): {', '.join(result.kept_by_policy)}")
    if not result.found:
        click.echo("  no PII found" + (" and no raw value of the input" if against else ""))


#: what a column found to hold one kind of value gets in a suggested policy
_SUGGEST = {"eg_national_id": "eg_national_id", "sa_national_id": "sa_national_id", "phone": "phone",
            "iban": "iban", "email": "email", "person_name": "person_name", "eg_address": "eg_address",
            "sa_address": "sa_address"}


def _suggest(result, path: Path, force: bool) -> None:
    import yaml

    columns = {}
    for c in result.columns.values():
        if not c.found or "[]" in c.column or "{" in c.column:
            continue
        best = max(c.types, key=c.types.get) if c.types else None
        if best is not None and c.non_empty and c.types[best] / c.non_empty >= 0.5:
            columns[c.column] = {"type": _SUGGEST[best]}
        elif "name" in c.kinds_found() and not c.in_text:
            columns[c.column] = {"type": "person_name"}
        else:
            columns[c.column] = {"type": "free_text"}
    doc = {"version": 1, "algorithm": "ff1", "columns": columns}
    text = "# Starting policy written by `tokenize-kit scan --suggest-policy`: review every column.\n"
    text += "# PII the scanner cannot recognise (rare names, free-form codes) must be added by hand.\n"
    text += yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    from tokenize_kit.io import atomic_output

    with atomic_output(path, overwrite=force) as fh:
        fh.write(text.encode("utf-8"))
    click.echo(f"wrote a starting policy for {len(columns)} column(s) to {path}", err=True)


@click.command()
@click.argument("output_path", metavar="DELIVERY", type=click.Path(dir_okay=False))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="The sender's Ed25519 public key: also check the manifest's signature (authenticity).")
@click.option("--allow-unsigned", is_flag=True,
              help="Without --public-key: accept a delivery whose authenticity is not checked (exit 0).")
def verify(output_path, public_key, allow_unsigned):
    """Check DELIVERY against DELIVERY.manifest.json, and who made it (--public-key).

    \b
    The SHA-256 check alone proves only that the file matches its manifest: anyone who changes the
    file can re-hash the manifest.  Only the signature, checked with the sender's public key,
    shows the sender made both.  So without --public-key the result is "authenticity not checked",
    exit 1, unless --allow-unsigned.
    \b
    Exit status: 0 verified, 1 a mismatch, a bad signature or authenticity not checked, 2 the
    delivery or its manifest cannot be read (missing, not JSON, fields missing).
    \b
    Example (vendor side):
      tokenize-kit verify delivery.csv --public-key sender.pub
    """
    from tokenize_kit.manifest import ManifestError, VerifyError
    from tokenize_kit.manifest import verify as do_verify

    try:
        doc = do_verify(output_path, Path(public_key) if public_key else None)
    except ManifestError as exc:  # (unreadable or malformed: an input problem, not a verdict)
        raise UsageProblem(str(exc)) from None
    except VerifyError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(EXIT_FOUND)
    rows = doc.get("rows")
    rows = f"{rows:,}" if isinstance(rows, int) else "?"
    if public_key:
        click.echo(f"OK: {output_path} matches its manifest ({rows} rows, signature valid)")
        return
    signed = "signed, signature not checked" if doc.get("signature") else "not signed"
    if allow_unsigned:
        click.echo(f"OK (authenticity NOT checked, {signed}): {output_path} matches its manifest ({rows} rows)")
        return
    click.echo(f"NOT VERIFIED: {output_path} matches its manifest ({rows} rows), but its authenticity was not "
               f"checked ({signed}): anyone who changed the file could have re-hashed the manifest; pass "
               "--public-key SENDER.pub (or --allow-unsigned to accept this)", err=True)
    sys.exit(EXIT_FOUND)
