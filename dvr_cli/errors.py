"""The one exception type for problems a user can fix.

Library code raises :class:`DvrError` with a one-line message that names the file (or option)
and the problem; the CLI catches it once, prints the line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path


class DvrError(Exception):
    """A user-facing error: bad input, missing file, impossible request."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        super().__init__(f"{path}: {message}" if path is not None else message)
