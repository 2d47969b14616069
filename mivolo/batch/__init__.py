"""Many sources in one run, on Ray (``demo.py --batch``): one output folder per source plus a summary.

Above ``pipeline`` in the layering: it runs the same ``Pipeline`` as a single run inside Ray actors.
``listing`` (which sources), ``worker`` (the actor), ``runner`` (scheduling, signals), ``results`` (summary).
"""

from mivolo.batch.listing import BatchSource, expand_sources
from mivolo.batch.runner import BatchOptions, BatchResult, BatchStop, run_batch

__all__ = ["BatchOptions", "BatchResult", "BatchSource", "BatchStop", "expand_sources", "run_batch"]
