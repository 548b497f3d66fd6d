"""The streaming anomaly detector the live scorer and ``vigilante backtest`` both run.

One tick goes through the same steps, live or replayed:

1. each configured feature is transformed (:mod:`.transforms`) and compared with its slow
   baseline (:mod:`.baseline`): ``z = (y - prediction) / noise`` (only ``z > 0`` counts
   for the ``rise_only_features``: fewer errors or a faster response is no incident);
2. the deviation is seen at several time scales (``context_half_lives_seconds``: the tick
   itself and short exponential averages, of the deviation clipped to ``context_clip``)
   and each is mapped into [0, 1] by limits learned on the training rows, with headroom;
3. river's Half-Space Trees score it, one model per feature (or one joint model); each
   model's score becomes "times less mass than the rarest training ticks"; the threshold
   is a high quantile of training scores from trees that did not learn those rows, widened
   when there are few of them;
3b. beside the trees, each feature's raw value is compared with the outer quantiles of its
   own last values (:mod:`.quantile_excess`): a score that keeps growing with the size of the
   change, whose threshold is extrapolated from the tail of its training scores to one tick
   a week over all features (at least 1.5 spreads); and each feature's value is compared with
   what the same time of day looked like on the previous days (:mod:`.daily_profile`), once
   the series shows a daily rhythm (a value that profile expects is no news to the quantile
   member: a quieter weekend after five busy days). Each member scaled so that its threshold
   lands on the trees' threshold, the larger of a feature's two members is its member score,
   and the larger of the trees' and the members' is the score;
4. the decision is 1 once the score has stayed above the threshold for ``hold_seconds``,
   or on the second tick in a row above it when it is ``at_once_ratio`` times the
   threshold or more (a single tick far out is a glitch as often as an incident). With a
   single feature, only its quantile member opens an episode, and the trees may keep it open:
   on real series, what the trees alone found there was mostly single-row excursions on rows a
   minute or an hour apart, while a member forgets a lasting change within a few dozen rows.
   Where ``hold_seconds`` is a single row shorter than :data:`SCRAPE_ROW_SECONDS` (rows a
   minute apart), that row opens no episode alone: it needs a second row above the threshold
   or a second feature's word (two members, or two features' models, above it together), or
   one scrape's counter reset or error blip would page; with one feature, the members' own
   second row. An episode ends on the second tick in a row below the threshold
   (:data:`CLOSING_TICKS`);
5. the learning policy: a tick with a missing value (a gap) or whose trees' score is above
   the threshold is not learned by the trees, and the baselines only coast along their trend
   (the quantile members learn every value they see: quantiles barely move for a few incident
   rows; and a tick only they find unusual, a ramp beyond its recent range, is learned); the
   trees learn every other tick, and the baselines follow it by bounded steps (``baseline_clip``: a ramp is
   followed, a jump is not). Once the score was above the threshold for half of the last
   ``relearn_after_seconds`` and the last values are steady, the baselines are re-set on
   the new level (after ``relearn_after_seconds`` more, steady or not): a lasting shift
   alerts for at most ``relearn_after_seconds`` if steady, twice that otherwise.

Every window is configured in seconds and counted in ticks of the series at hand: the
median spacing of the training rows (:mod:`.timing`), 15 s live at the shipped interval.
Rows that never came count as ticks: the baselines coast through them, and a gap of more
than :attr:`Detector.gap_reset_ticks` (four of the longest context half-life, at least
four) also resets the short-term context, so the first row after it is not scored as a
step from the last one before.

    >>> import math
    >>> from vigilante.config import ScorerConfig
    >>> cfg = ScorerConfig(features=("value",), relearn_after_seconds=0)
    >>> rows = [(i * 15.0, {"value": 10 + math.sin(i / 40) + 0.1 * ((i * 7919) % 11 - 5)})
    ...         for i in range(600)]
    >>> detector = Detector.fit(cfg, rows)
    >>> detector.step(600 * 15.0, {"value": 10.0}).decision
    0
    >>> r = detector.step(601 * 15.0, {"value": 40.0})   # four times the level: far above the threshold
    >>> r.score > cfg.at_once_ratio * r.threshold, r.decision   # one tick alone may be a glitch
    (True, 0)
    >>> r = detector.step(602 * 15.0, {"value": 40.0})   # the second one is news: no waiting for the hold
    >>> r.score > cfg.at_once_ratio * r.threshold, r.decision
    (True, 1)
    >>> r = detector.step(603 * 15.0, {"value": None})
    >>> r.learned, r.skipped
    (False, 'gap')
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from river.anomaly import HalfSpaceTrees

from vigilante.config import ScorerConfig
from vigilante.scorer.baseline import HoltBaseline, alpha_for
from vigilante.scorer.daily_profile import SeasonalExcess
from vigilante.scorer.errors import TrainingError
from vigilante.scorer.forest_state import pack, unpack
from vigilante.scorer.quantile_excess import QuantileExcess, tail_threshold
from vigilante.scorer.state import load_state, save_state
from vigilante.scorer.threshold import HoldDecision, calibrate_threshold, small_sample_factor, trimmed_quantile
from vigilante.scorer.timing import TickScale, observed_spacing
from vigilante.scorer.transforms import FeatureTransform, Limits, grain

MIN_TRAIN_ROWS = 60
# The least training range of a derived feature, in noise units (+-2 sigma) before headroom: a
# feature that moved less than its noise floor in training still takes a wobble of one noise unit
# as normal. (6 let a 30 % step on 5-minute rows score below the threshold.)
MIN_LIMIT_WIDTH = 4.0
STEADY_TICKS = 20  # ticks whose spread tells whether a lasting shift has settled
HELD_OUT_FOLDS = 2  # the threshold is calibrated on scores of rows the scoring models did not learn
STEADY_SPREAD = 3.0  # "steady": the spread of those ticks is within this many noise units
EXCESS_FALSE_SECONDS = 7 * 86400.0
"""The quantile members may put one tick above their thresholds this often, all features together:
each member's threshold is the score its training rows' tail says one tick in that many exceeds."""
CORROBORATING_MEMBERS = 2
"""Quantile members that must be beyond their thresholds together when there are that many features;
also the features' tree models that, above the threshold together, open an episode on one row."""
CLOSING_TICKS = 2
"""Ticks in a row below the threshold that end an episode: one tick below between two above (a dip in the
middle of an incident) is no resolution, and an episode that flaps would page twice for one incident."""
SCRAPE_ROW_SECONDS = 300.0
"""Rows closer together than this may each hold little more than one scrape (Prometheus scrapes every
15 s to a minute, its rate windows span 1 to 5 minutes): one such row above the threshold is a glitch
(a counter reset, a restarted pod's first rate) as often as an incident, so it opens no episode alone.
A row of 5 minutes or more is already many scrapes' worth."""

