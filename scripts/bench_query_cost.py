"""Query cost at scale: dashboard queries on raw series vs on the recording rules, with `stats=all`.

A real Prometheus holds many pods x routes of the app's request histogram, backfilled with
``promtool tsdb create-blocks-from openmetrics`` (15 s samples, as scraped). Every
dashboard-style query runs over a fixed range and step twice, raw and through the recorded
series, and Prometheus reports the samples it touched (``totalQueryableSamples``). The
recording rules are not free, so their cost is measured too: each rule's expression is run
as an instant query at the end of the range (one evaluation), and the rules' cost per
dashboard refresh (evaluations per refresh x cost per evaluation) is added to the recorded side.

How the recorded side is built: the raw-reading rules are evaluated once to learn the exact
label sets the rules produce; those series are then backfilled over the range at the rule
evaluation interval (query cost depends on how many samples exist, not on their values), so
range queries on them cost what they cost in production. Rules that average recorded 5m rates
over windows longer than the backfilled data (1d, 3d) are counted at their full window
(series x window / evaluation interval), not at what the short history lets them touch.

    python -m scripts.bench_query_cost            # 50 pods x 30 routes, 1 h at 15 s
    python -m scripts.bench_query_cost --quick    # 10 pods x 10 routes, 1 h (the ratio grows with the range)

Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from vigilante.config import Config, load_config
from vigilante.rules.recording import DASHBOARD_WINDOW, QUANTILES, RecordedSeries, recording_groups
from vigilante.rules.slo import duration_seconds
from scripts.harness import PrometheusServer, promtool

SCRAPE_SECONDS = 15


@dataclass(frozen=True)
class Scale:
    pods: int
    routes: int
    error_routes: int  # routes that also have status="404" and "500" series (the others only 200)
    range_minutes: int
    step_seconds: int


FULL = Scale(pods=50, routes=30, error_routes=10, range_minutes=60, step_seconds=15)
QUICK = Scale(pods=10, routes=10, error_routes=4, range_minutes=60, step_seconds=15)


def dashboard_queries(config: Config) -> list[tuple[str, str, str]]:
    """(panel, raw PromQL, PromQL over recorded series) as the overview dashboard draws them."""
    names = RecordedSeries(config)
    m, sel, w, route = names.matchers(), names.selector(), DASHBOARD_WINDOW, config.app.route_label
    count, bucket, total = names.raw_count(), names.raw_bucket(), names.raw_sum()
    requests_ = f"sum by (namespace, job) (rate({count}{{{m}}}[{w}]))"
    errors = f'sum by (namespace, job) (rate({count}{{{m}, status=~"5.."}}[{w}]))'
    queries = [
        ("requests per second", requests_, names.requests(w) + sel),
        ("error ratio (5xx)", f"{errors} / {requests_}", names.error_ratio(w) + sel),
        ("client errors (4xx) per second",
         f'sum by (namespace, job) (rate({count}{{{m}, status=~"4.."}}[{w}]))', names.client_errors(w) + sel),
        ("mean latency", f"sum by (namespace, job) (rate({total}{{{m}}}[{w}])) / {requests_}",
         names.latency_mean(w) + sel),
    ]
    for q in QUANTILES:
        queries.append((f"latency p{int(q * 100)}",
                        f"histogram_quantile({q}, sum by (le, namespace, job) (rate({bucket}{{{m}}}[{w}])))",
                        names.latency(q, w) + sel))
    by_route = f"namespace, job, {route}"
    queries += [
        (f"requests per {route}", f"sum by ({by_route}) (rate({count}{{{m}}}[{w}]))", names.requests(w, True) + sel),
        (f"error ratio per {route}",
         f'sum by ({by_route}) (rate({count}{{{m}, status=~"5.."}}[{w}])) / sum by ({by_route}) (rate({count}{{{m}}}[{w}]))',
         names.error_ratio(w, True) + sel),
        (f"latency p95 per {route}",
         f"histogram_quantile(0.95, sum by (le, {by_route}) (rate({bucket}{{{m}}}[{w}])))",
         names.latency(0.95, w, True) + sel),
    ]
    return queries


# --- synthetic raw data ------------------------------------------------------------------

def write_raw_openmetrics(path: Path, config: Config, scale: Scale, start: int, end: int) -> int:
    """Write the app's request histogram for every pod x route x status; return the series count."""
    names = RecordedSeries(config)
    app = config.app
    buckets = [*(f"{b:g}" for b in app.latency_buckets), "+Inf"]
    timestamps = range(start, end + 1, SCRAPE_SECONDS)
    series = 0
    with path.open("w") as out:
        for family, kind in [(names.histogram, "histogram")]:
            out.write(f"# TYPE {family} {kind}\n")
            for pod in range(scale.pods):
                for route in range(scale.routes):
                    statuses = ["200", "404", "500"] if route < scale.error_routes else ["200"]
                    for status in statuses:
                        per_second = (2.0 + route % 5) * {"200": 1.0, "404": 0.05, "500": 0.02}[status]
                        labels = (f'namespace="{app.namespace}",job="{app.job}",pod="{app.job}-{pod:02d}",'
                                  f'method="GET",status="{status}",{app.route_label}="/r/{route:02d}"')
                        # A fixed latency profile: the share of requests at or under each bound.
                        shares = [min(1.0, 0.15 * (i + 1)) for i in range(len(buckets) - 1)] + [1.0]
                        for le, share in zip(buckets, shares):
                            series += 1
                            lines = [f'{family}_bucket{{{labels},le="{le}"}} {round(per_second * share * (t - start), 3)} {t}\n'
                                     for t in timestamps]
                            out.writelines(lines)
                        series += 2
                        out.writelines(f"{family}_count{{{labels}}} {round(per_second * (t - start), 3)} {t}\n"
                                       for t in timestamps)
                        out.writelines(f"{family}_sum{{{labels}}} {round(per_second * 0.08 * (t - start), 3)} {t}\n"
                                       for t in timestamps)
        out.write("# EOF\n")
    return series


