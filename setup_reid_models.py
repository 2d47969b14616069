#!/usr/bin/env python3
"""Re-ID models for the trackers: list, recommend, download, choose, verify.

    python setup_reid_models.py --list
    python setup_reid_models.py --recommend balanced
    python setup_reid_models.py --download osnet_x0_25_market1501
    python setup_reid_models.py --use osnet_x0_25_market1501 --tracker-yaml my_botsort.yaml
    python setup_reid_models.py --use weights/osnet_x0_25_msmt17.pt --tracker-yaml my_botsort.yaml
    python setup_reid_models.py --verify
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from mivolo.cli import OneLineParser, add_store_actions, run_tool, store_download, store_verify
from mivolo.core.errors import UserError

RECOMMEND = {
    "speed": "the fewest GFLOPs",
    "balanced": "the best Market1501 rank-1 at 0.6 GFLOPs or less",
    "accuracy": "the best Market1501 rank-1",
}


def catalog_table(cached: set[str] | None = None) -> str:
    from reid_models import CATALOG

    def num(value: float | None) -> str:
        return "–" if value is None else f"{value:g}"

    head = ["name", "architecture", "trained on", "dim", "params (M)", "GFLOPs", "rank-1 / mAP (evaluated on)"]
    if cached is not None:
        head.append("cached")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in CATALOG:
        score = f"{m.rank1:g} / {m.mAP:g} ({m.evaluated_on})" if m.rank1 is not None else "not published"
        row = [m.name, m.arch, m.trained_on, str(m.dim), num(m.params_m), num(m.gflops), score]
        if cached is not None:
            row.append("yes" if m.name in cached else "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def recommend(goal: str):
    from reid_models import CATALOG

    scored = [m for m in CATALOG if m.rank1 is not None and m.evaluated_on == "market1501"]
    costed = [m for m in scored if m.gflops is not None]
    if goal == "speed":
        return min(costed, key=lambda m: (m.gflops, -m.rank1))
    if goal == "balanced":
        return max((m for m in costed if m.gflops <= 0.6), key=lambda m: m.rank1)
    if goal == "accuracy":
        return max(scored, key=lambda m: m.rank1)
    raise UserError(f"--recommend takes speed, balanced or accuracy, not {goal!r}")


WEIGHT_SUFFIXES = (".pt", ".pth", ".onnx")


def weights_to_use(name_or_file: str) -> Path:
    """A downloaded catalog model's cached file, or a local weights file (absolute path)."""
    from reid_models import find
    from reid_models.store import cached_path

    model = find(name_or_file)
    if model is not None:
        path = cached_path(model)
        if path is None:
            raise UserError(f"{model.name} is not downloaded: run --download {model.name} first")
        return path
    file = Path(name_or_file).expanduser()
    if file.is_file() and file.suffix.lower() in WEIGHT_SUFFIXES:
        return file.resolve()
    if file.is_file():
        raise UserError(f"{file} is not Re-ID weights ({', '.join(WEIGHT_SUFFIXES)})")
    if file.suffix.lower() in WEIGHT_SUFFIXES or len(file.parts) > 1:
        raise UserError(f"Re-ID weights file not found: {file}")
    raise UserError(f"unknown Re-ID model {name_or_file!r} (see --list; a local file works too: --use PATH)")


def use_in_yaml(model_name: str, yaml_path: Path) -> Path:
    """Write ``reid_weights: <file>`` (a cached catalog model or a local file) into a tracker YAML, keeping the
    rest of the file as it was."""
    path = weights_to_use(model_name)
    if not yaml_path.is_file():
        raise UserError(f"tracker YAML not found: {yaml_path}")
    text = yaml_path.read_text()
    line = f"reid_weights: {path}"
    if re.search(r"^reid_weights:.*$", text, flags=re.M):
        text = re.sub(r"^reid_weights:.*$", line, text, flags=re.M)
    else:
        text = text.rstrip("\n") + f"\n{line}  # set by setup_reid_models.py --use\n"
    tmp = yaml_path.with_name(f".{yaml_path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(yaml_path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="setup_reid_models.py", description=__doc__.splitlines()[0])
    actions = add_store_actions(p, "Re-ID")
    actions.add_argument("--recommend", choices=sorted(RECOMMEND), help="pick a model for a goal, with the reason")
    actions.add_argument("--use", metavar="NAME|FILE",
                         help="write a cached catalog model, or a local .pt/.pth/.onnx file, into --tracker-yaml")
    actions.add_argument("--markdown", action="store_true", help="print the catalog table for REID_MODELS.md")
    p.add_argument("--tracker-yaml", type=Path, help="tracker YAML that --use writes into")
    return run_tool(_run, p.parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    from reid_models import CATALOG, cache_dir
    from reid_models.store import STORE

    if args.list:
        cached = {m.name for m in CATALOG if (cache_dir() / m.filename).is_file()}
        print(catalog_table(cached))
        print(f"\ncache: {cache_dir()}")
    elif args.markdown:
        print(catalog_table())
    elif args.recommend:
        model = recommend(args.recommend)
        cost = f"{model.gflops:g} GFLOPs, " if model.gflops is not None else ""
        print(f"{model.name}: {RECOMMEND[args.recommend]} in the catalog — rank-1 {model.rank1:g} / mAP "
              f"{model.mAP:g} on {model.evaluated_on}, {cost}{model.params_m:g} M parameters, "
              f"{model.dim}-d embeddings")
    elif args.download:
        return store_download(STORE, args.download)
    elif args.use:
        if args.tracker_yaml is None:
            raise UserError("--use needs --tracker-yaml PATH (a copy of mivolo/configs/botsort.yaml)")
        path = use_in_yaml(args.use, args.tracker_yaml)
        print(f"{args.tracker_yaml}: reid_weights: {path}")
    elif args.verify:
        return store_verify(STORE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
