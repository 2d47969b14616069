"""The report's charts: matplotlib figures rendered to inline SVG text (no pyplot, no global backend, no network).

matplotlib is already a dependency and draws the charts once, when the report is written: the page needs no
charting script, shows the same in every browser (also with scripts off, and printed) and stays one file.
Text stays text (``svg.fonttype: none``), so the SVGs are small and sharp at any size.
"""

from __future__ import annotations

import io
import re

import numpy as np

COLOURS = ("#0072b2", "#d55e00", "#999999")  # men, women, unknown gender (Okabe-Ito: safe for colour blindness)
NAMES = ("men", "women", "unknown")
RC = {"svg.fonttype": "none", "font.size": 10, "font.family": "sans-serif", "axes.spines.top": False,
       "axes.spines.right": False, "axes.edgecolor": "#555555", "axes.titlesize": 11, "legend.frameon": False}


def figure(width: float = 5.0, height: float = 2.9):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def legend_below(fig, ax) -> None:
    """One legend under the plot (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=9)


def time_label(seconds: float, _pos: object = None) -> str:
    """Seconds as m:ss (h:mm:ss from an hour on)."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def to_svg(fig, name: str, title: str) -> str:
    """The figure as an ``<svg>`` element to inline: no XML prologue, scalable (viewBox only), labelled."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # ids unique in the page: every id and every reference to one gets the chart's name in front
    text = re.sub(r'(\sid="|url\(#|href="#)', lambda m: f"{m.group(1)}{name}-", text)
    text = re.sub(r'<svg[^>]*?( viewBox="[^"]*")[^>]*>',
                  lambda m: f'<svg xmlns="http://www.w3.org/2000/svg"{m.group(1)} class="chart" id="chart-{name}" '
                            f'role="img" aria-label="{title}">', text, count=1)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _integer_y(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _time_axis(ax, span_s: float, what: str) -> None:
    """Seconds on the x axis: plain seconds up to two minutes, m:ss (h:mm:ss) beyond."""
    from matplotlib.ticker import FuncFormatter

    if span_s <= 120:
        ax.set_xlabel(f"{what} (s)")
        return
    ax.xaxis.set_major_formatter(FuncFormatter(time_label))
    ax.set_xlabel(f"{what} ({'h:mm:ss' if span_s >= 3600 else 'm:ss'})")


def presence_chart(edges: np.ndarray, counts: np.ndarray) -> str:
    """People present per time bucket, stacked by gender. edges (B+1,) seconds, counts (3, B)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig, ax = figure()
        if counts.shape[1] == 0:
            _empty(ax, "no demographics.json in this folder")
        else:
            ys = np.concatenate([counts, counts[:, -1:]], axis=1)
            ax.stackplot(edges, ys, step="post", colors=COLOURS, labels=NAMES, linewidth=0)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylabel("people present")
            _integer_y(ax)
            _time_axis(ax, float(edges[-1]), "time into the video")
            legend_below(fig, ax)
        ax.set_title("People present over time")
        return to_svg(fig, "presence", "People present over time, by gender")


def arrivals_chart(edges: np.ndarray, counts: np.ndarray) -> str:
    """New people per time bucket, stacked by gender. edges (B+1,) seconds, counts (3, B)."""
    import matplotlib

    with matplotlib.rc_context(RC):
        fig, ax = figure()
        if counts.sum() == 0:
            _empty(ax, "nobody was counted")
        else:
            width = float(edges[1] - edges[0])
            bottom = np.zeros(counts.shape[1])
            for k in range(3):
                ax.bar(edges[:-1], counts[k], width=0.9 * width, bottom=bottom, align="edge", color=COLOURS[k],
                       label=NAMES[k])
                bottom += counts[k]
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylabel(f"people per {width:g} s" if width < 60 else f"people per {time_label(width)}")
            _integer_y(ax)
            _time_axis(ax, float(edges[-1]), "time into the video")
            legend_below(fig, ax)
        ax.set_title("Arrivals (first sighting of each person)")
        return to_svg(fig, "arrivals", "Arrivals per time bucket, by gender")


def pyramid_chart(labels: list[str], counts: np.ndarray, no_gender: int, no_age: int) -> str:
    """Age pyramid: men to the left, women to the right. labels (G,), counts (2, G)."""
    import matplotlib
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    notes = [f"{no_gender} with an age but no gender" if no_gender else "",
             f"{no_age} without an age" if no_age else ""]
    note = "; ".join(n for n in notes if n)
    with matplotlib.rc_context(RC):
        fig, ax = figure(5.0, 3.3)
        if counts.sum() == 0:
            _empty(ax, "no one has both an age and a gender" + (f"\n({note})" if note else ""))
        else:
            y = np.arange(len(labels))
            ax.barh(y, -counts[0], color=COLOURS[0], label="men", height=0.8)
            ax.barh(y, counts[1], color=COLOURS[1], label="women", height=0.8)
            ax.set_yticks(y, labels)
            top = max(int(counts.max()), 1)
            ax.set_xlim(-top * 1.15, top * 1.15)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{abs(v):g}"))
            ax.axvline(0, color="#555555", linewidth=0.8)
            ax.set_xlabel("people (men left, women right)" + (f"\nnot shown: {note}" if note else ""))
            legend_below(fig, ax)
        ax.set_title("Age pyramid")
        return to_svg(fig, "pyramid", "Age pyramid by gender")


def dwell_chart(dwell_s: np.ndarray, genders: np.ndarray) -> str:
    """Histogram of dwell times (seconds from first to last sighting), stacked by gender.

    dwell_s (N,) seconds; genders (N,) 0 men, 1 women, 2 unknown.
    """
    import matplotlib

    with matplotlib.rc_context(RC):
        fig, ax = figure()
        if len(dwell_s) == 0:
            _empty(ax, "nobody was counted")
        else:
            top = max(float(dwell_s.max()), 1.0)
            bins = np.linspace(0.0, top, min(20, max(5, int(np.sqrt(len(dwell_s))) + 3)) + 1)
            groups = [dwell_s[genders == k] for k in range(3)]
            ax.hist(groups, bins=bins, stacked=True, color=list(COLOURS), label=list(NAMES), rwidth=0.9)
            ax.set_ylabel("people")
            _time_axis(ax, top, "dwell time, first to last sighting")
            _integer_y(ax)
            legend_below(fig, ax)
        ax.set_title("Dwell time")
        return to_svg(fig, "dwell", "Histogram of dwell times")
