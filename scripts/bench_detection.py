"""Detection benchmark: the scorer against baselines on labelled scenarios.

For every seed, a scenario (scripts/scenarios.py) of ``--days`` days of 15 s ticks is
generated; the first day is the training set of every method. Methods, each calibrated on
the same training rows:

- ``scorer``: :class:`vigilante.scorer.Detector` with the shipped defaults (or ``--config``);
- ``static``: per-feature thresholds at the training min/max widened by a factor;
- ``zscore``: per-feature rolling z-score over the last hour (learns everything);
- ``original``: the original thesis' method: errors/min and requests/min as raw counts,
  river's default Half-Space Trees trained on the last hour of the training set, learning
  every tick, a fixed threshold of 0.5.

The baselines' sensitivity (static's factor, zscore's k) is tuned on the tuning seeds to
the lowest value that keeps at most ``--budget`` false alert episodes per week, then
frozen; so they are compared with the scorer at the same false-alert budget. The scorer's
own parameters were tuned on the tuning seeds too (see the config defaults) and are frozen.

Per anomaly kind: event recall (an event counts when the decision is 1 at some tick from
its onset to 8 ticks after its end, the rate window's tail), the median delay in ticks
from onset to the first decision = 1, and false alert episodes per week of traffic
(episodes starting outside every anomaly; a ``level_shift`` may alert for its documented
bound, twice ``relearn_after_seconds`` + ``hold_seconds`` + 8 ticks, after onset).

    python -m scripts.bench_detection            # full: 6 tuning + 6 held-out seeds, 8 days each
    python -m scripts.bench_detection --quick    # smoke: 1 + 1 seeds of 2 days, cost over 1 day

Then the scorer alone on tiers of the same scenarios (scripts/detection_tiers.py): rows 1 and 5
minutes apart, irregular rows (gaps, repeats, a row from the past), and a flat app trained
on 3 minutes, in seconds: recall, lowest kind, median delay, false episodes a week and the
longest false episode; and on the runs recorded from the real stack under
tests/fixtures/recorded/ (scripts/record_series.py).

Then the real-data tier (scripts/real_tier.py): the scorer, through ``vigilante backtest``
itself, on labelled production series (the tuning half of a public dataset, by default
``../shared/data/cloud-monitoring`` beside the checkout; ``--real-data`` or
``$BENCH_REAL_DATA`` elsewhere; skipped with one line when absent), scored as the data's
README says, beside a rolling robust z-score and river's bare Half-Space Trees at the
scorer's false-episode rate:

    python -m scripts.bench_detection --tier real                      # only the real-data tier
    python -m scripts.bench_detection --tier real --real-data DIR      # on another copy

And the daily tier (scripts/daily_series.py): series with a daily rhythm, 5-minute and hourly
rows, whose anomalies lie inside the day's range but are wrong for the hour (a flat day, a
peak half as high, a busy night), scored by the same code as the real tier:

    python -m scripts.bench_detection --tier daily                     # only the daily tier

Prints a table per method and set, the tier tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vigilante.config import load_config
from vigilante.scorer.features import histogram_buckets
from vigilante.scorer import Detector
from vigilante.scorer.timing import TickScale
from scripts.detection_tiers import TierOutcome, run_recorded, run_tiers
from scripts.detection_tiers import table as tier_table
from scripts import daily_series, real_tier
from scripts.scenarios import (ANOMALY_KINDS, FEATURES, NORMAL_KINDS, TICK_SECONDS, TICKS_PER_DAY, Scenario,
                               generate)


def ticks(cfg) -> TickScale:
    """The scorer's windows in ticks of the scenarios' 15 s rows."""
    return TickScale.of(cfg, 15.0)

GRACE_TICKS = 8
TUNING_SEEDS = (101, 102, 103, 104, 105, 106)
HELD_OUT_SEEDS = (201, 202, 203, 204, 205, 206)


# --- scoring of a decision sequence ---------------------------------------------------


@dataclass
class Outcome:
    detected: dict[str, list[bool]] = field(default_factory=dict)
    delays: dict[str, list[int]] = field(default_factory=dict)
    false_episodes: int = 0
    normal_alerts: dict[str, int] = field(default_factory=dict)  # false episodes starting in a normal event
    weeks: float = 0.0
    shift_alert_ticks: list[int] = field(default_factory=list)  # how long each level shift alerted

    def add(self, other: "Outcome") -> None:
        for k, v in other.detected.items():
            self.detected.setdefault(k, []).extend(v)
        for k, v in other.delays.items():
            self.delays.setdefault(k, []).extend(v)
        for k, v in other.normal_alerts.items():
            self.normal_alerts[k] = self.normal_alerts.get(k, 0) + v
        self.false_episodes += other.false_episodes
        self.weeks += other.weeks
        self.shift_alert_ticks.extend(other.shift_alert_ticks)

    @property
    def recall(self) -> float:
        """Share of the incidents detected, over every kind.

        >>> Outcome(detected={"spike": [True, False], "shift": [True, True]}).recall
        0.75
        """
        flat = [d for v in self.detected.values() for d in v]
        return sum(flat) / len(flat) if flat else float("nan")

    @property
    def median_delay(self) -> float:
        flat = [d for v in self.delays.values() for d in v]
        return float(statistics.median(flat)) if flat else float("nan")

    @property
    def false_per_week(self) -> float:
        return self.false_episodes / self.weeks if self.weeks else float("nan")


def evaluate(decisions: np.ndarray, scenario: Scenario, shift_bound: int) -> Outcome:
    """Score the decisions of the rows after training against the scenario's labels."""
    off = scenario.train_rows
    n = len(decisions)
    allowed = np.zeros(n, dtype=bool)
    out = Outcome(weeks=n / (7 * TICKS_PER_DAY))
    for e in scenario.events:
        a, b = e.start - off, min(e.end - off + GRACE_TICKS, n)
        if e.is_anomaly:
            allowed[a:b] = True
            hits = np.flatnonzero(decisions[a:b])
            out.detected.setdefault(e.kind, []).append(hits.size > 0)
            if hits.size:
                out.delays.setdefault(e.kind, []).append(int(hits[0]))
        elif e.kind == "level_shift":
            allowed[a : min(a + shift_bound, n)] = True
            # alerting ticks of the episodes that start within the bound
            run, k = 0, a
            while k < n and (k < a + shift_bound or decisions[k]):
                run = k - a + 1 if decisions[k] else run
                k += 1
            out.shift_alert_ticks.append(run)
    starts = np.flatnonzero(np.diff(np.concatenate([[0], decisions.astype(int)])) == 1)
    for s in starts:
        if allowed[s]:
            continue
        out.false_episodes += 1
        for e in scenario.events:
            if not e.is_anomaly and e.start - off <= s < e.end - off + GRACE_TICKS:
                out.normal_alerts[e.kind] = out.normal_alerts.get(e.kind, 0) + 1
    return out


