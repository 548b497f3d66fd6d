"""`make demo`: the local stack, steady traffic, an incident, the alert and its notification, and a picture.

Phases: stack up -> warm-up (traffic starts; the 1-minute rates fill) -> training (steady
traffic the scorer will learn from) -> the scorer starts and warms from that window of
Prometheus history -> steady (scored: must not alert) -> spike with errors (until the
anomaly notification reaches the webhook) -> recovery (until the resolved notification) ->
slowdown alone -> recovery (until its resolved notification) -> stack down. Each incident's
figures, resolution included, are in ``summary.json`` under ``incidents``.

Time is compressed so the model can train within the demo (it needs
``MIN_TRAIN_ROWS`` ticks: 15 minutes at the shipped 15 s): scrape, rule evaluation and
scorer tick run every ``--interval`` seconds (2 by default). Hold ticks, the alert's
``for`` and the Alertmanager routing (``group_wait``) are the shipped ones. Every override
is written to ``summary.json`` with the figures, and so is the floor the shipped 15 s
intervals allow (:func:`scripts.bench_latency.floor`, for a score held for ``hold_seconds``).

Writes ``out/demo/report.png``, ``summary.json``, ``notifications.json`` and ``series.json``.
Exit code 0 when every incident was notified and resolved, no steady phase alerted and
no NaN score was exported (:func:`demo_failures`), 1 otherwise, 2 when the stack could not start.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import requests
import yaml

from vigilante.attach import metric_names
from vigilante.config import Config
from scripts.bench_latency import Chain, floor, seconds
from scripts.harness.routing import route_for
from scripts.load_shapes import STEADY_USERS, write_control
from scripts.stack import REPO_ROOT, RULE_FILES, LocalStack, StackError, changed_from_defaults, interval_overrides

ANOMALY_ALERT = "VigilanteAnomalyDetected"


@dataclass(frozen=True)
class DemoPlan:
    """Durations (seconds) and magnitudes of the demo's phases."""

    interval_seconds: float = 2.0
    warmup_seconds: float = 65.0
    """Traffic before training starts: the 1-minute rates of new series need a minute to fill."""
    training_seconds: float = 180.0
    """Steady traffic the scorer trains on (its bootstrap window): 90 ticks at 2 s (MIN_TRAIN_ROWS is 60), and
    three whole 1-minute windows, so the model sees how much the rates wander."""
    steady_seconds: float = 60.0
    """Scored steady traffic after the model is warm: any anomaly alert here is a false alert."""
    steady_users: int = STEADY_USERS
    spike_users: int = 3 * STEADY_USERS
    spike_error_ratio: float = 0.05
    notification_deadline_seconds: float = 150.0
    """From the spike's onset; the demo fails when no notification arrives by then."""
    spike_min_seconds: float = 60.0
    """The spike lasts at least this long, and until the notification (or the deadline)."""
    slowdown_seconds: float = 45.0
    slowdown_latency_seconds: float = 0.25
    recovery_seconds: float = 180.0
    """After each incident, steady traffic until the anomaly alert's resolved notification arrives, at most
    this long: the 1-minute rates settle, the decision drops, the alert resolves and the anomaly route's
    group_interval (10 s) sends the resolution."""
    route_overrides: tuple[tuple[str, str], ...] = ()
    """Alertmanager root-route changes (tests only; the demo keeps the example routing)."""

    @property
    def total_bound_seconds(self) -> float:
        return (self.warmup_seconds + self.training_seconds + self.steady_seconds + self.notification_deadline_seconds
                + self.slowdown_seconds + 2 * self.recovery_seconds + 180)


QUICK_PLAN = DemoPlan(interval_seconds=1.0, warmup_seconds=62.0, training_seconds=66.0, steady_seconds=20.0,
                      notification_deadline_seconds=90.0, spike_min_seconds=0.0, slowdown_seconds=0.0,
                      recovery_seconds=0.0,
                      route_overrides=(("group_wait", "5s"),))
"""The condensed scenario of the end-to-end test: 1 s ticks, no slowdown, a 5 s group_wait."""


def alert_rule(name: str) -> dict[str, Any]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return rule
    raise KeyError(name)


# --- the run -------------------------------------------------------------------------------


