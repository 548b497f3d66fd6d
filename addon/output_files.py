"""Writing the files a command produces: whole or not at all, and never over something that is not a file.

A command's output goes to a temporary file beside the target, then replaces it in one
``os.replace``; an interrupted write leaves the old file (or nothing). A target that exists
and is not a regular file (a directory, a FIFO, a device, a symbolic link) is refused rather
than replaced, since ``os.replace`` would happily swap ``/dev/null`` for a text file.

    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> write_text(d / "a.yml", "a: 1\\n")
    >>> (d / "a.yml").read_text()
    'a: 1\\n'
    >>> write_text(d, "x")
    Traceback (most recent call last):
    ...
    vigilante.output_files.OutputError: ...: exists and is not a regular file; name a file path
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class OutputError(Exception):
    """An output file cannot be written; the message names the path and what to do."""


def check_target(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` is absent or a regular file (not a link to one)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise OutputError(f"{path}: exists and is not a regular file; name a file path")


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends), creating parent folders."""
    path = Path(path)
    check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {exc.strerror}") from None
