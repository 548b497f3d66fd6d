"""Start a program in its own process group, wait for it on a condition, and always stop it."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

# Every process started here, so that an interpreter exit (a crashed test run, Ctrl-C)
# still stops them: a test run must never leave a Prometheus behind.
_RUNNING: dict[int, "ManagedProcess"] = {}


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        # SO_REUSEADDR, as servers set it: connections in TIME_WAIT do not make a port taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class AlreadyStartedError(RuntimeError):
    """``start()`` on something still running: the first process would outlive ``stop()``."""


def refuse_second_start(process: "ManagedProcess | None", name: str) -> None:
    """Raise :class:`AlreadyStartedError` when ``process`` is still running."""
    if process is not None and process.alive():
        raise AlreadyStartedError(f"{name} is already running (pid {process.pid}): start it once, or stop() it first")


class GiveUp(RuntimeError):
    """Raised by a wait condition when waiting longer cannot help (the server died)."""


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1,
               on_timeout: Callable[[], str] | None = None) -> object:
    """Poll ``condition`` until it returns something truthy; return that.

    Raises :class:`TimeoutError` saying ``what`` was awaited (plus ``on_timeout()``'s text,
    e.g. a log tail) after ``timeout`` seconds. Exceptions from ``condition`` count as
    "not yet", except :class:`GiveUp`, which ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - "not ready" takes many shapes
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


class ManagedProcess:
    """A child process with its output in a log file, stopped by process group."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> "ManagedProcess":
        refuse_second_start(self, self.name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            # A new session makes the child a process-group leader, so stop() also reaches
            # whatever it forks (gunicorn workers).
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=self.env, cwd=self.cwd, start_new_session=True)
        finally:
            log.close()
        _RUNNING[self.popen.pid] = self
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return f"[{self.name}: no log at {self.log_path}]"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def wait_ready(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        """Wait for ``condition``; fail at once, with the log, if the process exits meanwhile."""

        def ready_or_dead() -> object:
            if not self.alive():
                raise ProcessExitedError(f"{self.name} exited with code {self.popen.returncode}\n{self.log_tail()}")
            return condition()

        try:
            wait_until(ready_or_dead, timeout, f"{self.name} {what}", on_timeout=self.log_tail)
        except TimeoutError:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL it after ``timeout`` seconds."""
        if self.popen is None:
            return
        _RUNNING.pop(self.popen.pid, None)
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        # Children that outlive their leader (an orphaned gunicorn worker) are in the group too.
        _signal_group(self.popen.pid, signal.SIGKILL)


class ProcessExitedError(GiveUp):
    """A managed process exited while we waited for it to become ready."""


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    """Stop every process still running; registered to run at interpreter exit."""
    for proc in list(_RUNNING.values()):
        proc.stop(timeout=5)


atexit.register(stop_all)
