"""How much to trust the numbers: the measured accuracy of the models a run used, from ``benchmarks/results``.

Only figures a benchmark wrote are shown (nothing is typed in by hand): the real-footage scoreboard
(``real.json``, ``python -m benchmarks.real``) for the run's detector stack, and the age/gender evaluation
(``age_gender_utkface.json``, ``eval_pretrained.py --output``) for the run's estimator, the face gate on labelled
real faces (``face_gate.json``, ``python -m benchmarks.face_gate``). A model without a
measurement says so.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from mivolo.core.paths import PROJECT_DIR

RESULTS_DIR = PROJECT_DIR / "benchmarks" / "results"


@dataclass
class Accuracy:
    """Figures for one run's models: ``counting`` rows of the scoreboard, ``age_gender`` the evaluation row."""

    counting: list[dict] = field(default_factory=list)
    counting_source: str = ""
    age_gender: dict | None = None
    age_gender_source: str = ""
    face_gate: dict | None = None  # real_clips.by_label of face_gate.json: label -> {"n", "accepted_pct"}


def _load(path: Path) -> dict | None:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def _flag(command: str, flag: str) -> str | None:
    """Base name of the value of ``flag`` in a command line (None when absent)."""
    words = shlex.split(command)
    for k, word in enumerate(words[:-1]):
        if word == flag:
            return Path(words[k + 1]).name
    return None


def _name(path: str | None) -> str | None:
    return Path(path).name if path else None


def counting_rows(real: dict, detector_weights: str | None, face_weights: str | None,
                  models: dict | None = None) -> list[dict]:
    """Scoreboard rows of the stack with the same person and face model files as the run (by file name) and, where
    the row recorded them, the same person and face models (two stacks without weight files: YOLOv8n and SSDLite)."""
    rows = []
    for run in real.get("runs") or []:
        command = run.get("command") or ""
        if "error" in run or run.get("count") is None:
            continue
        if (_flag(command, "--detector-weights"), _flag(command, "--face-weights")) != \
                (_name(detector_weights), _name(face_weights)):
            continue
        recorded = run.get("models") or {}
        if models and any(recorded.get(k) and recorded.get(k) != models.get(k) for k in ("persons", "faces")):
            continue
        gender = run.get("gender") if isinstance(run.get("gender"), dict) else None
        rows.append({"clip": run.get("clip"), "people": run.get("people"), "counted": run.get("count"),
                     "count_error_pct": run.get("count_error_pct"), "estimate": run.get("estimate"),
                     "estimate_error_pct": run.get("estimate_error_pct"), "HOTA": run.get("HOTA"),
                     "IDF1": run.get("IDF1"), "tracker": _flag(command, "--tracker"),
                     "gender": None if gender is None else
                     {k: gender.get(k) for k in ("right", "wrong", "unknown")}})
    return rows


def measured_accuracy(run: dict, results_dir: Path = RESULTS_DIR) -> Accuracy:
    """The accuracy figures that apply to the models recorded in ``run`` (run.json's content)."""
    config = run.get("config") or {}
    detector = config.get("detector") or {}
    out = Accuracy()
    real = _load(results_dir / "real.json")
    if real is not None:
        out.counting = counting_rows(real, detector.get("weights"), detector.get("face_weights"), run.get("models"))
        meta = real.get("meta") or {}
        out.counting_source = f"benchmarks/results/real.json (commit {meta.get('commit', '?')}, " \
                              f"{meta.get('time', '?')[:10]}{', quick run' if real.get('quick') else ''})"
    evaluation = _load(results_dir / "age_gender_utkface.json")
    align = (config.get("estimator") or {}).get("face_align")
    model = (run.get("models") or {}).get("age_gender")
    if evaluation is not None and model and evaluation.get("estimator") == f"{model}, face boxes: {align}":
        out.age_gender = {k: evaluation.get(k) for k in ("evaluated", "age_mae", "age_cs5", "gender_accuracy")}
        out.age_gender_source = "benchmarks/results/age_gender_utkface.json (UTKFace sample, eval_pretrained.py)"
    gate = _load(results_dir / "face_gate.json")
    by_label = ((gate or {}).get("real_clips") or {}).get("by_label")
    if by_label and (run.get("models") or {}).get("face_gate", "off") != "off":
        out.face_gate = {k: {"n": v.get("n"), "accepted_pct": v.get("accepted_pct")} for k, v in by_label.items()}
    return out
