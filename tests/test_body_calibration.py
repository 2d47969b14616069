"""Body-only (Re-ID) merges join no two different people on real footage at the default threshold."""

import pytest

from benchmarks.body_calibration import CLIP
from benchmarks.real import WEIGHTS
from mivolo.core.config import MergeConfig

OSNET = WEIGHTS / "osnet_x0_25_msmt17.onnx"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CLIP.is_dir() and OSNET.is_file()),
                                                   reason="../shared/data is not present")]


def test_default_body_threshold_makes_no_false_merge_on_real_pairs():
    from benchmarks.body_calibration import run

    result = run(OSNET, min_gap_s=3.0, frames=400)
    assert result["different_people"]["n"] > 5000 and result["same_person"]["n"] > 50
    at_default = next(r for r in result["by_threshold"] if r["threshold"] == MergeConfig.body_threshold)
    assert at_default["false_merges"] == 0
    old = next(r for r in result["by_threshold"] if r["threshold"] == 0.85)
    assert old["false_merge_rate"] > 0.005  # what the earlier 0.85 did: body signatures of people look alike
