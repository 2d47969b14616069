"""One person, one identity: a new track whose face signature matches an identity that left takes it over.

Each identity keeps a fixed-size signature (running mean of L2-normalised face embeddings) and its time span.
A new track is compared from its ``min_samples``-th embedding on, and again at each new one until it has
``max_samples`` (early faces of a person entering the frame are the least reliable), only with identities that
were last seen before the track first appeared (never with anyone visible at the same time) and within
``max_gap_s``. The best cosine similarity merges the track into that identity when it reaches ``threshold`` and
beats the runner-up by ``margin`` (an ambiguous match is no match).

With a Re-ID model, identities also keep a body signature (mean of L2-normalised Re-ID embeddings). It vetoes a
face match whose bodies disagree (``body_veto``), and it decides alone, at the stricter ``body_threshold``, when
one of the two was never seen with a usable face (people seen from behind).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mivolo.core.config import MergeConfig
from mivolo.core.structures import ACCEPTED, REJECTED, Detections
from tracking.camera import CameraMotion, CameraPath
from tracking.handover import FaceHandOver
from tracking.identities import lowest_first
from tracking.jumps import JumpDetector
from tracking.people_history import PeopleHistory
from tracking.relink import Link, Relinker, colour_distance
from tracking.splits import SplitDetector
from tracking.swaps import SwapDetector
from tracking.takeovers import TakeoverDetector

log = logging.getLogger(__name__)
EDGE_PX = 2  # a face box this close to the frame edge may be cut off: no signature from it
RELINK_SETTINGS = ("max_gap_s", "max_colour_dist", "gate_h", "gate_h_per_s", "margin", "min_obs", "max_size_ratio")
FaceCheck = Callable[[np.ndarray, Detections, np.ndarray], Detections]  # (image, dets, rows) -> dets (face_ok)
Embedder = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image_bgr, (K, 4) xyxy) -> (K, D) unit vectors


@dataclass
class Signature:
    vector_sum: np.ndarray
    samples: int = 0
    first_s: float = 0.0
    last_s: float = 0.0
    last_sample_s: float = -1e9
    body_sum: np.ndarray | None = None
    body_samples: int = 0
    last_body_s: float = -1e9

    @property
    def mean(self) -> np.ndarray:
        vector = self.vector_sum / max(self.samples, 1)
        return vector / max(float(np.linalg.norm(vector)), 1e-6)

    @property
    def body_mean(self) -> np.ndarray | None:
        if self.body_sum is None or self.body_samples == 0:
            return None
        return self.body_sum / max(float(np.linalg.norm(self.body_sum)), 1e-6)


@dataclass
class Merge:
    track_id: int  # the provisional identity (a track's own id) that was absorbed
    into: int
    similarity: float
    gap_s: float
    cue: str = "face"

    def as_dict(self) -> dict:
        return {"from": self.track_id, "into": self.into, "similarity": round(self.similarity, 4),
                "gap_s": round(self.gap_s, 3), "cue": self.cue}


@dataclass
class IdentityMerger:
    threshold: float = MergeConfig.threshold
    min_samples: int = 3
    max_samples: int = 6
    margin: float = MergeConfig.margin
    min_interval_s: float = 0.25  # embeddings of one track are spaced out: more varied evidence, less compute
    body_threshold: float = MergeConfig.body_threshold  # body-only merges need this Re-ID similarity
    body_veto: float = MergeConfig.body_veto  # a face match is refused when the bodies are less similar than this
    max_gap_s: float = 60.0
    dim: int = 128
    parent: dict[int, int] = field(default_factory=dict)  # track id -> identity id (only merged tracks)
    signatures: dict[int, Signature] = field(default_factory=dict)  # identity id -> signature
    decided: set[int] = field(default_factory=set)  # tracks whose merge decision is made
    merges: list[Merge] = field(default_factory=list)
    absorbed: set[int] = field(default_factory=set)  # identities that joined another one
    veto: Callable[[int, int], bool] | None = None  # veto(track, identity): another cue says they are two people

    def identity_of(self, track_id: int) -> int:
        return self.parent.get(track_id, track_id)

    def resolve(self, track_ids: np.ndarray) -> np.ndarray:
        if not self.parent:
            return track_ids
        return np.array([self.parent.get(int(t), int(t)) if t >= 0 else -1 for t in track_ids], dtype=np.int64)

    def needs_embedding(self, track_id: int, time_s: float | None = None) -> bool:
        signature = self.signatures.get(self.identity_of(track_id))
        if signature is None:
            return True
        recent = time_s is not None and time_s - signature.last_sample_s < self.min_interval_s
        return signature.samples < self.max_samples and not recent

    def needs_body(self, track_id: int, time_s: float) -> bool:
        signature = self.signatures.get(self.identity_of(track_id))
        if signature is None:
            return True
        return signature.body_samples < self.max_samples and time_s - signature.last_body_s >= self.min_interval_s

    def observe_body(self, track_id: int, time_s: float, embedding: np.ndarray) -> Merge | None:
        """Add one body Re-ID embedding of ``track_id``; may decide a body-only merge."""
        self.seen(track_id, time_s)
        identity = self.identity_of(track_id)
        signature = self.signatures[identity]
        if signature.body_samples < self.max_samples:
            signature.body_sum = embedding.astype(np.float64) if signature.body_sum is None \
                else signature.body_sum + embedding
            signature.body_samples += 1
            signature.last_body_s = time_s
        if track_id in self.decided or identity != track_id or signature.body_samples < self.min_samples:
            return None
        merge = self._try_merge(track_id, signature)
        if merge is not None:
            self.decided.add(track_id)
        return merge

    def seen(self, track_id: int, time_s: float) -> None:
        identity = self.identity_of(track_id)
        signature = self.signatures.get(identity)
        if signature is None:
            self.signatures[identity] = Signature(np.zeros(self.dim, np.float64), 0, time_s, time_s)
        else:
            signature.last_s = time_s

    def observe(self, track_id: int, time_s: float, embedding: np.ndarray) -> Merge | None:
        """Add one embedding of ``track_id``; returns the merge it triggers, if any."""
        self.seen(track_id, time_s)
        identity = self.identity_of(track_id)
        signature = self.signatures[identity]
        if signature.samples < self.max_samples:
            signature.vector_sum += embedding
            signature.samples += 1
            signature.last_sample_s = time_s
        if track_id in self.decided or identity != track_id or signature.samples < self.min_samples:
            return None
        if signature.samples >= self.max_samples:
            self.decided.add(track_id)  # last look
        merge = self._try_merge(track_id, signature)
        if merge is not None:
            self.decided.add(track_id)
        return merge

    def _candidate(self, track_id: int, signature: Signature, identity: int, other: Signature) -> bool:
        """Whether ``identity`` may be who ``track_id`` is: seen before it (never at the same time), not too long
        ago, with a signature, and no other cue against it."""
        if identity == track_id or (other.samples == 0 and other.body_samples == 0):
            return False
        if other.last_s >= signature.first_s:  # visible at the same time: never the same person
            return False
        if signature.first_s - other.last_s > self.max_gap_s:
            return False
        return self.veto is None or not self.veto(track_id, identity)

    def _try_merge(self, track_id: int, signature: Signature) -> Merge | None:
        best, best_similarity, best_excess, runner_up = None, -1.0, -np.inf, -np.inf
        body = signature.body_mean
        for identity, other in self.signatures.items():
            if not self._candidate(track_id, signature, identity, other):
                continue
            other_body = other.body_mean
            body_similarity = float(body @ other_body) if body is not None and other_body is not None \
                and len(body) == len(other_body) else None
            if signature.samples and other.samples:  # faces decide; bodies may veto
                similarity = float(signature.mean @ other.mean)
                if body_similarity is not None and body_similarity < self.body_veto:
                    continue
                excess = similarity - self.threshold
            elif body_similarity is not None:  # one of them never showed a usable face
                similarity, excess = body_similarity, body_similarity - self.body_threshold
            else:
                continue
            if excess > best_excess:
                best, best_similarity, runner_up, best_excess = identity, similarity, best_excess, excess
            elif excess > runner_up:
                runner_up = excess
        if best is None or best_excess < 0 or best_excess - runner_up < self.margin:
            if best is not None:
                log.debug("track %d: closest earlier identity %d at similarity %.3f, not merged (yet)", track_id,
                          best, best_similarity)
            return None
        return self.absorb(track_id, best, best_similarity)

    def absorb(self, track_id: int, best: int, similarity: float) -> Merge:
        """Identity ``track_id`` joins identity ``best`` (whichever cue decided it): signatures and ids folded."""
        signature = self.signatures.get(track_id) or Signature(np.zeros(self.dim, np.float64), 0, 0.0, 0.0)
        target = self.signatures.get(best)
        if target is None:  # only another cue knew it: it starts from this signature's times
            target = self.signatures[best] = Signature(np.zeros(self.dim, np.float64), 0, signature.first_s,
                                                       signature.first_s)
        merge = Merge(track_id, best, similarity, signature.first_s - target.last_s)
        target.vector_sum += signature.vector_sum
        target.samples += signature.samples
        if signature.body_sum is not None:
            same_size = target.body_sum is not None and len(target.body_sum) == len(signature.body_sum)
            target.body_sum = target.body_sum + signature.body_sum if same_size else signature.body_sum.copy()
            target.body_samples += signature.body_samples
        target.last_s = max(target.last_s, signature.last_s)
        target.first_s = min(target.first_s, signature.first_s)
        self.signatures.pop(track_id, None)
        self.decided.add(track_id)
        self.absorbed.add(track_id)
        if self.parent.get(track_id, track_id) == track_id:  # (after a swap repair that tracker id shows another)
            self.parent[track_id] = best
        for child, parent in list(self.parent.items()):  # every tracker id that showed it; chains stay flat
            if parent == track_id:
                self.parent[child] = best
        self.merges.append(merge)
        return merge

    def hand_over(self, source: int, target: int, since_s: float) -> None:
        """A repaired jump: the face and body samples of identity ``source`` (a young id that showed ``target``'s
        person) join ``target``'s signature, and ``source`` starts again from nothing at ``since_s``."""
        signature = self.signatures.get(source)
        target_signature = self.signatures.get(target)
        if signature is None:
            return
        if target_signature is None:
            self.signatures[target] = Signature(signature.vector_sum.copy(), signature.samples, signature.first_s,
                                                signature.last_s, signature.last_sample_s,
                                                None if signature.body_sum is None else signature.body_sum.copy(),
                                                signature.body_samples, signature.last_body_s)
        else:
            target_signature.vector_sum = target_signature.vector_sum + signature.vector_sum
            target_signature.samples += signature.samples
            if signature.body_sum is not None:
                same = target_signature.body_sum is not None and len(target_signature.body_sum) == \
                    len(signature.body_sum)
                target_signature.body_sum = target_signature.body_sum + signature.body_sum if same \
                    else signature.body_sum.copy()
                target_signature.body_samples += signature.body_samples
        self.signatures[source] = Signature(np.zeros_like(signature.vector_sum), 0, since_s, signature.last_s)

    def forget(self, identities: set[int]) -> None:
        """Identities that left memory: their signatures go; their merged tracks stay mapped for the outputs."""
        for identity in identities:
            self.signatures.pop(identity, None)


