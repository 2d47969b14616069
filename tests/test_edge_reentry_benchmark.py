"""Helpers of benchmarks/edge_reentry.py: which (leaving, coming in) pairs at an edge a re-entry rule would judge."""

import numpy as np

from benchmarks.edge_reentry import BOTTOM, LEFT, RIGHT, TOP, edge_pairs, edges_at, summary

W, H = 640, 480


def rows(frames: range, person: int, x: float, y: float = 200.0, h: float = 100.0) -> list[list[float]]:
    return [[f, person, x, y, 40, h, 1, 1, 1] for f in frames]


def test_edges_at():
    assert edges_at(np.array([5, 200, 40, 100]), W, H) == LEFT
    assert edges_at(np.array([W - 50, 200, 40, 100]), W, H) == RIGHT  # its side 10 px (a quarter width) from it
    assert edges_at(np.array([W - 70, 200, 40, 100]), W, H) == 0
    assert edges_at(np.array([5, 10, 40, 100]), W, H) == LEFT | TOP
    assert edges_at(np.array([300, H - 110, 40, 100]), W, H) == BOTTOM


def test_pairs_at_one_edge_within_the_gates():
    gt = np.array(rows(range(1, 41), 1, 300)  # in the picture all along: never leaves, never comes in
                  + rows(range(1, 11), 2, W - 42) + rows(range(31, 41), 2, W - 42, y=230)  # out 2.1 s, back 30 px on
                  + rows(range(1, 11), 3, 2)  # leaves at the left edge: no one comes in there
                  + rows(range(21, 41), 4, W - 42)  # someone else comes in where 2 left, 1.1 s later
                  + rows(range(15, 41), 5, W - 42, y=20, h=200), float)  # comes in there too, but twice as tall
    pairs = edge_pairs(gt, 10.0, W, H)
    assert [(p["leaving"], p["coming_in"], p["frames"], p["gap_s"]) for p in pairs] == [
        (2, 2, [10, 31], 2.1), (2, 4, [10, 21], 1.1)]
    assert pairs[0]["along"] == round(30 / 100 / (1.0 + 0.25 * 2.1), 3)
    late = np.array(rows(range(1, 11), 2, W - 42) + rows(range(70, 80), 2, W - 42) + rows(range(1, 80), 1, 300),
                    float)
    assert edge_pairs(late, 10.0, W, H) == []  # 6 s out: longer than the rule would wait


def test_summary_says_whether_colours_separate():
    pairs = [{"leaving": 1, "coming_in": 1, "colour": 0.2}, {"leaving": 1, "coming_in": 2, "colour": 0.15},
             {"leaving": 3, "coming_in": 4, "colour": 0.6}, {"leaving": 5, "coming_in": 5, "colour": None}]
    result = summary(pairs)
    assert (result["same_person"], result["different_people"], result["separable"]) == (1, 2, False)
    assert result["different_closer_than_every_same"] == 1
    assert summary(pairs[:1] + pairs[2:])["separable"] is True
