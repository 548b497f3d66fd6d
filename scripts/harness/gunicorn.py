"""A WSGI app under real gunicorn on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

import requests

from scripts.harness.process import ManagedProcess, free_port, refuse_second_start

REPO_ROOT = Path(__file__).resolve().parents[2]


class GunicornServer:
    """Run ``app`` (a gunicorn app spec such as ``"pkg.module:create_app()"``) until :meth:`stop`.

    ``workers``/``threads`` choose the mode; ``config_file`` is passed as ``-c`` (e.g. a file
    importing the add-on's multiprocess hooks); ``env`` is added to this process's
    environment. Ready when ``ready_path`` answers below 500.
    """

    def __init__(self, workdir: Path, app: str, workers: int = 1, threads: int = 4,
                 env: Mapping[str, str] | None = None, config_file: Path | None = None, port: int | None = None,
                 ready_path: str = "/healthz", extra_args: Sequence[str] = ()):
        self.workdir = Path(workdir)
        self.app = app
        self.workers = workers
        self.threads = threads
        self.env = dict(env or {})
        self.config_file = config_file
        self.port = port or free_port()
        self.ready_path = ready_path
        self.extra_args = list(extra_args)
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "GunicornServer":
        refuse_second_start(self.process, "gunicorn")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        # The app and the add-on are imported from this checkout, whatever the cwd.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--threads", str(self.threads), "--graceful-timeout", "5", "--access-logfile", "-",
                *(["-c", str(self.config_file)] if self.config_file else []), *self.extra_args, self.app]
        self.process = ManagedProcess("gunicorn", argv, self.workdir / "gunicorn.log", env=env,
                                      cwd=self.workdir).start()
        self.process.wait_ready(self._ready, timeout, f"to serve {self.url}{self.ready_path}")
        return self

    def _ready(self) -> bool:
        return requests.get(f"{self.url}{self.ready_path}", timeout=2).status_code < 500

    def stop(self) -> None:
        if self.process:
            self.process.stop()
