"""Helpers of benchmarks/relink_colours.py: how re-links are judged against the ground truth, colour pairs."""

import numpy as np

from benchmarks.relink_colours import colour_pairs, gt_of_boxes, judge_links


def box_rows(frames: range, raw: int, identity: int, x: float) -> list[list[float]]:
    return [[f, raw, identity, x, 100, x + 40, 200] for f in frames]


def gt_rows(frames: range, person: int, x: float) -> list[list[float]]:
    return [[f, person, x, 100, 40, 100, 1, 1, 1] for f in frames]


def test_a_relink_is_judged_by_who_each_side_showed():
    records = np.array(box_rows(range(1, 11), 1, 1, 100) + box_rows(range(13, 21), 2, 1, 300)
                       + box_rows(range(1, 11), 4, 4, 600) + box_rows(range(13, 21), 5, 4, 800), float)
    gt = np.array(gt_rows(range(1, 11), 7, 100) + gt_rows(range(13, 21), 7, 300)  # the same person
                  + gt_rows(range(1, 11), 8, 600) + gt_rows(range(13, 21), 9, 800), float)  # two people
    truth = gt_of_boxes(records, gt)
    assert set(truth.tolist()) == {7, 8, 9}
    merges = [{"cue": "motion+colour", "from": 2, "into": 1}, {"cue": "motion+colour", "from": 5, "into": 4},
              {"cue": "face", "from": 5, "into": 1}]
    assert judge_links(merges, records, truth) == {"right": 1, "wrong": 1}
    assert judge_links(merges[:1], records, np.full(len(records), -1)) == {"unknown": 1}


def test_colour_pairs_counts_pairs_within_the_limit():
    image = np.zeros((200, 400, 3), np.uint8)
    image[:, :100] = (30, 30, 220)
    image[:, 100:200] = (30, 30, 220)
    image[:, 200:300] = (40, 200, 40)
    boxes = np.array([[0, 0, 100, 200], [100, 0, 200, 200], [200, 0, 300, 200]], float)
    result = colour_pairs([(image, boxes)], 0.35)
    assert result["pairs"] == 3 and result["within_limit"] == round(1 / 3, 3)