# --- methods --------------------------------------------------------------------------


def _rows(scenario: Scenario, features=FEATURES):
    return [(r["timestamp"], {f: r[f] for f in features}) for r in scenario.rows]


def run_scorer(scenario: Scenario, cfg, buckets) -> tuple[np.ndarray, dict]:
    rows = _rows(scenario, cfg.features)
    t0 = time.perf_counter()
    detector = Detector.fit(cfg, rows[: scenario.train_rows], buckets)
    t1 = time.perf_counter()
    decisions = np.array([detector.step(t, v, explain=False).decision for t, v in rows[scenario.train_rows :]])
    t2 = time.perf_counter()
    return decisions, {"fit_s": t1 - t0, "run_s": t2 - t1, "ticks": len(decisions)}


def _matrix(scenario: Scenario) -> np.ndarray:
    return np.array([[np.nan if r[f] is None else r[f] for f in FEATURES] for r in scenario.rows], dtype=float)


def _hold(above: np.ndarray, hold: int) -> np.ndarray:
    run, out = 0, np.zeros(len(above), dtype=int)
    for i, a in enumerate(above):
        run = run + 1 if a else 0
        out[i] = run >= hold
    return out


def static_scores(scenario: Scenario) -> np.ndarray:
    """How far outside the training [min, max] each tick is, in units of the training range (max over features)."""
    x = _matrix(scenario)
    train = x[: scenario.train_rows]
    lo, hi = np.nanmin(train, axis=0), np.nanmax(train, axis=0)
    width = np.where(hi - lo > 0, hi - lo, 1.0)
    rest = x[scenario.train_rows :]
    over = np.maximum((rest - hi) / width, (lo - rest) / width)
    return np.nan_to_num(np.nanmax(np.where(np.isnan(over), -np.inf, over), axis=1), neginf=-np.inf)


