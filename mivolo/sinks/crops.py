"""crops/: the best crop of each identity (one file per person, written when the identity leaves memory)."""

from __future__ import annotations

from pathlib import Path

import cv2

from mivolo.core.paths import inside
from mivolo.core.run import IdentityView, RunInfo, RunSummary
from mivolo.core.structures import Detections, Frame


class CropsSink:
    """``crops/id_000007.jpg`` per identity; sets the row's ``best_crop`` (relative to the output folder)."""

    def __init__(self, folder: str = "crops") -> None:
        self.folder = folder
        self.out_dir = Path()
        self.crops_dir = Path()

    def open(self, run: RunInfo) -> None:
        self.out_dir = run.output_dir.resolve()
        self.crops_dir = inside(run.output_dir, Path(self.folder))
        self.crops_dir.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Frame, dets: Detections, identities: IdentityView) -> None:
        self._save(identities)

    def close(self, summary: RunSummary) -> None:
        if summary.view is not None:
            self._save(summary.view)
        summary.files["crops"] = str(self.crops_dir)

    def abort(self) -> None:
        pass  # each crop is complete when written; finished identities keep theirs

    def _save(self, identities: IdentityView) -> None:
        for done in identities.finished:
            if done.crop is None or done.row.get("best_crop"):
                continue
            path = self.crops_dir / f"id_{done.row['id']:06d}.jpg"
            tmp = path.with_name(f".{path.stem}.part.jpg")
            if cv2.imwrite(str(tmp), done.crop):
                tmp.replace(path)
                done.row["best_crop"] = str(path.relative_to(self.out_dir))
            else:
                tmp.unlink(missing_ok=True)
                raise OSError(f"cannot write {path}")
