"""The scorer's tick loop: on schedule, without drift, unbroken by Prometheus outages."""

from __future__ import annotations

import gc
import logging
import math
import re
import threading
import time
from typing import Callable

from vigilante.version import __version__
from vigilante.config import Config
from vigilante.service.feature_source import FeatureSource
from vigilante.output_files import OutputError
from vigilante.prometheus.api import MalformedAnswer, PrometheusError, PrometheusQueryError, PrometheusUnavailable
from vigilante.scorer import Detector
from vigilante.service.metrics import ScorerMetrics
from vigilante.service.phase import NoRuleGroups, RulePhase, next_tick_after
from vigilante.service.state_file import state_path
from vigilante.service.warm_start import NotWarmError, WarmStart, warm_start

log = logging.getLogger(__name__)

RELOCK_SECONDS = 600.0
"""How often the tick phase is checked again (Prometheus restarted, rule files changed)."""

RELOCK_AFTER_FAILURE_SECONDS = 60.0
"""How soon the tick phase is asked again after the rules API could not tell it."""

PHASE_TOLERANCE_SECONDS = 0.25
"""A phase that moved less than this is kept: evaluation times jitter by milliseconds."""


class OnceLog:
    """Logs a lasting condition once when it starts or changes, not on every tick it lasts.

    Messages that differ only in their numbers (timestamps, counts) are the same condition;
    repeats go to the debug level.

    >>> once = OnceLog()
    >>> [once.report(logging.WARNING, f"tick {t}: refused") for t in (1, 2)]
    [True, False]
    >>> once.clear("back"), once.clear("back")
    (True, False)
    """

    def __init__(self) -> None:
        self.condition: str | None = None
        self.repeats = 0

    def report(self, level: int, message: str) -> bool:
        """Log ``message`` at ``level`` if it is a new condition; return whether it was."""
        condition = re.sub(r"\d+(?:[.:]\d+)*", "N", message)
        new = condition != self.condition
        if new:
            suffix = f" (after {self.repeats} repeats of the previous condition)" if self.repeats else ""
            self.condition, self.repeats = condition, 0
            log.log(level, "%s%s", message, suffix)
        else:
            self.repeats += 1
            log.debug("%s", message)
        return new

    def clear(self, message: str) -> bool:
        """The condition ended: log ``message`` once; return whether there was one."""
        if self.condition is None:
            return False
        log.info("%s (after %d ticks)", message, self.repeats + 1)
        self.condition, self.repeats = None, 0
        return True