def zscore_scores(scenario: Scenario, window: int = 240) -> np.ndarray:
    """Largest |z| over features against the mean/std of the previous hour (every tick learned)."""
    x = _matrix(scenario)
    n = len(x)
    out = np.full(n - scenario.train_rows, -np.inf)
    for j in range(x.shape[1]):
        col = x[:, j]
        valid = ~np.isnan(col)
        filled = np.where(valid, col, 0.0)
        c1 = np.concatenate([[0], np.cumsum(filled)])
        c2 = np.concatenate([[0], np.cumsum(filled**2)])
        cn = np.concatenate([[0], np.cumsum(valid)])
        for i in range(scenario.train_rows, n):
            if not valid[i]:
                continue
            k = cn[i] - cn[i - window]
            if k < 10:
                continue
            m = (c1[i] - c1[i - window]) / k
            var = max((c2[i] - c2[i - window]) / k - m * m, 0.0)
            sd = max(math.sqrt(var), 1e-9 + 1e-3 * abs(m))
            out[i - scenario.train_rows] = max(out[i - scenario.train_rows], abs(col[i] - m) / sd)
    return out


def run_original(scenario: Scenario) -> np.ndarray:
    """The thesis' scorer: raw errors/min and requests/min, default HST, 1 h of training, threshold 0.5."""
    from river.anomaly import HalfSpaceTrees

    model = HalfSpaceTrees(seed=42)
    x = _matrix(scenario)
    feats = lambda row: {"errors_per_min": row[1] * 60, "requests_per_min": row[0] * 60}  # noqa: E731
    for row in x[scenario.train_rows - 240 : scenario.train_rows]:
        if not np.isnan(row).any():
            model.learn_one(feats(row))
    above = []
    for row in x[scenario.train_rows :]:
        if np.isnan(row).any():
            above.append(False)
            continue
        f = feats(row)
        above.append(model.score_one(f) > 0.5)
        model.learn_one(f)
    return _hold(np.array(above), 2)


def bare_river_loop(scenario: Scenario, n_features: int = 5) -> float:
    """Seconds for score_one + learn_one of a default HST on every tick: the cost floor."""
    from river.anomaly import HalfSpaceTrees

    model = HalfSpaceTrees(seed=42, window_size=250)
    x = np.nan_to_num(_matrix(scenario))
    lo, hi = x.min(axis=0), x.max(axis=0)
    u = (x - lo) / np.where(hi > lo, hi - lo, 1)
    dicts = [dict(zip(FEATURES[:n_features], row)) for row in u.tolist()]
    t0 = time.perf_counter()
    for d in dicts:
        model.score_one(d)
        model.learn_one(d)
    return time.perf_counter() - t0


# --- driver ---------------------------------------------------------------------------


METHODS = ("scorer", "static", "zscore", "original")


def _run_seed(seed, days, per_kind, quick, cfg, buckets, static_factor, z_k, shift_bound) -> dict[str, Outcome]:
    sc = _make(seed, days, per_kind, quick)
    dec, _ = run_scorer(sc, cfg, buckets)
    out = {
        "scorer": evaluate(dec, sc, shift_bound),
        "static": evaluate(_hold(static_scores(sc) > static_factor, ticks(cfg).hold_ticks), sc, shift_bound),
        "zscore": evaluate(_hold(zscore_scores(sc) > z_k, ticks(cfg).hold_ticks), sc, shift_bound),
        "original": evaluate(run_original(sc), sc, shift_bound),
    }
    tiers = run_tiers(sc, cfg, buckets, FEATURES, shift_bound * TICK_SECONDS)
    print(f"# seed {seed} done", file=sys.stderr, flush=True)
    return out, tiers


