"""Re-linking of track fragments (tracking.relink) and its place in the merge stage (MergeStep)."""

import numpy as np
import pytest
import yaml

from mivolo.core.config import MergeConfig, TrackerConfig
from mivolo.core.errors import UserError
from mivolo.core.structures import PERSON, Detections
from tracking import MergeStep, Tracker
from tracking.relink import Relinker, colour_distance, colour_signature

W, H = 640, 480
RED, BLUE, GREEN, GREY = (30, 30, 220), (220, 40, 30), (40, 200, 40), (128, 128, 128)


def person_box(cx: float, cy: float = 240.0, h: float = 120.0) -> np.ndarray:
    return np.array([[cx - h / 5, cy - h / 2, cx + h / 5, cy + h / 2]], np.float32)


def frame_with(boxes: list[tuple[np.ndarray, tuple, tuple]]) -> np.ndarray:
    """A grey frame with each person box painted: upper body one colour, lower body another."""
    image = np.full((H, W, 3), 90, np.uint8)
    for box, top, bottom in boxes:
        x1, y1, x2, y2 = np.round(box[0]).astype(int)
        mid = (y1 + y2) // 2
        image[y1:mid, x1:x2] = top
        image[mid:y2, x1:x2] = bottom
    return image


def walk(relinker: Relinker, identity: int, start_s: float, xs: list[float], colours=(RED, BLUE), dt: float = 0.1,
         others: list | None = None) -> list:
    """Show ``identity`` at x positions ``xs`` (one per frame, ``dt`` apart); returns the links decided."""
    links = []
    for k, x in enumerate(xs):
        t = start_s + k * dt
        box = person_box(x)
        relinker.observe(frame_with([(box, *colours)]), t, np.array([identity]), box)
        for link in relinker.decide(t):  # as the merge stage does: the fragment joins the identity
            relinker.absorb(link.track_id, link.into)
            links.append(link)
    return links


def test_colour_signature_tells_clothes_apart():
    box = person_box(300)
    same = colour_signature(frame_with([(box, RED, BLUE)]), box)
    again = colour_signature(frame_with([(box, RED, BLUE)]), box)
    other = colour_signature(frame_with([(box, GREEN, GREY)]), box)
    swapped = colour_signature(frame_with([(box, BLUE, RED)]), box)  # same colours, other halves
    assert colour_distance(same[0], again[0]) < 0.05
    assert colour_distance(same[0], other[0]) > 0.8
    assert colour_distance(same[0], swapped[0]) > 0.8


def test_fragment_where_motion_predicts_with_same_colours_is_linked():
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])  # 100 px/s to the right, last seen at x=190, t=0.9
    links = walk(relinker, 2, 1.5, [250 + 10 * k for k in range(5)])  # 0.6 s gap, predicted x=250
    assert [(link.track_id, link.into) for link in links] == [(2, 1)]
    assert links[0].gap_s == pytest.approx(0.6) and links[0].similarity > 0.9


def test_fragment_with_different_colours_is_refused():
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    assert walk(relinker, 2, 1.5, [250 + 10 * k for k in range(5)], colours=(GREEN, GREY)) == []


def test_fragment_far_from_the_prediction_is_refused():
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    assert walk(relinker, 2, 1.5, [520 + 10 * k for k in range(5)]) == []  # 270 px (2.25 heights) off
    relinker = Relinker(max_gap_s=2.0)
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    assert walk(relinker, 3, 5.0, [600 - 10 * k for k in range(5)]) == []  # gone too long


def test_tracks_that_coexisted_are_never_linked():
    relinker = Relinker()
    links = []
    for k in range(15):  # 2 shows up next to 1 (same clothes, where 1 is heading), then 1 is lost after frame 9
        t = k * 0.1
        boxes = [person_box(100 + 10 * k)] if k < 10 else []
        ids = [1] if k < 10 else []
        if k >= 8:
            boxes.append(person_box(108 + 10 * k))
            ids.append(2)
        image = frame_with([(b, RED, BLUE) for b in boxes])
        relinker.observe(image, t, np.array(ids), np.concatenate(boxes))
        links += relinker.decide(t)
    assert links == []


def test_two_lookalike_candidates_are_ambiguous():
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    walk(relinker, 3, 0.0, [110 + 10 * k for k in range(10)])  # another person in the same clothes, 10 px on
    assert walk(relinker, 2, 1.5, [255 + 10 * k for k in range(5)]) == []


