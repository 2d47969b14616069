"""Remote and live sources: HTTP video files, dropped streams (reconnect with back-off), corrupt frames."""

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

import demo
from mivolo.core.config import SourceConfig
from mivolo.sources import VideoSource, open_source


class RangeFileHandler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range (FFmpeg seeks to the end of an mp4 for its index)."""

    def send_head(self):
        path = self.translate_path(self.path)
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return None
        start, end = 0, len(data) - 1
        if self.headers.get("Range"):
            first, _, last = self.headers["Range"].split("=")[1].partition("-")
            start, end = int(first or 0), int(last) if last else len(data) - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        import io

        return io.BytesIO(data[start:end + 1])

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server(sample_clip):
    clip, _ = sample_clip
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeFileHandler, directory=str(clip.parent)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{clip.name}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_video_file_over_http_is_read_once(http_server, sample_clip, tmp_path):
    source = open_source(SourceConfig(input=http_server))
    assert source.info.kind == "url" and source.info.length and not source.info.rewindable
    source.close()
    out = tmp_path / "out"
    assert demo.main(["--input", http_server, "--output", str(out), "--no-progress"]) == 0
    assert json.loads((out / "identities.json").read_text())["count"] == sample_clip[1]


class FakeCapture:
    """Opens succeed or fail from a script; each open yields some frames, then the stream drops."""

    script: list[int] = []  # frames per open; -1 = this open fails

    def __init__(self, target):
        self.frames = FakeCapture.script.pop(0) if FakeCapture.script else -1

    def isOpened(self):
        return self.frames >= 0

    def get(self, prop):
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0

    def read(self):
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self):
        pass


def test_dropped_stream_reconnects_with_backoff_then_stops(monkeypatch):
    monkeypatch.setattr("mivolo.sources.cv2.VideoCapture", FakeCapture)
    FakeCapture.script = [5, -1, 3, -1, -1, -1]  # 5 frames, drop, one failed retry, 3 frames, drop, gives up
    source = VideoSource("rtsp://camera/stream", "stream", "camera", SourceConfig(reconnect_attempts=3,
                                                                                  reconnect_backoff_s=0.01))
    frames = list(source)
    assert len(frames) == 8 and [f.index for f in frames] == list(range(8))
    assert source.stats.reconnects == 1
    assert source.stats.gaps[0]["after_frame"] == 5 and source.stats.gaps[0]["attempts"] == 2
    assert all(b.time_s >= a.time_s for a, b in zip(frames, frames[1:], strict=False))  # the stream clock


def test_corrupt_frame_in_the_middle_is_skipped_and_counted(tmp_path):
    path = tmp_path / "mjpeg.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(20):
        writer.write(np.full((120, 160, 3), i * 10, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[10]:starts[10] + 200] = b"\x00" * 200  # break frame 10's JPEG
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert demo.main(["--input", str(path), "--output", str(out), "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["source"]["corrupt_frames_skipped"] == 1 and run["frames_processed"] == 19
