"""Does Prometheus hold what the scorer needs, for this configuration? (``vigilante check``)

Each check answers one question a new installation gets wrong, and when the answer is no,
says what to change:

- ``app series``: the app's request histogram under the configured ``job`` and ``namespace``
  (else: which jobs and namespaces do have it, or which jobs Prometheus scrapes at all);
- ``recording rules``: the recorded series the scorer reads;
- ``latency buckets``: the app's median latency lies above the first bucket and below the
  last finite one, so ``histogram_quantile`` measures it rather than interpolating inside one
  bucket (else: which buckets to set);
- ``history``: enough recorded history to warm the model (else: how long to wait).

``vigilante serve`` runs the same checks at start-up and logs the ones that fail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from vigilante.config import Config, spoken_duration
from vigilante.escaping import label_value, prometheus_duration
from vigilante.prometheus.api import PrometheusAPI, PrometheusError
from vigilante.rules.recording import RecordedSeries
from vigilante.scorer.detector import MIN_TRAIN_ROWS
from vigilante.service.state_file import state_path

LATENCY_WINDOW = "5m"


@dataclass(frozen=True)
class Finding:
    """The answer to one check: ``ok``, and a sentence saying what was found (and what to do)."""

    check: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.message}"


def _labels(api: PrometheusAPI, expr: str, at: float, names: tuple[str, ...]) -> list[str]:
    rows = api.query(expr, at)
    return sorted(", ".join(f'{n}="{r["metric"].get(n, "")}"' for n in names) for r in rows)


def check_app_series(config: Config, api: PrometheusAPI, at: float) -> Finding:

    names = RecordedSeries(config)
    metric = names.raw_count()
    matchers = names.matchers()
    found = api.scalar(f"count({metric}{{{matchers}}})", at)
    if found:
        return Finding("app series", True, f"{found:g} series of {metric} with {matchers}")
    elsewhere = _labels(api, f"count by (job, namespace) ({metric})", at, ("job", "namespace"))
    if elsewhere:
        hint = f"Prometheus has {metric} under: {'; '.join(elsewhere[:10])}: set app.job and app.namespace to match"
    else:
        jobs = _labels(api, "count by (job) (up)", at, ("job",))
        hint = (f"no job exports {metric} (is the app instrumented with vigilante.instrument, and app.metric_prefix "
                f"{config.app.metric_prefix!r} right?); Prometheus scrapes: {'; '.join(jobs) or 'nothing'}")
    return Finding("app series", False, f"no {metric} with {matchers}. {hint}. A plain static scrape has no "
                                        "namespace label: `vigilante prometheus-config` writes one that does")


def check_recording_rules(config: Config, api: PrometheusAPI, at: float) -> Finding:

    names = RecordedSeries(config)
    recorded = names.requests("1m") + names.selector()
    if api.scalar(f"count({recorded})", at):
        return Finding("recording rules", True, f"{recorded} is recorded")
    return Finding("recording rules", False, f"{recorded} is not recorded: load the rule file "
                                             "`vigilante prometheus-config` (or `vigilante generate`) writes, and wait "
                                             "one evaluation interval after the app's first scrapes")


def suggested_buckets(median: float) -> list[float]:
    """Buckets around ``median`` (1-2.5-5 steps from a tenth of it to a hundred times it).

    >>> suggested_buckets(0.0006)
    [5e-05, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05]
    """
    start = 10 ** math.floor(math.log10(median / 10))
    steps = [m * 10 ** e for e in range(-1, 4) for m in (1, 2.5, 5)]
    return [float(f"{start * s:.6g}") for s in steps if median / 10 <= start * s * 2 and start * s <= median * 100]


def check_latency_buckets(config: Config, api: PrometheusAPI, at: float) -> Finding:

    names = RecordedSeries(config)
    sel = names.matchers()
    rate = f"sum(rate({names.raw_count()}{{{sel}}}[{LATENCY_WINDOW}]))"
    requests = api.scalar(rate, at)
    if not requests:
        return Finding("latency buckets", True, f"no requests in the last {LATENCY_WINDOW}: nothing to judge yet")
    # The buckets the app exports (its `le` labels as spelled), which are what the rules read.
    spelled = {}
    for series in api.query(f"count by (le) ({names.raw_bucket()}{{{sel}}})", at):
        le = series["metric"].get("le", "")
        try:
            bound = float(le)
        except ValueError:
            continue  # not a bucket bound: nothing the rules could read either
        if math.isfinite(bound):
            spelled[bound] = le
    bounds = sorted(spelled)
    if not bounds:
        return Finding("latency buckets", False, f"{names.raw_bucket()} has no finite buckets")

    def share_below(bound: float) -> float:
        below = f"sum(rate({names.raw_bucket()}{{{sel}, le={label_value(spelled[bound])}}}[{LATENCY_WINDOW}]))"
        return api.scalar(f"{below} / {rate}", at) or 0.0

    mean = api.scalar(f"sum(rate({names.raw_sum()}{{{sel}}}[{LATENCY_WINDOW}])) / {rate}", at) or 0.0
    first, last = share_below(bounds[0]), share_below(bounds[-1])
    drift = ""
    if [float(b) for b in config.app.latency_buckets] != bounds:
        drift = (f" (the app exports buckets {bounds}, the configuration names {list(config.app.latency_buckets)}: "
                 "restart the app after changing app.latency_buckets)")
    facts = f"mean latency {mean * 1000:.3g} ms"
    if first >= 0.5:
        return Finding("latency buckets", False,
                       f"{first:.0%} of requests are below the first bucket ({bounds[0]:g} s; {facts}): p50 is a "
                       f"guess inside one bucket. Set app.latency_buckets to e.g. "
                       f"{suggested_buckets(mean or bounds[0] / 10)}{drift}")
    if last < 0.5:
        return Finding("latency buckets", False,
                       f"{1 - last:.0%} of requests are above the last bucket ({bounds[-1]:g} s; {facts}): add "
                       f"larger buckets, e.g. {suggested_buckets(mean)}{drift}")
    return Finding("latency buckets", True,
                   f"{first:.0%} of requests under the first bucket ({bounds[0]:g} s), {facts}: p50 is resolved{drift}")


def check_history(config: Config, api: PrometheusAPI, at: float) -> Finding:

    state = state_path(config)
    if state.exists():
        return Finding("history", True, f"a saved model at {state}: no history needed")
    names = RecordedSeries(config)
    tick = config.scorer.tick_seconds
    window = config.service.bootstrap_hours * 3600
    need = MIN_TRAIN_ROWS * tick
    recorded = names.requests("1m") + names.selector()
    # PromQL durations take no fractions: a trial's tick of 15/7 s is 2143ms.
    subquery = f"[{prometheus_duration(window)}:{prometheus_duration(tick)}]"
    earliest = api.scalar(f"min(min_over_time(timestamp({recorded}){subquery}))", at)
    held = 0.0 if earliest is None else max(0.0, at - earliest)
    if held >= need:
        return Finding("history", True, f"{spoken_duration(held)} of recorded features: enough to warm (needs "
                                        f"{spoken_duration(need)}; trains on up to {spoken_duration(window)})")
    return Finding("history", False, f"{spoken_duration(held)} of recorded features; the scorer warms after "
                                     f"{spoken_duration(need)} ({MIN_TRAIN_ROWS} ticks of {tick:g} s): wait "
                                     f"{spoken_duration(need - held)}, or give service.training_csv")


CHECKS = (check_app_series, check_recording_rules, check_latency_buckets, check_history)


def run_checks(config: Config, api: PrometheusAPI, at: float | None = None) -> list[Finding]:
    """Every check, in order; an unreachable Prometheus is one failed finding."""
    at = time.time() if at is None else at
    findings = []
    for check in CHECKS:
        try:
            findings.append(check(config, api, at))
        except PrometheusError as exc:
            findings.append(Finding("prometheus", False, f"{config.prometheus.url}: {exc}"))
            break
    return findings
