"""The scorer service's state file: one ``serve`` per file, never over a file it did not write.

Before ``vigilante serve`` does anything, :func:`prepare_state_file` refuses a state path
that is one of its inputs (the configuration, the training CSV) or holds a file that is not
a scorer state, locks the state (a second ``serve`` on the same file refuses; the lock is the
kernel's, so a killed process never leaves it held), and removes the temporary files a
killed save left beside it. A state that is ours but cannot be used (other settings, an
older schema, a clock ahead of ours) is renamed to a backup by :func:`set_aside` before a
new model replaces it.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from vigilante.config import Config
    >>> state = Path(tempfile.mkdtemp()) / "state.json"
    >>> with prepare_state_file(Config().replace("scorer", state_path=str(state)), started=0.0):
    ...     _ = state.write_text("a state of ours")
    ...     set_aside(state).name
    'state.json.bak'
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Iterator

from vigilante.config import Config
from vigilante.output_files import OutputError, check_target
from vigilante.scorer.errors import NotAStateError, StateError
from vigilante.scorer.state import read_header

log = logging.getLogger(__name__)

TEMPORARY_NAME = r"\.{name}\.[a-z0-9_]{{8}}"
"""The names of ``atomic_open``'s temporary files beside a target ``name`` (``tempfile.mkstemp``'s)."""


STATE_DIR_ENV = "XDG_STATE_HOME"
"""The variable naming the per-user state directory (the XDG Base Directory one)."""


def state_path(config: Config, create: bool = False) -> Path:
    """The scorer's state file: ``scorer.state_path``, else ``<scorer.job>.state.json`` in the per-user
    state directory (``$XDG_STATE_HOME/vigilante``, else ``~/.local/state/vigilante``), which
    ``create`` makes, readable by its owner only. A state is never dropped into the app's working
    directory unasked.

    >>> state_path(Config().replace("scorer", state_path="/var/lib/vigilante/state.json"))
    PosixPath('/var/lib/vigilante/state.json')
    >>> state_path(Config()).name
    'vigilante-scorer.state.json'
    """
    if config.scorer.state_path:
        return Path(config.scorer.state_path).expanduser()
    base = os.environ.get(STATE_DIR_ENV) or os.path.join(os.path.expanduser("~"), ".local", "state")
    folder = Path(base) / "vigilante"
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the scorer's state directory ({exc.strerror}): set "
                              f"scorer.state_path, or ${STATE_DIR_ENV}") from None
    # A job may hold any character but a quote, a backslash or '$': keep the name a plain file name.
    return folder / (re.sub(r"[^A-Za-z0-9._-]", "_", config.scorer.job) + ".state.json")


@contextlib.contextmanager
def prepare_state_file(config: Config, started: float) -> Iterator[Path]:
    """Check and lock ``scorer.state_path`` for the life of the block; the lock goes with the process.

    Raises :class:`OutputError` (one line, naming the file) when the path is an input of
    ``serve``, holds a file that is not a scorer state, or another ``serve`` holds it.
    Temporary files of an interrupted save, older than ``started``, are removed.
    """
    state = state_path(config, create=True)
    inputs = [p for p in (config.source if config.source != "<defaults>" else "", config.service.training_csv) if p]
    check_target(state, inputs=inputs)
    with state_lock(state):
        removed = remove_leftovers(state, started)
        if removed:
            log.info("removed %d temporary file(s) an interrupted save left: %s", len(removed),
                     ", ".join(str(p) for p in removed))
        refuse_foreign(state)
        yield state


def refuse_foreign(state: Path) -> None:
    """Raise :class:`OutputError` if ``state`` exists and is not a scorer state (it is never replaced)."""
    if not os.path.lexists(state):
        return
    try:
        read_header(state)
    except NotAStateError as exc:
        raise OutputError(f"{exc}; refusing to replace it: set scorer.state_path to another file") from None
    except StateError:
        pass  # ours, of another schema: set aside when the scorer warms


@contextlib.contextmanager
def state_lock(state: Path) -> Iterator[None]:
    """Hold the lock of ``state`` for the block, or raise :class:`OutputError` naming who holds it.

    ``serve`` holds it for its whole life; ``train`` while it writes a model, so neither
    replaces the other's file.
    """
    lock = state.with_name(state.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise OutputError(f"{state}: cannot write here: its folder does not exist") from None
    except OSError as exc:
        raise OutputError(f"{lock}: cannot create the lock of the scorer state: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise OutputError(f"{lock}: cannot lock the scorer state: {exc.strerror}") from None
            raise OutputError(f"{state}: another vigilante command (a `serve`, a `train`) is using this state file "
                              f"({lock} is locked): stop it, or name another file") from None
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays, for the next serve to lock


def remove_leftovers(state: Path, started: float) -> list[Path]:
    """Remove the temporary files of saves of ``state`` that a killed process left; return them.

    Only files named exactly as ``atomic_open`` names them for this target, regular, owned
    by this user and last written before ``started``: with the lock held, no save of ours is
    under way, and a newer file may be another command's (``vigilante train``) being written.
    """
    pattern = re.compile(TEMPORARY_NAME.format(name=re.escape(state.name)))
    folder = state.parent
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    removed = []
    for name in names:
        if not pattern.fullmatch(name):
            continue
        path = folder / name
        try:
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_mtime < started:
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def set_aside(state: Path) -> Path:
    """Rename ``state`` to a backup beside it, readable by its owner only; return the backup's path.

    ``STATE.bak``, else ``STATE.<UTC time>.bak`` (numbered if need be): an existing file is
    never replaced, whoever wrote it.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    names = [f"{state.name}.bak", f"{state.name}.{stamp}.bak", *(f"{state.name}.{stamp}.{n}.bak" for n in range(1, 100))]
    for name in names:
        backup = state.with_name(name)
        if _move_without_replacing(state, backup):
            os.chmod(backup, 0o600)
            return backup
    raise OSError(errno.EEXIST, f"no free backup name beside {state}")


def _move_without_replacing(source: Path, target: Path) -> bool:
    """Move ``source`` to ``target`` unless ``target`` exists (``os.rename`` would replace it)."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # A file system without hard links: copy into a file only this call can have created.
        try:
            copy = open(target, "xb")
        except FileExistsError:
            return False
        try:
            with open(source, "rb") as src, copy:
                shutil.copyfileobj(src, copy)
                copy.flush()
                os.fsync(copy.fileno())
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    source.unlink()
    return True
