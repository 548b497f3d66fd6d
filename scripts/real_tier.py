"""The real-data tier of the detection benchmark: the scorer on labelled production series.

The series are the tuning half of a public labelled dataset (``FOLDER/NAME.csv`` with the
header ``TimeStamp,Value,Label``; its README says how to score them, and
:mod:`scripts.real_series` does exactly that). Each file is replayed through ``vigilante
backtest`` itself (the console script's entry point, in-process) with a configuration that
names only the feature ``value``; a file it refuses scores as no alert at all. Beside it,
scored the same way on the same rows:

- ``z``: a rolling robust z-score, ``|x - median| / (1.4826 MAD)`` over the previous
  :data:`Z_WINDOW` rows (training rows included as history); where the MAD is 0 the
  window's standard deviation stands in, and where that is 0 too (a constant window) any
  other value is infinitely far. Alerts when ``|z| > k``. (This guard reproduces the
  data README's figures for ``|z| > 5`` exactly; a mean-absolute-deviation guard, or no
  alert where the MAD is 0, moves recall by 0.03-0.04 either way);
- ``hst``: river's bare ``HalfSpaceTrees`` (default parameters, seed 42) on the value
  min-max scaled by the training rows, learning the training rows, then scoring and
  learning each later row. Alerts when the score ``> t``. With fewer training rows than its
  window (250), its first scored rows score 0, as river does until a window is full. Its
  trees split [0, 1] only, so a value far beyond the training range scores as the training
  maximum (or minimum) does.

Each baseline's threshold is swept over a grid and reported at the scorer's cost: the
threshold with the largest overall recall whose overall false episodes per 1,000 rows are
at most the scorer's; the z-score also at ``|z| > 5, 8, 12`` for reference.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import multiprocessing
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from scripts.real_series import LabelledSeries, SeriesScore, find_series, read_labelled, score_series

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cloud-monitoring"
DATA_ENV = "BENCH_REAL_DATA"
VALUE_ONLY_CONFIG = "scorer:\n  features: [value]\n"
CONFIG_ENV_PREFIX = "VIGILANTE_"

Z_WINDOW = 288
Z_MIN_ROWS = 10
MAD_SCALE = 1.4826
Z_REFERENCE = (5.0, 8.0, 12.0)
Z_GRID = tuple(sorted({round(float(k), 2) for k in np.geomspace(2.0, 500.0, 81)} | set(Z_REFERENCE)))
# river's scores of one feature crowd below 1 (normal rows often score 0.9-0.99): a fine grid at the top
HST_GRID = tuple(sorted({round(float(t), 2) for t in np.linspace(0.0, 0.99, 100)}
                        | {round(float(t), 5) for t in np.linspace(0.99, 0.9995, 191)}))
HST_SEED = 42
OVERALL = "ALL"


def data_folder(flag: str | None = None, env: dict | None = None) -> Path:
    """The data: ``flag``, else ``$BENCH_REAL_DATA``, else ``../shared/data/cloud-monitoring`` beside the checkout."""
    env = os.environ if env is None else env
    return Path(flag or env.get(DATA_ENV) or DEFAULT_DATA)


# --- detectors ------------------------------------------------------------------------


@contextlib.contextmanager
def _without_config_env() -> Iterator[list[str]]:
    """Hide ``VIGILANTE_*`` variables, so the configuration file is the only setting."""
    hidden = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(CONFIG_ENV_PREFIX)}
    try:
        yield sorted(hidden)
    finally:
        os.environ.update(hidden)


def backtest_alerts(series: LabelledSeries, config: Path, workdir: Path) -> tuple[list[int] | None, str | None]:
    """``vigilante backtest`` on ``series``: the ``alert`` column per scored row, or (None, its error line)."""
    from vigilante.cli import main as vigilante

    source = workdir / f"{series.folder}-{series.name}.csv"
    source.write_text(series.backtest_csv(), encoding="utf-8")
    out = workdir / f"{series.folder}-{series.name}.scored.csv"
    stderr = io.StringIO()
    with _without_config_env(), contextlib.redirect_stderr(stderr):
        code = vigilante(["backtest", str(source), "--train-rows", str(series.train_rows), "--out", str(out),
                          "--config", str(config)])
    if code != 0:
        lines = stderr.getvalue().strip().splitlines()
        return None, lines[-1] if lines else f"exit code {code}"
    with open(out, newline="") as fh:
        alerts = [int(row["alert"]) for row in csv.DictReader(fh)]
    if len(alerts) != len(series.scored_labels):
        raise RuntimeError(f"backtest wrote {len(alerts)} rows for {len(series.scored_labels)} scored rows of {source}")
    return alerts, None


def robust_z(values: Sequence[float | None], window: int = Z_WINDOW) -> np.ndarray:
    """|z| of every row against the median and MAD of the ``window`` rows before it (0 when
    the row is missing or fewer than 10 earlier rows are known).

    >>> round(float(robust_z([1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 9], window=10)[-1]), 2)  # (9 - 1.5) / (1.4826 * 0.5)
    10.12
    >>> robust_z([0.0] * 11 + [0.0, 3.0], window=10)[-2:]
    array([ 0., inf])
    """
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    n = len(x)
    previous = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.full(window, np.nan), x]), window)[:n]
    known = (~np.isnan(previous)).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: masked below
        median = np.nanmedian(previous, axis=1)
        deviation = np.abs(previous - median[:, None])
        scale = MAD_SCALE * np.nanmedian(deviation, axis=1)
        scale = np.where(scale > 0, scale, np.nanstd(previous, axis=1))
        distance = np.abs(x - median)
        z = np.where(scale > 0, distance / np.where(scale > 0, scale, 1.0), np.where(distance > 0, np.inf, 0.0))
    return np.where((known >= Z_MIN_ROWS) & ~np.isnan(x), z, 0.0)


def hst_scores(values: Sequence[float | None], train_rows: int, seed: int = HST_SEED) -> np.ndarray:
    """Bare river HalfSpaceTrees scores of the rows after ``train_rows`` (0 for a missing value)."""
    from river.anomaly import HalfSpaceTrees

    train = [v for v in values[:train_rows] if v is not None]
    lo, hi = (min(train), max(train)) if train else (0.0, 1.0)
    width = hi - lo if hi > lo else 1.0
    model = HalfSpaceTrees(seed=seed)
    for v in train:
        model.learn_one({"value": (v - lo) / width})
    out = np.zeros(len(values) - train_rows)
    for i, v in enumerate(values[train_rows:]):
        if v is None:
            continue
        x = {"value": (v - lo) / width}
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out


# --- one file, every detector ----------------------------------------------------------


@dataclass
class FileRun:
    """One file's scored labels and what each detector made of its scored rows."""

    folder: str
    name: str
    labels: tuple[int, ...]
    scorer: list[int] | None
    refused: str | None
    z: np.ndarray
    hst: np.ndarray
    backtest_seconds: float


