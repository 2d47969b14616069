"""report.html: a page people read, built from one output folder (identities.json, demographics.json, crops/,
run.json).

``build_report(folder)`` works on any finished output folder (a batch overview can call it per source);
``ReportSink`` calls it when a run closes, after the crops, identities and demographics sinks have written their
files and before run.json (it hands over the run's own record instead of reading a run.json that does not exist
yet, or is left from an earlier run).
"""

from __future__ import annotations

import logging
from pathlib import Path

from mivolo.core.atomic import write_bytes_atomic
from mivolo.core.paths import inside
from mivolo.core.run import IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame
from mivolo.sinks import report_charts as charts
from mivolo.sinks.report_accuracy import RESULTS_DIR, measured_accuracy
from mivolo.sinks.report_data import arrivals, dwell_times, headline, load_folder, presence, pyramid
from mivolo.sinks.report_page import genders, page
from mivolo.sinks.run_json import run_record

log = logging.getLogger(__name__)
REPORT_NAME = "report.html"


def report_html(folder: Path, run: dict | None = None, results_dir: Path = RESULTS_DIR) -> str:
    """The report of an output folder as one HTML document (``run`` replaces the folder's run.json)."""
    data = load_folder(folder, run)
    head = headline(data)
    svgs = [charts.presence_chart(*presence(data)),
            charts.arrivals_chart(*arrivals(data, head.video_s)),
            charts.pyramid_chart(*pyramid(data)),
            charts.dwell_chart(dwell_times(data), genders(data))]
    return page(data, head, measured_accuracy(data.run, results_dir), svgs)


def build_report(folder: Path, run: dict | None = None, file_name: str = REPORT_NAME,
                 results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``folder/report.html`` (atomically) and return its path."""
    path = Path(folder) / file_name
    write_bytes_atomic(path, report_html(folder, run, results_dir).encode("utf-8"))
    return path


class ReportSink:
    """Writes report.html when the run closes (it must close after the sinks whose files it reads)."""

    def __init__(self, file_name: str = REPORT_NAME) -> None:
        self.file_name = file_name

    def open(self, run: RunInfo) -> None:
        self.run = run
        self.path = inside(run.output_dir, Path(self.file_name))

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        pass

    def close(self, summary: RunSummary) -> None:
        summary.files["report"] = str(self.path)
        build_report(summary.output_dir, run_record(self.run, summary), self.path.name)
        log.info("report: %s", self.path)

    def abort(self) -> None:
        pass
