"""The one version number of the project.

setup.cfg, the ``vigilante --version`` output, generated-file headers, exported info metrics
and Kubernetes labels all read it from here (``vigilante.__version__`` re-exports it).
"""

__version__ = "0.1.0"