def persons(xyxy: np.ndarray, ids: list[int]) -> Detections:
    dets = Detections.from_boxes(xyxy, np.full(len(xyxy), 0.9, np.float32), PERSON)
    dets.track_id[:] = ids
    return dets


def test_merge_step_links_without_a_face_embedder_and_reports_it():
    merged = []
    step = MergeStep(MergeConfig(), None, 60.0, None, lambda a, b: merged.append((a, b)))
    for k in range(10):
        box = person_box(100 + 10 * k)
        step(frame_with([(box, RED, BLUE)]), k * 0.1, persons(box, [1]))
    out = []
    for k in range(5):
        box = person_box(250 + 10 * k)
        out.append(int(step(frame_with([(box, RED, BLUE)]), 1.5 + k * 0.1, persons(box, [7])).track_id[0]))
    assert merged == [(7, 1)] and out[-1] == 1 and out[0] == 7  # decided once the fragment has 3 boxes
    report = step.report()
    assert report["count"] == 1 and report["merges"][0]["cue"] == "motion+colour"
    assert report["relink_colour_limit"] == 0.35  # one person at a time: no pairs to calibrate on
    # the old track comes back while its continuation is on screen: one box keeps the identity
    boxes = np.concatenate([person_box(300), person_box(500)])
    dets = step(frame_with([(boxes[:1], RED, BLUE), (boxes[1:], RED, BLUE)]), 2.1, persons(boxes, [7, 1]))
    assert dets.track_id.tolist() == [1, -1]


def test_merge_step_relink_can_be_switched_off():
    config = MergeConfig()
    config.relink = False  # the MergeConfig field (getattr default: on)
    step = MergeStep(config, None, 60.0)
    for k in range(10):
        box = person_box(100 + 10 * k)
        step(frame_with([(box, RED, BLUE)]), k * 0.1, persons(box, [1]))
    for k in range(5):
        box = person_box(250 + 10 * k)
        dets = step(frame_with([(box, RED, BLUE)]), 1.5 + k * 0.1, persons(box, [7]))
    assert dets.track_id.tolist() == [7]


def test_track_buffer_in_seconds(tmp_path):
    path = tmp_path / "botsort.yaml"
    path.write_text(yaml.safe_dump({"tracker_type": "botsort", "track_buffer_s": 2.0}))
    for fps, frames in ((7, 14), (30, 60)):
        tracker = Tracker(TrackerConfig(tracker=str(path)), fps)
        assert tracker.params["track_buffer"] == 60 and tracker.persons.max_time_lost == frames
    path.write_text(yaml.safe_dump({"tracker_type": "ocsort", "track_buffer_s": 2.0}))
    assert Tracker(TrackerConfig(tracker=str(path)), 10).params["max_age"] == 20
    path.write_text(yaml.safe_dump({"tracker_type": "botsort", "track_buffer_s": 2.0, "track_buffer": 30}))
    with pytest.raises(UserError, match="not both"):
        Tracker(TrackerConfig(tracker=str(path)), 10)


def long_gap_case(young_step: float, beside: bool = False) -> list:
    """Identity 1 walks right at 100 px/s until t=0.9 s (x=190); 2 s later identity 2 appears at x=390, where the
    constant-velocity path puts 1, and walks ``young_step`` px per 0.1 s, optionally next to a third person."""
    relinker = Relinker(max_gap_s=3.0)
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    links, young = [], 2  # after a link the merge stage shows the young track under the identity it joined
    for k in range(15):
        t = 2.9 + 0.1 * k
        box = person_box(390 + young_step * k)
        boxes, ids = box, np.array([young])
        if beside:
            neighbour = person_box(390 + young_step * k + 60)  # half a box height away
            boxes, ids = np.vstack([box, neighbour]), np.array([young, 3])
            image = frame_with([(box, RED, BLUE), (neighbour, GREEN, GREY)])
        else:
            image = frame_with([(box, RED, BLUE)])
        relinker.observe(image, t, ids, boxes)
        for link in relinker.decide(t):
            relinker.absorb(link.track_id, link.into)
            links.append(link)
            young = link.into
    return links


def test_after_a_long_gap_both_paths_must_meet():
    linked = long_gap_case(young_step=10)  # came from where 1 was going: its own way back leads to 1
    assert [(link.track_id, link.into) for link in linked] == [(2, 1)] and linked[0].gap_s == pytest.approx(2.0)
    assert long_gap_case(young_step=-10) == []  # at the right place, but walking back towards where 1 never was


