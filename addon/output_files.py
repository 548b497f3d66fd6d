"""Writing the files a command produces: whole or not at all, and never over something that is not a file.

A command's output goes to a temporary file beside the target, then replaces it in one
``os.replace``; an interrupted or failed write leaves the old file (or nothing). A target
that exists and is not a regular file (a directory, a FIFO, a device, a symbolic link) is
refused rather than replaced, since ``os.replace`` would happily swap ``/dev/null`` for a
text file; so is a target that is one of the command's own inputs. Every failure is an
:class:`OutputError` whose message names the path.

An existing target is read (to compare it with what would be written) only through
:func:`existing_bytes`: after ``lstat`` says it is a regular file, and never more than a
bound, so a FIFO, a device or a link to ``/dev/zero`` is refused instead of read. A
:class:`WrittenRecord` lists the files a command wrote under a folder with their SHA-256,
so the command later replaces or removes only files that are still as it wrote them.

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
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping

from vigilante.errors import VigilanteError


# Errors of the storage itself, raised by a write inside the block.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO}


class OutputError(VigilanteError):
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


def write_text(path: str | os.PathLike, text: str, mode: int = 0o644, *,
               inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends), creating parent folders."""
    with atomic_open(path, inputs=inputs, make_parents=True, file_mode=mode) as fh:
        fh.write(text)


def existing_bytes(path: str | os.PathLike, limit: int) -> bytes | None:
    """The first ``limit + 1`` bytes of the regular file at ``path``; ``None`` when there is none.

    Anything else at ``path`` (a folder, a FIFO, a device, a symbolic link) is refused with
    :class:`OutputError` before it is opened: reading a FIFO blocks, and a link may lead to
    ``/dev/zero``. One byte past ``limit`` is enough to tell a longer file from an equal one.

    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "a").write_bytes(b"abcdef")
    6
    >>> existing_bytes(d / "a", 3), existing_bytes(d / "missing", 3)
    (b'abcd', None)
    >>> (d / "link").symlink_to("/dev/zero")
    >>> existing_bytes(d / "link", 3)
    Traceback (most recent call last):
    ...
    vigilante.output_files.OutputError: ...link: exists and is not a regular file; name a file path
    """
    check_target(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the lstat
            raise OutputError(f"{path}: exists and is not a regular file; name a file path")
        try:
            return fh.read(limit + 1)
        except OSError as exc:
            raise OutputError(f"{path}: cannot read: {exc.strerror}") from None


def inside(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` unless the folder of ``path`` is ``root`` or below it, links resolved.

    A command told to write under ``root`` must not follow a linked folder somewhere else.
    """
    top = os.path.realpath(root)
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if folder != top and not folder.startswith(top.rstrip(os.sep) + os.sep):
        raise OutputError(f"{path}: its folder leads out of {root} (a symbolic link?); "
                          "refusing to write through it")


def digest(data: bytes) -> str:
    """The SHA-256 of ``data`` as the record keeps it."""
    return hashlib.sha256(data).hexdigest()


MAX_RECORDED_BYTES = 64 * 1024 * 1024
"""The longest file a record's hash is checked against; a longer one is not as we wrote it."""


class WrittenRecord:
    """The files one command wrote under a folder, each with the SHA-256 of what it wrote.

    Kept as a small JSON file in that folder. A file counts as the command's own only while
    it is listed and its content still has the recorded hash: an edited file, or one the
    command never wrote, is the user's.

    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.yml").write_text("a: 1\\n")
    >>> record = WrittenRecord(d, "record.json", "Written by `demo`.", {"a.yml": digest(b"a: 1\\n")})
    >>> record.wrote("a.yml"), record.wrote("b.yml")
    (True, False)
    >>> _ = (d / "a.yml").write_text("a: 2\\n")
    >>> record.wrote("a.yml")
    False
    >>> record.save()
    >>> WrittenRecord.load(d, "record.json", "Written by `demo`.").files == record.files
    True
    """

    def __init__(self, root: str | os.PathLike, name: str, note: str, files: Mapping[str, str] | None = None):
        self.root = Path(root)
        self.name = name
        self.note = note
        self.files = dict(files or {})

    @property
    def path(self) -> Path:
        return self.root / self.name

    @classmethod
    def load(cls, root: str | os.PathLike, name: str, note: str) -> "WrittenRecord":
        """The record under ``root``; an empty one when there is none. A record that is not ours is refused."""
        record = cls(root, name, note)
        data = existing_bytes(record.path, MAX_RECORDED_BYTES)
        if data is None:
            return record
        try:
            files = json.loads(data.decode("utf-8"))["files"]
            ok = isinstance(files, dict) and all(isinstance(v, str) and _plain_relative(k) for k, v in files.items())
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise OutputError(f"{record.path}: not a record of written files this command can read; "
                              "move it away (nothing is removed or replaced without it)")
        record.files = files
        return record

    def text(self) -> str:
        """The record as written: sorted, no timestamps, so the same files give the same bytes."""
        return json.dumps({"generated": self.note, "files": dict(sorted(self.files.items()))}, indent=2) + "\n"

    def wrote(self, relative: str) -> bool:
        """Whether ``relative`` is listed and still holds exactly what was recorded (a regular file, read bounded)."""
        recorded = self.files.get(relative)
        if recorded is None:
            return False
        current = existing_bytes(self.root / relative, MAX_RECORDED_BYTES)
        return current is not None and digest(current) == recorded

    def save(self, inputs: Iterable[str | os.PathLike] = ()) -> None:
        """Write the record atomically."""
        write_text(self.path, self.text(), inputs=inputs)


def _plain_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not os.path.isabs(path) and "\\" not in path and all(p not in ("", ".", "..") for p in parts)
