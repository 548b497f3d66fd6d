"""What every test shares: where the checkout is, how to read ``/metrics``, how to find gunicorn's workers."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout's root folder."""