def write_recorded_openmetrics(path: Path, label_sets: dict[str, list[dict[str, str]]], start: int, end: int,
                               eval_seconds: int) -> int:
    """Backfill every recorded series with the label sets the rules produce (values are placeholders)."""
    series = 0
    with path.open("w") as out:
        for name, sets in label_sets.items():
            # A recorded rate is a gauge: its value is read as is, never rate()d.
            out.write(f"# TYPE {name} gauge\n")
            for labels in sets:
                series += 1
                rendered = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
                out.writelines(f"{name}{{{rendered}}} 1 {t}\n" for t in range(start, end + 1, eval_seconds))
        out.write("# EOF\n")
    return series


def backfill(om_file: Path, data_dir: Path) -> None:
    run = promtool("tsdb", "create-blocks-from", "openmetrics", str(om_file), str(data_dir), timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"promtool backfill failed: {run.stdout[-2000:]}{run.stderr[-2000:]}")


# --- measuring ---------------------------------------------------------------------------

def instant_stats(url: str, expr: str, at: float) -> tuple[int, list[dict]]:
    r = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": at, "stats": "all"}, timeout=300)
    body = r.json()
    if body.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {body.get('error')}")
    return int(body["data"]["stats"]["samples"]["totalQueryableSamples"]), body["data"]["result"]


def range_stats(url: str, expr: str, start: float, end: float, step: int) -> tuple[int, float, int]:
    r = requests.get(f"{url}/api/v1/query_range",
                     params={"query": expr, "start": start, "end": end, "step": step, "stats": "all"}, timeout=300)
    body = r.json()
    if body.get("status") != "success":
        raise SystemExit(f"query failed: {expr}: {body.get('error')}")
    stats = body["data"]["stats"]
    return (int(stats["samples"]["totalQueryableSamples"]), float(stats["timings"]["execTotalTime"]),
            len(body["data"]["result"]))