Row = tuple[float, Mapping[str, "float | None"]]


@dataclass(frozen=True)
class StepResult:
    """What one tick produced: the exported values and why the model did (not) learn."""

    timestamp: float
    score: float
    threshold: float
    decision: int
    learned: bool
    skipped: str | None  # None, "gap" (a missing value) or "anomalous" (the trees' score above the threshold)
    rebaselined: bool = False
    attribution: dict[str, float] | None = None  # each feature's share of the score, adding up to 1

    @property
    def above(self) -> bool:
        return self.score > self.threshold


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


class Detector:
    """Half-Space Trees on baseline deviations, with a calibrated threshold and a learning policy.

    Build it with :meth:`fit`, feed it with :meth:`step`, persist it with :meth:`save` and
    :meth:`load` (see :mod:`vigilante.scorer.state`).
    """

    def __init__(self, config: ScorerConfig, spacing_seconds: float | None = None):
        self.config = config
        self.ticks = TickScale.of(config, spacing_seconds or config.tick_seconds)
        self.features: tuple[str, ...] = tuple(config.features)
        self.scales: tuple[float, ...] = self.ticks.context_half_lives_ticks
        self._alphas = [alpha_for(h) for h in self.scales]
        self.transforms: dict[str, FeatureTransform] = {}
        self.noise: dict[str, float] = {}
        self.baselines: dict[str, HoltBaseline] = {}
        self.context: dict[str, list[float]] = {f: [0.0] * len(self.scales) for f in self.features}
        self.limits: dict[str, Limits] = {}
        self.groups: list[tuple[str, ...]] = []
        self.models: list[HalfSpaceTrees] = []
        self.excess: dict[str, QuantileExcess] = {}
        self.seasonal: dict[str, SeasonalExcess] = {}
        self.normalizers: list[float] = []
        self.threshold = math.inf
        self.hold = HoldDecision(self.ticks.hold_ticks)
        self.decision = 0  # the last tick's: the trees may hold an episode open that they could not open
        self.above_recent: deque = deque(maxlen=max(self.ticks.relearn_after_ticks, 1))
        self.persistent_run = 0
        self.members_run = 0  # ticks in a row the quantile and daily members were above the threshold
        self.recent: dict[str, deque] = {f: deque(maxlen=STEADY_TICKS) for f in self.features}
        self.last_timestamp = -math.inf
        self.ticks_seen = 0
        self.ticks_learned = 0
        self.window_size = 0

    # --- names of the derived features ------------------------------------------------

    def derived_names(self, feature: str) -> list[str]:
        return [f"{feature}@{h:g}" for h in self.scales]

    # --- fitting ----------------------------------------------------------------------

    @classmethod
    def fit(cls, config: ScorerConfig, rows: Sequence[Row],
            buckets: Mapping[str, Sequence[float]] | None = None,
            profile_rows: Sequence[Row] | None = None) -> "Detector":
        """Learn transforms, baselines, limits, the models and the threshold from normal rows.

        Rows with a missing value are left out of the training. The window of every model
        is the number of complete training rows unless ``config.window_size`` says
        otherwise, and every model is warmed on all of them. ``buckets`` gives, for a
        feature that is a quantile estimated from a histogram, the histogram's bucket upper
        bounds (see ``vigilante.scorer.features.histogram_buckets``): a move well inside
        one bucket is then noise. ``profile_rows``, days of rows at the same spacing that
        end where ``rows`` end, are what the daily-profile members learn the day's shape
        from instead of ``rows`` (hours say nothing of a day); each feature's values in
        them count, wherever another feature has a gap.
        """
        rows = list(rows)
        # The series' own tick: every window configured in seconds is counted in it.
        self = cls(config, observed_spacing([t for t, _ in rows], fallback=config.tick_seconds))
        complete = [(t, v) for t, v in rows if not any(_missing(v.get(f)) for f in self.features)]
        if len(complete) < MIN_TRAIN_ROWS:
            raise TrainingError(
                f"{len(complete)} complete training rows; at least {MIN_TRAIN_ROWS} are needed"
            )
        values = {f: np.array([float(v[f]) for _, v in complete]) for f in self.features}
        self.transforms = {f: FeatureTransform.fit(f, values[f]) for f in self.features}
        ys = {f: np.array([self.transforms[f].apply(x) for x in values[f]]) for f in self.features}

        # Baselines: one pass to measure how far a normal tick strays from its prediction,
        # a second one, from the same start, the way step() will see the rows.
        deviations = {f: np.empty(len(complete)) for f in self.features}
        floor_share = {}
        for f in self.features:
            b = self._warm_baseline(ys[f])
            for i, value in enumerate(ys[f]):
                deviations[f][i] = value - b.predict()
                b.update(value)
            mad = float(np.median(np.abs(deviations[f] - np.median(deviations[f])))) * 1.4826
            floor = self.transforms[f].noise_floor(f, values[f], (buckets or {}).get(f, ()))
            self.noise[f] = max(mad, 0.1 * float(deviations[f].std()), floor, 1e-9)
            floor_share[f] = floor / self.noise[f]
            self.baselines[f] = self._warm_baseline(ys[f])
            self.excess[f] = self._fit_excess(f, values[f], (buckets or {}).get(f, ()))
            present = [(t, float(v[f])) for t, v in (complete if profile_rows is None else profile_rows)
                       if not _missing(v.get(f))]
            self.seasonal[f] = self._fit_seasonal(f, [t for t, _ in present], np.array([x for _, x in present]),
                                                  (buckets or {}).get(f, ()))
        derived_rows = []
        for i in range(len(complete)):
            y = {f: float(ys[f][i]) for f in self.features}
            derived_rows.append(self._derive(y))  # before the update, as in step()
            self._follow(y)
            for f, value in y.items():
                self.recent[f].append(value)

        names = [n for f in self.features for n in self.derived_names(f)]
        # Quantiles of the training rows stop short of their two most extreme rows: a freak
        # row is not normal traffic (see threshold.EXTREME_TRAINING_ROWS).
        limit_quantile = trimmed_quantile(config.limit_quantile, len(complete))
        score_quantile = trimmed_quantile(config.threshold_quantile, len(complete))
        for f in self.features:
            for n, a in zip(self.derived_names(f), self._alphas):
                # The least range: the spread of an exponential average of unit noise,
                # sqrt(a / (2 - a)), or the noise floor, which a lasting offset may sit at too.
                spread = max(math.sqrt(a / (2 - a)), floor_share[f])
                self.limits[n] = Limits.fit([d[n] for d in derived_rows], limit_quantile, config.headroom,
                                            min_width=MIN_LIMIT_WIDTH * spread)
        unit_rows = [self._to_unit(d) for d in derived_rows]

        if config.model_layout == "joint":
            self.groups = [tuple(names)]
        else:
            self.groups = [tuple(self.derived_names(f)) for f in self.features]
        self.window_size = min(config.window_size or len(complete), len(complete))
        self.models = [
            HalfSpaceTrees(n_trees=config.n_trees, height=config.tree_height, window_size=self.window_size, seed=config.seed + k)
            for k in range(len(self.groups))
        ]
        # Warm every model on the last `window_size` rows (all of them by default): the
        # window swaps exactly at the end, so the reference mass is the training set.
        for u in unit_rows[-self.window_size:]:
            for group, model in zip(self.groups, self.models):
                model.learn_one({n: u[n] for n in group})
        self.ticks_learned = self.window_size

        raw = np.array([[m.score_one({n: u[n] for n in g}) for g, m in zip(self.groups, self.models)] for u in unit_rows])
        # Each model's score becomes "how many times less mass than the rarest training
        # ticks" (1 - score is river's normalised mass), so models of different spread
        # compare, and the top of the scale is not squeezed against 1.
        self.normalizers = [max(1.0 - float(np.quantile(raw[:, k], score_quantile)), 1e-9) for k in range(len(self.models))]
        # The threshold comes from scores of rows the scoring model never learned (each half
        # of the training rows scored by models of the other half): in-sample scores are
        # lower than any new tick's, the more so the fewer rows there are.
        held_out = self._held_out_raw_scores(unit_rows)
        combined = (np.array(self.normalizers) / np.maximum(1.0 - held_out, 1e-9)).max(axis=1)
        # The small-sample factor widens it for what the few rows cannot show.
        self.threshold = calibrate_threshold(combined, score_quantile, config.threshold_margin) * \
            small_sample_factor(len(combined), config.threshold_quantile)
        self.last_timestamp = float(complete[-1][0])
        return self

    @property
    def _member_false_rate(self) -> float:
        """The share of ticks each member may put above its threshold: one tick in
        :data:`EXCESS_FALSE_SECONDS`, over all features."""
        return self.ticks.spacing_seconds / (EXCESS_FALSE_SECONDS * len(self.features))

    def _fit_excess(self, feature: str, values: np.ndarray, buckets: Sequence[float]) -> QuantileExcess:
        """The feature's quantile member, its threshold from the tail of its training scores."""
        member, scores = QuantileExcess.replay(values, grain(feature, values, buckets), feature in self.config.rise_only_features)
        member.threshold = max(member.threshold, tail_threshold(scores, self._member_false_rate))
        return member

    def _fit_seasonal(self, feature: str, timestamps: Sequence[float], values: np.ndarray,
                      buckets: Sequence[float]) -> SeasonalExcess:
        """The feature's daily-profile member, calibrated to the same false rate as the quantile member."""
        return SeasonalExcess.fit(timestamps, values, self.ticks.spacing_seconds, grain(feature, values, buckets),
                                  feature in self.config.rise_only_features, self._member_false_rate)

    def _held_out_raw_scores(self, unit_rows: Sequence[Mapping[str, float]], folds: int = HELD_OUT_FOLDS) -> np.ndarray:
        """River's score of every training row by models learned on the other folds only."""
        c = self.config
        n = len(unit_rows)
        raw = np.empty((n, len(self.groups)))
        bounds = np.linspace(0, n, folds + 1).astype(int)
        for lo, hi in zip(bounds, bounds[1:]):
            rest = list(unit_rows[:lo]) + list(unit_rows[hi:])
            for k, group in enumerate(self.groups):
                model = HalfSpaceTrees(n_trees=c.n_trees, height=c.tree_height, window_size=len(rest), seed=c.seed + k)
                for u in rest:
                    model.learn_one({name: u[name] for name in group})
                for i in range(lo, hi):
                    raw[i, k] = model.score_one({name: unit_rows[i][name] for name in group})
        return raw

    def _warm_baseline(self, ys: np.ndarray) -> HoltBaseline:
        """A baseline already in step at the first training row: run backwards over the
        first rows, then turn round (the trend changes sign)."""
        t = self.ticks
        span = min(len(ys), int(4 * t.baseline_half_life_ticks) + 1)
        b = HoltBaseline.start(float(ys[span - 1]), t.baseline_half_life_ticks, t.trend_half_life_ticks)
        for value in ys[span - 1 :: -1]:
            b.update(float(value))
        b.trend = -b.trend
        b.level -= b.trend  # predict() of the first row is level + trend
        return b

    # --- one tick ---------------------------------------------------------------------

    def _derive(self, y: Mapping[str, float]) -> dict[str, float]:
        """Deviations of the present features at every time scale; updates the averages."""
        out = {}
        rise_only = self.config.rise_only_features
        clip = self.config.context_clip
        for f, value in y.items():
            z = (value - self.baselines[f].predict()) / self.noise[f]
            if z < 0 and f in rise_only:
                z = 0.0
            ctx = self.context[f]
            clipped = max(-clip, min(clip, z))
            for k, (name, a) in enumerate(zip(self.derived_names(f), self._alphas)):
                ctx[k] += a * ((z if a == 1.0 else clipped) - ctx[k])
                out[name] = ctx[k]
        return out

    def _to_unit(self, derived: Mapping[str, float]) -> dict[str, float]:
        return {n: self.limits[n].apply(v) for n, v in derived.items()}

    def _tree_scores(self, u: Mapping[str, float]) -> list[float]:
        """Each model's score on the detector's scale (a model whose features are all missing has nothing to say)."""
        scores = []
        for group, model, q in zip(self.groups, self.models, self.normalizers):
            x = {n: u[n] for n in group if n in u}
            if x:
                scores.append(q / max(1.0 - model.score_one(x), 1e-9))
        return scores

    def _excess(self, raw: Mapping[str, float]) -> float:
        """The quantile members' score, on the detector's scale: each member's score is scaled so
        that its own threshold lands on the detector's."""
        excess = 0.0
        if math.isfinite(self.threshold):
            members = sorted(self._member_score(f, self.last_timestamp, v) for f, v in raw.items())
            # With several features, the members speak only when two agree: one feature beyond its
            # quantiles alone (a few errors in a quiet hour) is what the trees are there to judge.
            agree = min(CORROBORATING_MEMBERS, len(self.features))
            if len(members) >= agree:
                excess = self.threshold * members[-agree]
        return excess

    def _may_open(self, tree_scores: Sequence[float], excess: float) -> bool:
        """Whether a tick whose score was held long enough may open an episode (step 4 in the module docstring):
        with one feature, when its members are above the threshold (on rows closer than
        :data:`SCRAPE_ROW_SECONDS`, on their second row in a row); with several, when two members or two
        features' models are, or on a second row above it. Rows :data:`SCRAPE_ROW_SECONDS` apart or more
        may open one on their first row; closer ones need a second, or another feature's word."""
        members = excess > self.threshold
        short_rows = self.ticks.spacing_seconds < SCRAPE_ROW_SECONDS
        if len(self.features) == 1:
            # the members' own second row: one far-out scrape next to a row only the trees find odd is one glitch
            return members and not (short_rows and self.members_run < 2)
        one_row = self.hold.run < 2 and short_rows
        corroborated = members or sum(s > self.threshold for s in tree_scores) >= CORROBORATING_MEMBERS
        return corroborated or not one_row

    def _member_score(self, feature: str, timestamp: float, value: float) -> float:
        """The larger of the feature's quantile and daily-profile members' scores, each over its own
        threshold. A value the daily profile expects at this time of day is no news to the quantile
        member: the last hours are not the whole week (a quieter weekend after five busy days)."""
        seasonal = self.seasonal[feature]
        recent = 0.0 if seasonal.expects(timestamp, value) else \
            self.excess[feature].score(value) / self.excess[feature].threshold
        return max(recent, seasonal.score(timestamp, value) / seasonal.threshold)

    def _score(self, u: Mapping[str, float], raw: Mapping[str, float]) -> float:
        """The ensemble's score: the larger of the trees' and the quantile members'."""
        return max(max(self._tree_scores(u), default=0.0), self._excess(raw))

    def step(self, timestamp: float, values: Mapping[str, "float | None"], explain: bool | None = None) -> StepResult:
        """Score one tick, decide, then learn from it or not; returns what to export.

        ``values`` maps feature names to numbers; a missing name, ``None`` or NaN is a
        gap. ``explain`` computes the attribution (default: only when above threshold).
        """
        if timestamp <= self.last_timestamp:
            raise ValueError(f"timestamp {timestamp} is not after the previous tick ({self.last_timestamp})")
        if math.isfinite(self.last_timestamp):
            self._pass_time((timestamp - self.last_timestamp) / self.ticks.spacing_seconds)
        self.last_timestamp = timestamp
        self.ticks_seen += 1
        x = {f: float(values[f]) for f in self.features if not _missing(values.get(f))}
        y = {f: self.transforms[f].apply(value) for f, value in x.items()}
        u = self._to_unit(self._derive(y))
        tree_scores = self._tree_scores(u)
        trees, excess = max(tree_scores, default=0.0), self._excess(x)
        score = max(trees, excess)
        above = score > self.threshold
        self.members_run = self.members_run + 1 if excess > self.threshold else 0
        ratio = self.config.at_once_ratio
        decision = self.hold.update(above, at_once=bool(ratio) and score >= ratio * self.threshold)
        if decision and not self.decision and not self._may_open(tree_scores, excess):
            decision = 0  # what may keep an episode open may not always open one (see step 4 above)
        elif self.decision and not decision and self.hold.quiet < CLOSING_TICKS:
            decision = 1  # an episode ends on the second tick in a row below the threshold (step 4)
        self.decision = decision
        for f, value in y.items():
            self.recent[f].append(value)

        skipped, rebaselined = None, False
        # The trees and baselines learn by the trees' own verdict, as they would alone: a tick only
        # the quantile members find unusual (a ramp beyond its recent range) still moves the baselines.
        above = trees > self.threshold
        self.above_recent.append(above)
        if len(y) < len(self.features) or above:
            # Time passes but the tick teaches nothing: a rising baseline keeps rising (a
            # ramp that crossed the threshold is caught up with), a flat one stays put.
            for b in self.baselines.values():
                b.coast()
        if len(y) < len(self.features):
            skipped = "gap"
        elif above:
            skipped = "anomalous"
            rebaselined = self._maybe_rebaseline()
        else:
            for group, model in zip(self.groups, self.models):
                model.learn_one({n: u[n] for n in group})
            self.ticks_learned += 1
            self._follow(y)

        attribution = None
        if explain or (explain is None and score > self.threshold):
            attribution = self._attribute(u, x, score)
        # Every value is history to the quantile members, anomalous or not: a few incident rows move
        # their quantiles little, and a lasting change becomes their normal within a twentieth of a window.
        for f, value in x.items():
            self.excess[f].learn(value)
            self.seasonal[f].learn(timestamp, value)
        return StepResult(float(timestamp), score, self.threshold, decision, skipped is None, skipped, rebaselined, attribution)

    def _pass_time(self, elapsed_ticks: float) -> None:
        """Rows that never came (a gap in the file, a stalled scorer) are ticks all the same.

        The baselines coast through each missing tick, as through a gap tick, for at most a
        baseline half-life (by then the trend has faded). A gap longer than
        :attr:`gap_reset_ticks` ends the short-term context: the averaged deviations, the run
        of ticks above the threshold and the recent values are from before it, and carrying
        them over would score the first row after the gap as a step from the last one before.
        """
        missing = int(round(elapsed_ticks)) - 1
        if missing <= 0:
            return
        for b in self.baselines.values():
            for _ in range(min(missing, int(self.ticks.baseline_half_life_ticks) + 1)):
                b.coast()
        if missing >= self.gap_reset_ticks:
            for f in self.features:
                self.context[f] = [0.0] * len(self.scales)
                self.recent[f].clear()
            self.hold.reset()
            self.members_run = 0

    @property
    def gap_reset_ticks(self) -> int:
        """Missing ticks that end the short-term context: four of its longest half-life, at least four."""
        return max(4, math.ceil(4 * max(self.scales, default=0.0)))

    def _follow(self, y: Mapping[str, float]) -> None:
        """Move the baselines towards this tick, each by a bounded step (robust Holt)."""
        k = self.config.baseline_clip
        for f, value in y.items():
            b = self.baselines[f]
            limit = k * self.noise[f]
            predicted = b.predict()
            b.update(predicted + max(-limit, min(limit, value - predicted)))

    def _maybe_rebaseline(self) -> bool:
        """Accept a lasting shift as the new normal, within a bounded time.

        The shift is "lasting" once at least half of the last ``relearn_after_seconds``
        (in ticks) were above the threshold (a flapping score counts too); it is accepted
        as soon as the last ``STEADY_TICKS`` values are steady, and after another
        ``relearn_after_seconds`` regardless. Baselines are re-set on the recent
        level; the trees are kept, since they model deviations, not levels.
        """
        k = self.ticks.relearn_after_ticks
        window = self.above_recent
        if k <= 0 or len(window) < k or 2 * sum(window) < k:
            self.persistent_run = 0
            return False
        self.persistent_run += 1
        steady = all(
            len(r) >= 2 and statistics.pstdev(r) <= STEADY_SPREAD * self.noise[f] for f, r in self.recent.items()
        )
        if not steady and self.persistent_run < k:
            return False
        for f, r in self.recent.items():
            if r:
                self.baselines[f].reset(statistics.fmean(r))
                if not steady and len(r) >= 2:
                    # Accepted unsteady: its spread is the new normal too. Otherwise a series that
                    # was flat in training and then came alive keeps every tick far above for good.
                    self.noise[f] = max(self.noise[f], statistics.pstdev(r))
            self.context[f] = [0.0] * len(self.scales)
        self.persistent_run = 0
        window.clear()
        return True

    def _attribute(self, u: Mapping[str, float], x: Mapping[str, float], score: float) -> dict[str, float]:
        """Each feature's share of the score (the shares add up to 1; all 0 when none drives it): its part
        of the drops in score when each feature in turn is put back on its baseline (and, for the
        quantile members, left out)."""
        drops = {}
        for f in self.features:
            calm = dict(u)
            for n in self.derived_names(f):
                if n in calm:
                    calm[n] = self.limits[n].apply(0.0)
            calm_x = {g: v for g, v in x.items() if g != f}
            drops[f] = max(score - self._score(calm, calm_x), 0.0)
        total = sum(drops.values())
        return {f: round(drop / total, 6) if total > 0 else 0.0 for f, drop in drops.items()}

    # --- state --------------------------------------------------------------------------

    def __getstate__(self) -> dict:
        # The trees as arrays: pickling their node objects was most of a save's cost.
        return {**self.__dict__, "models": [pack(model) for model in self.models]}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.models = [unpack(model) for model in state["models"]]

    def save(self, path) -> None:
        """Write the whole model atomically (see :func:`vigilante.scorer.state.save_state`)."""
        save_state(self, path)

    @classmethod
    def load(cls, path, config: ScorerConfig | None = None) -> "Detector":
        """Read a model saved by :meth:`save`; with ``config``, check it reads the same features."""
        return load_state(path, config, model=cls)

    def replace_config(self, config: ScorerConfig) -> None:
        """Take the decision knobs (hold, relearning) from a newer configuration."""
        self.config = dataclasses.replace(
            self.config, hold_seconds=config.hold_seconds, at_once_ratio=config.at_once_ratio,
            relearn_after_seconds=config.relearn_after_seconds,
        )
        self.ticks = TickScale.of(self.config, self.ticks.spacing_seconds)
        self.hold.hold_ticks = self.ticks.hold_ticks
        self.above_recent = deque(self.above_recent, maxlen=max(self.ticks.relearn_after_ticks, 1))
