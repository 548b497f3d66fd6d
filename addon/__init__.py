"""Vigilante: a Grafana-native observability add-on for Flask apps on Kubernetes.

The version below is the one version number of the project: setup.cfg, the
``vigilante --version`` output, generated-file headers, exported info metrics and
Kubernetes labels all read it from here.
"""

__version__ = "0.1.0"