def turn_case(young_x: float) -> list:
    """Identity 1 walks right at 100 px/s until t=0.9 s (x=190, y=240), then turns to walk down at 60 px/s
    unseen; 1.1 s later track 2 appears at (``young_x``, 306) walking down. 1's forward prediction (x=300, y=240)
    misses it; 2's own way back leads to where 1 was last seen when ``young_x`` is 190."""
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    return young_links(relinker, 2.0, [(young_x, 306 + 6 * k) for k in range(12)])


def young_links(relinker: Relinker, start_s: float, centres: list[tuple[float, ...]]) -> list[tuple[int, int]]:
    """Track 2 seen at ``centres`` from ``start_s`` on, 0.1 s apart (shown under the identity it joined, once
    linked, as the merge stage does); returns the (track, identity) links decided."""
    links, young = [], 2
    for k, centre in enumerate(centres):  # (cx, cy) or (cx, cy, height)
        t = start_s + 0.1 * k
        box = person_box(*centre)
        relinker.observe(frame_with([(box, RED, BLUE)]), t, np.array([young]), box)
        for link in relinker.decide(t):
            relinker.absorb(link.track_id, link.into)
            links.append((link.track_id, link.into))
            young = link.into
    return links


def test_after_a_turn_the_way_back_alone_links_when_it_meets_closely():
    assert turn_case(young_x=190) == [(2, 1)]
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    assert young_links(relinker, 2.0, [(190.0, 240.0)] * 12) == []  # standing where 1 vanished: its way back is
    # its own spot, which says nothing of where it came from
    assert turn_case(young_x=130) == []  # its way back passes 0.5 box heights from 1: within the usual gate, not
    # within the tighter one a link on the way back alone needs


def test_a_last_stretch_where_the_box_grew_over_someone_else_is_not_trusted():
    """1 walks right at 100 px/s; in its last 0.2 s the tracker's box grows half as tall again and slides back
    (onto someone who is not tracked): its person shows up where the straight walk leads, at its own size."""
    relinker = Relinker()
    for k in range(12):
        t = 0.1 * k
        box = person_box(100 + 100 * t) if k < 10 else person_box(170, cy=215, h=180)
        relinker.observe(frame_with([(box, RED, BLUE)]), t, np.array([1]), box)
    assert len(relinker.fragments[1].trusted()) == 10
    links = walk(relinker, 2, 1.7, [270 + 10 * k for k in range(5)])  # 0.6 s after 1 was last seen
    assert [(link.track_id, link.into) for link in links] == [(2, 1)]
    at_30_fps = Relinker()  # the 12 boxes kept are 0.4 s: a 0.17 s jump is 5 of them
    for k in range(12):
        box = person_box(100 + 10 * k / 3) if k < 7 else person_box(110, cy=215, h=180)
        at_30_fps.observe(frame_with([(box, RED, BLUE)]), k / 30, np.array([1]), box)
    assert at_30_fps.fragments[1].trusted()[:, 4].max() == pytest.approx(120, abs=2)
    for heights in ([80] * 6 + [120] * 6, [80] * 3 + [110] * 3 + [120] * 6):  # coming out from behind something
        coming_out = Relinker()  # (or a box that grew over someone for as long as it was steady: no telling)
        for k, h in enumerate(heights):
            box = person_box(100 + 10 * k, cy=240 - h / 2, h=h)
            coming_out.observe(frame_with([(box, RED, BLUE)]), 0.1 * k, np.array([1]), box)
        assert len(coming_out.fragments[1].trusted()) == 12


def test_after_a_long_gap_a_track_born_beside_someone_is_not_linked():
    assert long_gap_case(young_step=10, beside=True) == []  # it may be the neighbour's track that swapped


def test_after_a_short_gap_a_track_born_beside_someone_is_not_linked_either():
    """Where 1 was going, 0.3 s later, but with someone half a box height away: it may be that person's track."""
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    links = []
    for k in range(5):
        t = 1.2 + 0.1 * k
        box, neighbour = person_box(220 + 10 * k), person_box(280 + 10 * k)
        image = frame_with([(box, RED, BLUE), (neighbour, GREEN, GREY)])
        relinker.observe(image, t, np.array([2, 3]), np.vstack([box, neighbour]))
        links += relinker.decide(t)
    assert links == []
    alone = Relinker()
    walk(alone, 1, 0.0, [100 + 10 * k for k in range(10)])
    assert [(link.track_id, link.into) for link in walk(alone, 2, 1.2, [220 + 10 * k for k in range(5)])] == [(2, 1)]


