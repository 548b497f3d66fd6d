"""Names of the metrics the scorer exports: the one place rules, dashboards and the service read them from.

The scorer owns the alert decision (DESIGN.md, "Contracts"): the shipped anomaly alerts
fire on :data:`DECISION`, so the live alert, the backtest and the dashboard agree.
"""

SCORE = "vigilante_anomaly_score"
"""Anomaly score of the last tick, in [0, 1]; higher is more anomalous."""

THRESHOLD = "vigilante_anomaly_threshold"
"""Score threshold calibrated from the training score distribution."""

DECISION = "vigilante_anomaly_decision"
"""1 after the score stayed above the threshold for the hold ticks, else 0."""

MODEL_WARM = "vigilante_model_warm"
"""1 once the model has learned enough rows to score, else 0."""

LAST_SUCCESSFUL_TICK = "vigilante_last_successful_tick_timestamp_seconds"
"""Unix time of the last tick that read its features and scored."""
