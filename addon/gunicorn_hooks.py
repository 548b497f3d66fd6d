"""The gunicorn hooks at the path users configure: ``gunicorn -c python:vigilante.gunicorn_hooks``.

A public alias of :mod:`vigilante.attach.gunicorn_hooks`, kept at this path because the README,
the Dockerfiles and users' gunicorn command lines name it; gunicorn reads the hooks from here.

    >>> from vigilante.attach import gunicorn_hooks as hooks
    >>> (on_starting, when_ready, child_exit) == (hooks.on_starting, hooks.when_ready, hooks.child_exit)
    True
"""

from vigilante.attach.gunicorn_hooks import MULTIPROC_DIR_ENV, child_exit, on_starting, when_ready

__all__ = ["MULTIPROC_DIR_ENV", "child_exit", "on_starting", "when_ready"]