def run_file(path: str, config: str) -> FileRun:
    """Every detector on the file at ``path`` (``config``: the scorer's configuration file)."""
    series = read_labelled(path)
    with tempfile.TemporaryDirectory(prefix="vigilante-real-") as tmp:
        started = time.perf_counter()
        alerts, refused = backtest_alerts(series, Path(config), Path(tmp))
        seconds = time.perf_counter() - started
    return FileRun(series.folder, series.name, series.scored_labels, alerts, refused,
                   robust_z(series.values)[series.train_rows:], hst_scores(series.values, series.train_rows), seconds)


def run_files(paths: Sequence[Path], config: Path, jobs: int) -> list[FileRun]:
    """:func:`run_file` on every path, ``jobs`` at a time, in the order of ``paths``."""
    work = [(str(p), str(config)) for p in paths]
    if jobs <= 1 or len(work) <= 1:
        return [run_file(*w) for w in work]
    # the long files first, so no core waits at the end for one of them
    order = sorted(range(len(work)), key=lambda i: -os.path.getsize(work[i][0]))
    with multiprocessing.Pool(min(jobs, len(work))) as pool:
        done = pool.starmap(run_file, [work[i] for i in order])
    out: list[FileRun | None] = [None] * len(work)
    for i, run in zip(order, done):
        out[i] = run
    return out  # type: ignore[return-value]


