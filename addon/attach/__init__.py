"""The app side: ``instrument()``, the request metrics, the gunicorn hooks and the metric names."""
