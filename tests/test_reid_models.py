import hashlib
import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import demo
import setup_reid_models
from conftest import SHARED
from mivolo.core.errors import UserError
from reid_models import CATALOG, find
from reid_models.store import download, recorded_hashes, resolve_reid_weights, verify

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(BaseHTTPRequestHandler):
    """Serves PAYLOAD at /model.pt with HTTP Range support (for resume), on 127.0.0.1 only."""

    requests_seen: list[str | None] = []

    def do_GET(self):
        RangeHandler.requests_seen.append(self.headers.get("Range"))
        if self.path == "/page":
            body = b"<html>quota exceeded</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    RangeHandler.requests_seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


MODEL = replace(find("osnet_x0_25_market1501"))


def test_download_records_the_hash_and_verify_checks_it(server, tmp_path):
    path = download(MODEL, tmp_path, progress=False, url=f"{server}/model.pt")
    assert path.read_bytes() == PAYLOAD and path.name == "osnet_x0_25_market1501.pt"
    assert recorded_hashes(tmp_path)[path.name] == hashlib.sha256(PAYLOAD).hexdigest()
    assert verify(tmp_path) == [(path.name, True, "ok")]
    path.write_bytes(b"tampered")
    assert verify(tmp_path)[0][1] is False and not path.exists()  # a corrupted file is deleted


def test_download_resumes_a_partial_file(server, tmp_path):
    (tmp_path / ".osnet_x0_25_market1501.pt.part").write_bytes(PAYLOAD[:1000])
    path = download(MODEL, tmp_path, progress=False, url=f"{server}/model.pt")
    assert path.read_bytes() == PAYLOAD
    assert RangeHandler.requests_seen == ["bytes=1000-"]


def test_wrong_hash_is_rejected_and_deleted(server, tmp_path):
    bad = replace(MODEL, sha256="0" * 64)
    with pytest.raises(UserError, match="does not match"):
        download(bad, tmp_path, progress=False, url=f"{server}/model.pt")
    assert not list(tmp_path.glob("*osnet*"))


def test_server_gone_or_web_page_gives_a_clear_error(server, tmp_path):
    with pytest.raises(UserError, match="web page"):
        download(MODEL, tmp_path, progress=False, url=f"{server}/page")
    with pytest.raises(UserError, match="cannot download"):
        download(MODEL, tmp_path, progress=False, url="http://127.0.0.1:9/model.pt")


def test_names_resolve_only_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path))
    with pytest.raises(UserError, match="--download osnet_x0_25_market1501"):
        resolve_reid_weights("osnet_x0_25_market1501")
    with pytest.raises(UserError, match="not a catalog name"):
        resolve_reid_weights("osnet_x9_market1501")


def test_cli_list_recommend_use(tmp_path, monkeypatch, capsys, server):
    monkeypatch.setenv("MIVOLO_CACHE_DIR", str(tmp_path))
    assert setup_reid_models.main(["--recommend", "speed"]) == 0
    assert "osnet_x0_25_market1501" in capsys.readouterr().out
    assert setup_reid_models.main(["--recommend", "accuracy"]) == 0
    assert "clip_vit_b16_market1501" in capsys.readouterr().out
    yaml_path = tmp_path / "botsort.yaml"
    yaml_path.write_text("# my tracker\ntracker_type: botsort\ntrack_buffer: 90\n")
    assert setup_reid_models.main(["--use", MODEL.name, "--tracker-yaml", str(yaml_path)]) == 2  # not cached yet
    download(MODEL, tmp_path / "reid_models", progress=False, url=f"{server}/model.pt")
    assert setup_reid_models.main(["--use", MODEL.name, "--tracker-yaml", str(yaml_path)]) == 0
    text = yaml_path.read_text()
    assert text.startswith("# my tracker\ntracker_type: botsort\ntrack_buffer: 90\n") and "reid_weights:" in text
    assert setup_reid_models.main(["--download", "no_such_model"]) == 2
    assert setup_reid_models.main(["--list"]) == 0
    assert "| yes |" in capsys.readouterr().out


def test_reid_models_md_documents_exactly_the_catalog():
    doc = (ROOT / "REID_MODELS.md").read_text()
    assert setup_reid_models.catalog_table() in doc
    assert len(CATALOG) == len({m.name for m in CATALOG})


def _osnet_random(path: Path) -> Path:
    import torch
    from boxmot.reid.core.registry import ReIDModelRegistry

    model = ReIDModelRegistry.build_model("osnet_x0_25", None, num_classes=751, pretrained=False, use_gpu=False)
    torch.save(model.state_dict(), path)
    return path


def test_botsort_uses_random_osnet_weights_in_boxmot_format(sample_clip, tmp_path):
    weights = _osnet_random(tmp_path / "osnet_x0_25_market1501.pt")
    clip, people = sample_clip
    out = tmp_path / "out"
    assert demo.main(["--input", str(clip), "--output", str(out), "--tracker", "botsort.yaml", "--reid-weights",
                      str(weights), "--no-progress", "--no-merge"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["tracker"]["reid_weights"] == str(weights)
    assert json.loads((out / "identities.json").read_text())["count"] == people


def test_real_osnet_onnx_with_botsort(sample_clip, tmp_path):
    onnx = SHARED / "weights" / "osnet_x0_25_msmt17.onnx"
    if not onnx.is_file():
        pytest.skip("../shared/data is not present")
    clip, people = sample_clip
    out = tmp_path / "out"
    assert demo.main(["--input", str(clip), "--output", str(out), "--tracker", "botsort.yaml", "--reid-weights",
                      str(onnx), "--no-progress", "--no-merge"]) == 0
    assert json.loads((out / "identities.json").read_text())["count"] == people


@pytest.mark.slow
def test_clip_reid_checkpoint_drives_botsort(sample_clip, tmp_path):
    from reid_models.clip_reid import CLIPReID, save_random_clip_reid

    weights = save_random_clip_reid(tmp_path / "clip_vit_b16_market1501.pth")
    features = CLIPReID(weights).get_features([[0, 0, 60, 160], [100, 10, 180, 200]],
                                              np.full((240, 320, 3), 90, np.uint8))
    assert features.shape == (2, 1280) and np.allclose(np.linalg.norm(features, axis=1), 1, atol=1e-4)
    clip, people = sample_clip
    out = tmp_path / "out"
    assert demo.main(["--input", str(clip), "--output", str(out), "--tracker", "botsort.yaml", "--reid-weights",
                      str(weights), "--no-progress", "--max-frames", "30"]) == 0
    assert json.loads((out / "run.json").read_text())["tracker"]["reid_weights"] == str(weights)
    broken = tmp_path / "not_clip.pth"
    import torch

    torch.save({"image_encoder.conv1.weight": torch.zeros(768, 3, 16, 16)}, broken)
    with pytest.raises(UserError, match="CLIP-ReID"):
        CLIPReID(broken)