class MergeStep:
    """The merge stage: ``__call__(image, time_s, dets) -> dets`` turns tracker ids into identity ids.

    It owns the face signatures (``face_embedder``, optional), their quality filter (whole faces of at least
    ``config.min_face_px``), the body signatures (``body_embedder``: the tracker's Re-ID model, if any), the
    re-linker of fragments after short gaps (motion + clothing colours, ``tracking.relink``; no model) and the id
    mapping. Each merge is reported to ``on_merge(absorbed_id, into_id)`` (the settling stage folds the evidence).

    Clothing colours also veto face (and body-only) merges of two identities whose colours clearly disagree
    (``face_colour_veto``). Should a tracker revive a track after the re-linker gave its identity to a newer
    track, the older one's rows are left unidentified (-1) in frames where both show: one identity, one box.
    """

    def __init__(self, config: MergeConfig, face_embedder: Embedder | None, max_gap_s: float,
                 body_embedder: Embedder | None = None,
                 on_merge: Callable[[int, int], None] | None = None,
                 face_gate: FaceCheck | None = None,
                 on_exchange: Callable[[int, int, float], None] | None = None,
                 new_id: Callable[[], int] | None = None,
                 on_split: Callable[[int, int, float, np.ndarray, np.ndarray], None] | None = None,
                 camera: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
        """``face_gate(image, dets, rows) -> dets`` sets ``face_ok`` of the faces of those rows (the detection
        stage's face-quality gate, injected): only accepted faces feed face signatures. ``on_exchange(a, b,
        since_s)`` is told of each repaired swap, jump or takeover (the settling stage moves the evidence given
        since). ``new_id()`` gives an id no tracker id will be (the tracker's): with it an identity that turned
        back onto someone else is split (``tracking.splits``), and ``on_split(a, new, since_s, last_xyxy (4,),
        first_xyxy (4,))`` is told (``a``'s last box before, ``new``'s first). ``camera(image, person_xyxy) ->
        warp`` estimates each frame's warp from the previous picture (default with ``config.camera_motion``:
        ``CameraMotion``): the re-linker and the repairs then see people in scene coordinates (``tracking.camera``),
        their own motion without the camera's."""
        self.config = config
        self.face_embedder = face_embedder
        self.face_gate = face_gate
        self.handover = FaceHandOver() if config.handover else None
        self.body_embedder = body_embedder
        self.on_merge = on_merge
        self.on_exchange = on_exchange
        self.new_id, self.on_split = new_id, on_split
        if camera is None and getattr(config, "camera_motion", True):
            camera = CameraMotion()
        self.camera_motion = camera
        self.camera = CameraPath() if camera is not None else None
        self.merger = IdentityMerger(threshold=config.threshold, margin=config.margin,
                                     body_threshold=config.body_threshold, body_veto=config.body_veto,
                                     max_gap_s=max_gap_s, dim=int(getattr(face_embedder, "dim", 128)))
        self.relinker = Relinker(**{k: getattr(config, f"relink_{k}") for k in RELINK_SETTINGS}) \
            if config.relink else None
        self._start_history()
        self.swaps_repaired: list[dict] = []
        self.colour_veto = config.face_colour_veto
        if self.relinker is not None:
            self.merger.veto = self._colours_disagree
            self.relinker.camera = self.camera
        self.conflicts = 0  # rows left unidentified: a revived track whose identity a newer track carries

    def _start_history(self) -> None:
        """The people history (the last seconds of everyone in view) and the repairs that read it, empty."""
        repair = self.config.repair_swaps and self.relinker is not None
        self.history = PeopleHistory() if repair else None
        self.swaps = SwapDetector(self.history) if repair else None
        self.jumps = JumpDetector(self.history) if repair else None
        self.takeovers = TakeoverDetector(self.history) if repair else None
        self.splits = SplitDetector(self.history) if repair and self.new_id is not None else None
        if self.jumps is not None and self.config.relink_beside:
            self.relinker.kept_path = self.jumps.kept_path

    def cut(self, time_s: float) -> None:
        """A new shot starts with this frame (``tracking.cuts``; the tracker was reset): paths, meetings and the
        camera's path of the shot before say nothing of this one. Signatures stay: a face (or Re-ID body) seen in
        both shots still joins its identity."""
        if self.relinker is not None:
            self.relinker.cut(time_s)
        self._start_history()
        if self.handover is not None:
            self.handover = FaceHandOver()
        if self.camera is not None:
            self.camera = CameraPath()
            if self.relinker is not None:
                self.relinker.camera = self.camera
            if callable(getattr(self.camera_motion, "reset", None)):
                self.camera_motion.reset()

    def __call__(self, image: np.ndarray, time_s: float, dets: Detections) -> Detections:
        if self.camera is not None:
            self.camera.advance(time_s, self.camera_motion(image, dets.xyxy[dets.is_person]))
        raw = dets.track_id.copy()
        for tid in np.unique(raw[raw >= 0]):
            self.merger.seen(int(tid), time_s)
        persons = np.flatnonzero(dets.is_person & (raw >= 0))
        self._observe_people(image, time_s, raw[persons], dets.xyxy[persons])
        self._sign(image, time_s, dets, raw, persons)
        if self.relinker is not None:
            self._relink(time_s)
        if self.swaps is not None:
            self._repair_swaps(time_s)
        if self.jumps is not None:
            self._repair_jumps(time_s)
            self._repair_takeovers(time_s)
        if self.splits is not None:
            self._split(time_s)
        dets.track_id[:] = self.merger.resolve(raw)
        if self.handover is not None:
            self._hand_over(time_s, dets, raw)
        self._one_box_per_identity(dets, raw)
        return dets

    def _sign(self, image: np.ndarray, time_s: float, dets: Detections, raw: np.ndarray, persons: np.ndarray) -> None:
        """Face signatures (faces that passed the gate) and body signatures (the tracker's Re-ID model, if any) of
        this frame's tracker ids ``raw (N,)``; ``persons``: the rows of tracked persons. Merges they decide are
        reported."""
        faces = self._faces_to_embed(image, dets, raw, time_s) if self.face_embedder is not None else persons[:0]
        if len(faces):
            vectors = self.face_embedder(image, dets.xyxy[faces])
            for row, vector in zip(faces, vectors, strict=True):
                self._report(self.merger.observe(int(raw[row]), time_s, vector), "face")
        if self.body_embedder is not None and len(persons):
            bodies = persons[[self.merger.needs_body(int(raw[r]), time_s) for r in persons]]
            if len(bodies):
                for row, vector in zip(bodies, self.body_embedder(image, dets.xyxy[bodies]), strict=True):
                    self._report(self.merger.observe_body(int(raw[row]), time_s, vector), "body")

    def _hand_over(self, time_s: float, dets: Detections, raw: np.ndarray) -> None:
        """A face that changed tracks between two frames (lone face <-> its person's face) stays one person."""
        visible = np.unique(dets.track_id[dets.track_id >= 0])
        linked = False
        for new, old in self.handover(time_s, dets, visible):
            if self.merger.identity_of(new) != new or self.merger.identity_of(old) != old:
                continue
            self._report(self.merger.absorb(new, old, 1.0), "face hand-over")
            linked = True
        if linked:
            dets.track_id[:] = self.merger.resolve(raw)

    def _observe_people(self, image: np.ndarray, time_s: float, tracks: np.ndarray, xyxy: np.ndarray) -> None:
        """Person boxes ``xyxy (K, 4)`` of tracker ids ``tracks (K,)`` to the re-linker and the swap detector, in
        scene coordinates when the camera moved (colours are read from the picture)."""
        if self.relinker is None:
            return
        people = self.merger.resolve(tracks)
        scene = self.camera.to_scene(time_s, xyxy) if self.camera is not None and self.camera.moved else xyxy
        colours, clean = self.relinker.observe(image, time_s, people, xyxy, scene)
        if self.history is not None:
            self.history.observe(time_s, people, scene, colours, clean, tracks)
            self.swaps.observe(time_s, people, scene)

    def _relink(self, time_s: float) -> None:
        for link in self.relinker.decide(time_s):
            if link.track_id in self.merger.absorbed or self._bodies_disagree(link):
                continue
            merge = self.merger.absorb(link.track_id, link.into, link.similarity)
            merge.cue = "motion+colour"
            self._report(merge, merge.cue)

    def _repair_swaps(self, time_s: float) -> None:
        """Two identities whose people the tracker swapped when they met get their people back: the tracker ids
        that last showed each are mapped to the other identity (``tracking.swaps``). Face and body merges no longer
        start from either (their tracker ids no longer carry their own identity); others can still join them."""
        for a, b, since_s in self.swaps.decide(time_s):
            if self._exchange(a, b, since_s, time_s, "colours"):
                self.relinker.settle((a, b))

    def _repair_jumps(self, time_s: float) -> None:
        """An identity whose tracker id jumped onto someone else gets its person back from the young identity that
        carries them on (``tracking.jumps``); the young identity takes the tracker id that jumped, from the jump on,
        and starts again in the re-linker from what that id showed since (so it may join the person it belongs to);
        its face/body samples (of the older one's person) join the older identity's signature. Recorded with the
        swap repairs (the outputs relabel both the same way)."""
        for jump in self.jumps.decide(time_s):
            a, b = jump.identity, jump.young
            if self._exchange(a, b, jump.since_s, time_s, "path"):
                self.relinker.exchange_tail(a, b, jump.since_s, *self.history.samples(b))
                self.merger.hand_over(b, a, jump.since_s)

    def _repair_takeovers(self, time_s: float) -> None:
        """An identity whose tracker id took over a lost identity's person gives it back (``tracking.takeovers``):
        the lost identity goes on with that tracker id from the moment it was lost, the other is lost from then on
        (and may be re-linked). Recorded with the swap repairs (the outputs relabel both the same way)."""
        for takeover in self.takeovers.decide(time_s):
            j, lost = takeover.identity, takeover.lost
            if self._exchange(j, lost, takeover.since_s, time_s, "turn", lost=j):
                boxes, colours, clean = self.history.samples(lost)
                tail = boxes[:, 0] > takeover.since_s
                self.relinker.hand_tail(j, lost, takeover.since_s, boxes[tail], colours[tail], clean[tail])

    def _split(self, time_s: float) -> None:
        """An identity that turned back onto someone else with no identity of its own (``tracking.splits``): its
        boxes since then are a new identity's (``new_id``), shown by its tracker id from now on, a young fragment
        in the re-linker (it may be someone lost before). Recorded with the swap repairs (the outputs relabel the
        rows since then); the settling stage moves the votes and crops given since (``on_split``)."""
        for split in self.splits.decide(time_s):
            a, since_s = split.identity, split.since_s
            tracker_id = self.history.shown_by.get(a)
            if tracker_id is None or self.merger.identity_of(tracker_id) != a:
                continue
            new = self.new_id()
            members = self._written_as(a)
            self.merger.parent[tracker_id] = new
            self.history.split(a, new, since_s)
            boxes, colours, clean = self.history.samples(new)
            self.relinker.split_tail(a, new, since_s, boxes, colours, clean)
            self.relinker.rename_neighbours({a: new}, since_s)
            if self.handover is not None:
                self.handover.renamed({a: new}, apart=True)
            for detector in (self.swaps, self.jumps):
                detector.repaired((a, new))
            self.swaps_repaired.append({"identities": [a, new], "since_s": float(since_s), "at_s": float(time_s),
                                        "cue": "split", "written_as": [members, [new]]})
            log.info("identity %d turned back onto someone else at %.1fs: split, %d from then on", a, since_s, new)
            if self.on_split is not None and len(boxes):
                before = self.history.samples(a)[0]
                last = before[-1] if len(before) else boxes[0]
                self.on_split(a, new, since_s, self._in_picture(last), self._in_picture(boxes[0]))

    def _exchange(self, a: int, b: int, since_s: float, time_s: float, cue: str, lost: int | None = None) -> bool:
        """Identities ``a`` and ``b`` exchange their people from ``since_s`` on: the tracker ids that last showed
        each now show the other, the history's samples, the run.json record (``swaps_repaired``) and the settling
        stage (``on_exchange``) follow. False (nothing done) when those tracker ids no longer show them."""
        ta, tb = self.history.shown_by.get(a), self.history.shown_by.get(b)
        if ta is None or tb is None or self.merger.identity_of(ta) != a or self.merger.identity_of(tb) != b:
            return False
        members = [self._written_as(a), self._written_as(b)]  # before the exchange rewires anything
        self.merger.parent[ta], self.merger.parent[tb] = b, a
        self.history.exchange(a, b, since_s, lost)
        self.relinker.rename_neighbours({a: b, b: a}, since_s)
        if self.handover is not None:
            self.handover.renamed({a: b, b: a})
        self.jumps.repaired((a, b))
        self.swaps.repaired((a, b))
        self.swaps_repaired.append({"identities": [a, b], "since_s": float(since_s), "at_s": float(time_s),
                                    "cue": cue, "written_as": members})
        if self.on_exchange is not None:
            self.on_exchange(a, b, since_s)
        return True

    def _written_as(self, identity: int) -> list[int]:
        """The ids the outputs have written so far for ``identity``: its own and those of the identities merged into
        it until now (a track re-linked into it was written under its own id before the link). A swap repair's rows
        are exchanged by these ids: exchanging only the two numbers left such a track's rows with the identity that
        gave its person away, beside the rows now given to it (one id twice in a frame)."""
        into = {m.track_id: m.into for m in self.merger.merges}

        def now(i: int) -> int:
            seen: set[int] = set()
            while i in into and i not in seen:
                seen.add(i)
                i = into[i]
            return i

        return sorted({identity} | {i for i in into if now(i) == identity})

    def trackers_showing(self, identities: set[int], candidates: set[int]) -> set[int]:
        """Of ``candidates`` (tracker ids) and the tracker ids mapped to ``identities``, those that now show one
        of ``identities`` (after a swap repair a tracker id shows another identity than its own number)."""
        mapped = {t for t, i in self.merger.parent.items() if i in identities}
        return {t for t in candidates | mapped if self.merger.identity_of(t) in identities}

    def _colours_disagree(self, track_id: int, identity: int) -> bool:
        frags = self.relinker.fragments if self.relinker is not None else {}
        a, b = frags.get(track_id), frags.get(identity)
        if a is None or b is None or not a.any_n or not b.any_n:
            return False
        return float(colour_distance(a.colour, b.colour)) > self.colour_veto

    def _bodies_disagree(self, link: Link) -> bool:
        """With a Re-ID model: a link whose body signatures are less similar than ``body_veto`` is refused."""
        a = self.merger.signatures.get(link.track_id)
        b = self.merger.signatures.get(link.into)
        body_a, body_b = (a.body_mean if a else None), (b.body_mean if b else None)
        if body_a is None or body_b is None or len(body_a) != len(body_b):
            return False
        return float(body_a @ body_b) < self.merger.body_veto

    def _one_box_per_identity(self, dets: Detections, raw: np.ndarray) -> None:
        """Boxes that stand for a person (person rows, faces without a person) sharing an identity in one frame
        (a revived older track and its newer continuation): one keeps it (a person row before a lone face, then
        the newest track); the other tracks' rows get -1."""
        standing = np.flatnonzero((dets.track_id >= 0) & (dets.is_person | (dets.pair < 0)))
        ids = dets.track_id[standing]
        if len(ids) < 2 or len(np.unique(ids)) == len(ids):
            return
        losers = set()
        for identity in np.unique(ids):
            rows = standing[ids == identity]
            if len(rows) > 1:
                keep = max(rows, key=lambda r: (bool(dets.is_person[r]), int(raw[r])))
                losers.update(int(raw[r]) for r in rows if raw[r] != raw[keep])
        drop = np.isin(raw, list(losers))
        self.conflicts += int(np.count_nonzero(drop & dets.is_person))
        dets.track_id[drop] = -1

    def _faces_to_embed(self, image: np.ndarray, dets: Detections, raw: np.ndarray, time_s: float) -> np.ndarray:
        """Rows of whole, big-enough faces of tracks whose signature still needs samples."""
        faces = np.flatnonzero(dets.is_face & (raw >= 0))
        boxes = dets.xyxy[faces]
        height, width = image.shape[:2]
        whole = (boxes[:, 0] > EDGE_PX) & (boxes[:, 1] > EDGE_PX) & (boxes[:, 2] < width - EDGE_PX) \
            & (boxes[:, 3] < height - EDGE_PX) & ((boxes[:, 3] - boxes[:, 1]) >= self.config.min_face_px)
        faces = faces[whole]
        wanted = [self.merger.needs_embedding(int(raw[r]), time_s) for r in faces]
        faces = faces[np.asarray(wanted, dtype=bool)] if len(faces) else faces
        faces = self._within_budget(faces, raw)
        if self.face_gate is not None and len(faces):
            self.face_gate(image, dets, faces)
            return faces[dets.face_ok[faces] == ACCEPTED]
        return faces[dets.face_ok[faces] != REJECTED]

    def _within_budget(self, faces: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """At most ``max_face_embeddings_per_frame`` of the face rows: those whose identity has the fewest samples
        (then the longest wait since its last one), so every identity gets its signature in turn."""
        budget = self.config.max_face_embeddings_per_frame
        if budget <= 0 or len(faces) <= budget:
            return faces
        keys = []
        for row in faces:
            signature = self.merger.signatures.get(self.merger.identity_of(int(raw[row])))
            samples = signature.samples if signature is not None else 0
            last = signature.last_sample_s if signature is not None and samples else -np.inf
            keys.append((samples, last, int(raw[row])))
        return faces[lowest_first(keys, budget)]

    def _report(self, merge: Merge | None, cue: str) -> None:
        if merge is None:
            return
        merge.cue = cue
        if self.relinker is not None:
            self.relinker.absorb(merge.track_id, merge.into)
        if self.handover is not None:
            self.handover.absorb(merge.track_id, merge.into)
        log.info("track %d is identity %d (%s, similarity %.3f, gap %.1fs): merged", merge.track_id, merge.into, cue,
                 merge.similarity, max(merge.gap_s, 0.0))
        if self.on_merge is not None:
            self.on_merge(merge.track_id, merge.into)

    def forget(self, identity_ids: set[int]) -> None:
        """Identities that left memory can no longer be merged into."""
        self.merger.forget(identity_ids)
        if self.relinker is not None:
            self.relinker.forget(identity_ids)
        if self.history is not None:
            self.history.forget(identity_ids)
            self.swaps.forget(identity_ids)
            self.jumps.forget(identity_ids)
            self.takeovers.forget(identity_ids)
            if self.splits is not None:
                self.splits.forget(identity_ids)
        if self.handover is not None:
            self.handover.forget(identity_ids)

    def report(self) -> dict:
        """For run.json: the threshold and every merge made (``cue``: face, body or motion+colour)."""
        return {"enabled": True, "threshold": self.merger.threshold, "count": len(self.merger.merges),
                "relink": self.relinker is not None, "conflicts": self.conflicts,
                "relink_colour_limit": None if self.relinker is None else round(self.relinker.colour_limit(), 3),
                "swaps_repaired": self.swaps_repaired,
                "merges": [m.as_dict() for m in self.merger.merges]}

    def _in_picture(self, box: np.ndarray) -> np.ndarray:
        """(4,) xyxy where the picture showed a history sample ``box`` (t, cx, cy, w, h) in scene coordinates."""
        xyxy = _xyxy(box)
        if self.camera is None:
            return xyxy
        return self.camera.to_picture(float(box[0]), xyxy[None])[0].astype(xyxy.dtype)


def _xyxy(box: np.ndarray) -> np.ndarray:
    """(4,) x1, y1, x2, y2 of a history box (t, cx, cy, w, h)."""
    _, cx, cy, w, h = box
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)
