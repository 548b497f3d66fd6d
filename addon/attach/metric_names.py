"""Names of the metrics the scorer exports: the one place rules, dashboards and the service read them from.

The scorer owns the alert decision: the shipped anomaly alerts
fire on :data:`DECISION`, so the live alert, the backtest and the dashboard agree.

    >>> f'{DECISION}{{job="vigilante-scorer"}} == 1'
    'vigilante_anomaly_decision{job="vigilante-scorer"} == 1'
    >>> names = [v for k, v in sorted(globals().items()) if k.isupper() and isinstance(v, str)]
    >>> all(n.startswith("vigilante_") for n in names), len(set(names)) == len(names)
    (True, True)
"""

SCORE = "vigilante_anomaly_score"
"""Anomaly score of the last tick, 0 or more; higher is more anomalous. It reads as "how many
times rarer than the rarest training ticks" (see :mod:`vigilante.scorer.detector`): normal
traffic stays below about 1, and the threshold sits above that."""

THRESHOLD = "vigilante_anomaly_threshold"
"""Score threshold calibrated from the training score distribution."""

DECISION = "vigilante_anomaly_decision"
"""1 after the score stayed above the threshold for the hold ticks, else 0."""

MODEL_WARM = "vigilante_model_warm"
"""1 once the model has learned enough rows to score, else 0."""

LAST_SUCCESSFUL_TICK = "vigilante_last_successful_tick_timestamp_seconds"
"""Unix time of the last tick that read its features and scored."""

# --- the scorer service's own state and health (the dashboards read these too) ---

FEATURE_VALUE = "vigilante_feature_value"
"""Gauge, label ``feature``: the value of each configured feature at the last tick, as the model read it."""

FEATURE_ATTRIBUTION = "vigilante_feature_attribution"
"""Gauge, label ``feature``: each feature's share of the last tick's score (the shares add up to 1), so a
dashboard can say which feature drives an anomaly."""

SAMPLES_LEARNED = "vigilante_model_samples_learned_total"
"""Counter: ticks the model learned since the scorer started (training rows not included)."""

LEARN_SKIPPED = "vigilante_model_learn_skipped_total"
"""Counter, label ``reason``: ticks scored but not learned: ``gap`` (a missing feature) or ``anomalous``."""

TICKS = "vigilante_ticks_total"
"""Counter, label ``result``: ticks run, by outcome: ``scored``, ``gap``, ``prometheus_unavailable``,
``query_error``, ``not_warm``, ``error`` (see :mod:`vigilante.service.metrics`)."""

QUERY_ERRORS = "vigilante_prometheus_query_errors_total"
"""Counter: feature queries to Prometheus that failed (HTTP error, timeout, bad answer)."""

QUERY_DURATION = "vigilante_prometheus_query_duration_seconds"
"""Histogram: duration of one feature query to Prometheus."""

TICK_DURATION = "vigilante_tick_duration_seconds"
"""Histogram: duration of one whole tick (queries, scoring, learning)."""

STATE_SAVE_FAILURES = "vigilante_state_save_failures_total"
"""Counter: periodic saves of the model state that failed (disk full, read-only volume)."""

SCORER_INFO = "vigilante_scorer_info"
"""Info (always 1), labels ``version``, ``config_digest``, ``warm_start``: which build and
configuration runs, and how the model was obtained (``state``, ``prometheus``, ``csv``)."""