def long_window(expr: str) -> int | None:
    """Seconds of the avg_over_time window of a rule over recorded series, if any."""
    found = re.search(r"avg_over_time\([^\[]+\[(\d+[smhd])\]\)", expr)
    return duration_seconds(found.group(1)) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small scale for smoke tests (10 pods x 10 routes, 1 h)")
    parser.add_argument("--config", metavar="FILE", help="Vigilante configuration (default: built-in defaults)")
    parser.add_argument("--refresh-seconds", type=int, default=30, help="dashboard refresh interval (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    config = load_config(args.config, env={}) if args.config else load_config(env={})
    eval_seconds = int(config.prometheus.evaluation_interval_seconds)
    window = duration_seconds(DASHBOARD_WINDOW)

    work = Path(tempfile.mkdtemp(prefix="bench-query-cost-"))
    data_dir = work / "data"
    clock = time.time()
    end = (int(time.time()) // 3600) * 3600 - 3600  # a whole hour in the past: away from the head block
    start = end - scale.range_minutes * 60 - window - 60
    raw_series = write_raw_openmetrics(work / "raw.om", config, scale, start, end)
    backfill(work / "raw.om", data_dir)
    (work / "raw.om").unlink()
    prometheus = PrometheusServer(work / "prometheus", data_dir=data_dir, extra_args=["--storage.tsdb.retention.time=30d"]).start()
    try:
        # Pass 1: the label sets the raw-reading rules produce.
        rules = [r for g in recording_groups(config) for r in g.rules]
        names = RecordedSeries(config)
        label_sets: dict[str, list[dict[str, str]]] = {}
        for rule in rules:
            if ":" in rule.expr.replace(rule.record, ""):
                continue  # reads recorded series: its labels follow from a raw-reading rule's
            _, result = instant_stats(prometheus.url, rule.expr, end)
            label_sets[rule.record] = [r["metric"] for r in result]
        for rule in rules:
            if rule.record in label_sets:
                continue
            level = rule.record.split(":")[0]
            by_route = level.startswith(f"namespace_job_{config.app.route_label}")
            window_of = re.search(r"rate(\d+[smhd])$", rule.record).group(1)
            window_of = DASHBOARD_WINDOW if by_route or duration_seconds(window_of) > window else window_of
            source = names.requests(window_of, by_route)
            label_sets[rule.record] = label_sets.get(source) or label_sets[names.requests(DASHBOARD_WINDOW, by_route)]
        recorded_series = write_recorded_openmetrics(work / "recorded.om", label_sets, start, end, eval_seconds)
        prometheus.stop()
        backfill(work / "recorded.om", data_dir)
        (work / "recorded.om").unlink()
        prometheus = PrometheusServer(work / "prometheus2", data_dir=data_dir,
                                      extra_args=["--storage.tsdb.retention.time=30d"]).start()

        # Pass 2: the cost of one evaluation of every recording rule.
        rule_rows = []
        for group in recording_groups(config):
            interval = duration_seconds(group.interval) if group.interval else eval_seconds
            for rule in group.rules:
                samples, result = instant_stats(prometheus.url, rule.expr, end)
                full = long_window(rule.expr)
                if full:
                    samples = max(samples, len(result) * full // eval_seconds)
                rule_rows.append((rule.record, samples, interval))
        # Samples per global evaluation interval: groups with a longer interval count pro rata.
        per_eval = round(sum(s * eval_seconds / interval for _, s, interval in rule_rows))

        # Dashboard queries over the range, raw and recorded.
        q_start, q_end = end - scale.range_minutes * 60, end
        rows = []
        for panel, raw, recorded in dashboard_queries(config):
            raw_samples, raw_time, raw_n = range_stats(prometheus.url, raw, q_start, q_end, scale.step_seconds)
            rec_samples, rec_time, rec_n = range_stats(prometheus.url, recorded, q_start, q_end, scale.step_seconds)
            if rec_n == 0:
                raise SystemExit(f"{panel}: the recorded query returns no data: {recorded}")
            # Series counts may differ on purpose: routes without any 5xx have no raw error ratio
            # (an empty numerator), the recorded one is 0 there.
            rows.append((panel, raw_samples, rec_samples, raw_time, rec_time, f"{raw_n}/{rec_n}"))
    finally:
        prometheus.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    raw_total = sum(r[1] for r in rows)
    rec_total = sum(r[2] for r in rows)
    evals_per_refresh = args.refresh_seconds / eval_seconds
    rules_per_refresh = per_eval * evals_per_refresh
    ratio = raw_total / (rec_total + rules_per_refresh)

    print(f"query cost: {scale.pods} pods x {scale.routes} routes ({raw_series} raw series, {recorded_series} recorded), "
          f"range {scale.range_minutes} min, step {scale.step_seconds}s, window {DASHBOARD_WINDOW}, "
          f"rules every {eval_seconds}s, refresh every {args.refresh_seconds}s")
    print()
    print(f"{'dashboard panel':34} {'raw samples':>14} {'recorded':>10} {'ratio':>9} {'raw ms':>8} {'rec ms':>7} {'series':>7}")
    for panel, raw_s, rec_s, raw_t, rec_t, n in rows:
        print(f"{panel:34} {raw_s:>14,} {rec_s:>10,} {raw_s / max(rec_s, 1):>8.0f}x {raw_t * 1000:>8.1f} {rec_t * 1000:>7.1f} {n:>7}")
    print(f"{'total per refresh':34} {raw_total:>14,} {rec_total:>10,} {raw_total / max(rec_total, 1):>8.0f}x")
    print()
    print(f"recording rules: {len(rule_rows)} rules, {per_eval:,} samples per {eval_seconds}s evaluation; "
          f"{evals_per_refresh:g} evaluations per refresh = {rules_per_refresh:,.0f} samples")
    for record, samples, interval in sorted(rule_rows, key=lambda r: -r[1])[:5]:
        print(f"  {samples:>12,}  {record} (every {interval}s)")
    print(f"per refresh, rule evaluation included: raw {raw_total:,} vs recorded {rec_total + rules_per_refresh:,.0f} "
          f"= {ratio:.1f}x fewer samples (goal >= 10x)")
    print(json.dumps({
        "benchmark": "query_cost", "quick": args.quick, "pods": scale.pods, "routes": scale.routes,
        "raw_series": raw_series, "recorded_series": recorded_series, "range_minutes": scale.range_minutes,
        "step_seconds": scale.step_seconds, "evaluation_interval_seconds": eval_seconds,
        "refresh_seconds": args.refresh_seconds, "raw_samples_per_refresh": raw_total,
        "recorded_samples_per_refresh": rec_total, "rule_samples_per_evaluation": per_eval,
        "rule_samples_per_refresh": round(rules_per_refresh), "ratio_rules_included": round(ratio, 2),
        "ratio_queries_only": round(raw_total / max(rec_total, 1), 1), "goal_met": ratio >= 10,
        "seconds": round(time.time() - clock, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
