"""Vigilante: a Grafana-native observability add-on for Flask apps on Kubernetes.

The version below is the one version number of the project: setup.cfg, the
``vigilante --version`` output, generated-file headers, exported info metrics and
Kubernetes labels all read it from here.

``vigilante.instrument`` is :func:`vigilante.instrumentation.instrument`, imported on first use
so that ``import vigilante`` (the CLI, the gunicorn hooks) stays free of Flask.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "instrument":
        from vigilante.instrumentation import instrument

        return instrument
    raise AttributeError(f"module 'vigilante' has no attribute {name!r}")
