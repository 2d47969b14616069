"""Frames from an image, a folder, a video file, a yt-dlp URL, an RTSP/HTTP stream or a webcam."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np

from mivolo.core.config import SourceConfig
from mivolo.core.errors import UserError
from mivolo.core.run import SourceInfo
from mivolo.core.structures import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".gif"}
LIVE_SUFFIXES = {".m3u8", ".mjpg", ".mjpeg", ".sdp"}  # HTTP live streams (reconnect on drop)
URL_SCHEMES = ("http", "https", "rtsp", "rtmp")
STREAM_SCHEMES = ("rtsp", "rtmp")
DEFAULT_FOLDER_FPS = 25.0
MAX_BAD_FRAMES_IN_A_ROW = 25


@dataclass
class SourceStats:
    frames_read: int = 0
    corrupt_frames_skipped: int = 0
    resized_frames: int = 0
    reconnects: int = 0
    gaps: list[dict] | None = None
    lost: bool = False  # a stream that dropped and did not come back within its reconnect attempts


class Source:
    """Iterable of Frame. Subclasses implement ``_frames``."""

    info: SourceInfo

    def __init__(self) -> None:
        self.stats = SourceStats(gaps=[])
        self._first_shape: tuple[int, ...] | None = None

    def __iter__(self) -> Iterator[Frame]:
        for frame in self._frames():
            yield self._normalise(frame)

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _normalise(self, frame: Frame) -> Frame:
        """Keep one frame size per run (the first one), so trackers and the video writer stay consistent."""
        self.stats.frames_read += 1
        if self.info.independent_frames:
            return frame
        if self._first_shape is None:
            self._first_shape = frame.image.shape
        elif frame.image.shape != self._first_shape:
            if self.stats.resized_frames == 0:
                log.warning("frame size changed mid-stream at frame %d: resizing to %dx%d",
                            frame.index, self._first_shape[1], self._first_shape[0])
            self.stats.resized_frames += 1
            h, w = self._first_shape[:2]
            return Frame(frame.index, frame.time_s, cv2.resize(frame.image, (w, h)))
        return frame

    def reopen(self) -> Source:
        """A fresh reader over the same input (for the second drawing pass)."""
        raise UserError(f"{self.info.kind} input cannot be read twice")

    def close(self) -> None:
        pass


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, 16-bit, alpha) as 8-bit 3-channel BGR."""
    if image.dtype != np.uint8:
        scale = 255.0 / max(float(np.iinfo(image.dtype).max if image.dtype.kind in "ui" else image.max() or 1), 1.0)
        image = np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return image


