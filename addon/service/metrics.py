"""What the scorer service exports: its score, threshold and decision, and its own health.

Names come from :mod:`vigilante.attach.metric_names`, the one place rules and dashboards read them.
"""

from __future__ import annotations

from typing import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily

from vigilante.attach import metric_names as names
from vigilante.scorer import StepResult

TICK_RESULTS = ("scored", "gap", "prometheus_unavailable", "query_error", "not_warm", "error")
"""Outcomes of a tick (label ``result`` of ``vigilante_ticks_total``)."""

SKIP_REASONS = ("gap", "anomalous")
"""Why a scored tick was not learned (label ``reason``)."""


class ScoredGauge:
    """A gauge with no sample until the model gives it a value.

    Before the first scored tick there is no score: a NaN would be plotted, compared and
    alerted on as if it were one (``score > threshold`` is false, ``score != score`` true),
    so the series is absent instead, as Prometheus expects of a value that does not exist.

    >>> registry = CollectorRegistry()
    >>> gauge = ScoredGauge("demo_score", "A score.", registry)
    >>> registry.get_sample_value("demo_score") is None
    True
    >>> gauge.set(1.5); registry.get_sample_value("demo_score")
    1.5
    """

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry):
        self.name, self.documentation = name, documentation
        self.value: float | None = None
        registry.register(self)

    def set(self, value: float) -> None:
        self.value = float(value)

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation)
        if self.value is not None:
            family.add_metric([], self.value)
        yield family

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation)]


def _counter_name(full: str) -> str:
    # prometheus_client appends _total itself.
    return full.removesuffix("_total")


class ScorerMetrics:
    """Every metric of one scorer, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry, features: Sequence[str]):
        self.registry = registry
        self.score = ScoredGauge(names.SCORE, "Anomaly score of the last tick; above the threshold is anomalous.",
                                 registry)
        self.threshold = ScoredGauge(names.THRESHOLD, "Score threshold calibrated on the training rows.", registry)
        self.decision = Gauge(names.DECISION, "1 once the score stayed above the threshold for the hold ticks.",
                              registry=registry)
        self.warm = Gauge(names.MODEL_WARM, "1 when the model is trained and scoring.", registry=registry)
        self.last_tick = Gauge(names.LAST_SUCCESSFUL_TICK, "Unix time of the last tick that read and scored.",
                               registry=registry)
        self.feature_value = Gauge(names.FEATURE_VALUE, "Each feature at the last tick (NaN: a gap).", ["feature"],
                                   registry=registry)
        self.attribution = Gauge(names.FEATURE_ATTRIBUTION, "Each feature's share of the last tick's score.",
                                 ["feature"], registry=registry)
        self.learned = Counter(_counter_name(names.SAMPLES_LEARNED), "Rows the model learned.", registry=registry)
        self.skipped = Counter(_counter_name(names.LEARN_SKIPPED), "Scored ticks not learned, by reason.", ["reason"],
                               registry=registry)
        self.ticks = Counter(_counter_name(names.TICKS), "Ticks run, by outcome.", ["result"], registry=registry)
        self.query_errors = Counter(_counter_name(names.QUERY_ERRORS), "Feature queries that failed.",
                                    registry=registry)
        self.query_duration = Histogram(names.QUERY_DURATION, "Duration of one feature query.", registry=registry,
                                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.tick_duration = Histogram(names.TICK_DURATION, "Duration of one tick.", registry=registry,
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.save_failures = Counter(_counter_name(names.STATE_SAVE_FAILURES), "State saves that failed.",
                                     registry=registry)
        self.info = Info(names.SCORER_INFO.removesuffix("_info"), "Build, configuration and warm start.",
                         registry=registry)
        # Every label value exists from the start, so rate() and absence alerts see zeros,
        # not nothing; the children are kept because labels() costs more than the update.
        self.tick_results = {result: self.ticks.labels(result) for result in TICK_RESULTS}
        self.skip_reasons = {reason: self.skipped.labels(reason) for reason in SKIP_REASONS}
        self.feature_values = {feature: self.feature_value.labels(feature) for feature in features}
        self.attributions = {feature: self.attribution.labels(feature) for feature in features}
        for gauge in self.feature_values.values():
            gauge.set(float("nan"))

    def observe_query(self, seconds: float, ok: bool) -> None:
        """Count one feature query (the :class:`~vigilante.service.feature_source.FeatureSource` observer)."""
        self.query_duration.observe(seconds)
        if not ok:
            self.query_errors.inc()

    def export_step(self, result: StepResult, values: dict[str, float | None]) -> None:
        """Publish one tick's outcome."""
        self.score.set(result.score)
        self.threshold.set(result.threshold)
        self.decision.set(result.decision)
        for feature, value in values.items():
            self.feature_values[feature].set(float("nan") if value is None else value)
        shares = _shares(result.attribution or {})
        for feature, gauge in self.attributions.items():
            gauge.set(shares.get(feature, 0.0))
        if result.learned:
            self.learned.inc()
        else:
            self.skip_reasons[result.skipped or "gap"].inc()


def _shares(attribution: dict[str, float]) -> dict[str, float]:
    """Attribution as shares adding up to 1 (all zero when nothing drives the score)."""
    total = sum(attribution.values())
    return {f: v / total for f, v in attribution.items()} if total > 0 else {f: 0.0 for f in attribution}
