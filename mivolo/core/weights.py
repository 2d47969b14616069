"""Refuse pickled weight files that reference anything a model file does not need, before a library unpickles them.

ultralytics and boxmot load their ``.pt`` files with full unpickling (the files hold model classes, so
``torch.load(weights_only=True)`` cannot read them). Unpickling runs whatever callables the file names, so a
crafted file can run code. Before such a file reaches its library we read the pickle's opcodes (nothing is
executed) and check every global it references against an allow-list: torch tensor rebuild functions and
storages, ``torch.nn.Module`` subclasses (ultralytics' layers included), plain containers and numpy arrays.
Anything else (``os.system``, ``builtins.eval``, an ultralytics helper function, an unknown module) is refused.
"""

from __future__ import annotations

import importlib
import pickletools
import zipfile
from pathlib import Path

from mivolo.core.errors import UserError

ROOT_MODULES = ("torch", "ultralytics", "boxmot", "collections", "numpy", "builtins", "__builtin__", "argparse",
                "types", "_codecs", "codecs")
SAFE_BUILTINS = {"set", "frozenset", "dict", "list", "tuple", "slice", "range", "bytearray", "complex", "bytes",
                 "int", "float", "bool", "str", "object"}
SAFE_FUNCTIONS = {("_codecs", "encode"), ("codecs", "encode"), ("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                  ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict")}
STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def pickle_globals(data: bytes) -> set[tuple[str | None, str | None]]:
    """(module, name) of every GLOBAL / STACK_GLOBAL in one pickle stream, read without executing it."""
    found: set[tuple[str | None, str | None]] = set()
    strings: list[str | None] = []
    memo: dict[int, str | None] = {}
    for op, arg, _ in pickletools.genops(data):
        name = op.name
        if name in STRING_OPS:
            strings.append(arg if isinstance(arg, str) else None)
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = strings[-1] if strings else None
        elif name == "MEMOIZE":
            memo[len(memo)] = strings[-1] if strings else None
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            strings.append(memo.get(int(arg)))
        elif name == "GLOBAL":
            module, _, attr = str(arg).partition(" ")
            found.add((module, attr))
        elif name == "STACK_GLOBAL":
            found.add((strings[-2] if len(strings) > 1 else None, strings[-1] if strings else None))
        elif name in ("INST", "OBJ"):  # protocol-0 object building: never in a model file
            found.add(("<inst>", str(arg)))
    return found


def _allowed(module: str | None, name: str | None) -> bool:
    if not module or not name or module.split(".")[0] not in ROOT_MODULES:
        return False
    if (module, name) in SAFE_FUNCTIONS:
        return True
    if module in ("builtins", "__builtin__"):
        return name in SAFE_BUILTINS
    if module == "torch._utils":
        return name.startswith("_rebuild_")
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return False
    import torch

    if isinstance(obj, torch.dtype | torch.device):
        return True
    if not isinstance(obj, type):
        return False  # a function: only the ones listed above
    if issubclass(obj, torch.nn.Module) or (module == "torch" and name.endswith("Storage")):
        return True
    import argparse
    import types

    import numpy as np

    return issubclass(obj, dict | list | tuple | set | frozenset | argparse.Namespace | types.SimpleNamespace |
                      np.ndarray | np.dtype | torch.Size)


def check_pickled_weights(path: Path, role: str, needs_module: str | None = None, hint: str = "") -> None:
    """Raise UserError unless ``path`` is a zip-format torch file whose pickles reference only allowed globals.

    ``needs_module``: the file must reference a class from this package (e.g. ``ultralytics`` for a detector).
    """
    if not path.is_file():
        raise UserError(f"{role} weights not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"{role} weights file is empty: {path}")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is not a current-format torch file (zip archive): refusing to unpickle it as "
                        f"{role} weights")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith(".pkl")]
            if not pickles:
                raise UserError(f"{path} holds no pickled model: not {role} weights")
            referenced: set[tuple[str | None, str | None]] = set()
            for member in pickles:
                referenced |= pickle_globals(archive.read(member))
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise UserError(f"{path} is damaged or truncated: {str(exc).splitlines()[0]}") from None
    for module, name in sorted(referenced, key=str):
        if not _allowed(module, name):
            raise UserError(f"refusing to load {path} as {role} weights: it references {module}.{name}, which a "
                            f"model file does not need (unsafe or foreign file){hint}")
    if needs_module and not any((module or "").split(".")[0] == needs_module for module, _ in referenced):
        raise UserError(f"{path} is not {role} weights: it holds no {needs_module} model{hint}")
