"""The face-signature merge threshold joins no two different people among real faces (and keeps most re-entries)."""

import pytest

from benchmarks.face_gate import SHARED
from mivolo.core.config import MergeConfig

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (SHARED / "real" / "intel").is_dir(),
                                                   reason="../shared/data is not present")]


def test_default_threshold_makes_no_false_merge_on_real_pairs():
    from benchmarks.merge_calibration import run

    result = run()
    at_default = next(r for r in result["by_threshold"] if r["threshold"] == MergeConfig.threshold)
    assert result["different_people_utkface"]["n"] > 2000 and result["same_person"]["n"] > 100
    assert at_default["false_merges"] == 0  # measured: 0 of 2978 different-person pairs
    assert at_default["miss_rate"] <= 0.1  # measured: 3.5 % of same-person pairs below it
    looser = next(r for r in result["by_threshold"] if r["threshold"] == 0.93)
    assert looser["false_merges"] > 0  # the pairs are hard enough that a careless threshold would fail
