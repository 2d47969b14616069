"""A long stream keeps per-identity state bounded: identities that are gone are written out and forgotten."""

import json

import cv2

from mivolo import Pipeline, PipelineConfig
from mivolo.sources import Source, SourceInfo
from mivolo.structures import Frame
from tracking import identities as identities_module


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


def test_state_does_not_grow_with_stream_length(sample_clip, tmp_path, monkeypatch):
    clip, people = sample_clip
    live_counts = []
    original = identities_module.Identities.update

    def counting_update(self, *args, **kwargs):
        original(self, *args, **kwargs)
        live_counts.append(len(self.tracks))

    monkeypatch.setattr(identities_module.Identities, "update", counting_update)
    config = PipelineConfig()
    config.output.dir = str(tmp_path / "out")
    config.output.save_json = True
    config.runtime.progress = False
    config.settle.forget_after_s = 2.0
    pipeline = Pipeline(config)
    source = LoopingStream(clip, loops=3)
    summary = pipeline.run(source)
    assert summary.frames == len(source.images) * 3
    assert max(live_counts) <= people + 2  # never more than who is on screen (+ a little), whatever the length
    rows = json.loads((tmp_path / "out" / "identities.json").read_text())["identities"]
    assert len(rows) >= people  # forgotten identities are still in the outputs
    assert len(pipeline.merger.signatures) == 0  # everything finalised at the end
