"""Peak memory as the benchmarks and batch workers report it: the process's own, not the one it was started from."""

import subprocess
import sys

from mivolo.core.environment import peak_rss_mb

CHILD = "from mivolo.core.environment import peak_rss_mb; print(peak_rss_mb())"
PARENT = f"""
import subprocess, sys
ballast = bytearray(400 * 1024 * 1024)  # touched: 400 MB resident
for k in range(0, len(ballast), 4096):
    ballast[k] = 1
from mivolo.core.environment import peak_rss_mb
child = subprocess.run([sys.executable, "-c", {CHILD!r}], capture_output=True, text=True, check=True)
print(peak_rss_mb(), float(child.stdout))
"""


def test_a_child_started_from_a_big_process_reports_its_own_peak():
    out = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, check=True, timeout=120)
    parent, child = map(float, out.stdout.split())
    assert parent > 400 and child < 200, (parent, child)  # ru_maxrss gave the child the parent's 400+ MB
    assert 0 < peak_rss_mb()
