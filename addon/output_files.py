"""Writing the files a command produces: whole or not at all, and never over something that is not a file.

A command's output goes to a temporary file beside the target, then replaces it in one
``os.replace``; an interrupted or failed write leaves the old file (or nothing). A target
that exists and is not a regular file (a directory, a FIFO, a device, a symbolic link) is
refused rather than replaced, since ``os.replace`` would happily swap ``/dev/null`` for a
text file; so is a target that is one of the command's own inputs. Every failure is an
:class:`OutputError` whose message names the path.

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
    >>> with atomic_open(d / "b.csv", inputs=[d / "a.yml"]) as fh:
    ...     _ = fh.write("t,v\\n")
    >>> check_target(d / "a.yml", inputs=[d / "a.yml"])
    Traceback (most recent call last):
    ...
    vigilante.output_files.OutputError: ...a.yml: is an input of this command; name another output file
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator


# Errors of the storage itself, raised by a write inside the block.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO}


class OutputError(Exception):
    """An output file cannot be written; the message names the path and what to do."""


def check_target(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Raise :class:`OutputError` unless ``path`` is absent or a regular file that is none of ``inputs``.

    A symbolic link is refused even when it points at a regular file: replacing it would
    break the link, and following it would write somewhere the user did not name.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here: {exc.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{path}: exists and is not a regular file; name a file path")
    for source in inputs:
        if _same_file(path, source, info):
            raise OutputError(f"{path}: is an input of this command; name another output file")


def _same_file(path, source, info: os.stat_result | None) -> bool:
    if info is not None:
        try:
            other = os.stat(source)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == (other.st_dev, other.st_ino)
    return os.path.realpath(path) == os.path.realpath(source)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, inputs: Iterable[str | os.PathLike] = (),
                make_parents: bool = False, fsync: bool = False, file_mode: int = 0o644) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``.

    ``mode`` is ``"w"`` (UTF-8 text, ``\\n`` line ends) or ``"wb"``. On an exception inside the
    block the temporary file is removed and ``path`` is untouched; an ``OSError`` (a full disk,
    a missing folder, a read-only file system) becomes an :class:`OutputError`.
    """
    path = Path(path)
    check_target(path, inputs)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        where = "its folder does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise OutputError(f"{path}: cannot write here: {where}") from None
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
    fh = os.fdopen(fd, mode, **text)
    try:
        try:
            yield fh
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRNOS:
                raise  # not the file's fault (a network error of the caller's, say)
            raise _cannot_write(path, exc) from None
        try:
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
            fh.close()
            os.chmod(tmp, file_mode)
            os.replace(tmp, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):  # the buffer may not flush either: the error above is the one to tell
            fh.close()
        Path(tmp).unlink(missing_ok=True)
        raise


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write: {exc.strerror}; nothing was written")


def write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends), creating parent folders."""
    with atomic_open(path, make_parents=True, file_mode=mode) as fh:
        fh.write(text)