class ScorerService:
    """Score one tick at a time; :meth:`run` ticks at every multiple of ``scorer.tick_seconds``.

    Until a model is warm, each tick retries the warm start (so a young install starts
    scoring as soon as Prometheus holds enough history). A tick that cannot read
    Prometheus is counted and skipped: nothing is learned from it, and the next tick
    tries again.
    """

    def __init__(self, config: Config, features: FeatureSource, metrics: ScorerMetrics,
                 clock: Callable[[], float] = time.time, phase: Callable[[], RulePhase | None] | None = None):
        self.config = config
        self.state = state_path(config)
        self.features = features
        self.metrics = metrics
        self.clock = clock
        self.phase = phase
        self.offset = 0.0  # seconds past each multiple of tick_seconds that the ticks run at
        self._phase_problem = OnceLog()
        self.phase_failed = False  # the last lock_phase could not read the rule groups: retry sooner
        self.detector: Detector | None = None
        self.warm_source = ""
        self.last_attempt = 0.0
        self.prometheus_ok = False
        self._last_save = -math.inf  # the tick time of the last save
        self.decision = 0
        self._problem = OnceLog()
        self._not_warm = OnceLog()

    @property
    def warm(self) -> bool:
        return self.detector is not None

    def start(self) -> None:
        """Try to warm up now (before the first tick)."""
        self._try_warm_start(self.clock())

    def tick(self, timestamp: float) -> str:
        """Run the tick scheduled at ``timestamp``; returns its outcome (a ``result`` label)."""
        self.last_attempt = self.clock()
        with self.metrics.tick_duration.time():
            outcome = self._tick(timestamp)
        self.metrics.tick_results[outcome].inc()
        return outcome

    def _tick(self, timestamp: float) -> str:
        if self.detector is None and not self._try_warm_start(timestamp):
            return "not_warm"
        outcome = None
        try:
            values = self.features.at(timestamp).values
        except PrometheusUnavailable as exc:
            self.prometheus_ok, outcome = False, "prometheus_unavailable"
            self._problem.report(logging.WARNING, f"tick {_iso(timestamp)}: no features, Prometheus unavailable: {exc}")
        except PrometheusQueryError as exc:
            self.prometheus_ok, outcome = True, "query_error"
            self._problem.report(logging.ERROR, f"tick {_iso(timestamp)}: no features: {exc}")
        else:
            self.prometheus_ok = True
            self._problem.clear(f"tick {_iso(timestamp)}: features read again")
        if outcome:
            # A tick without features is stepped as a row of empty cells, exactly as the
            # backtest replays one: scored on nothing, not learned, and the decision drops
            # rather than staying stuck at its last value for the whole outage.
            values = {feature: None for feature in self.features.queries}
        result = self.detector.step(timestamp, values, explain=True)
        self.metrics.export_step(result, values)
        self._log_decision_change(result)
        if outcome:
            return outcome
        self.metrics.last_tick.set(timestamp)
        if result.rebaselined:
            log.info("tick %s: lasting shift accepted as the new normal; baselines re-set", _iso(timestamp))
        if math.isinf(self._last_save):
            self._last_save = timestamp  # a model just warmed was saved then
        elif timestamp - self._last_save >= self.config.service.save_every_seconds:
            if self.save():
                self._last_save = timestamp
        return "gap" if result.skipped == "gap" else "scored"

    def _log_decision_change(self, result) -> None:
        """One line when the exported decision turns on or off, never per tick."""
        if result.decision == self.decision:
            return
        self.decision = result.decision
        if result.decision:
            top = sorted((result.attribution or {}).items(), key=lambda kv: -kv[1])[:3]
            shares = ", ".join(f"{feature} {share:.0%}" for feature, share in top if share > 0) or "no attribution"
            log.warning("tick %s: decision 1 (anomaly): score %.4f above threshold %.4f; by feature: %s",
                        _iso(result.timestamp), result.score, result.threshold, shares)
        else:
            log.info("tick %s: decision 0: score %.4f, threshold %.4f", _iso(result.timestamp), result.score,
                     result.threshold)

    def _try_warm_start(self, now: float) -> bool:
        try:
            warm = warm_start(self.config, self.features, now)
        except NotWarmError as exc:
            self._not_warm.report(logging.WARNING, f"not warm yet: {exc}")
            self.metrics.warm.set(0)
            return False
        self._adopt(warm)
        return True

    def _adopt(self, warm: WarmStart) -> None:
        self.detector = warm.detector
        self.warm_source = warm.source
        if warm.broken_state:
            log.warning("%s; warmed from %s instead", warm.broken_state, warm.source)
        for note in warm.notes:
            log.info("warm start: %s", note)
        log.info("warm from %s: threshold %.4f, %d rows learned", warm.source, warm.detector.threshold,
                 warm.detector.ticks_learned)
        self.metrics.warm.set(1)
        self.metrics.threshold.set(warm.detector.threshold)
        # The model is tens of thousands of long-lived objects that ticks update in place:
        # keep them out of the garbage collector's full passes, which every tick's HTTP and
        # JSON garbage would otherwise trigger (measured by scripts/bench_scorer.py).
        gc.freeze()
        self.metrics.info.info({"version": __version__, "config_digest": self.config.digest(),
                                "warm_start": warm.source})
        if warm.source != "state":
            self.save(logging.INFO)

    def save(self, level: int = logging.DEBUG) -> bool:
        """Save the model state; return whether it was saved. A failure is counted and logged, never fatal."""
        if self.detector is None:
            log.log(level, "no model state to save (the model never warmed)")
            return False
        try:
            self.detector.save(self.state)
        except OutputError as exc:
            self.metrics.save_failures.inc()
            log.error("could not save the model state to %s: %s", self.state, exc)
            return False
        log.log(level, "model state saved to %s", self.state)
        return True

    def lock_phase(self) -> bool:
        """Tick just after the rule group that records the features (``service.phase_lock``).

        Returns whether the offset changed. When Prometheus cannot say (unreachable, no such
        group yet, an answer not of the rules API's shape, a store that evaluates no rules), the
        ticks keep their phase (the clock grid, until a phase was found) and the reason is
        logged once.
        """
        if self.phase is None or not self.config.service.phase_lock:
            return False
        step = self.config.scorer.tick_seconds
        self.phase_failed = True
        try:
            found = self.phase()
        except MalformedAnswer as exc:
            self._phase_problem.report(logging.WARNING, f"tick phase unchanged: the rule groups are unreadable: {exc}")
            return False
        except NoRuleGroups:
            self.phase_failed = False  # a lasting answer, not a failure: asked again in RELOCK_SECONDS
            self._phase_problem.report(logging.INFO, (
                f"tick phase: {self.config.prometheus.url} lists no rule groups, so the ticks run at multiples of "
                f"{step:g} s. On VictoriaMetrics the rules run in vmalert: start victoria-metrics with "
                "-vmalert.proxyURL=<vmalert's URL> to tick just after the features are recorded"))
            return False
        except PrometheusError as exc:
            self._phase_problem.report(logging.INFO, f"tick phase unchanged: cannot read the rule groups: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - the phase is an optimisation: never worth stopping the scorer
            self._phase_problem.report(logging.WARNING, f"tick phase unchanged: {type(exc).__name__}: {exc}")
            return False
        self.phase_failed = False
        if found is None:
            self._phase_problem.report(logging.INFO, "tick phase unchanged: no evaluated rule group records the "
                                                     "features (they read raw series)")
            return False
        self._phase_problem.clear(f"rule group {found.group} found")
        drift = (found.offset_seconds - self.offset) % step
        if min(drift, step - drift) < min(PHASE_TOLERANCE_SECONDS, step / 10):
            return False
        self.offset = found.offset_seconds
        log.info("ticking %.3g s past each multiple of %g s: just after rule group %s is evaluated", self.offset, step,
                 found.group)
        return True

    def run(self, stop: threading.Event) -> None:
        """Tick once per tick interval until ``stop`` is set, then save.

        Ticks are scheduled on the wall clock (not "sleep one interval after the last
        tick"), so slow ticks do not push later ones; ticks missed while the process was
        stalled are skipped, not run in a burst. Their phase follows the recording rules'
        evaluation (:meth:`lock_phase`, checked again every ``RELOCK_SECONDS``, or
        ``RELOCK_AFTER_FAILURE_SECONDS`` after the rules API could not tell).

        The loop waits for each tick on ``stop.wait(seconds)`` and reads the time from the
        service's ``clock``: a fake clock whose ``wait`` moves it runs the loop without waiting.
        """
        step = self.config.scorer.tick_seconds
        if not stop.is_set():
            self.lock_phase()
        next_tick = next_tick_after(self.clock(), step, self.offset)
        since_lock = 0
        while not stop.wait(max(0.0, next_tick - self.clock())):
            try:
                self.tick(next_tick)
            except Exception:  # noqa: BLE001 - one bad tick must not stop the scorer
                log.exception("tick %s failed", _iso(next_tick))
                self.metrics.tick_results["error"].inc()
            now = self.clock()
            next_tick += step
            since_lock += 1
            if since_lock * step >= (RELOCK_AFTER_FAILURE_SECONDS if self.phase_failed else RELOCK_SECONDS):
                since_lock = 0
                if self.lock_phase():
                    next_tick = next_tick_after(now, step, self.offset)
            if next_tick <= now:
                missed = int((now - next_tick) // step) + 1
                log.warning("%d tick(s) missed (the process was stalled); resuming on schedule", missed)
                next_tick += missed * step
        self.save(logging.INFO)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
