"""The scorer's default features: what each one reads and how coarse its values are.

Each :class:`Feature` names the recorded series it reads (the recording rules turn that into
PromQL, :func:`vigilante.rules.recording.feature_queries`) and carries what the scorer's
transforms need to know about its values: how far from zero a ratio starts to mean something
(``offset_fraction``) and the smallest change that is more than noise (``noise_resolution``).

    >>> FEATURES["errors_per_second"].noise_resolution, FEATURES["requests_per_second"].offset_fraction
    (0.05, 0.1)
    >>> from vigilante.config import load_config
    >>> config = load_config(env={})
    >>> sorted(histogram_buckets(config)), histogram_buckets(config)["latency_p95_seconds"][:3]
    (['latency_p50_seconds', 'latency_p95_seconds'], (0.005, 0.01, 0.025))
"""

from __future__ import annotations

from dataclasses import dataclass

from vigilante.config import Config

DEFAULT_OFFSET_FRACTION = 0.1
"""The log transform's offset, as a fraction of the training median, of a feature with no other."""


@dataclass(frozen=True)
class Feature:
    """One default scorer feature."""

    name: str
    series: str
    """The :class:`~vigilante.rules.recording.RecordedSeries` method naming the series it reads."""
    quantile: float | None = None
    """For a latency quantile: the quantile, estimated by ``histogram_quantile`` from the app's buckets."""
    offset_fraction: float = DEFAULT_OFFSET_FRACTION
    """The log transform's offset as a fraction of the training median. Count-like series with
    few counts per minute (errors) use 1: near zero, a ratio of two such values means little."""
    noise_resolution: float | None = None
    """The smallest change that is still noise, in raw units (``None``: only what the data shows).
    Without it, training on error-free traffic gives the error series zero noise, and a single
    5xx looks infinitely unusual."""


DEFAULT_FEATURES = (
    Feature("requests_per_second", "requests"),
    # A few errors in the 1m rate window are noise.
    Feature("errors_per_second", "errors", offset_fraction=1.0, noise_resolution=3 / 60),
    # 0.1 % of requests failing is noise.
    Feature("error_ratio", "error_ratio", offset_fraction=1.0, noise_resolution=0.001),
    Feature("client_errors_per_second", "client_errors"),
    Feature("latency_p50_seconds", "latency", quantile=0.5),
    Feature("latency_p95_seconds", "latency", quantile=0.95),
    Feature("latency_p99_seconds", "latency", quantile=0.99),
)
"""Every feature with a default query, in the order of its columns."""

FEATURES = {f.name: f for f in DEFAULT_FEATURES}
"""Name -> :class:`Feature`."""


def offset_fraction(name: str) -> float:
    """The log transform's offset fraction of feature ``name`` (the default for a feature of one's own)."""
    known = FEATURES.get(name)
    return known.offset_fraction if known else DEFAULT_OFFSET_FRACTION


def noise_resolution(name: str) -> float | None:
    """The noise resolution of feature ``name`` in raw units, ``None`` when it declares none."""
    known = FEATURES.get(name)
    return known.noise_resolution if known else None


def histogram_buckets(config: Config) -> dict[str, tuple[float, ...]]:
    """The bucket upper bounds behind each scorer feature that is a default latency quantile.

    A feature whose query ``service.queries`` replaces is not assumed to be one.
    """
    return {f.name: config.app.latency_buckets for f in DEFAULT_FEATURES
            if f.quantile is not None and f.name in config.scorer.features and f.name not in config.service.queries}