def beside_case(neighbour_turns: bool = False, gap_frames: int = 3, dt: float = 0.1,
                neighbour_new: bool = False) -> list[int]:
    """Through the merge step, a frame every ``dt`` seconds: 1 (red/blue) walks right at 100 px/s for 1 s, with
    3 (green/grey) walking alongside half a box height ahead; after ``gap_frames`` frames 1's person shows up as
    track 2 where 1's path leads, still beside 3. With ``neighbour_turns`` 3's boxes turn back from 2's birth on
    (as when a tracker's box moves onto someone else); with ``neighbour_new`` 3 is first seen when 1 is lost.
    Returns the identity shown for track 2 in each frame it is seen."""
    step = MergeStep(MergeConfig(), None, 1.0 / dt)
    seen = round(1.0 / dt)
    born, shown = seen + gap_frames, []
    for k in range(born + round(1.2 / dt)):
        t = dt * k
        nx = 160 + 100 * t if not (neighbour_turns and k > born) else 160 + 100 * dt * born - 300 * (t - dt * born)
        people = [(person_box(nx), GREEN, GREY, 3)] if not (neighbour_new and k < seen) else []
        if k < seen or k >= born:
            people.append((person_box(100 + 100 * t), RED, BLUE, 1 if k < seen else 2))
        xyxy = np.vstack([b for b, *_ in people])
        dets = Detections.from_boxes(xyxy, np.full(len(people), 0.9, np.float32), PERSON)
        dets.track_id[:] = [i for *_, i in people]
        out = step(frame_with([(b, top, bottom) for b, top, bottom, _ in people]), t, dets)
        shown += [int(i) for i, (*_, tid) in zip(out.track_id, people, strict=True) if tid == 2]
    return shown


def test_a_track_born_beside_someone_who_walked_on_is_linked():
    shown = beside_case()
    assert shown[-1] == 1 and shown[0] == 2  # judged once its neighbour was seen walking on for a moment


def test_a_track_born_beside_someone_is_linked_at_low_frame_rates_too():
    """At 3.3 fps the half second after its birth holds one frame of the neighbour: the check waits for two."""
    shown = beside_case(dt=0.3, gap_frames=1)
    assert shown[-1] == 1 and shown[0] == 2


def test_a_track_born_beside_someone_who_appeared_when_the_identity_was_lost_is_not_linked():
    assert set(beside_case(neighbour_new=True)) == {2}  # that neighbour may be the lost person as well


def test_a_track_born_beside_someone_whose_path_turned_is_not_linked():
    assert set(beside_case(neighbour_turns=True)) == {2}  # the neighbour's track may have jumped: it may be them


def test_a_track_born_beside_someone_after_a_long_gap_is_not_linked():
    assert set(beside_case(gap_frames=20)) == {2}


def met_case(**settings) -> list[tuple[int, int]]:
    """1 (red over blue) walks right at 100 px/s until t=0.9 s (x=190); 3 (green over grey) walks left at 100 px/s
    and meets it there; from t=1.0 to 1.5 the tracker's box of 1 follows 3 to the left, lying over 3's box, then
    1 is lost. 0.6 s later 2 shows up where 1's own walk leads (x=300), in 1's clothes, while 3 walks on."""
    relinker = Relinker(**settings)
    for k in range(16):
        t = 0.1 * k
        x3 = 330 - 100 * t
        one = person_box(100 + 100 * t) if k < 10 else person_box(x3 + 8)
        three = person_box(x3)
        relinker.observe(frame_with([(three, GREEN, GREY), (one, RED, BLUE)]), t, np.array([3, 1]),
                         np.vstack([three, one]))
    assert relinker.fragments[1].recent_covered().tolist() == [False] * 6 + [True] * 6
    links, young = [], 2
    for k in range(8):
        t = 2.1 + 0.1 * k
        two, three = person_box(310 + 10 * k), person_box(330 - 100 * t)
        relinker.observe(frame_with([(three, GREEN, GREY), (two, RED, BLUE)]), t, np.array([3, young]),
                         np.vstack([three, two]))
        for link in relinker.decide(t):  # shown under the identity it joined, as the merge stage does
            relinker.absorb(link.track_id, link.into)
            links.append((link.track_id, link.into))
            young = link.into
    return links


