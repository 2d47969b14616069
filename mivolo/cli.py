"""What the command-line tools share: argument parsing (a usage mistake is one line on stderr and exit code 2),
the one-line error wrapper, and the --list/--download/--verify actions of the model caches."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag or value prints one line (not the whole usage block); ``--help`` is unchanged."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def run_tool(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command line's body: a UserError is one line on stderr and its exit code, never a traceback."""
    from mivolo.core.errors import UserError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def add_store_actions(parser: argparse.ArgumentParser, what: str) -> argparse._MutuallyExclusiveGroup:
    """--list, --download NAME, --verify of a model cache (``mivolo.core.model_store.ModelStore``); the caller adds
    its own --use and other actions to the returned group."""
    actions = parser.add_mutually_exclusive_group(required=True)
    actions.add_argument("--list", action="store_true", help=f"the {what} catalog, with what is cached")
    actions.add_argument("--download", metavar="NAME", help="download a catalog model into the cache (resumes)")
    actions.add_argument("--verify", action="store_true", help="re-check the sha256 of cached files")
    return actions


def store_download(store, name: str) -> int:
    """``--download NAME``: fetch into the cache; prints the file and its sha256."""
    from mivolo.core.errors import UserError
    from mivolo.core.model_store import sha256_of

    entry = store.find(name)
    if entry is None:
        raise UserError(f"unknown model {name!r} (see --list)")
    path = store.download(entry)
    print(f"{path}  sha256 {sha256_of(path)}")
    return 0


def store_verify(store) -> int:
    """``--verify``: every cached file against its pinned or recorded sha256; exit 1 when one is bad."""
    results = store.verify()
    hashes = store.recorded_hashes()
    for name, ok, reason in results:
        print(f"{'ok ' if ok else 'BAD'} {name}: {reason}" + (f" (sha256 {hashes[name]})" if ok and name in hashes
                                                              else ""))
    if not results:
        print(f"nothing cached in {store.cache_dir()}")
    return 0 if all(ok for _, ok, _ in results) else 1
