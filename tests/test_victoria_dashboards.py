"""Every dashboard query and Grafana alert query on VictoriaMetrics and on Prometheus, for the same traffic.

One app under gunicorn is scraped by a real Prometheus (evaluating the generated rules) and by
vmagent writing to victoria-metrics (vmalert evaluating the same rule files). The traffic of the
dashboard proof (tests/test_dashboards_queries.py: a 25 % error ratio on one route, 0.6 s added
on another, purchases) goes in once; each query, expanded as Grafana expands it, is then run at
the same moment on both stores. The two must give the same series (label sets) with values
within :data:`REL_TOLERANCE`: the stores scrape and evaluate at their own moments, and MetricsQL's
``rate``/``increase`` do not extrapolate to the window's ends as PromQL's do.

The one difference met, in the long-window rates of young series, is :data:`YOUNG_SERIES`; the
README's "When one Prometheus is not enough" says what it means for a user.
"""

from __future__ import annotations

import math
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app_under_test.testing import FAST_PASSWORD_HASH, seeded_app
from scripts.harness import (GunicornServer, PrometheusServer, VictoriaMetricsServer, VMAgent, VMAlert,
                             WebhookReceiver, static_scrape_config, wait_until)
from tests.fixtures.victoria import require_victoria_metrics
from tests.grafana_queries import alert_queries, context, panel_queries
from tests.test_dashboards_queries import (API, CONFIG, COUNT, ERROR_RATIO, SCRAPE, SLOW, SLOW_SECONDS, TOKEN, VARIABLES,
                                           Traffic, on_sale_ticket_type, write_rule_files)
from vigilante.dashboards.interpolation import expand

AGREEMENT_LAG_SECONDS = 10.0
"""How far back the stores are compared: past vmalert's remote-write flush and both stores' ingestion."""

pytestmark = pytest.mark.slow

REL_TOLERANCE = 0.1
ABS_TOLERANCE = 0.005
"""A rate of process CPU seconds (counted in 10 ms steps) over the 4 s of ``$__rate_interval`` moves by
0.0025 with the moment of the scrape: the two stores scrape at their own moments."""