def test_a_lost_one_whose_box_followed_someone_it_met_is_also_looked_for_where_it_was_going_before():
    assert met_case() == [(2, 1)]
    assert met_case(meeting_s=-1.0) == []  # where its last boxes lead (back left, after 3) is far from 2


def test_covered_flags_follow_their_boxes_through_a_repaired_jump():
    """``exchange_tail``: identity 1 keeps its boxes up to the jump plus young 2's, each with its own covered flag;
    2 starts again from the boxes 1's tracker showed after the jump, covered where they were not clean."""
    relinker = Relinker()
    for k in range(8):  # 1 alone, then (from t=0.5) lying over 3's box
        t, one = 0.1 * k, person_box(100 + 10 * k)
        three = person_box(100 + 10 * k + (8 if k >= 5 else 200))
        relinker.observe(frame_with([(three, GREEN, GREY), (one, RED, BLUE)]), t, np.array([3, 1]),
                         np.vstack([three, one]))
    for k in range(3):  # 2 alone, far from 3
        t, two = 0.8 + 0.1 * k, person_box(500 + 10 * k)
        relinker.observe(frame_with([(two, RED, BLUE)]), t, np.array([2]), two)
    shown = relinker.fragments[1].recent()[5:]
    relinker.exchange_tail(1, 2, 0.45, shown, np.zeros((3, 2 * 36), np.float32), np.array([False, True, False]))
    assert relinker.fragments[1].recent()[:, 0].round(1).tolist() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.8, 0.9, 1.0]
    assert relinker.fragments[1].recent_covered().tolist() == [False] * 8
    assert relinker.fragments[2].recent_covered().tolist() == [True, False, True]
    relinker.absorb(2, 3)  # (both last seen at 0.7 s: the one folded in counts as the newer)
    assert relinker.fragments[3].recent_covered().tolist() == [True, False, True]  # the newer one's boxes


def emerging_case(heights: list[float]) -> list[tuple[int, int]]:
    """1 (120 px tall) walks right at 100 px/s until t=0.9 s; 0.6 s later 2 shows up where 1 was going, its feet
    on the same ground line, at ``heights`` (one per frame, then the last one on)."""
    relinker = Relinker()
    walk(relinker, 1, 0.0, [100 + 10 * k for k in range(10)])
    sizes = [heights[min(k, len(heights) - 1)] for k in range(8)]
    return young_links(relinker, 1.5, [(250 + 10 * k, 300 - h / 2, h) for k, h in enumerate(sizes)])


def test_a_young_track_is_sized_by_its_first_boxes_not_its_first_one_alone():
    assert emerging_case([75, 118, 120]) == [(2, 1)]  # coming out from behind someone: its first box cut short
    assert emerging_case([75]) == []  # a smaller person all along
    assert emerging_case([180]) == []  # a bigger one


def crowd_case(others: list[tuple]) -> tuple[list[tuple[int, int]], Relinker]:
    """1 (red over blue) walks right at 100 px/s until t=0.9 s, with two people in ``others``' clothes standing
    in the same frames (the lower half of the picture); 0.6 s later 2 shows up where 1 was going, in 1's clothes."""
    relinker = Relinker(scene_min_pairs=6)
    standing = [person_box(150, cy=400, h=100), person_box(450, cy=400, h=100)]
    links, young = [], 2
    for k in range(24):
        t = 0.1 * k
        if 10 <= k < 15:
            continue  # 1 is lost, 2 not yet found
        mine = person_box(100 + 100 * t)
        frame = frame_with([(mine, RED, BLUE), *((box, *c) for box, c in zip(standing, others))])
        ids = np.array([1 if k < 10 else young, 8, 9])
        relinker.observe(frame, t, ids, np.vstack([mine, *standing]))
        for link in relinker.decide(t):
            relinker.absorb(link.track_id, link.into)
            links.append((link.track_id, link.into))
            young = link.into
    return links, relinker


def test_where_clothes_cannot_tell_people_apart_colours_link_no_one():
    links, relinker = crowd_case([(GREEN, GREY), (BLUE, RED)])
    assert links == [(2, 1)] and relinker.colour_limit() == relinker.max_colour_dist
    links, relinker = crowd_case([(RED, BLUE), (RED, BLUE)])  # everyone dressed alike: motion alone would link
    assert links == [] and relinker.colour_limit() < 0.05
    assert Relinker().colour_limit() == Relinker().max_colour_dist  # no pairs seen yet: the usual limit
