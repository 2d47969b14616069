"""Small file-system helpers shared by the pipeline and the model cache."""

from __future__ import annotations

from pathlib import Path

from mivolo.errors import UserError


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
