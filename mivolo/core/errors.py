"""Errors a user can act on: the CLI prints their message as one line and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input, bad flags or bad files: one clear line, exit code 2, no traceback."""

    exit_code = 2


class OutputError(UserError):
    """Outputs could not be written (disk full, folder removed): one line, exit code 1, earlier files intact."""

    exit_code = 1
