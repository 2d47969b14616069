"""`pip install .` (not editable) gives working console scripts and ships the tracker YAMLs as package data.

The wheel is built from a copy of the source, installed with --no-deps into a fresh venv whose only extra path is
this venv's site-packages (a plain .pth line: the editable install's finder there is not run, so the source tree
is not importable), and run from a folder that holds no configs/ and no source.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("crowd-demographics", "setup-models", "setup-reid-models", "eval-pretrained")
IGNORE = shutil.ignore_patterns(".git", ".venv", ".cache", ".yolo_config", "outputs", "samples", "build", "dist",
                                "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache")


def run(cmd: list, cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd[0]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", MIVOLO_CACHE_DIR=str(tmp / "cache"))
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", tmp / "dist"],
        source, env)
    wheel = next((tmp / "dist").glob("mivolo_crowd-*.whl"))
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp, env)
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env).stdout.strip()
    (Path(site) / "_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the dependencies
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--ignore-installed",
         "-q", wheel], tmp, env)
    return venv, env


@pytest.mark.slow
def test_installed_wheel_runs_its_console_scripts(installed, sample_clip, tmp_path):
    venv, env = installed
    where = run([venv / "bin" / "python", "-c", "import demo, mivolo, mivolo.core.paths as p; "
                 "print(mivolo.__file__); print(demo.__file__); print(p.CONFIGS_DIR)"], tmp_path, env).stdout.split()
    assert all(path.startswith(str(venv)) for path in where)  # the wheel's files, not the source tree
    assert sorted(p.name for p in Path(where[2]).glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "mivolo" / "configs").glob("*.yaml"))
    assert (Path(where[2]) / "score_calibration.json").read_bytes() == \
        (ROOT / "mivolo" / "configs" / "score_calibration.json").read_bytes()  # detector scores on one scale
    for script in SCRIPTS:
        assert "usage:" in run([venv / "bin" / script, "--help"], tmp_path, env).stdout
    out = tmp_path / "out"
    run([venv / "bin" / "crowd-demographics", "--input", sample_clip[0], "--output", out, "--tracker", "botsort.yaml",
         "--save-json", "--max-frames", "10", "--no-progress"], tmp_path, env)
    report = json.loads((out / "run.json").read_text())
    assert report["frames_processed"] == 10 and (out / "demographics.json").is_file()
    custom = tmp_path / "my_tracker.yaml"  # a tracker YAML given by path still overrides the bundled ones
    custom.write_text((Path(where[2]) / "botsort.yaml").read_text().replace("track_buffer_s: 2.0", "track_buffer_s: 1"))
    run([venv / "bin" / "crowd-demographics", "--input", sample_clip[0], "--output", tmp_path / "out2", "--tracker",
         custom, "--max-frames", "3", "--no-progress"], tmp_path, env)
    assert json.loads((tmp_path / "out2" / "run.json").read_text())["tracker"]["config"] == str(custom)
    yolo = run([venv / "bin" / "python", "-c", "import os; from mivolo.core.environment import configure_environment; "
                "env = {k: v for k, v in os.environ.items() if not k.startswith('YOLO_')}; os.environ.clear(); "
                "os.environ.update(env); configure_environment(); print(os.environ['YOLO_CONFIG_DIR'])"], tmp_path, env)
    assert yolo.stdout.strip() == str(Path(env["MIVOLO_CACHE_DIR"]) / "ultralytics")  # never inside site-packages
