"""Vigilante: a Grafana-native observability add-on for Flask apps on Kubernetes.

``vigilante.__version__`` is :data:`vigilante.version.__version__`.

``vigilante.instrument`` is :func:`vigilante.attach.instrumentation.instrument`, imported on first use
so that ``import vigilante`` (the CLI, the gunicorn hooks) stays free of Flask.

    >>> import vigilante, vigilante.version
    >>> vigilante.__version__ == vigilante.version.__version__
    True
    >>> vigilante.instrument.__module__
    'vigilante.attach.instrumentation'
"""

from vigilante.version import __version__

__all__ = ["__version__", "instrument"]


def __getattr__(name: str):
    if name == "instrument":
        # Lazy: importing the package must not import Flask (the CLI, the gunicorn hooks).
        from vigilante.attach.instrumentation import instrument

        return instrument
    raise AttributeError(f"module 'vigilante' has no attribute {name!r}")
