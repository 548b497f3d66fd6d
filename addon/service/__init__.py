"""The live scorer: a thin loop around :class:`vigilante.scorer.Detector`, fed from Prometheus.

``vigilante serve`` ticks on schedule, reads the features (:mod:`vigilante.service.feature_source`),
steps the detector exactly as ``vigilante backtest`` does, exports what it decided
(:mod:`.metrics`), and saves the model state now and then. ``vigilante collect`` records
training rows.
"""
