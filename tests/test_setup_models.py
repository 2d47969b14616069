"""setup_models.py: the detector / age-gender catalog, downloads from a local server, --verify, --use -> demo.py."""

import hashlib
import json
import logging
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import demo
import setup_models
from mivolo.core import model_catalog
from mivolo.core.model_catalog import CATALOG, ROLES, STORE, find

ROOT = Path(__file__).resolve().parents[1]


class FileHandler(BaseHTTPRequestHandler):
    """Serves ``files[path]`` with HTTP Range support (resume), on 127.0.0.1 only; records the Range headers."""

    files: dict[str, bytes] = {}
    ranges: list[str | None] = []

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        FileHandler.ranges.append(self.headers.get("Range"))
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    FileHandler.files, FileHandler.ranges = {}, []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def serve(monkeypatch, server: str, name: str, body: bytes) -> None:
    """Point catalog entry ``name`` at the local server (the real catalog URL is never contacted)."""
    FileHandler.files[f"/{name}"] = body
    entries = {**model_catalog.BY_NAME, name: replace(find(name), url=f"{server}/{name}")}
    monkeypatch.setattr(model_catalog, "BY_NAME", entries)


def test_catalog_is_complete_and_honest():
    names = [m.name for m in CATALOG]
    assert len(names) == len(set(names)) and len({m.filename for m in CATALOG}) == len(CATALOG)
    assert {"yolov8x_person_face", "yolov8n", "yolov8x", "yolox_nano", "yolox_x", "yolov8n_face",
            "mivolo_imdb_face_body", "volo_utk_face", "mivolo_lagenda_face_body"} <= set(names)
    for m in CATALOG:
        assert m.role in ROLES and m.licence and m.source.startswith("https://")
        assert (m.url or "").startswith("https://") or "no download" in m.notes
        if m.name.startswith(("yolov8", "yolox")) and m.name not in ("yolov8x_person_face", "yolov8n_face"):
            assert "COCO mAP" in m.figures
    assert "99.46" in find("mivolo_imdb_face_body").figures and "97.69" in find("volo_utk_face").figures


def test_readme_model_section_shows_exactly_the_catalog():
    readme = (ROOT / "README.md").read_text()
    assert setup_models.catalog_table() in readme
    assert readme.index("setup_models.py") < readme.index("## Models and licences") + 400


def test_download_resumes_records_the_hash_and_verify_catches_tampering(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path))
    body = bytes(range(256)) * 2048
    serve(monkeypatch, server, "yolox_nano", body)
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / ".yolox_nano.pth.part").write_bytes(body[:1000])  # an interrupted earlier download
    assert setup_models.main(["--download", "yolox_nano"]) == 0
    assert FileHandler.ranges == ["bytes=1000-"] and (cache / "yolox_nano.pth").read_bytes() == body
    digest = hashlib.sha256(body).hexdigest()
    assert digest in capsys.readouterr().out and STORE.recorded_hashes()["yolox_nano.pth"] == digest
    assert not list(cache.glob(".*.part"))
    assert setup_models.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert f"sha256 {digest}  yolox_nano.pth" in listing and "| 0.5 MB |" in listing
    assert setup_models.main(["--verify"]) == 0
    (cache / "yolox_nano.pth").write_bytes(b"tampered")
    assert setup_models.main(["--verify"]) == 1 and not (cache / "yolox_nano.pth").exists()


def test_no_download_and_unknown_names_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path))
    assert setup_models.main(["--download", "mivolo_lagenda_face_body"]) == 2
    assert setup_models.main(["--download", "yolov9000"]) == 2
    assert setup_models.main(["--use", "yolov8n"]) == 2  # not downloaded
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "no public download" in err[0] and "unknown model" in err[1]
    assert "--download yolov8n" in err[2]


@pytest.mark.slow
def test_use_makes_demo_run_with_the_chosen_weights(server, tmp_path, monkeypatch, sample_clip, caplog):
    from mivolo.detection.ultralytics_yolo import save_random_yolo
    from mivolo.estimation.mivolo_net import save_random_checkpoint

    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path / "cache"))
    serve(monkeypatch, server, "yolov8x_person_face", save_random_yolo(tmp_path / "pf.pt").read_bytes())
    serve(monkeypatch, server, "volo_imdb_face", save_random_checkpoint(tmp_path / "f.pth.tar", False).read_bytes())
    for name in ("yolov8x_person_face", "volo_imdb_face"):
        assert setup_models.main(["--download", name]) == 0
        assert setup_models.main(["--use", name]) == 0
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)
    assert demo.main(["--input", str(sample_clip[0]), "--output", str(out), "--tracker", "botsort.yaml",
                      "--save-json", "--max-frames", "3", "--no-progress"]) == 0
    run = json.loads((out / "run.json").read_text())
    cache = tmp_path / "cache" / "models"
    assert run["config"]["detector"]["weights"] == str(cache / "yolov8x_person_face.pt")
    assert run["config"]["estimator"]["checkpoint"] == str(cache / "volo_d1_imdb_face_age_gender.pth.tar")
    assert run["models"]["persons"] == "yolo:yolov8x_person_face.pt"
    assert "setup_models.py --use yolov8x_person_face" in caplog.text  # demo.py says which weights it uses
    explicit = tmp_path / "explicit.pt"  # an explicit flag wins over the --use choice
    save_random_yolo(explicit)
    cfg = demo.config_from_args(demo.build_parser().parse_args(["--input", "x.mp4", "--detector-weights",
                                                                str(explicit)]))
    assert cfg.detector.weights == str(explicit) and cfg.estimator.checkpoint.endswith("age_gender.pth.tar")
    (cache / "yolov8x_person_face.pt").write_bytes(b"changed")  # a chosen file that no longer matches is skipped
    cfg = demo.config_from_args(demo.build_parser().parse_args(["--input", "x.mp4"]))
    assert cfg.detector.weights is None
