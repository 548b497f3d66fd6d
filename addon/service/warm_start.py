"""Get a trained detector at start-up: saved state, else Prometheus history, else a CSV.

Each way is tried in that order, and the reason a way was passed over is kept, so the log
and the error say exactly why the scorer is (not yet) warm. A saved state that cannot be
used is kept as a backup before another way's model is saved in its place; a file at the
state path that is not a scorer state keeps the scorer cold rather than be replaced.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from vigilante.config import Config, spoken_duration
from vigilante.service.feature_source import FeatureRow, FeatureSource
from vigilante.prometheus.api import PrometheusError
from vigilante.scorer.features import histogram_buckets
from vigilante.scorer import Detector, ScorerError, StateError, TrainingError
from vigilante.scorer.errors import NotAStateError
from vigilante.scorer.series import in_clock_order, read_series
from vigilante.scorer.training_screen import LOCAL_SECONDS, MOST_LEFT_OUT, Screened, screen_incidents
from vigilante.service.state_file import set_aside, state_path

RATE_WINDOW_SECONDS = 60.0
"""The window of the rates the default features read (the recording rules' short window): for
that long after a series first appears, its rate is still climbing from zero."""

MOST_PROFILE_TICKS = 40_320
"""The most ticks of history the daily profiles learn from at a warm start: a week of 15 s ticks
(four range queries), a bound on the start's time and memory at shorter ticks."""

CLOCK_SKEW_SECONDS = 30.0
"""How far a saved model's last tick may be ahead of the clock and still be used (another
machine's clock, a small step back): ticks before it are refused until the clock passes it,
so more than this would leave a ready scorer failing tick after tick."""


class NotWarmError(RuntimeError):
    """No way to obtain a trained model worked; the message lists why each failed."""


@dataclass
class WarmStart:
    """A trained detector and how it was obtained (``state``, ``prometheus`` or ``csv``)."""

    detector: Detector
    source: str
    notes: list[str] = field(default_factory=list)
    broken_state: str = ""
    """Why a state file that exists was not used, and where it was kept (a warning), or ''."""


def warm_start(config: Config, features: FeatureSource, now: float) -> WarmStart:
    """The first way that yields a trained model; :class:`NotWarmError` if none does."""
    notes: list[str] = []
    broken = ""
    state = state_path(config)
    if state.exists():
        try:
            detector = Detector.load(state, config.scorer)
            refuse_ahead_of_clock(detector, state, now)
            return WarmStart(detector, "state", notes)
        except NotAStateError as exc:
            # Any model made now would be saved over it.
            raise NotWarmError(f"{exc}; it is never replaced: set scorer.state_path to another file") from None
        except StateError as exc:
            try:
                backup = set_aside(state)
            except OSError as err:
                raise NotWarmError(f"state file {state} not used ({exc}) and cannot be kept as a backup "
                                   f"({err.strerror}): not replaced") from None
            # Said once by the caller (the file is gone after this): in the "not warm yet" line,
            # or as a warning when another way warms the model.
            broken = f"state file {state} not used ({exc}); kept as {backup}"
            notes.append(f"state {state} not used: {exc}; kept as {backup}")
    else:
        notes.append(f"no state file at {state}")

    try:
        return WarmStart(bootstrap_from_prometheus(config, features, now, notes), "prometheus", notes, broken)
    except (TrainingError, PrometheusError) as exc:
        notes.append(f"Prometheus history not used: {exc}")

    if config.service.training_csv:
        try:
            return WarmStart(train_from_csv(config, Path(config.service.training_csv)), "csv", notes, broken)
        except (ScorerError, OSError) as exc:
            notes.append(f"training CSV {config.service.training_csv} not used: {exc}")
    else:
        notes.append("no training CSV configured (service.training_csv)")
    raise NotWarmError("; ".join(notes))


def refuse_ahead_of_clock(detector: Detector, state: Path, now: float) -> None:
    """Raise :class:`StateError` when the model's last tick is more than ``CLOCK_SKEW_SECONDS`` after ``now``."""
    ahead = detector.last_timestamp - now
    if ahead > CLOCK_SKEW_SECONDS:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(detector.last_timestamp))
        raise StateError(f"{state}: the model's last tick ({at}) is {ahead:.0f} s ahead of the clock: a clock set "
                         "back, or a state from a machine whose clock runs ahead")


