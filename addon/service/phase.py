"""When to tick: just after Prometheus records the features, not at a random phase of the clock.

A recording rule group is evaluated at a fixed phase of its interval (Prometheus derives
it from the group's name and file). A scorer ticking at multiples of the interval reads
each recorded sample up to a whole interval late; ticking a moment after the group's
evaluation reads it at once. :func:`rule_phase` finds that moment from the rules API.

    >>> groups = [{"name": "slo", "interval": 60, "lastEvaluation": "2026-01-01T00:00:07.5Z",
    ...            "evaluationTime": 0.01, "rules": [{"name": "slo:burn:ratio_rate1h"}]},
    ...           {"name": "features", "interval": 15, "lastEvaluation": "2026-01-01T00:00:03.25Z",
    ...            "evaluationTime": 0.25, "rules": [{"name": "job:requests:rate1m"}]}]
    >>> phase = rule_phase(groups, ["sum(job:requests:rate1m)"], tick_seconds=15, margin_seconds=1)
    >>> phase.group, phase.offset_seconds
    ('features', 4.5)
    >>> next_tick_after(now=1000.0, tick_seconds=15, offset_seconds=4.5)
    1009.5
    >>> rule_phase(groups, ["up"], tick_seconds=15, margin_seconds=1) is None
    True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from vigilante.prometheus.api import MalformedAnswer

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

MARGIN_SECONDS = 1.0
"""Time after the group's evaluation ended before the tick: the recorded samples are
committed by then, and a clock a little off between the two hosts does not matter."""


def margin_for(tick_seconds: float) -> float:
    """The margin at a tick interval: :data:`MARGIN_SECONDS`, at most a quarter tick (compressed time).

    >>> margin_for(15.0), margin_for(1.0)
    (1.0, 0.25)
    """
    return min(MARGIN_SECONDS, tick_seconds / 4)


class NoRuleGroups(Exception):
    """The rules API lists no rule group at all: the store evaluates no rules itself (VictoriaMetrics
    and Thanos Querier leave them to vmalert and the ruler), or it loaded no rule file."""


@dataclass(frozen=True)
class RulePhase:
    """The group whose rules the feature queries read, and the tick's offset in the tick interval."""

    group: str
    offset_seconds: float


def rule_phase(groups: Iterable[dict[str, Any]], queries: Sequence[str], tick_seconds: float,
               margin_seconds: float | None = None) -> RulePhase | None:
    """The tick phase ``margin_seconds`` (default :func:`margin_for` the tick) after the group
    that records most of the queries' series.

    ``groups`` are the ``data.groups`` of Prometheus' ``/api/v1/rules`` (or vmalert's, of the
    same shape). None when no group records a series the queries name (they read raw series: no
    phase is better than another) or the group was not evaluated yet; :class:`NoRuleGroups` when
    there is no group at all; :class:`~vigilante.prometheus.api.MalformedAnswer` when the groups
    are not the rules API's shape.

    >>> rule_phase([{"name": "features", "rules": ["x"]}], ["up"], 15)
    Traceback (most recent call last):
    ...
    vigilante.prometheus.api.MalformedAnswer: rule group 'features': its rules are not a list of rules
    """
    names = {m for q in queries for m in METRIC_NAME.findall(q)}
    if isinstance(groups, list) and not groups:
        raise NoRuleGroups("the rules API lists no rule groups")
    best, best_count = None, 0
    for group in groups:
        rules = group.get("rules") if isinstance(group, dict) else None
        if not (isinstance(rules, list) and all(isinstance(rule, dict) for rule in rules)):
            name = group.get("name") if isinstance(group, dict) else group
            raise MalformedAnswer(f"rule group {str(name)[:60]!r}: its rules are not a list of rules")
        count = sum(1 for rule in rules if isinstance(rule.get("name"), str) and rule["name"] in names)
        if count > best_count:
            best, best_count = group, count
    if best is None:
        return None
    evaluated = _timestamp(best.get("lastEvaluation"))
    if evaluated is None:
        return None
    duration = best.get("evaluationTime")
    duration = float(duration) if isinstance(duration, (int, float)) and math.isfinite(duration) else 0.0
    if margin_seconds is None:
        margin_seconds = margin_for(tick_seconds)
    return RulePhase(str(best.get("name")), round((evaluated + duration + margin_seconds) % tick_seconds, 3))


def next_tick_after(now: float, tick_seconds: float, offset_seconds: float = 0.0) -> float:
    """The first time after ``now`` that is ``offset_seconds`` past a multiple of ``tick_seconds``."""
    return math.floor((now - offset_seconds) / tick_seconds) * tick_seconds + tick_seconds + offset_seconds


def _timestamp(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as Prometheus writes it (nanoseconds, ``Z``);
    None for a group never evaluated (``0001-01-01T00:00:00Z``, or no time given);
    :class:`MalformedAnswer` for anything else that is not such a time.

    >>> _timestamp("2026-01-01T00:00:03.25Z"), _timestamp("0001-01-01T00:00:00Z")
    (1767225603.25, None)
    >>> _timestamp("2026-13-45T25:61:00Z")
    Traceback (most recent call last):
    ...
    vigilante.prometheus.api.MalformedAnswer: lastEvaluation is not a time: '2026-13-45T25:61:00Z'
    """
    if text is None:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text) \
        if isinstance(text, str) else None
    if not match:
        raise MalformedAnswer(f"lastEvaluation is not a time: {str(text)[:40]!r}")
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise MalformedAnswer(f"lastEvaluation is not a time: {text[:40]!r}") from None
    if moment.year < 1971:
        return None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)