YOUNG_SERIES = re.compile(r"flask_http_request(?:s|_errors|_client_errors):(?:ratio_)?rate(?:5m|30m|1h|2h|6h|1d|3d)\b")
"""The request and error rates over 5 minutes or more. Every series of this short test is younger
than those windows, and there the two languages part: PromQL divides a series' increase by the
window (extrapolating at most about one scrape interval), MetricsQL by the time the series has
existed. VictoriaMetrics shows the current rate at once, Prometheus ramps up over the window;
once the series are as old as the window, the two agree. Ratios of series born together (the
latency quantiles and means of one histogram) agree from the start; an error ratio (errors born
at the first error) does not."""


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The app, Prometheus and VictoriaMetrics (vmagent, vmalert) with the generated rules, and the traffic."""
    require_victoria_metrics()
    tmp = tmp_path_factory.mktemp("victoria-dashboards")
    instance = tmp / "instance"
    app = seeded_app(instance)
    ticket_type = on_sale_ticket_type(app)
    rules = write_rule_files(tmp)
    started: list = []
    try:
        app_server = GunicornServer(tmp / "gunicorn", app="app_under_test:create_app()", workers=1, threads=8,
                                    env={"VIGILANTE_FAULTS_ENABLED": "1", "VIGILANTE_FAULTS_TOKEN": TOKEN,
                                         "TICKETS_INSTANCE_PATH": str(instance),
                                         "TICKETS_PASSWORD_HASH_METHOD": f'"{FAST_PASSWORD_HASH}"'}).start()
        started.append(app_server)
        # Every route's first requests go in before either store scrapes. A route that gets a few
        # requests and then none (the two fault switches, the login) would otherwise differ by
        # chance: a store whose scrape fell between two of them sees an increase (and counts the
        # series' birth from 0), the other store, whose scrape did not, sees none and no 5m mean.
        traffic = Traffic(app_server.url)
        traffic.fault(route=API, error_ratio=ERROR_RATIO)
        traffic.fault(route=SLOW, added_latency_seconds=SLOW_SECONDS)
        for path in ("/api/events?limit=3", "/", "/events/99999", "/organizers/1"):
            traffic.get(path)
        traffic.login(ticket_type)
        assert traffic.buy("2") == 303 and traffic.buy("x") == 400
        job = static_scrape_config(CONFIG.app.job, [app_server.url.split("://", 1)[1]],
                                   {"namespace": CONFIG.app.namespace})
        prometheus = PrometheusServer(tmp / "prometheus", rule_files=rules, scrape_interval=f"{SCRAPE:g}s",
                                      evaluation_interval=f"{SCRAPE:g}s", scrape_configs=[job]).start()
        started.append(prometheus)
        store = VictoriaMetricsServer(tmp / "vm").start()
        started.append(store)
        started.append(VMAgent(tmp / "vmagent", {"global": {"scrape_interval": f"{SCRAPE:g}s"}, "scrape_configs": [job]},
                               f"{store.url}/api/v1/write").start())
        notifier = WebhookReceiver().start()  # vmalert refuses alerting rules without somewhere to send them
        started.append(notifier)
        # vmalert evaluates a group at the start of its interval (the minute, for the error-budget
        # group), not at the moment: evaluated at the moment, as Prometheus does, both read the same data.
        started.append(VMAlert(tmp / "vmalert", store.url, rules, notifier_url=notifier.url,
                               evaluation_interval=f"{SCRAPE:g}s",
                               extra_args=["-datasource.queryTimeAlignment=false"]).start())
        # Every series sampled a while by both before the measured traffic (conditions, not sleeps).
        for server in (prometheus, store):
            server.wait_for(f'count_over_time({COUNT}{{job="{CONFIG.app.job}", url_rule="/", status="200"}}[1m])',
                            lambda r: r and float(r[0]["value"][1]) >= 15, 60, what="15 samples of the warmed-up series")
        jobs = (["/"] * 100 + ["/api/events?limit=3"] * 120 + ["/events/99999"] * 30 + ["/organizers/1"] * 24
                + ["buy:1"] * 6 + ["buy:x"] * 4)
        random.Random(5).shuffle(jobs)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda j: traffic.buy(j[4:]) if j.startswith("buy:") else traffic.get(j), jobs))
        total = sum(traffic.sent.values())
        complete = time.time()
        for server in (prometheus, store):
            server.wait_for(f'sum({COUNT}{{job="{CONFIG.app.job}"}})', lambda r: r and float(r[0]["value"][1]) == total,
                            30, what=f"{total} requests stored")
            # The error-budget group runs once a minute: wait for its first run with every request counted.
            # Its ratio is a chain (rate5m, then rate3d, then the ratio) that vmalert reads back from the
            # store a run after writing it: on a loaded machine the first ratio can come three runs after
            # the first samples (seen once in a parallel CI run: no ratio 90 s after the traffic).
            server.wait_for(f'timestamp(namespace_job:flask_http_request_errors:ratio_rate3d{{job="{CONFIG.app.job}"}})',
                            lambda r: r and float(r[0]["value"][1]) > complete, 3 * 60 + 30,
                            what="the error-budget rules to run after the traffic")
            # Under load one store's burn-rate alerts may trail the other's: both must answer them.
            for (title, _), expr in alert_queries(CONFIG).items():
                if title.startswith("VigilanteErrorBudgetBurn"):
                    server.wait_for(expr, bool, 90, what=f"{title} to answer on {type(server).__name__}")
        # Each rule evaluator holds an alert pending for its own `for:` from its own first true
        # evaluation, so for a minute one store may report a firing alert the other does not yet
        # (seen in a parallel CI run): compare them at a moment, far enough back for both to hold
        # it, at which they report the same firing alerts.
        firing = 'ALERTS{alertstate="firing", alertname=~"Vigilante.*"}'

        answered = time.time()  # both stores answer every burn-rate alert's expression from here on

        def agreed_moment() -> float | None:
            store.flush()
            moment = time.time() - AGREEMENT_LAG_SECONDS
            if moment < answered + 3 * SCRAPE:
                return None
            names = [sorted(r["metric"]["alertname"] for r in server.query(firing, moment)) for server in (prometheus, store)]
            return moment if names[0] == names[1] else None

        at = wait_until(agreed_moment, 180, "both stores to report the same firing alerts", interval=SCRAPE)
        yield {"prometheus": prometheus, "store": store, "at": at}
    finally:
        for server in reversed(started):
            server.stop()


def every_query(at: float) -> dict[str, str]:
    """Table name -> PromQL as Grafana sends it, for every panel, annotation and Grafana alert query."""
    queries = {f"{slug} / {panel} / {ref}": expand(q.expr, context(q, at - 300, at, SCRAPE, VARIABLES))
               for (slug, panel, ref), q in panel_queries(CONFIG).items()}
    queries.update({f"alert {title} / {ref}": expr for (title, ref), expr in alert_queries(CONFIG).items()})
    return queries


def by_labels(result: list[dict[str, Any]]) -> dict[frozenset, float]:
    """Series (labels but the metric name) -> value; NaN samples left out, as MetricsQL leaves them out."""
    return {frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(r["value"][1])
            for r in result if not math.isnan(float(r["value"][1]))}


def difference(on_prometheus: list[dict[str, Any]], on_victoria: list[dict[str, Any]]) -> str:
    """'' when both stores answer the same series with close values, else what differs."""
    p, v = by_labels(on_prometheus), by_labels(on_victoria)
    if p.keys() != v.keys():
        only_p = [dict(k) for k in p.keys() - v.keys()][:2]
        only_v = [dict(k) for k in v.keys() - p.keys()][:2]
        return f"series differ: only on Prometheus {only_p}, only on VictoriaMetrics {only_v}"
    far = {k: (p[k], v[k]) for k in p
           if not (p[k] == v[k] or math.isclose(p[k], v[k], rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE))}
    return f"values differ: {[(dict(k), pv) for k, pv in list(far.items())[:2]]}" if far else ""


@pytest.fixture(scope="module")
def table(both) -> dict[str, tuple[int, int, str]]:
    """Query -> (series on Prometheus, series on VictoriaMetrics, difference or '')."""
    rows = {}
    for name, expr in every_query(both["at"]).items():
        on_prometheus = both["prometheus"].query(expr, both["at"])
        on_victoria = both["store"].query(expr, both["at"])
        rows[name] = (len(by_labels(on_prometheus)), len(by_labels(on_victoria)),
                      difference(on_prometheus, on_victoria))
    print("\nquery | series on Prometheus | on VictoriaMetrics | difference")
    for name, (p, v, diff) in sorted(rows.items()):
        print(f"{name} | {p} | {v} | {diff or 'same'}")
    return rows


def test_every_query_but_the_young_series_rates_gives_the_same_series_and_values_on_both_stores(table, both):
    queries = every_query(both["at"])
    assert sum(bool(YOUNG_SERIES.search(expr)) for expr in queries.values()) >= 10  # the pattern still matches
    assert {name: diff for name, (_, _, diff) in table.items() if diff and not YOUNG_SERIES.search(queries[name])} == {}


def test_every_app_panel_and_the_alerts_the_traffic_fires_answer_on_both_stores(table):
    # Empty on both proves little. Without a scorer or a cluster, the scorer's, Kubernetes' and
    # the alert annotations' queries are empty; every other panel of the overview must show data.
    app_panels = [name for name in table if name.startswith("overview /") and not any(
        word in name for word in ("Anomaly", "Scorer", "annotation"))]
    firing = [f"alert {title} / {ref}" for title in ("VigilanteErrorBudgetBurnFast", "VigilanteErrorBudgetBurnSlow",
                                                     "VigilanteHighLatencyP95", "VigilanteScorerAbsent") for ref in "AV"]
    assert len(app_panels) >= 20
    assert [name for name in app_panels + firing if not (table[name][0] and table[name][1])] == []


def test_the_young_series_rates_give_the_same_series_on_both_stores_only_their_values_differ(table):
    assert [name for name, (_, _, diff) in table.items() if diff.startswith("series differ")] == []