def bootstrap_from_prometheus(config: Config, features: FeatureSource, now: float,
                              notes: list[str] | None = None) -> Detector:
    """Train on the last ``service.bootstrap_hours`` of the features in Prometheus, and the
    daily-profile members on up to ``service.profile_history_seconds`` of them (days, where
    the bootstrap window holds hours).

    The history's past incidents are left out first (:func:`screen_incidents`), so a re-warm
    does not learn an outage or a spike as normal; what was left out is added to ``notes``.
    Raises :class:`TrainingError` when Prometheus holds too little of that window (say,
    retention shorter than the window, or an install younger than it), saying how much.
    """
    step = config.scorer.tick_seconds
    # The last tick strictly before `now` on the tick grid: the tick scheduled at `now`
    # (when a tick warms up) comes after the training rows, as the detector requires.
    end = math.ceil(now / step) * step - step
    start = end - config.service.bootstrap_hours * 3600
    history = features.between(start, end, step)
    # the recording rules' rate windows shrink with trial.time_scale, and so does the ramp
    ramp = RATE_WINDOW_SECONDS / config.trial.time_scale
    rows = after_windows_filled(history, start + step / 2, ramp)
    profile = _profile_history(config, features, history, start, end, ramp, notes)
    complete = [r for r in history if r.complete]
    buckets = histogram_buckets(config)
    screened = screen_incidents([(r.timestamp, r.values) for r in rows], config.scorer.features, buckets,
                                local_seconds=LOCAL_SECONDS / config.trial.time_scale,
                                pad_seconds=RATE_WINDOW_SECONDS / config.trial.time_scale)
    if notes is not None and (screened.left_out or screened.gave_up):
        notes.append(_screen_note(screened, len(rows), step))
    try:
        detector = Detector.fit(config.scorer, screened.rows, buckets,
                                profile_rows=_profile_rows(profile, screened.rows) if profile else None)
    except TrainingError as exc:
        held = complete[-1].timestamp - complete[0].timestamp if complete else 0.0
        filling = len(history) - len(rows)
        left_out = f", the first {filling} left out while the rate windows filled" if filling else ""
        if screened.left_out:
            left_out += f", {screened.left_out} left out as past incidents"
        raise TrainingError(
            f"{exc} (Prometheus holds {len(complete)} complete ticks spanning {spoken_duration(held)} of the "
            f"{spoken_duration(config.service.bootstrap_hours * 3600)} bootstrap window{left_out}; check its "
            "retention, or wait)") from None
    if notes is not None and profile:
        notes.append(_profile_note(profile, step))
    return detector


def _profile_history(config: Config, features: FeatureSource, history: list[FeatureRow], start: float, end: float,
                     ramp: float, notes: list[str] | None) -> list[FeatureRow] | None:
    """``history`` (the bootstrap window, ``start`` to ``end``) with the days before it, up to
    ``service.profile_history_seconds`` in all, for the daily profiles; None when that reaches
    no further back, or when Prometheus cannot answer for the older days: the warm start
    goes on without them (a slow store must not keep the scorer cold), and the profiles
    learn the day live."""
    step = config.scorer.tick_seconds
    reach = min(config.service.profile_history_seconds, MOST_PROFILE_TICKS * step)
    earlier_ticks = math.ceil((start - (end - reach)) / step)  # on the ticks' grid, before `start`
    if earlier_ticks <= 0:
        return None
    earliest = start - earlier_ticks * step
    try:
        older = features.between(earliest, start - step, step)
    except PrometheusError as exc:
        if notes is not None:
            notes.append(f"the daily profiles learn the day live: the {spoken_duration(start - earliest)} of history "
                         f"before the bootstrap window could not be read ({exc})")
        return None
    return after_windows_filled(older + history, earliest + step / 2, ramp)


def _profile_rows(profile: list[FeatureRow], training: list) -> list:
    """The profile's rows up to the training rows' last, as ``(timestamp, values)``."""
    last = training[-1][0] if training else -math.inf
    return [(r.timestamp, r.values) for r in profile if r.timestamp <= last]


def _profile_note(profile: list[FeatureRow], step: float) -> str:
    held = [r.timestamp for r in profile if any(v is not None for v in r.values.values())]
    since = time.strftime("%Y-%m-%d %H:%M", time.gmtime(held[0])) if held else "-"
    return (f"the daily profiles learned from {spoken_duration(len(held) * step)} of history "
            f"({len(held)} ticks since {since} UTC)")


def _screen_note(screened: Screened, rows: int, step: float) -> str:
    if screened.gave_up:
        return (f"the history was not screened for past incidents: more than {MOST_LEFT_OUT:.0%} of its {rows} "
                "ticks stand far from their neighbours, so every tick was learned")
    return (f"left out {screened.left_out} of {rows} ticks of history (about "
            f"{spoken_duration(screened.left_out * step)}) that stand far from their neighbours: "
            "past incidents are not learned as normal")


def after_windows_filled(rows: list[FeatureRow], start: float,
                         window_seconds: float = RATE_WINDOW_SECONDS) -> list[FeatureRow]:
    """``rows`` without those whose rate windows were still filling.

    A feature whose first value comes after ``start`` appeared inside the history (a fresh
    install, a renamed job): for ``window_seconds`` its rates climb from zero, a ramp that
    is not traffic. Training on it would set the normal range from near zero and make a real
    spike look small, so the rows before every such feature's window is full are left out.

    >>> rows = [FeatureRow(t, {"rps": None if t < 30 else 8.0}) for t in range(0, 200, 15)]
    >>> [r.timestamp for r in after_windows_filled(rows, start=0.0)][:3]
    [90, 105, 120]
    >>> len(after_windows_filled(rows, start=45.0)) == len(rows)  # present from the window's start on
    True
    """
    first: dict[str, float] = {}
    for row in rows:
        for name, value in row.values.items():
            if value is not None:
                first.setdefault(name, row.timestamp)
    filled = max((t + window_seconds for t in first.values() if t > start), default=-math.inf)
    return [r for r in rows if r.timestamp >= filled]


def train_from_csv(config: Config, path: Path) -> Detector:
    """Train on a CSV in the ``vigilante backtest`` input format (e.g. from ``vigilante collect``)."""
    records = in_clock_order(read_series(path, config.scorer.features))
    return Detector.fit(config.scorer, [(ts, values) for ts, _, values in records], histogram_buckets(config))
