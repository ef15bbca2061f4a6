"""``tokenize-kit risk``: what a delivery still reveals (k-anonymity, l-diversity), and the least generalisation
that fixes it (``--suggest``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tokenize_kit.cli.pipeline import EXIT_FOUND, UsageProblem

FORMATS = ["csv", "tsv", "parquet", "jsonl", "xlsx"]


def _split(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return list(dict.fromkeys(out))


def _errors() -> tuple[type[Exception], ...]:
    from tokenize_kit.io import InputError
    from tokenize_kit.policy import PolicyError
    from tokenize_kit.risk import RiskError

    return (InputError, PolicyError, RiskError)


def _write(path: Path, text: str, force: bool) -> None:
    from tokenize_kit.io import InputError, atomic_output

    if path.exists() and not force:
        raise UsageProblem(f"{path} already exists; choose another path or pass --force")
    try:
        with atomic_output(path, overwrite=force) as fh:
            fh.write(text.encode("utf-8"))
    except InputError as exc:  # (a file that appeared meanwhile, a full disk, a read-only folder)
        raise UsageProblem(str(exc)) from None


def _pct(n: int, total: int) -> str:
    return f"{n / total:.1%}" if total else "0.0%"


def _print(rep, suggestion=None) -> None:
    d = rep.to_dict()
    k = d["k_anonymity"]
    out = click.echo
    out(f"risk of {rep.file or 'the table'}: {rep.rows:,} rows")
    out(f"  quasi-identifiers          {', '.join(rep.quasi)}")
    if rep.no_quasi_rows:
        extra = f" ({rep.suppressed_rows:,} suppressed)" if rep.suppressed_rows else ""
        out(f"  rows with no quasi value   {rep.no_quasi_rows:,}{extra}: in no class")
    out(f"  equivalence classes        {rep.classes:,} (average size {k['average_class_size'] or 0:,.1f})")
    out(f"  smallest class (k)         {rep.min_k if rep.min_k is not None else '-'}")
    out(f"  unique rows (classes of 1) {rep.uniques:,} ({_pct(rep.uniques, rep.rows)} of rows)")
    if k["highest_risk"] is not None:
        out(f"  re-identification risk     highest {k['highest_risk']:.1%}, average {k['average_risk']:.1%}")
    if rep.k_target is not None:
        out(f"  rows in classes below {rep.k_target:<4} {k['rows_below']:,} ({k['share_below']:.1%})")
        out(f"  target k >= {rep.k_target:<14} {'met' if rep.k_met else 'NOT MET'}")
    if rep.suppress_limit is not None:
        out(f"  suppression                {rep.suppressed_rows:,} rows ({_pct(rep.suppressed_rows, rep.rows)}), "
            f"limit {rep.suppress_limit:.2%}: {'EXCEEDED' if rep.suppress_exceeded else 'within'}")
    out("  class sizes:")
    out(f"    {'size':>11}  {'classes':>12}  {'rows':>12}  share of rows")
    for b in rep.size_buckets():
        label = str(b["size_from"]) if b["size_from"] == b["size_to"] else f"{b['size_from']}-{b['size_to']}"
        share = b["rows"] / rep.rows if rep.rows else 0
        flag = "  below k" if rep.k_target is not None and b["size_from"] < rep.k_target else ""
        out(f"    {label:>11}  {b['classes']:>12,}  {b['rows']:>12,}  {share:6.1%} {'#' * round(share * 40)}{flag}")
    if "l_diversity" in d:
        ld = d["l_diversity"]
        entropy = "-" if ld["entropy_min"] is None else f"{ld['entropy_min']:.2f}"
        out(f"  l-diversity of {ld['sensitive']!r}: distinct l {ld['distinct_min'] or '-'}, entropy l {entropy}")
        if rep.l_target is not None:
            out(f"  target l >= {rep.l_target} (distinct)     {'met' if rep.l_met else 'NOT MET'}: "
                f"{ld['rows_below']:,} rows in classes with fewer distinct values")
    if suggestion is not None:
        out(f"  suggestion: {suggestion.evaluated:,} of {suggestion.lattice_size:,} lattice nodes evaluated, "
            f"{len(suggestion.minimal)} minimal; least information loss {suggestion.node.loss:.3f}")
        for name, level in suggestion.levels().items():
            out(f"    {name}: {level}")


@click.command()
@click.argument("input_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--quasi", "quasi", multiple=True, metavar="COLS",
              help="Quasi-identifier columns, comma-separated or repeated (measured as they are in FILE).")
@click.option("--policy", type=click.Path(exists=True, dir_okay=False), metavar="POLICY",
              help="A tokenize policy: FILE is its input, and the figures are those of the delivery it makes "
                   "(its generalize columns, the parts its ID tokens keep, its quasi: list and suppress:).")
@click.option("--delivered", is_flag=True, help="With --policy: FILE is a delivery made with it (measured as is).")
@click.option("--sensitive", metavar="COL", help="Sensitive column: report its l-diversity.")
@click.option("--k", "k", type=click.IntRange(min=2), help="Target k (>= 2): exit 1 if the smallest class is smaller.")
@click.option("--l", "l", type=click.IntRange(min=2), help="Target distinct l (>= 2, needs --sensitive): exit 1 "
              "if a class has fewer distinct sensitive values.")
@click.option("--format", "out_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--chart", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write the class-size distribution as a self-contained HTML page (or .svg) here.")
@click.option("--suggest", "suggest_k", type=click.IntRange(min=2), metavar="K",
              help="Find the least generalisation (plus --max-suppress) reaching K and write it as a policy.")
@click.option("--max-suppress", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="With --suggest: the largest share of rows that may be suppressed (e.g. 0.01).")
@click.option("--write-policy", type=click.Path(dir_okay=False), metavar="PATH",
              help="With --suggest: write the policy here (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite --chart / --write-policy files that exist.")
@click.option("--input-format", type=click.Choice(FORMATS), help="Override the format (default: from the name).")
@click.option("--encoding", help="CSV encoding (default: detected).")
@click.option("--delimiter", help="CSV delimiter (one character, or 'tab'); default: detected.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def risk(input_path, quasi, policy, delivered, sensitive, k, l, out_format, chart, suggest_k,  # noqa: E741
         max_suppress, write_policy, force, input_format, encoding, delimiter, quiet):
    """Measure how well FILE's quasi-identifiers single people out (k-anonymity, l-diversity).

    \b
    Quasi-identifiers are what an outsider may also know: birth date, city, gender, an exact income, the birth
    date an ID token keeps.  Rows sharing all of them form an equivalence class; a class of one row is a
    person anyone knowing those facts can pick out, without any key.  Counts only are printed, never a value.
    \b
    Exit status: 0 targets met (or none given), 1 a target missed, 2 bad input.
    \b
    Examples:
      tokenize-kit risk customers.csv --quasi birth_date,gender,city --k 5 --chart risk.html
      tokenize-kit risk customers.csv --policy policy.yaml --sensitive occupation --k 5 --l 2
      tokenize-kit risk customers.csv --policy policy.yaml --suggest 5 --max-suppress 0.01 \\
          --write-policy safer.yaml
    """
    from tokenize_kit.io import read_batches
    from tokenize_kit.policy import Policy
    from tokenize_kit.risk import RiskError, measure, needed_columns, quasi_items
    from tokenize_kit.suggest import NoSuggestion, suggest

    if delivered and not policy:
        raise UsageProblem("--delivered needs --policy (the policy the delivery was made with)")
    if l is not None and not sensitive:
        raise UsageProblem("--l needs --sensitive COL (the column whose diversity it measures)")
    if (write_policy or max_suppress) and not suggest_k:
        raise UsageProblem("--write-policy and --max-suppress go with --suggest K")
    for path in (chart, write_policy):
        if path and Path(path).exists() and not force:
            raise UsageProblem(f"{path} already exists; choose another path or pass --force")
    from .progress import progress_line

    update, done = progress_line(quiet or out_format == "json", "risk")
    try:
        pol = Policy.load(policy) if policy else None
        items = quasi_items(pol, _split(quasi))
        if not items:
            raise RiskError("no quasi-identifiers: name them with --quasi COL,COL or give a --policy that has some")
        batches, info = read_batches(input_path, input_format, encoding=encoding, delimiter=delimiter,
                                     columns=needed_columns(items, sensitive))

        def counted():
            rows = 0
            for b in batches:
                rows += b.num_rows
                yield b
                if update:
                    update(rows, info.get("rows"))

        suggestion = None
        if suggest_k:
            suggestion = suggest(counted(), items, suggest_k, max_suppress, pol)
            rep = suggestion.report
        else:
            suppress = pol.suppress if pol is not None and not delivered else None
            rep, _ = measure(counted(), items, sensitive, simulate=not delivered,
                             suppress_k=suppress.k if suppress else None)
            rep.k_target, rep.l_target = k, l
            if suppress is not None:
                rep.suppress_limit = suppress.max_share
        done()
    except click.ClickException:
        raise
    except NoSuggestion as exc:
        done()
        click.echo(f"no suggestion: {exc}", err=True)
        sys.exit(EXIT_FOUND)
    except _errors() as exc:
        done()
        raise UsageProblem(str(exc)) from None
    rep.file = Path(input_path).name
    if chart:
        from tokenize_kit import riskchart

        _write(Path(chart), riskchart.svg(rep) if chart.lower().endswith(".svg") else riskchart.html(rep), force)
    policy_text = None
    if suggestion is not None:
        policy_text = ("# Written by `tokenize-kit risk --suggest`: the least generalisation over the shipped "
                       f"hierarchies reaching k = {suggest_k}\n# (rows in smaller classes are suppressed, at most "
                       f"{max_suppress:.2%} of them).  Review it before use.\n" + suggestion.policy.to_yaml())
        if write_policy:
            _write(Path(write_policy), policy_text, force)
            click.echo(f"wrote the suggested policy to {write_policy}", err=True)
    if out_format == "json":
        doc = rep.to_dict()
        if suggestion is not None:
            doc["suggestion"] = {"k": suggest_k, "max_suppress": max_suppress, "levels": suggestion.levels(),
                                 "information_loss": round(suggestion.node.loss, 6),
                                 "evaluated": suggestion.evaluated, "lattice_size": suggestion.lattice_size,
                                 "minimal_nodes": len(suggestion.minimal), "policy": suggestion.policy.to_dict()}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        _print(rep, suggestion)
        if policy_text is not None and not write_policy:
            click.echo(policy_text)
    sys.exit(0 if rep.met else EXIT_FOUND)

