"""The layering of DESIGN.md holds: imports only go down, stages never import each other, functions stay short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each group of modules and the groups it may import (besides itself). Order = layers, bottom first.
STAGES = ("sources", "detection", "estimation", "tracking", "reid_models", "sinks")
ALLOWED = {
    "core": set(),
    **{stage: {"core"} for stage in STAGES},
    "pipeline": {"core", *STAGES},
    "evaluation": {"core", *STAGES, "pipeline"},
    "batch": {"core", *STAGES, "pipeline"},  # many sources on Ray: runs the pipeline in workers
}
MAX_FUNCTION_LINES = 60


def group_of(module: str) -> str | None:
    """Layer group of a dotted module name of ours (None for third-party modules and the CLI helpers)."""
    parts = module.split(".")
    if parts[0] in ("tracking", "reid_models"):
        return parts[0]
    if parts[0] != "mivolo" or len(parts) == 1:
        return None
    return {"core": "core", "sources": "sources", "detection": "detection", "estimation": "estimation",
            "sinks": "sinks", "pipeline": "pipeline", "evaluation": "evaluation", "batch": "batch"}.get(parts[1])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every absolute module imported anywhere in the file (top level and inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def library_files() -> list[Path]:
    files = [p for package in ("mivolo", "tracking", "reid_models") for p in (ROOT / package).rglob("*.py")]
    return sorted(p for p in files if p != ROOT / "mivolo" / "__init__.py")  # the lazy facade of the package


def upward_imports(files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        own = group_of(module_name(path))
        if own is None:
            continue
        for target in sorted(imports_of(path)):
            other = group_of(target)
            if other is not None and other != own and other not in ALLOWED[own]:
                problems.append(f"{module_name(path)} ({own}) imports {target} ({other})")
    return problems


def test_every_library_module_belongs_to_a_layer():
    loose = [module_name(p) for p in library_files() if group_of(module_name(p)) is None]
    assert loose == ["mivolo.cli"]  # the argument parser the command-line tools share (top layer)


def test_imports_only_go_down_and_stages_do_not_import_each_other():
    assert upward_imports(library_files()) == []


def test_the_import_check_catches_an_upward_import(tmp_path):
    bad = ROOT / "tracking" / "_layering_probe.py"
    bad.write_text("from mivolo.pipeline import Pipeline\nfrom mivolo.detection import build_detector\n")
    try:
        assert upward_imports([bad]) == [
            "tracking._layering_probe (tracking) imports mivolo.detection (detection)",
            "tracking._layering_probe (tracking) imports mivolo.detection.build_detector (detection)",
            "tracking._layering_probe (tracking) imports mivolo.pipeline (pipeline)",
            "tracking._layering_probe (tracking) imports mivolo.pipeline.Pipeline (pipeline)",
        ]
    finally:
        bad.unlink()


@pytest.mark.parametrize("package", ["mivolo", "tracking"])
def test_functions_fit_on_one_screen(package):
    long = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_importing_the_package_sets_no_environment_variables():
    import os
    import subprocess
    import sys

    # cv2 sets its own (LD_LIBRARY_PATH, QT_QPA_PLUGIN_PATH) on first import: import it before taking stock
    code = "import os, cv2; before = dict(os.environ); import mivolo, mivolo.core.config, tracking; " \
           "print(sorted(set(os.environ) - set(before)))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "OPENCV_"))}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