# --- scoring and the sweep -------------------------------------------------------------


def tally(runs: Sequence[FileRun], alerts_of: Callable[[FileRun], Sequence[int] | None]) -> dict[str, SeriesScore]:
    """Per folder and :data:`OVERALL`, the added-up score of ``alerts_of(run)`` on each run."""
    out: dict[str, SeriesScore] = {}
    for run in runs:
        s = score_series(run.labels, alerts_of(run))
        out.setdefault(run.folder, SeriesScore()).add(s)
        out.setdefault(OVERALL, SeriesScore()).add(s)
    return out


def sweep(runs: Sequence[FileRun], scores_of: Callable[[FileRun], np.ndarray], grid: Sequence[float]) -> dict[float, dict[str, SeriesScore]]:
    """The tally of ``scores > threshold`` for every threshold of ``grid``."""
    return {t: tally(runs, lambda r: (scores_of(r) > t).astype(int).tolist()) for t in grid}


def at_rate(curve: dict[float, dict[str, SeriesScore]], budget: float, share_budget: float = math.inf) -> float | None:
    """The threshold with the largest overall recall at most ``budget`` false episodes per
    1,000 rows and at most ``share_budget`` of the rows alerting (ties: the fewest false
    episodes); None when every threshold costs more.

    The share matters: an alarm that never ends is one episode, so by episodes alone the
    laxest threshold of a detector that alerts on most rows looks cheap.

    >>> a, b = SeriesScore(events=4, caught=3, false_episodes=2, rows=1000), SeriesScore(events=4, caught=2, rows=1000)
    >>> at_rate({1.0: {"ALL": a}, 2.0: {"ALL": b}}, 2.0), at_rate({1.0: {"ALL": a}, 2.0: {"ALL": b}}, 1.0)
    (1.0, 2.0)
    >>> a.alert_rows = 900  # alerting on 90 % of the rows
    >>> at_rate({1.0: {"ALL": a}, 2.0: {"ALL": b}}, 2.0, share_budget=0.1)
    2.0
    """
    within = [(t, s[OVERALL]) for t, s in curve.items()
              if s[OVERALL].false_per_1000 <= budget and s[OVERALL].alert_share <= share_budget]
    if not within:
        return None
    return max(within, key=lambda ts: (ts[1].caught, -ts[1].false_episodes))[0]


@dataclass
class RealResult:
    """The tier's outcome: per detector label, its threshold (None for the scorer) and tallies."""

    data: Path
    files: int
    refused: dict[str, str]
    detectors: dict[str, tuple[float | None, dict[str, SeriesScore] | None]]
    curves: dict[str, list[tuple[float, float, float, float]]]
    by_episodes_only: dict[str, float | None]
    wall_seconds: float
    backtest_seconds: float