def _make(seed: int, days: int, per_kind: int, quick: bool) -> Scenario:
    return generate(seed, days=days, anomalies_per_kind=per_kind, normals_per_kind=1 if quick else 3)


def tune_factor(score_sets: list[tuple[np.ndarray, Scenario]], candidates, shift_bound: int, budget: float, hold: int) -> float:
    """The most sensitive factor whose false episodes per week on the tuning seeds stay within budget."""
    for c in candidates:
        total = Outcome()
        for scores, sc in score_sets:
            total.add(evaluate(_hold(scores > c, hold), sc, shift_bound))
        if total.false_per_week <= budget:
            return c
    return candidates[-1]


def table(name: str, o: Outcome) -> list[str]:
    lines = [f"== {name}", f"{'kind':<20}{'events':>7}{'recall':>8}{'median delay':>14}"]
    for kind in ANOMALY_KINDS:
        d = o.detected.get(kind, [])
        dl = o.delays.get(kind, [])
        rec = sum(d) / len(d) if d else float("nan")
        med = statistics.median(dl) if dl else float("nan")
        lines.append(f"{kind:<20}{len(d):>7}{rec:>8.2f}{med:>14.1f}")
    lines.append(f"{'ALL':<20}{sum(len(v) for v in o.detected.values()):>7}{o.recall:>8.2f}{o.median_delay:>14.1f}")
    normal = ", ".join(f"{k}={o.normal_alerts.get(k, 0)}" for k in NORMAL_KINDS if k != "level_shift")
    lines.append(f"false alert episodes/week: {o.false_per_week:.2f} ({o.false_episodes} in {o.weeks:.1f} weeks; in normal events: {normal})")
    if o.shift_alert_ticks:
        lines.append(f"level shift alerted for (ticks after onset): {o.shift_alert_ticks}")
    return lines