def read_image(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return None
    return to_bgr8(image)


class ImageSource(Source):
    def __init__(self, paths: list[Path], fps: float, as_video: bool, kind: str, name: str) -> None:
        super().__init__()
        self.paths = paths
        self.info = SourceInfo(kind=kind, name=name, fps=fps, length=len(paths), rewindable=True,
                               independent_frames=not as_video)
        self._as_video = as_video

    def _frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            image = read_image(path)
            if image is None or min(image.shape[:2]) < 2:
                self.stats.corrupt_frames_skipped += 1
                log.warning("skipping %s: not a readable image", path.name)
                continue
            yield Frame(index=index, time_s=index / self.info.fps if self._as_video else 0.0, image=image)

    def reopen(self) -> Source:
        return ImageSource(self.paths, self.info.fps, self._as_video, self.info.kind, self.info.name)


class VideoSource(Source):
    """A video file, a direct media URL, an RTSP/RTMP stream or a webcam through OpenCV/FFmpeg."""

    def __init__(self, target: str | int, kind: str, name: str, config: SourceConfig) -> None:
        super().__init__()
        self.target = target
        self.config = config
        self.capture = self._open()
        fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 1.0 <= fps <= 240.0:
            fps = config.fps or 25.0
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        live = kind in ("stream", "webcam")
        self.info = SourceInfo(kind=kind, name=name, fps=config.fps or fps, length=count if count > 0 and not live
                               else None, rewindable=kind == "video", independent_frames=False)

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            raise UserError(self._open_error())
        return capture

    def _open_error(self) -> str:
        if isinstance(self.target, int):
            return f"webcam {self.target} could not be opened (no such camera, or it is in use)"
        return f"cannot open {self.target}: not a video OpenCV/FFmpeg can decode, or the stream is unreachable"

    def _frames(self) -> Iterator[Frame]:
        live = self.info.kind in ("stream", "webcam")
        index = 0
        bad_in_a_row = 0
        start = time.monotonic()
        while True:
            ok, image = self.capture.read()
            if ok and image is not None and image.size:
                bad_in_a_row = 0
                time_s = (time.monotonic() - start) if live else index / self.info.fps
                yield Frame(index=index, time_s=time_s, image=to_bgr8(image))
                index += 1
                continue
            if live:
                if not self._reconnect(index, time.monotonic() - start):
                    return
                continue
            # A file: the end, or a corrupt frame in the middle (skip it if more frames follow).
            length = self.info.length or 0
            if index + self.stats.corrupt_frames_skipped + 1 < length and bad_in_a_row < MAX_BAD_FRAMES_IN_A_ROW:
                bad_in_a_row += 1
                self.stats.corrupt_frames_skipped += 1
                if self.stats.corrupt_frames_skipped == 1:
                    log.warning("corrupt frame near frame %d skipped", index)
                index += 1
                continue
            if length and index + self.stats.corrupt_frames_skipped + 1 < length:
                log.warning("video ends early: decoded %d of %d frames (truncated file?)", index, length)
            return

    def _reconnect(self, index: int, at_s: float) -> bool:
        self.capture.release()
        for attempt in range(1, self.config.reconnect_attempts + 1):
            delay = self.config.reconnect_backoff_s * 2 ** (attempt - 1)
            log.warning("stream dropped at frame %d; reconnect %d/%d in %.1fs", index, attempt,
                        self.config.reconnect_attempts, delay)
            time.sleep(delay)
            capture = cv2.VideoCapture(self.target)
            if capture.isOpened():
                self.capture = capture
                self.stats.reconnects += 1
                assert self.stats.gaps is not None
                self.stats.gaps.append({"after_frame": index, "at_s": round(at_s, 3), "attempts": attempt})
                return True
            capture.release()
        log.warning("stream did not come back after %d attempts; stopping", self.config.reconnect_attempts)
        self.stats.lost = True
        return False

    def reopen(self) -> Source:
        if not self.info.rewindable:
            return super().reopen()
        return VideoSource(self.target, self.info.kind, self.info.name, self.config)

    def close(self) -> None:
        self.capture.release()


def resolve_with_ytdlp(url: str) -> str:
    """The direct media URL behind a page URL (YouTube and others), through yt-dlp's Python API."""
    try:
        import yt_dlp
        from yt_dlp.utils import DownloadError
    except ImportError:  # pragma: no cover - yt-dlp is a dependency
        raise UserError("yt-dlp is not installed; it is needed for page URLs") from None
    options = {"quiet": True, "no_warnings": True, "noplaylist": True, "skip_download": True,
               "format": "best[ext=mp4][vcodec!=none]/best[vcodec!=none]/best", "socket_timeout": 15,
               "logger": _QuietYtdlpLogger()}
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except DownloadError as exc:
        raise UserError(f"cannot get a video from {url}: {_ytdlp_reason(exc)}") from None
    except Exception as exc:  # yt-dlp extractors raise many kinds
        raise UserError(f"cannot get a video from {url}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    if info is None:
        raise UserError(f"cannot get a video from {url}: yt-dlp found nothing")
    if info.get("entries"):
        info = next(iter(info["entries"]), None) or {}
    media = info.get("url")
    if not media:
        raise UserError(f"cannot get a video from {url}: no playable video format")
    return str(media)


class _QuietYtdlpLogger:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def _ytdlp_reason(exc: Exception) -> str:
    text = str(exc)
    cause = getattr(exc, "exc_info", None)
    inner = cause[1] if cause and len(cause) > 1 else None
    transport = inner is not None and "Transport" in type(inner).__name__
    if transport or any(s in text for s in ("Unable to download", "Failed to resolve", "Name or service not known")):
        return "the host cannot be reached (offline, or the address is wrong)"
    if "Unsupported URL" in text:
        return "this site is not supported by yt-dlp"
    return text.replace("ERROR: ", "").splitlines()[0]


def _check_url(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme.lower() not in URL_SCHEMES:
        raise UserError(f"unsupported URL scheme {parsed.scheme!r} (allowed: {', '.join(URL_SCHEMES)})")
    if not parsed.netloc:
        raise UserError(f"URL has no host: {text}")
    return parsed.scheme.lower()


def open_source(config: SourceConfig) -> Source:
    """The source for ``config.input``: webcam index, URL, folder, image or video file (UserError if unusable)."""
    text = config.input.strip()
    if not text:
        raise UserError("no input given (--input FILE, FOLDER, URL or webcam index)")
    if text.isdigit():
        return VideoSource(int(text), "webcam", f"webcam{text}", config)
    if "://" in text:
        return _open_url(text, config)
    path = Path(text).expanduser()
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise UserError(f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        fps = config.fps or DEFAULT_FOLDER_FPS
        return ImageSource(images, fps, config.as_video, "folder", path.name)
    if path.stat().st_size == 0:
        raise UserError(f"input file is empty: {path}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _open_image(path, config)
    return _open_video_file(path, config)


def _open_url(text: str, config: SourceConfig) -> Source:
    scheme = _check_url(text)
    name = urlparse(text).netloc
    suffix = Path(urlparse(text).path).suffix.lower()
    if scheme in STREAM_SCHEMES or suffix in LIVE_SUFFIXES:
        return VideoSource(text, "stream", name, config)
    if suffix in VIDEO_SUFFIXES:  # a video file over HTTP: read to its end, once
        return VideoSource(text, "url", name, config)
    return VideoSource(resolve_with_ytdlp(text), "url", name, config)


def _open_image(path: Path, config: SourceConfig) -> Source:
    image = read_image(path)
    if image is None:
        raise UserError(f"cannot decode image {path}")
    if min(image.shape[:2]) < 2:
        raise UserError(f"image {path} is {image.shape[1]}x{image.shape[0]} pixels: too small to hold a person")
    return ImageSource([path], config.fps or DEFAULT_FOLDER_FPS, False, "image", path.stem)


def _open_video_file(path: Path, config: SourceConfig) -> Source:
    source = VideoSource(str(path), "video", path.stem, config)
    ok, _ = source.capture.read()
    if not ok:
        source.close()
        raise UserError(f"cannot decode video {path}: no frame could be read (corrupt file or not a video)")
    return source.reopen()


class PrefetchedFrames:
    """Decode in a background thread so decoding overlaps inference; a bounded queue keeps memory flat."""

    _END = object()

    def __init__(self, source: Source, maxsize: int = 8) -> None:
        self.source = source
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="decoder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source:
                while not self.stop.is_set():
                    try:
                        self.queue.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer
            self.error = exc
        self._put_end()

    def _put_end(self) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(self._END, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        while True:
            item = self.queue.get()
            if item is self._END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2.0)
        self.source.close()