def run(data: Path, config: Path | None = None, jobs: int = 1) -> RealResult:
    """The whole tier on the files under ``data`` (``config``: default, a file naming only ``value``)."""
    started = time.perf_counter()
    paths = find_series(data)
    with tempfile.TemporaryDirectory(prefix="vigilante-real-config-") as tmp:
        if config is None:
            config = Path(tmp) / "value.yaml"
            config.write_text(VALUE_ONLY_CONFIG)
        runs = run_files(paths, config, jobs)
    scorer = tally(runs, lambda r: r.scorer)
    budget = scorer[OVERALL].false_per_1000 if runs else math.nan
    share = scorer[OVERALL].alert_share if runs else math.nan
    z_curve = sweep(runs, lambda r: r.z, Z_GRID)
    hst_curve = sweep(runs, lambda r: r.hst, HST_GRID)
    z_at, hst_at = at_rate(z_curve, budget, share), at_rate(hst_curve, budget, share)
    detectors = {
        "scorer": (None, scorer),
        "z @ scorer's rate": (z_at, z_curve.get(z_at)),
        "HST @ scorer's rate": (hst_at, hst_curve.get(hst_at)),
        **{f"z > {k:g}": (k, z_curve[k]) for k in Z_REFERENCE},
    }
    def curve(c: dict[float, dict[str, SeriesScore]]) -> list[tuple[float, float, float, float]]:
        points = [(t, round(s[OVERALL].recall, 3), round(s[OVERALL].false_per_1000, 2), round(s[OVERALL].alert_share, 4))
                  for t, s in c.items()]
        # a plateau (the same figures at the next threshold) says nothing new
        return [p for i, p in enumerate(points) if i == 0 or p[1:] != points[i - 1][1:]]

    return RealResult(data, len(runs), {f"{r.folder}/{r.name}": r.refused for r in runs if r.refused}, detectors,
                      {"z": curve(z_curve), "hst": curve(hst_curve)} if runs else {},
                      {"z": at_rate(z_curve, budget), "HST": at_rate(hst_curve, budget)},
                      time.perf_counter() - started, sum(r.backtest_seconds for r in runs))


# --- report ---------------------------------------------------------------------------


def _fmt(v: float, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(result: RealResult) -> list[str]:
    """Per folder, then overall: one line per detector."""
    picked = "; ".join(f"{name} {'none within' if t is None else f'{t:g}'}"
                       for name, (t, _) in result.detectors.items() if name.endswith("rate"))
    lax = "; ".join(f"{name} {'none' if t is None else f'{t:g}'}" for name, t in result.by_episodes_only.items())
    lines = [f"baselines at the scorer's rate (largest recall with no more false episodes/1k and no larger alert % "
             f"than the scorer's): {picked} (by false episodes alone: {lax})",
             f"{'folder':<36}{'detector':<22}{'events':>7}{'recall':>8}{'prec.':>7}{'F1':>7}{'false/1k':>10}"
             f"{'alert %':>9}{'delay':>7}"]
    scorer = result.detectors["scorer"][1] or {}
    folders = sorted(k for k in scorer if k != OVERALL) + [OVERALL]
    for folder in folders:
        for i, (name, (_, tallies)) in enumerate(result.detectors.items()):
            label = folder if i == 0 else ""
            s = (tallies or {}).get(folder)
            if s is None:
                lines.append(f"{label:<36}{name:<22}{'-':>7}")
                continue
            lines.append(f"{label:<36}{name:<22}{s.events:>7}{_fmt(s.recall, '.2f'):>8}{_fmt(s.precision, '.2f'):>7}"
                         f"{_fmt(s.f1, '.2f'):>7}{_fmt(s.false_per_1000, '.2f'):>10}{_fmt(100 * s.alert_share, '.1f'):>9}"
                         f"{_fmt(s.median_delay, '.1f'):>7}")
        lines.append("")
    for name, reason in result.refused.items():
        lines.append(f"refused by the backtest (scored as no alert): {name}: {reason}")
    return lines


def summary(result: RealResult) -> dict:
    """The JSON figures: per detector its threshold and per-folder and overall scores; per
    baseline its sweep as ``[threshold, recall, false episodes per 1,000 rows, alert share]``."""
    return {"data": str(result.data), "files": result.files, "refused": result.refused,
            "wall_seconds": round(result.wall_seconds, 1), "backtest_seconds": round(result.backtest_seconds, 1),
            "detectors": {name: {"threshold": t, **({k: s.summary() for k, s in tallies.items()} if tallies else {})}
                          for name, (t, tallies) in result.detectors.items()},
            "by_false_episodes_alone": result.by_episodes_only,
            "sweeps": {name: [list(point) for point in points] for name, points in result.curves.items()}}