def summary(o: Outcome) -> dict:
    per_kind = {k: round(sum(v) / len(v), 3) for k, v in o.detected.items()}
    return {
        "recall": round(o.recall, 3),
        "min_kind_recall": min(per_kind.values()) if per_kind else None,
        "median_delay_ticks": o.median_delay,
        "false_per_week": round(o.false_per_week, 2),
        "per_kind_recall": per_kind,
        "level_shift_alert_ticks_max": max(o.shift_alert_ticks) if o.shift_alert_ticks else None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="only the real-data tier (labelled production series, scored as their README says):\n"
                                       "  python -m scripts.bench_detection --tier real [--real-data DIR] [--jobs N]")
    p.add_argument("--quick", action="store_true", help="1 tuning + 1 held-out seed of 2 days (smoke test)")
    p.add_argument("--config", help="YAML configuration for the scorer (default: shipped defaults)")
    p.add_argument("--days", type=int, default=None, help="days per scenario (default 8, quick 3)")
    p.add_argument("--budget", type=float, default=1.0, help="false alert episodes per week the baselines are tuned to")
    p.add_argument("--seeds", default=None, help="comma-separated held-out seeds (overrides the default set)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="seeds (real tier: files) run in parallel (default: CPUs)")
    p.add_argument("--tier", choices=("all", "scenarios", "real", "daily"), default="all",
                   help="what to run: everything (default), the generated scenarios and their tiers only, only the "
                        "real-data tier (--tier real), or only the daily-rhythm tier (--tier daily)")
    p.add_argument("--real-data", metavar="DIR", default=None,
                   help=f"labelled series FOLDER/NAME.csv (TimeStamp,Value,Label) for the real tier (default: "
                        f"${real_tier.DATA_ENV}, else ../shared/data/cloud-monitoring beside the checkout)")
    p.add_argument("--real-config", metavar="FILE", default=None,
                   help="scorer configuration for the real tier, naming the feature 'value' (default: one naming only "
                        "'value', as the data's README prescribes; VIGILANTE_* variables are ignored there)")
    args = p.parse_args(argv)
    if args.tier == "real":
        real = run_real(args)
        print(json.dumps(_finite({"benchmark": "detection", "tier": "real", "real": real}), allow_nan=False))
        return 0
    if args.tier == "daily":
        print(json.dumps(_finite({"benchmark": "detection", "tier": "daily", "daily": run_daily(args)}), allow_nan=False))
        return 0

    config = load_config(args.config, env={})
    cfg = config.scorer
    # the generated latencies stand for histogram_quantile over the configured buckets
    buckets = histogram_buckets(config)
    days = args.days or (2 if args.quick else 8)
    tuning = TUNING_SEEDS[:1] if args.quick else TUNING_SEEDS
    held = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else (HELD_OUT_SEEDS[:1] if args.quick else HELD_OUT_SEEDS)
    per_kind = 1 if args.quick else 2
    t = ticks(cfg)
    shift_bound = (2 * t.relearn_after_ticks if t.relearn_after_ticks else 10**9) + t.hold_ticks + GRACE_TICKS

    print(f"# scorer config: {cfg.model_layout}, n_trees={cfg.n_trees}, height={cfg.tree_height}, "
          f"hold={cfg.hold_seconds:g} s ({t.hold_ticks} ticks), quantile={cfg.threshold_quantile}, "
          f"margin={cfg.threshold_margin}, relearn={cfg.relearn_after_seconds:g} s ({t.relearn_after_ticks} ticks) "
          f"(source {args.config or 'shipped defaults'}); {days} days/seed, 1 day of training", file=sys.stderr)
    # baselines: tune on the tuning seeds
    tune_sets = [_make(s, days, per_kind, args.quick) for s in tuning]
    static_factor = tune_factor([(static_scores(sc), sc) for sc in tune_sets], [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], shift_bound, args.budget, ticks(cfg).hold_ticks)
    z_k = tune_factor([(zscore_scores(sc), sc) for sc in tune_sets], [3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30], shift_bound, args.budget, ticks(cfg).hold_ticks)
    print(f"# baselines tuned on seeds {list(tuning)}: static factor {static_factor}, zscore k {z_k}", file=sys.stderr)

    jobs = [(label, seed) for label, seeds in (("tuning", tuning), ("held-out", held)) for seed in seeds]
    work = [(seed, days, per_kind, args.quick, cfg, buckets, static_factor, z_k, shift_bound) for _, seed in jobs]
    with multiprocessing.Pool(min(args.jobs, len(work))) as pool:
        outcomes = pool.starmap(_run_seed, work)
    results: dict[str, dict[str, Outcome]] = {label: {m: Outcome() for m in METHODS} for label in ("tuning", "held-out")}
    tier_results: dict[str, dict[str, TierOutcome]] = {"tuning": {}, "held-out": {}}
    for (label, seed), (per_method, per_tier) in zip(jobs, outcomes):
        for m, o in per_method.items():
            results[label][m].add(o)
        for tier, o in per_tier.items():
            tier_results[label].setdefault(tier, TierOutcome()).add(o)

    for label, res in results.items():
        print(f"\n######## {label} seeds {list(tuning if label == 'tuning' else held)}")
        for m, o in res.items():
            print("\n".join(table(f"{m} ({label})", o)))
            print()

    for label, res in tier_results.items():
        print(f"######## scorer tiers, {label} seeds (seconds, not ticks; see scripts/detection_tiers.py)")
        print("\n".join(tier_table(res)))
        print()

    # recorded from the real stack: labelled runs of scripts/record_series.py, nobody tuned on them
    recorded = run_recorded(cfg, buckets, FEATURES, shift_bound * TICK_SECONDS)
    print("######## scorer on series recorded from the real stack (tests/fixtures/recorded/), seconds")
    print("\n".join(tier_table({"recorded": recorded})))
    print()

    # cost: one week of ticks through the backtest loop vs the bare river loop
    cost_days = 1 if args.quick else 7  # quick mode: one day, figures recorded as such
    week = generate(held[0], days=cost_days + 1, anomalies_per_kind=per_kind)
    week.rows = week.rows[: week.train_rows + cost_days * TICKS_PER_DAY]
    _, cost = run_scorer(week, cfg, buckets)
    floor = bare_river_loop(type(week)(week.seed, week.rows[week.train_rows :], 0, []))
    print(f"cost: {cost_days} day(s) ({cost['ticks']} ticks): scorer fit {cost['fit_s']:.2f} s, loop {cost['run_s']:.2f} s "
          f"({1e6 * cost['run_s'] / cost['ticks']:.0f} us/tick); bare river HST (default 10 trees, h=8) loop {floor:.2f} s "
          f"({1e6 * floor / cost['ticks']:.0f} us/tick); ratio {cost['run_s'] / floor:.2f}")
    out = {
        "benchmark": "detection",
        "mode": "quick" if args.quick else "full",
        "days_per_seed": days,
        "tuning_seeds": list(tuning),
        "held_out_seeds": list(held),
        "baseline_tuning": {"static_factor": static_factor, "zscore_k": z_k, "budget_per_week": args.budget},
        "held_out": {m: summary(o) for m, o in results["held-out"].items()},
        "tuning": {m: summary(o) for m, o in results["tuning"].items()},
        "tiers": {label: {tier: o.summary() for tier, o in res.items()} for label, res in tier_results.items()},
        "recorded": recorded.summary(),
        "cost": {"days": cost_days, "ticks": cost["ticks"], "scorer_fit_s": round(cost["fit_s"], 3), "scorer_loop_s": round(cost["run_s"], 3),
                      "bare_river_loop_s": round(floor, 3)},
    }
    if args.tier == "all":
        out["real"] = run_real(args)
        out["daily"] = run_daily(args)
    print(json.dumps(_finite(out), allow_nan=False))
    return 0


def run_real(args) -> dict | None:
    """The real-data tier: its table on stdout and its JSON figures; None (one line) without data."""
    data = real_tier.data_folder(args.real_data)
    if not data.is_dir():
        print(f"######## real series: skipped, no data at {data} (--real-data DIR or ${real_tier.DATA_ENV})")
        return None
    hidden = sorted(k for k in os.environ if k.startswith(real_tier.CONFIG_ENV_PREFIX))
    if hidden:
        print(f"# real tier: ignoring {', '.join(hidden)} (the configuration file is the only setting)", file=sys.stderr)
    result = real_tier.run(data, args.real_config and Path(args.real_config), args.jobs)
    print(f"######## real series under {data}: {result.files} files scored as its README says "
          f"({args.real_config or 'a configuration naming only the feature value'}); "
          f"wall {result.wall_seconds:.1f} s, backtests {result.backtest_seconds:.1f} s")
    print("\n".join(real_tier.table(result)))
    return real_tier.summary(result)


def run_daily(args) -> dict:
    """The daily tier: its series written to a temporary folder, then scored as the real tier is."""
    with tempfile.TemporaryDirectory(prefix="vigilante-daily-") as tmp:
        # quick: one seed of one shape (10 files), a smoke run
        written = daily_series.write_all(Path(tmp), *((daily_series.SEEDS[:1], ("square",)) if args.quick
                                                      else (daily_series.SEEDS, tuple(daily_series.SHAPES))))
        result = real_tier.run(Path(tmp), args.real_config and Path(args.real_config), args.jobs)
    print(f"######## daily-rhythm series (scripts/daily_series.py): {len(written)} files, scored as the real tier; "
          f"wall {result.wall_seconds:.1f} s")
    print("\n".join(real_tier.table(result)))
    return {k: v for k, v in real_tier.summary(result).items() if k != "data"}


def _finite(value):
    """NaN (no event of a kind, no delay) as JSON null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
