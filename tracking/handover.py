"""Face hand-over: one face, one person, even when the person detector flickers.

A face seen without a body is tracked as its own identity; when the person detector finds the body a frame later,
the face is paired and carries the person's track id instead; when the body is lost again, the face goes on as a
new lone-face track. Each switch would count the person again. The face box itself barely moves between two
frames, so a face whose box overlaps (IoU >= ``min_iou``) a face of the previous frame that carried another id,
whose id is not on screen any more, is the same person: ``__call__`` reports (new id, earlier id) and the merge
step folds the new id into the earlier one. Two ids that were ever on screen in the same frame are never linked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mivolo.core.boxes import iou_matrix
from mivolo.core.structures import Detections


@dataclass
class FaceHandOver:
    min_iou: float = 0.5
    max_gap_s: float = 0.3  # the earlier face was seen at most this long before (1-2 frames at 7 fps)
    _boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    _ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _time: float = -1e9
    together: dict[int, set[int]] = field(default_factory=dict)  # identity -> identities seen in one frame with it

    def __call__(self, time_s: float, dets: Detections, visible: np.ndarray) -> list[tuple[int, int]]:
        """(absorbed id, into id) pairs for this frame. ``visible``: (K,) every id on screen in this frame
        (after earlier links were resolved); dets.track_id holds the ids the faces carry now."""
        on_screen = set(np.asarray(visible).tolist())
        for identity in on_screen:
            self.together.setdefault(identity, set()).update(on_screen - {identity})
        faces = np.flatnonzero(dets.is_face & (dets.track_id >= 0))
        links: list[tuple[int, int]] = []
        recent = 0 < time_s - self._time <= self.max_gap_s
        if recent and len(faces) and len(self._ids):
            overlap = iou_matrix(dets.xyxy[faces], self._boxes)
            for i, j in zip(*np.nonzero(overlap >= self.min_iou), strict=True):
                new, old = int(dets.track_id[faces[i]]), int(self._ids[j])
                best = overlap[i].argmax() == j and overlap[:, j].argmax() == i  # one face each way
                if new != old and old not in on_screen and best and old not in self.together.get(new, ()):
                    links.append((new, old))
        if len(faces):
            self._boxes, self._ids = dets.xyxy[faces].copy(), dets.track_id[faces].copy()
            self._time = time_s
        return links

    def renamed(self, renamed: dict[int, int], apart: bool = False) -> None:
        """A repair gave the tracker ids of identities ``renamed``'s keys to its values from now on: the faces of the
        last frame carry the new ids (their change of id is no hand-over). With ``apart`` each pair are two people,
        never to be linked."""
        self._ids = np.array([renamed.get(int(i), int(i)) for i in self._ids], np.int64)
        if apart:
            for old, new in renamed.items():
                self.together.setdefault(old, set()).add(new)
                self.together.setdefault(new, set()).add(old)

    def absorb(self, absorbed: int, into: int) -> None:
        """Identity ``absorbed`` joined ``into`` (by any cue): whom either was seen with, ``into`` was seen with."""
        seen_with = self.together.pop(absorbed, set())
        self.together.setdefault(into, set()).update(seen_with - {into})
        for other in seen_with:
            partners = self.together.get(other)
            if partners is not None:
                partners.discard(absorbed)
                partners.add(into)

    def forget(self, identities: set[int]) -> None:
        for identity in identities:
            for other in self.together.pop(identity, set()):
                self.together.get(other, set()).discard(identity)
