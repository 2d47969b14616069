"""Tracking stage (boxmot adapter), the merge stage (re-entries) and per-identity settling of one age and gender.

Depends only on ``mivolo.core``; models it needs from elsewhere (face embedder, CLIP-ReID) are injected.
"""

from tracking.identities import Identities, IdentityRecord
from tracking.merging import MergeStep
from tracking.tracker import TRACKERS, Tracker, resolve_tracker_yaml, tracker_needs_reid

__all__ = ["TRACKERS", "Identities", "IdentityRecord", "MergeStep", "Tracker", "resolve_tracker_yaml",
           "tracker_needs_reid"]
