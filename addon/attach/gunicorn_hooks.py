"""Gunicorn server hooks for multiprocess metrics (several worker processes per pod).

Each worker writes its samples to files in ``$PROMETHEUS_MULTIPROC_DIR``, and ``/metrics``
adds them up. Two things must happen outside the workers:

- files left by an earlier run of the server must go before the first worker starts,
  or counters would resume from a dead run's values (and, for a container restarted
  with the same volume, double-count);
- when a worker exits, its live gauges must be dropped (``child_exit``).

Use this module as a gunicorn configuration module, or import the hooks into yours::

    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics gunicorn -c python:vigilante.gunicorn_hooks \\
        --workers 4 'myapp:create_app()'

    # or, in your gunicorn.conf.py
    from vigilante.gunicorn_hooks import child_exit, on_starting, when_ready  # noqa: F401

``PROMETHEUS_MULTIPROC_DIR`` must be set in the environment before gunicorn starts
(``prometheus_client`` reads it when first imported); in Kubernetes point it at an
``emptyDir`` volume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiproc_dir(env: dict[str, str] | os._Environ | None = None) -> Path | None:
    """Create ``$PROMETHEUS_MULTIPROC_DIR`` if needed and delete stale sample files in it.

    Returns the directory, or ``None`` when the variable is unset (single-process mode,
    nothing to do). Raises :class:`RuntimeError` when the directory is not writable.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "counter_123.db").write_bytes(b"stale")
    >>> prepare_multiproc_dir({MULTIPROC_DIR_ENV: str(d)}) == d, list(d.iterdir())
    (True, [])
    """
    env = os.environ if env is None else env
    value = env.get(MULTIPROC_DIR_ENV)
    if not value:
        return None
    directory = Path(value)
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK):
        raise RuntimeError(f"${MULTIPROC_DIR_ENV}={directory} is not writable")
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return directory


def on_starting(server: Any) -> None:
    """Gunicorn hook (master, before the app is loaded): start from an empty multiprocess dir.

    Runs before ``preload_app`` imports the app, so it never deletes the master's own files.
    """
    directory = prepare_multiproc_dir()
    if directory is not None:
        server.log.info("vigilante: multiprocess metrics in %s", directory)


def when_ready(server: Any) -> None:
    """Gunicorn hook (master, before workers are forked): check the multiprocess dir.

    Cleaning already happened in :func:`on_starting`; this only fails loudly if the
    directory vanished or became read-only since, rather than serving empty metrics.
    """
    value = os.environ.get(MULTIPROC_DIR_ENV)
    if value and not (os.path.isdir(value) and os.access(value, os.W_OK)):
        raise RuntimeError(f"${MULTIPROC_DIR_ENV}={value} is not a writable directory")


def child_exit(server: Any, worker: Any) -> None:
    """Gunicorn hook (master, after a worker exited): drop that worker's live gauges."""
    if not os.environ.get(MULTIPROC_DIR_ENV):
        return
    # Only with multiprocess metrics, in gunicorn's master: the hooks module imports nothing else.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
