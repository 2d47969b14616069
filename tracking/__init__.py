"""Tracking stage (boxmot adapter) and per-identity settling of one age and one gender."""

from tracking.identities import Identities, IdentityRecord
from tracking.tracker import TRACKERS, Tracker, resolve_tracker_yaml, tracker_needs_reid

__all__ = ["TRACKERS", "Identities", "IdentityRecord", "Tracker", "resolve_tracker_yaml", "tracker_needs_reid"]
