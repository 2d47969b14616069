"""``OUTPUT/report.html`` of a batch: the totals over every source, people per source (a stacked bar chart), and
one line per source with its status and a link to its own ``report.html``. Self-contained like a source's report
(same styles, inline SVG, no fetch allowed)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from mivolo.core.atomic import write_bytes_atomic
from mivolo.sinks.report_charts import COLOURS, NAMES, RC, figure, legend_below, to_svg
from mivolo.sinks.report_page import CSP, CSS, duration, tiles_html

OVERVIEW_NAME = "report.html"


def people_chart(rows: list[dict[str, Any]]) -> str:
    """Horizontal bars: men / women / unknown of each source that finished (an SVG element)."""
    import matplotlib

    done = [r for r in rows if r["status"] != "failed"]
    with matplotlib.rc_context(RC):
        fig, ax = figure(6.0, max(1.6, 0.45 * len(done) + 1.0))
        names = [r["name"] for r in done]
        left = np.zeros(len(done))
        for key, colour, label in zip(("men", "women", "unknown"), COLOURS, NAMES, strict=True):
            values = np.array([r[key] for r in done], dtype=float)
            ax.barh(np.arange(len(done)), values, left=left, color=colour, label=label)
            left += values
        ax.set_yticks(np.arange(len(done)), names)
        ax.invert_yaxis()
        ax.set_xlabel("people")
        ax.set_title("People per source")
        ax.xaxis.get_major_locator().set_params(integer=True)
        legend_below(fig, ax)
    return to_svg(fig, "per-source", "people per source, by gender")


def _tiles(total: dict[str, Any]) -> str:
    tiles = [("sources", "sources", f"{total['done']} of {total['sources']}", ""),
             ("total-people", "people counted (identities)", str(total["identities"]), ""),
             ("people-estimate", "people, lost-and-found counted once (estimate)",
              str(total.get("people_estimate", total["identities"])), ""),
             ("men", "men", str(total["men"]), "men"), ("women", "women", str(total["women"]), "women"),
             ("unknown", "gender unknown", str(total["unknown"]), "unknown"),
             ("video-length", "video analysed", duration(total["video_s"]), "")]
    return tiles_html(tiles)


def _source_line(out_dir: Path, row: dict[str, Any]) -> str:
    name = escape(row["name"])
    report = out_dir / row["name"] / "report.html"
    link = f'<a href="{escape(row["name"])}/report.html">{name}</a>' if row.get("output") and report.is_file() \
        else name
    status = escape(row["status"]) + (f": {escape(row['error'])}" if row.get("error") else "")
    cells = [link, status, str(row["identities"]), str(row["men"]), str(row["women"]), str(row["unknown"]),
             duration(row["video_s"])]
    return f'<tr class="source {escape(row["status"])}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def overview_html(out_dir: Path, rows: list[dict[str, Any]], total: dict[str, Any]) -> str:
    """The batch overview page as one HTML document (``rows``/``total`` as in ``summary.json``)."""
    chart = people_chart(rows) if any(r["status"] != "failed" for r in rows) else ""
    lines = "".join(_source_line(out_dir, r) for r in rows)
    ages = "".join(f"<tr><td>{escape(g)}</td><td>{n}</td></tr>" for g, n in total["age_groups"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Crowd report: {len(rows)} sources</title><style>{CSS}</style></head>
<body><main>
<header><h1>Crowd report: {len(rows)} sources</h1>
<p class="sub">{total['done']} done, {total['failed']} failed, {total['interrupted']} interrupted · each source's
own report (charts, gallery) is linked below</p></header>
<section class="tiles" aria-label="totals">{_tiles(total)}</section>
<h2>Sources</h2><div class="panel"><table id="sources"><tr><th>source</th><th>status</th><th>people</th>
<th>men</th><th>women</th><th>unknown</th><th>video</th></tr>{lines}</table></div>
<h2>People per source</h2><section class="charts"><figure>{chart}</figure>
<div class="panel"><table id="ages"><tr><th>age group</th><th>people</th></tr>{ages}</table>
<p class="sub">People without an honest age estimate are not in an age group.</p></div></section>
<footer><p>One person is counted once per source: the same person seen by two cameras counts twice.
<b>Unknown</b> means a source did not show enough good, agreeing views of the face to give a gender.</p></footer>
</main></body></html>
"""


def write_overview(out_dir: Path, rows: list[dict[str, Any]], total: dict[str, Any]) -> Path:
    """Write ``out_dir/report.html`` atomically; returns its path."""
    path = out_dir / OVERVIEW_NAME
    write_bytes_atomic(path, overview_html(out_dir, rows, total).encode())
    return path
