
"""A long stream keeps per-identity state bounded: identities that are gone are written out and forgotten."""

import json

import cv2
import pytest

from mivolo import Pipeline, PipelineConfig
from mivolo.core.structures import Frame
from mivolo.pipeline import default_sinks
from mivolo.sources import Source, SourceInfo


class LoopingStream(Source):
    def __init__(self, clip, loops: int) -> None:
        super().__init__()
        capture = cv2.VideoCapture(str(clip))
        self.images = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            self.images.append(image)
        self.loops = loops
        self.info = SourceInfo("stream", "loop", 8.0, None, False, False)

    def _frames(self):
        for index in range(len(self.images) * self.loops):
            yield Frame(index, index / 8.0, self.images[index % len(self.images)])


class LiveStateProbe:
    """A sink that records how many identities the settling stage holds in memory after each frame."""

    def __init__(self) -> None:
        self.live: list[int] = []
        self.retired_mid_run = 0

    def open(self, run) -> None:
        pass

    def write(self, frame, dets, identities) -> None:
        self.live.append(len(identities.tracks))
        self.retired_mid_run += len(identities.finished)

    def close(self, summary) -> None:
        self.left_at_close = len(summary.view.tracks)

    def abort(self) -> None:
        pass


@pytest.mark.slow
def test_state_does_not_grow_with_stream_length(sample_clip, tmp_path):
    clip, people = sample_clip
    config = PipelineConfig()
    config.output.dir = str(tmp_path / "out")
    config.output.save_json = True
    config.runtime.progress = False
    config.settle.forget_after_s = 2.0
    probe = LiveStateProbe()
    pipeline = Pipeline(config, sinks=lambda cfg, source: [*default_sinks(cfg, source), probe])
    source = LoopingStream(clip, loops=3)
    summary = pipeline.run(source)
    assert summary.frames == len(source.images) * 3
    assert max(probe.live) <= people + 2  # never more than who is on screen (+ a little), whatever the length
    assert probe.retired_mid_run >= people  # people who left were written out during the run, not at the end
    rows = json.loads((tmp_path / "out" / "identities.json").read_text())["identities"]
    assert len(rows) >= people  # forgotten identities are still in the outputs
    assert probe.left_at_close == 0  # everything finalised at the end
