"""The class-size distribution of a risk report as a self-contained HTML page with an inline SVG bar chart.

Written by hand (no plotting library, no script, no external resource): the page opens anywhere, offline, and
shows counts only: rows and classes per class-size bucket, never a value.
"""

from __future__ import annotations

from html import escape

from .risk import RiskReport

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 320, 64, 56, 24


def _bucket_label(b: dict[str, int]) -> str:
    lo, hi = b["size_from"], b["size_to"]
    return str(lo) if lo == hi else f"{lo}-{hi}"


def svg(report: RiskReport) -> str:
    """An SVG bar chart: share of rows per class-size bucket; buckets below the k target in red."""
    buckets = report.size_buckets()
    total = max(report.rows, 1)
    plot_w, plot_h = WIDTH - LEFT - 16, HEIGHT - BOTTOM - TOP
    peak = max([b["rows"] / total for b in buckets] + [0.01])
    scale = min(1.0, (int(peak * 10) + 1) / 10)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
             f'aria-label="Share of rows by equivalence-class size" font-family="sans-serif" font-size="12">']
    for i in range(6):
        frac = scale * i / 5
        y = TOP + plot_h - plot_h * frac / scale
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{frac:.0%}</text>')
    n = max(len(buckets), 1)
    slot = plot_w / n
    for i, b in enumerate(buckets):
        share = b["rows"] / total
        h = plot_h * share / scale
        x = LEFT + i * slot + slot * 0.15
        below = report.k_target is not None and b["size_from"] < report.k_target
        color = "#c0392b" if below else "#2e86c1"
        title = (f"class size {_bucket_label(b)}: {b['classes']:,} classes, {b['rows']:,} rows "
                 f"({share:.1%} of all rows)")
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                     f'fill="{color}"><title>{escape(title)}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{TOP + plot_h - h - 4:.1f}" text-anchor="middle">'
                     f'{share:.1%}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{TOP + plot_h + 16:.1f}" text-anchor="middle">'
                     f'{escape(_bucket_label(b))}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#333"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
                 'equivalence-class size (rows sharing the same quasi-identifier values)</text>')
    parts.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">share of rows</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def html(report: RiskReport) -> str:
    """A whole HTML page: title, the key figures and the chart."""
    k = report.to_dict()["k_anonymity"]
    rows = [("rows", f"{report.rows:,}"), ("quasi-identifiers", ", ".join(report.quasi)),
            ("equivalence classes", f"{report.classes:,}"), ("smallest class (k)", str(report.min_k)),
            ("unique rows", f"{report.uniques:,}")]
    if report.k_target is not None:
        rows.append((f"rows in classes below {report.k_target}", f"{k['rows_below']:,} ({k['share_below']:.1%})"))
        rows.append((f"target k >= {report.k_target}", "met" if report.k_met else "NOT MET"))
    if report.suppressed_rows:
        rows.append(("suppressed rows", f"{report.suppressed_rows:,}"))
    table = "\n".join(f"<tr><th>{escape(a)}</th><td>{escape(b)}</td></tr>" for a, b in rows)
    name = escape(report.file or "table")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Re-identification risk: {name}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}th{{text-align:left;padding-right:1.5em;font-weight:normal;
color:#555}}td{{font-variant-numeric:tabular-nums}}</style></head>
<body><h1>Re-identification risk: {name}</h1>
<table>{table}</table>
<p>Bars: share of all rows in equivalence classes of each size; red bars are below the k target.
Counts only: no value of the file is in this page.</p>
{svg(report)}
</body></html>
"""