class Demo:
    """Drive one demo run on a started :class:`LocalStack`; collects phases, figures and the series."""

    def __init__(self, stack: LocalStack, plan: DemoPlan, say: Callable[[str], None]):
        self.stack = stack
        self.plan = plan
        self.say = say
        self.control = stack.workdir / "locust" / "control.json"
        self.phases: list[dict[str, Any]] = []
        self.started = time.time()
        self.incident: dict[str, Any] = {}
        self.slowdown: dict[str, Any] = {}
        self.false_alerts: list[dict[str, Any]] = []
        self.threshold: float | None = None

    # phases ------------------------------------------------------------------------------

    def run(self) -> None:
        p = self.plan
        self.control.parent.mkdir(parents=True, exist_ok=True)
        write_control(self.control, p.steady_users)
        self.stack.start_load("control", p.total_bound_seconds, self.control)
        self.phase("warm-up", p.warmup_seconds, p.steady_users, None,
                   "traffic starts; the 1-minute rates fill before anything is learned")
        self.phase("training", p.training_seconds, p.steady_users, None,
                   "steady traffic the scorer will learn from (its bootstrap window)")
        self.start_scorer()
        self.phase("steady", p.steady_seconds, p.steady_users, None, "scored steady traffic: must not alert",
                   steady=True)
        self.spike()
        self.recover("recovery after the spike", self.incident)
        if p.slowdown_seconds:
            self.phase("slowdown", p.slowdown_seconds, p.steady_users,
                       {"added_latency_seconds": p.slowdown_latency_seconds},
                       f"every request {p.slowdown_latency_seconds * 1000:.0f} ms slower, same traffic",
                       watch=self.slowdown)
            self.recover("recovery after the slowdown", self.slowdown)
        write_control(self.control, 0, stop=True)

    def recover(self, name: str, watch: dict[str, Any]) -> None:
        """Steady traffic after an incident until the anomaly alert's resolved notification (or the deadline).

        The incident is still watched: a notification that comes after its fault cleared is
        late, not missing."""
        if not self.plan.recovery_seconds:
            return
        cleared = self.phases[-1]["end"]
        onset = self.phases[-1]["start"]
        self.phase(name, self.plan.recovery_seconds, self.plan.steady_users, None,
                   "faults cleared, steady traffic, until the anomaly alert's resolved notification",
                   watch=watch, watch_onset=onset,
                   until=lambda: self.resolved_notification(cleared, math.inf) is not None)
        resolved = self.resolved_notification(cleared, math.inf)
        self.say(f"   resolved notification {'received ' + format(resolved - cleared, '.1f') + ' s after the faults cleared' if resolved else 'not received in time'}")

    def phase(self, name: str, duration: float, users: int, fault: dict[str, float] | None, what: str,
              steady: bool = False, watch: dict[str, Any] | None = None, watch_onset: float | None = None,
              until: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Run ``users`` (and ``fault``) for ``duration`` seconds, or until ``until()`` holds; print progress."""
        self.say(f"\n== {name}: {what} ({users} users{_fault_text(fault)}, up to {duration:.0f} s)")
        write_control(self.control, users, spawn_rate=max(4, users))
        self.stack.set_fault(**(fault or {}))
        record = {"name": name, "start": time.time(), "users": users, "fault": fault or {}, "steady": steady}
        self.phases.append(record)
        deadline = record["start"] + duration
        last_print = 0.0
        try:
            while time.time() < deadline:
                self.check_alive()
                if watch is not None:
                    self.watch_detection(watch, record["start"] if watch_onset is None else watch_onset)
                if until is not None and until():
                    break
                if time.time() - last_print >= 10:
                    last_print = time.time()
                    self.say(f"   [{name} {time.time() - record['start']:5.0f}s] {self.status_line()}")
                time.sleep(0.5)
        finally:
            record["end"] = time.time()  # also when interrupted: the summary still shows the phase
        if steady:
            self.check_steady(record)
        return record

    def start_scorer(self) -> None:
        p = self.plan
        self.say(f"\n== scorer: warm start from the last {p.training_seconds:.0f} s of Prometheus history")
        began = time.time()
        # The bootstrap window is exactly the training phase: the warm-up's filling rates stay out of it.
        # No rounding: the window must be a whole number of ticks (the feature source matches timestamps exactly).
        self.stack.start_scorer({"service": {"bootstrap_hours": p.training_seconds / 3600}})
        # The gauge reads NaN until the first scrape after the warm start.
        finite = lambda r: r and r[0]["value"][1].lower() not in ("nan", "+inf", "-inf")  # noqa: E731
        self.threshold = float(self.stack.prometheus.wait_for(
            f'{metric_names.THRESHOLD}{{job="{self.stack.config.scorer.job}"}}', finite, timeout=60)[0]["value"][1])
        self.phases.append({"name": "scorer start", "start": began, "end": time.time(), "users": p.steady_users,
                            "fault": {}, "steady": True})
        self.say(f"   warm in {time.time() - began:.1f} s; threshold {self.threshold:.4f}")

    def spike(self) -> None:
        p = self.plan
        onset = time.time()
        self.incident = {"onset": onset}
        self.phase("spike with errors", p.notification_deadline_seconds, p.spike_users,
                   {"error_ratio": p.spike_error_ratio},
                   f"{p.spike_users / p.steady_users:.0f}x the traffic, {p.spike_error_ratio:.0%} of requests fail; "
                   "until the anomaly notification arrives", watch=self.incident,
                   until=lambda: self.notified() and time.time() - onset >= p.spike_min_seconds)
        if not self.notified():
            self.say(f"   no {ANOMALY_ALERT} notification within {p.notification_deadline_seconds:.0f} s of onset")

    # detection ---------------------------------------------------------------------------

    def notified(self) -> bool:
        return "notification" in self.incident

    def watch_detection(self, watch: dict[str, Any], onset: float) -> None:
        """Note when the score first passed the threshold, the alert fired and the notification came."""
        if "alert_firing" not in watch:
            for alert in requests.get(f"{self.stack.prometheus.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]:
                # An alert already active before the onset belongs to something else.
                if (alert["labels"].get("alertname") == ANOMALY_ALERT and alert["state"] == "firing"
                        and _parse_time(alert["activeAt"]) >= onset - self.plan.interval_seconds):
                    watch["alert_firing"] = _parse_time(alert["activeAt"])
                    self.say(f"   alert {ANOMALY_ALERT} firing in Prometheus, "
                             f"{watch['alert_firing'] - onset:.1f} s after onset")
        if "notification" not in watch:
            for item in self.stack.webhook.snapshot():
                body = item["body"] if isinstance(item["body"], dict) else {}
                # Only an alert that started after the onset is this incident's notification.
                if item["received_at"] >= onset and any(
                        a["labels"].get("alertname") == ANOMALY_ALERT and a["status"] == "firing"
                        and _parse_time(a["startsAt"]) >= onset - self.plan.interval_seconds
                        for a in body.get("alerts", [])):
                    watch["notification"] = item["received_at"]
                    self.say(f"   notification received at the webhook, {item['received_at'] - onset:.1f} s after onset")
                    break

    def resolved_notification(self, after: float, before: float) -> float | None:
        """When the webhook first received the anomaly alert resolved, in ``[after, before)``."""
        for item in self.stack.webhook.snapshot():
            body = item["body"] if isinstance(item["body"], dict) else {}
            if after <= item["received_at"] < before and any(
                    a["labels"].get("alertname") == ANOMALY_ALERT and a["status"] == "resolved"
                    for a in body.get("alerts", [])):
                return item["received_at"]
        return None

    def steady_max_score_ratio(self) -> float | None:
        """The highest score / threshold over the scored steady phases (the goal is at most 0.7)."""
        job = self.stack.config.scorer.job
        ratio = f'{metric_names.SCORE}{{job="{job}"}} / {metric_names.THRESHOLD}{{job="{job}"}}'
        highest = None
        for phase in (p for p in self.phases if p["name"] == "steady"):
            for series in self.stack.prometheus.query_range(ratio, phase["start"], phase["end"], self.plan.interval_seconds):
                values = [float(v) for _, v in series["values"] if v.lower() not in ("nan", "+inf", "-inf")]
                if values:
                    highest = max(values) if highest is None else max(highest, max(values))
        return None if highest is None else round(highest, 3)

    def nan_scores(self) -> int:
        """Scraped scores that were NaN from the warm start on (NaN is the only value unequal to itself)."""
        job = self.stack.config.scorer.job
        warm = next((p["end"] for p in self.phases if p["name"] == "scorer start"), None)
        if warm is None:
            return 0
        expr = f'{metric_names.SCORE}{{job="{job}"}} != {metric_names.SCORE}{{job="{job}"}}'
        return sum(len(series["values"]) for series in
                   self.stack.prometheus.query_range(expr, warm, time.time(), self.plan.interval_seconds))

    def incident_figures(self, name: str, watch: dict[str, Any], next_onset: float) -> dict[str, Any]:
        """One incident of the demo: when it was seen, alerted, notified, and resolved once its fault cleared."""
        phase = next((p for p in self.phases if p["name"] == name), None)
        if phase is None:
            return {"name": name, "detected": False}
        onset, end = phase["start"], phase["end"]
        first = self.first_above_threshold(onset, end)
        resolved = self.resolved_notification(end, next_onset)
        return {
            "name": name, "detected": "notification" in watch, "onset": onset, "end": end,
            "fault": phase["fault"],
            "first_score_above_threshold": first, "alert_firing": watch.get("alert_firing"),
            "notification_received": watch.get("notification"), "resolved_notification_received": resolved,
            "seconds_to_first_score_above_threshold": _delta(first, onset),
            "seconds_to_alert_firing": _delta(watch.get("alert_firing"), onset),
            "seconds_to_notification": _delta(watch.get("notification"), onset),
            # Counted from the incident's end: when its fault was cleared.
            "seconds_to_resolved_notification": _delta(resolved, end),
        }

    def first_above_threshold(self, start: float, end: float) -> float | None:
        """The first scraped score above the threshold in ``[start, end]`` (resolution: one interval)."""
        job = self.stack.config.scorer.job
        expr = f'{metric_names.SCORE}{{job="{job}"}} > {metric_names.THRESHOLD}{{job="{job}"}}'
        result = self.stack.prometheus.query_range(expr, start, end, self.plan.interval_seconds)
        times = [float(t) for series in result for t, _ in series["values"]]
        return min(times) if times else None

    def slowdown_figures(self, phase: dict[str, Any]) -> dict[str, Any]:
        """How the score saw the slowdown; it follows the spike, whose alert may still hold at its onset."""
        job = self.stack.config.scorer.job
        above = f'{metric_names.SCORE}{{job="{job}"}} > bool {metric_names.THRESHOLD}{{job="{job}"}}'
        result = self.stack.prometheus.query_range(above, phase["start"], phase["end"], self.plan.interval_seconds)
        flags = [float(v) for _, v in result[0]["values"]] if result else []
        first = self.first_above_threshold(phase["start"], phase["end"])
        already = bool(flags and flags[0] == 1)
        return {"score_above_threshold_at_onset": already,
                "seconds_to_first_score_above_threshold": None if already else _delta(first, phase["start"]),
                "share_of_ticks_above_threshold": round(sum(flags) / len(flags), 3) if flags else None}

    def check_steady(self, record: dict[str, Any]) -> None:
        job = self.stack.config.scorer.job
        decisions = self.stack.prometheus.query_range(
            f'{metric_names.DECISION}{{job="{job}"}} == 1', record["start"], record["end"], self.plan.interval_seconds)
        # Only what started in the phase is its own: an alert that fired before it (the scorer
        # absent until it started) and resolves in it is not a steady phase alerting.
        lookback = 600.0
        firing = [a for a in self.alert_intervals(record["start"] - lookback, record["end"])
                  if record["start"] <= a["start"] <= record["end"]]
        notes = [item for item in self.stack.webhook.snapshot()
                 if record["start"] <= item["received_at"] <= record["end"] and any(
                     a.get("status") == "firing" and _parse_time(a["startsAt"]) >= record["start"]
                     for a in (item["body"].get("alerts", []) if isinstance(item["body"], dict) else []))]
        if decisions or firing or notes:
            self.false_alerts.append({"phase": record["name"], "decision_ticks": sum(len(s["values"]) for s in decisions),
                                      "alerts": firing, "notifications": len(notes)})
            self.say(f"   FALSE ALERT in steady phase '{record['name']}': {firing or 'decision = 1'}")
        else:
            self.say(f"   steady phase '{record['name']}': no alert, as expected")

    def alert_intervals(self, start: float, end: float) -> list[dict[str, Any]]:
        """Each firing stretch of each alert: one series can fire, resolve and fire again."""
        step = self.plan.interval_seconds
        result = self.stack.prometheus.query_range('ALERTS{alertstate="firing"}', start, end, step)
        return [{"alertname": series["metric"]["alertname"], "start": first, "end": last}
                for series in result for first, last in stretches([float(t) for t, _ in series["values"]], step)]

    # progress ----------------------------------------------------------------------------

    def check_alive(self) -> None:
        for part in (self.stack.app.process, self.stack.prometheus.process, self.stack.alertmanager.process,
                     self.stack.scorer, self.stack.load):
            if part is not None and not part.alive():
                raise StackError(f"{part.name} exited unexpectedly\n{part.log_tail()}")

    def status_line(self) -> str:
        values = {}
        for name, expr in self.queries().items():
            try:
                result = self.stack.prometheus.query(expr)
                values[name] = float(result[0]["value"][1]) if result else None
            except Exception:  # noqa: BLE001 - progress text only
                values[name] = None

        def fmt(name: str, pattern: str, scale: float = 1.0) -> str:
            return "-" if values[name] is None else pattern.format(values[name] * scale)

        return (f"{fmt('requests', '{:.1f}')} req/s, {fmt('error_ratio', '{:.1%}')} 5xx, "
                f"p95 {fmt('p95', '{:.0f}', 1000)} ms, "
                f"score {fmt('score', '{:.3f}')} (threshold {fmt('threshold', '{:.3f}')})")

    def queries(self) -> dict[str, str]:
        from vigilante.rules.recording import feature_queries

        q = feature_queries(self.stack.config)
        job = f'{{job="{self.stack.config.scorer.job}"}}'
        return {"requests": q["requests_per_second"], "errors": q["errors_per_second"], "error_ratio": q["error_ratio"],
                "p95": q["latency_p95_seconds"], "score": metric_names.SCORE + job,
                "threshold": metric_names.THRESHOLD + job, "decision": metric_names.DECISION + job}

    # results -----------------------------------------------------------------------------

    def series(self) -> dict[str, list[list[float]]]:
        end = time.time()
        out = {}
        for name, expr in self.queries().items():
            result = self.stack.prometheus.query_range(expr, self.started, end, self.plan.interval_seconds)
            out[name] = [[float(t), float(v)] for t, v in result[0]["values"]] if result else []
        return out

    def summary(self) -> dict[str, Any]:
        config = self.stack.config
        rule = alert_rule(ANOMALY_ALERT)
        routing = self.stack.alertmanager.config
        route = route_for(routing["route"], {**rule["labels"], "alertname": ANOMALY_ALERT})
        alert_for = seconds(rule.get("for", "0s"))
        slowdown_phase = next((p for p in self.phases if p["name"] == "slowdown"), None)
        incidents = [self.incident_figures("spike with errors", self.incident,
                                           slowdown_phase["start"] if slowdown_phase else math.inf)]
        if slowdown_phase:
            incidents.append({**self.incident_figures("slowdown", self.slowdown, math.inf),
                              **self.slowdown_figures(slowdown_phase)})
        used = {"scrape_interval_seconds": config.prometheus.scrape_interval_seconds,
                "evaluation_interval_seconds": config.prometheus.evaluation_interval_seconds,
                "tick_seconds": config.scorer.tick_seconds}
        shipped = {"scrape_interval_seconds": 15.0, "evaluation_interval_seconds": 15.0, "tick_seconds": 15.0}
        floors = {"used": floor(Chain.of(config, at_once=False)), "shipped_15s": floor(Chain.of(Config(), at_once=False))}
        nan_scores = self.nan_scores()
        failures = demo_failures(incidents, self.false_alerts, nan_scores, bool(self.plan.recovery_seconds))
        return {
            "result": "failed" if failures else "ok",
            "failures": failures,
            "incident_detected": self.notified(),
            "nan_scores_exported": nan_scores,
            "false_alerts_in_steady_phases": self.false_alerts,
            "phases": [{**p, "seconds": round(p["end"] - p["start"], 1)} for p in self.phases],
            "incidents": incidents,
            "steady_max_score_ratio": self.steady_max_score_ratio(),
            "threshold": self.threshold,
            "settings": {
                "intervals_used": used,
                "intervals_shipped": shipped,
                "hold_seconds": config.scorer.hold_seconds,
                "alert_for_seconds": alert_for,
                "alertmanager_route": {k: route[k] for k in ("receiver", "group_by", "group_wait", "group_interval",
                                                             "repeat_interval") if k in route},
                "overrides_of_shipped_defaults": changed_from_defaults(config),
                "alertmanager_route_overrides": dict(self.plan.route_overrides),
                "note": ("Scrape, evaluation and tick intervals are compressed so the model can train within "
                         "the demo; every scorer window is a duration in seconds (hold, baseline/trend/context "
                         "half-lives, relearning), so it keeps the shipped wall-clock length at any tick "
                         f"(hold = {config.scorer.hold_seconds:g} s). The recording rules' 1-minute windows, the alert's for "
                         "and the Alertmanager routing are the shipped ones. The model trains on minutes of "
                         "history, not the shipped 2 hours."),
                "plan": asdict(self.plan),
            },
            "notification_floor_seconds": floors,
        }


def demo_failures(incidents: list[dict[str, Any]], false_alerts: list[Any], nan_scores: int,
                  expect_resolution: bool) -> list[str]:
    """Why the demo failed, one line each; empty when it passed.

    It passes when every incident was notified (and, with recovery phases, its resolution
    too), no steady phase alerted and no NaN score was exported after the warm start.

    >>> ok = {"name": "spike", "detected": True, "seconds_to_resolved_notification": 150.0}
    >>> demo_failures([ok], [], 0, True)
    []
    >>> demo_failures([{**ok, "seconds_to_resolved_notification": None}, {"name": "slowdown", "detected": False}],
    ...               [{}], 2, True)  # doctest: +NORMALIZE_WHITESPACE
    ['spike: no resolved notification', 'slowdown: not notified', 'a steady phase alerted',
     '2 NaN scores exported after the warm start']
    """
    failures = []
    for incident in incidents:
        if not incident.get("detected"):
            failures.append(f"{incident['name']}: not notified")
        elif expect_resolution and incident.get("seconds_to_resolved_notification") is None:
            failures.append(f"{incident['name']}: no resolved notification")
    if false_alerts:
        failures.append("a steady phase alerted")
    if nan_scores:
        failures.append(f"{nan_scores} NaN scores exported after the warm start")
    return failures


def stretches(times: list[float], step: float) -> list[tuple[float, float]]:
    """(first, last) of each run of ``times`` without a hole longer than one and a half steps.

    >>> stretches([10, 12, 14, 30, 32], 2)
    [(10, 14), (30, 32)]
    """
    out = []
    for t in times:
        if out and t - out[-1][1] <= 1.5 * step:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def _delta(t: float | None, onset: float) -> float | None:
    return None if t is None else round(t - onset, 1)


def _parse_time(text: str) -> float:
    """Unix time of an RFC 3339 time as Prometheus writes it (nanoseconds, ``Z``)."""
    import re
    from datetime import datetime

    # fromisoformat takes at most microseconds.
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))).timestamp()


def _fault_text(fault: dict[str, float] | None) -> str:
    if not fault:
        return ", no fault"
    parts = []
    if fault.get("error_ratio"):
        parts.append(f"{fault['error_ratio']:.0%} errors")
    if fault.get("added_latency_seconds"):
        parts.append(f"+{fault['added_latency_seconds'] * 1000:.0f} ms latency")
    return ", " + ", ".join(parts)


def run_demo(plan: DemoPlan, outdir: Path, workdir: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole demo; write the outputs under ``outdir``; return the summary."""
    from scripts.report_plot import plot_report

    outdir.mkdir(parents=True, exist_ok=True)
    began = time.time()
    say(f"make demo: the local stack, {plan.warmup_seconds + plan.training_seconds + plan.steady_seconds:.0f} s of "
        f"steady traffic, a spike with errors{', a slowdown' if plan.slowdown_seconds else ''}; intervals {plan.interval_seconds:g} s (shipped: 15 s)")
    say("\n== stack up")
    with LocalStack(workdir, interval_overrides(plan.interval_seconds), route_overrides=dict(plan.route_overrides),
                    say=lambda text: say(text)) as stack:
        stack.start(with_scorer=False)
        say(stack.describe())
        demo = Demo(stack, plan, say)
        demo.started = began
        try:
            demo.run()
        finally:
            say("\n== collecting the results")
            try:
                series = demo.series()
                alerts = demo.alert_intervals(began, time.time())
                summary = demo.summary()
            except Exception as exc:  # noqa: BLE001 - the stack may be half down after an error
                say(f"   could not collect the results: {exc}")
                raise
            summary["alerts_firing"] = alerts
            summary["wall_time_seconds"] = round(time.time() - began, 1)
            (outdir / "series.json").write_text(json.dumps(series))
            (outdir / "notifications.json").write_text(json.dumps(stack.webhook.snapshot(), indent=2))
            (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
            plot_report(series, summary, outdir / "report.png")
            say("\n== stack down")
    return summary


def print_figures(summary: dict[str, Any], outdir: Path, say: Callable[[str], None]) -> None:
    s = summary["settings"]
    floors = summary["notification_floor_seconds"]
    say("\nFigures:")
    say(f"  intervals: scrape {s['intervals_used']['scrape_interval_seconds']:g} s, evaluation "
        f"{s['intervals_used']['evaluation_interval_seconds']:g} s, tick {s['intervals_used']['tick_seconds']:g} s "
        f"(shipped 15 s); hold {s['hold_seconds']:g} s, alert for {s['alert_for_seconds']:g} s, "
        f"group_wait {s['alertmanager_route'].get('group_wait')}")
    for incident in summary["incidents"]:
        say(f"  {incident['name']}: {'notified' if incident['detected'] else 'NOT notified'}")
        for label, key in (("first score above threshold", "seconds_to_first_score_above_threshold"),
                           ("alert firing in Prometheus", "seconds_to_alert_firing"),
                           ("notification received", "seconds_to_notification")):
            value = incident.get(key)
            say(f"    onset -> {label:<28} {'-' if value is None else f'{value:.1f} s'}")
        resolved = incident.get("seconds_to_resolved_notification")
        say(f"    end   -> {'resolved notification':<28} {'-' if resolved is None else f'{resolved:.1f} s'}")
    say(f"  settings floor, onset -> notification: {floors['used']['best_seconds']:.0f}-"
        f"{floors['used']['worst_seconds']:.0f} s here; {floors['shipped_15s']['best_seconds']:.0f}-"
        f"{floors['shipped_15s']['worst_seconds']:.0f} s at the shipped 15 s intervals (plus the rates' own delay)")
    say(f"  steady phases: highest score / threshold {summary['steady_max_score_ratio']}; false alerts "
        f"{len(summary['false_alerts_in_steady_phases'])}")
    say(f"  wall time {summary['wall_time_seconds'] / 60:.1f} min")
    say(f"\nWrote {outdir / 'report.png'}, {outdir / 'summary.json'}, {outdir / 'notifications.json'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo", help="where the results go")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "out" / "demo" / "stack",
                        help="throw-away work directory of the stack (logs stay there)")
    parser.add_argument("--quick", action="store_true", help="the condensed scenario of the end-to-end test")
    parser.add_argument("--interval", type=float, help="scrape/evaluation/tick interval in seconds (default 2)")
    parser.add_argument("--training-seconds", type=float,
                        help="steady traffic the scorer trains on (default 180; at least 60 intervals)")
    args = parser.parse_args(argv)
    plan = QUICK_PLAN if args.quick else DemoPlan()
    if args.interval:
        plan = replace(plan, interval_seconds=args.interval)
    if args.training_seconds:
        plan = replace(plan, training_seconds=args.training_seconds)
    if plan.training_seconds < 60 * plan.interval_seconds:
        parser.error(f"--training-seconds {plan.training_seconds:g} holds fewer than 60 intervals of "
                     f"{plan.interval_seconds:g} s: the model needs 60 rows; give at least {60 * plan.interval_seconds:g}")
    say = lambda text: print(text, flush=True)  # noqa: E731
    try:
        summary = run_demo(plan, args.out, args.workdir, say)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped", file=sys.stderr)
        return 130
    print_figures(summary, args.out, say)
    for failure in summary.get("failures", []):
        print(f"FAILED: {failure}", file=sys.stderr)
    return 0 if summary["result"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
