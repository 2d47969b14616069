#!/usr/bin/env python3
"""Person/face detectors and age/gender checkpoints: list, download, verify, choose as demo.py's defaults.

    python setup_models.py --list
    python setup_models.py --download yolov8x_person_face
    python setup_models.py --download mivolo_imdb_face_body
    python setup_models.py --use yolov8x_person_face
    python setup_models.py --use mivolo_imdb_face_body
    python setup_models.py --verify
    python demo.py --input video.mp4 --tracker botsort.yaml --save-json   # now with the chosen models
"""

from __future__ import annotations

import argparse
import sys

from mivolo.cli import OneLineParser, add_store_actions, run_tool, store_download, store_verify


def catalog_table(cached: dict[str, int] | None = None, chosen: dict[str, str] | None = None) -> str:
    """Markdown table of the catalog; with ``cached`` (file name -> bytes), a column of what is downloaded."""
    from mivolo.core.model_catalog import CATALOG

    head = ["name", "role", "what", "published figures", "licence", "download"]
    if cached is not None:
        head.append("cached")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in CATALOG:
        source = f"[model card]({m.source})"
        download = f"[{m.filename}]({m.url})" if m.url else f"none ({m.notes})"
        row = [m.name, m.role.replace("_", "/"), m.what, m.figures or "not published", m.licence,
               f"{download}; {source}"]
        if cached is not None:
            size = cached.get(m.filename)
            mark = "" if size is None else f"{size / 1e6:.1f} MB"
            row.append(mark + (" (in use)" if (chosen or {}).get(m.role) == m.name else ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _list() -> int:
    from mivolo.core.model_catalog import CATALOG, STORE, USE_FILE
    from mivolo.core.model_store import read_json

    folder = STORE.cache_dir()
    cached = {m.filename: (folder / m.filename).stat().st_size for m in CATALOG if (folder / m.filename).is_file()}
    chosen = read_json(folder / USE_FILE)
    print(catalog_table(cached, chosen))
    hashes = STORE.recorded_hashes()
    for name, digest in sorted(hashes.items()):
        if name in cached:
            print(f"sha256 {digest}  {name}  (recorded at first download)")
    print(f"\ncache: {folder}")
    return 0


def _use(name: str) -> int:
    from mivolo.core.errors import UserError
    from mivolo.core.model_catalog import ROLES, find, record_use

    entry = find(name)
    if entry is None:
        raise UserError(f"unknown model {name!r} (see --list)")
    path = record_use(entry)
    print(f"demo.py now uses {path} as {ROLES[entry.role]} (an explicit flag still wins)")
    if entry.role == "age_gender" and "body" in entry.what:
        print("it reads bodies too: add --with-persons")
    return 0


def _run(args: argparse.Namespace) -> int:
    from mivolo.core.model_catalog import STORE

    if args.list:
        return _list()
    if args.markdown:
        print(catalog_table())
        return 0
    if args.download:
        return store_download(STORE, args.download)
    if args.use:
        return _use(args.use)
    return store_verify(STORE)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="setup_models.py", description=__doc__.splitlines()[0])
    actions = add_store_actions(p, "detector and age/gender")
    actions.add_argument("--use", metavar="NAME", help="make a downloaded model demo.py's default for its role")
    actions.add_argument("--markdown", action="store_true", help="print the catalog table for README.md")
    return run_tool(_run, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
