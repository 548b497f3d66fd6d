"""Every query of the Flask service dashboard and of every Grafana alert rule, expanded the way Grafana
expands it, run against the real Prometheus scraping the real app under known traffic: the values
agree with what was sent.

Ground truth is counted by the client: every request's (method, route, status), the purchases made
and refused, and the injected faults (a 25 % error ratio on one route, 0.6 s added latency on
another, so its requests land in the (0.5, 1] histogram bucket). A rate over a window in which a
series was born starts at that series' first sample, so the expected increase of each series is
its final value (which must equal the client's count exactly) minus its first sampled value.
Prometheus extrapolates a rate to the ends of its window by at most about one scrape interval per
side, so a 5-minute rate times 300 lies between the increase and the increase x (1 + 2.2 s / the
time the series was sampled); that is the tolerance, derived rather than guessed.
"""

from __future__ import annotations

import math
import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from app_under_test.testing import FAST_PASSWORD_HASH, csrf_token_in, login_over_http, seeded_app
from vigilante.dashboards.interpolation import expand
from vigilante.rules import render
from scripts.harness import GunicornServer, PrometheusServer, static_scrape_config, wait_until
from scripts.demo_config import demo_config
from tests.grafana_queries import alert_queries, by_label, context, integral, panel_queries, single
from tests.support.workers import wait_for_workers

pytestmark = pytest.mark.slow

CONFIG = demo_config()
SCRAPE = 1.0
TOKEN = "dashboards-proof-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API, SLOW = "/api/events", "/organizers/<int:organizer_id>"
SLOW_SECONDS = 0.6
ERROR_RATIO = 0.25
VARIABLES = {"namespace": CONFIG.app.namespace, "job": CONFIG.app.job}
RULE_OF = {"/": "/", "/api/events": API, "/events/99999": "/events/<int:event_id>", "/organizers/1": SLOW,
           "/login": "/login", "/_faults": "/_faults"}
COUNT = "flask_http_request_duration_seconds_count"


class Traffic:
    """Sends requests and counts what came back, by (method, url_rule, status)."""

    def __init__(self, base: str):
        self.base = base
        self.sent: Counter = Counter()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.buyer = requests.Session()
        self.buyer_lock = threading.Lock()
        self.ticket_type = 0
        self.csrf = ""

    def _http(self) -> requests.Session:
        if not hasattr(self.local, "http"):
            self.local.http = requests.Session()
        return self.local.http

    def _count(self, method: str, rule: str, status: int) -> None:
        with self.lock:
            self.sent[(method, rule, str(status))] += 1

    def get(self, path: str) -> int:
        status = self._http().get(self.base + path, timeout=30).status_code
        self._count("GET", RULE_OF[path.split("?")[0]], status)
        return status

    def fault(self, **body) -> None:
        response = self._http().put(f"{self.base}/_faults", json=body, headers=AUTH, timeout=10)
        assert response.status_code == 200, response.text
        self._count("PUT", "/_faults", 200)

    def login(self, ticket_type: int) -> None:
        login_over_http(self.buyer, self.base)
        self._count("GET", "/login", 200)
        self._count("POST", "/login", 302)
        self.ticket_type = ticket_type
        page = self.buyer.get(f"{self.base}/ticket-types/{ticket_type}", timeout=10)
        assert page.status_code == 200
        self._count("GET", "/ticket-types/<int:ticket_type_id>", 200)
        self.csrf = csrf_token_in(page.text)

    def buy(self, quantity: str) -> int:
        with self.buyer_lock:
            status = self.buyer.post(f"{self.base}/ticket-types/{self.ticket_type}/purchase",
                                     data={"quantity": quantity, "csrf_token": self.csrf},
                                     allow_redirects=False, timeout=10).status_code
        self._count("POST", "/ticket-types/<int:ticket_type_id>/purchase", status)
        return status


def on_sale_ticket_type(app) -> int:
    from app_under_test.db import new_session
    from app_under_test.models import Event, TicketType, utcnow

    session = new_session(app)
    try:
        return session.scalars(select(TicketType.id).join(Event).where(Event.starts_at > utcnow() + timedelta(days=1))
                               .order_by(TicketType.id)).first()
    finally:
        session.close()


def first_and_last(prometheus: PrometheusServer, at: float) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """(method, url_rule, status) -> (first value, last value, seconds sampled, samples) over the 5m window."""
    out = {}
    for r in prometheus.query(f'{COUNT}{{job="{CONFIG.app.job}"}}[5m]', at):
        m = r["metric"]
        values = r["values"]
        out[(m["method"], m["url_rule"], m["status"])] = (float(values[0][1]), float(values[-1][1]),
                                                          values[-1][0] - values[0][0], len(values))
    return out


def write_rule_files(folder: Path) -> list[Path]:
    """The generated recording and alerting rules for :data:`CONFIG`, written into ``folder``."""
    paths = []
    for name, text in (("recording", render.recording_rules_yaml(CONFIG)), ("alerts", render.alerting_rules_yaml(CONFIG))):
        path = folder / f"{name}.rules.yml"
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app under gunicorn, Prometheus with the generated rules, and known traffic, once per module."""
    tmp = tmp_path_factory.mktemp("dashboard-queries")
    instance = tmp / "instance"
    env = {"VIGILANTE_FAULTS_ENABLED": "1", "VIGILANTE_FAULTS_TOKEN": TOKEN}
    app = seeded_app(instance)
    ticket_type = on_sale_ticket_type(app)
    rules = write_rule_files(tmp)
    app_server = GunicornServer(tmp / "gunicorn", app="app_under_test:create_app()", workers=1, threads=8,
                                env={**env, "TICKETS_INSTANCE_PATH": str(instance),
                                     "TICKETS_PASSWORD_HASH_METHOD": f'"{FAST_PASSWORD_HASH}"'})
    prometheus = None
    try:
        app_server.start()
        target = app_server.url.split("://", 1)[1]
        prometheus = PrometheusServer(tmp / "prometheus", rule_files=rules, scrape_interval=f"{SCRAPE:g}s",
                                      evaluation_interval=f"{SCRAPE:g}s", scrape_configs=[
                                          static_scrape_config(CONFIG.app.job, [target],
                                                               {"namespace": CONFIG.app.namespace})]).start()
        prometheus.targets_up(1)
        started = time.time()
        traffic = Traffic(app_server.url)

        # Warm-up: create every series the measured traffic touches.
        traffic.fault(route=API, error_ratio=1.0)
        assert traffic.get("/api/events?limit=3") == 500
        traffic.fault(route=API, error_ratio=ERROR_RATIO)  # a change restarts the error spacing
        traffic.fault(route=SLOW, added_latency_seconds=SLOW_SECONDS)
        for path in ("/api/events?limit=3", "/", "/events/99999", "/organizers/1"):
            traffic.get(path)
        traffic.login(ticket_type)
        assert traffic.buy("2") == 303 and traffic.buy("x") == 400
        warm_up = sum(traffic.sent.values())
        # Let every series be sampled for a while before the measured traffic (a condition, not a sleep).
        prometheus.wait_for(f'sum({COUNT}{{job="{CONFIG.app.job}"}})', lambda r: r and single(r) == warm_up, 30)
        prometheus.wait_for(f'count_over_time({COUNT}{{job="{CONFIG.app.job}", url_rule="/", status="200"}}[1m])',
                            lambda r: r and single(r) >= 15, 60, what="15 samples of the warmed-up series")

        jobs = (["/"] * 100 + ["/api/events?limit=3"] * 120 + ["/events/99999"] * 30 + ["/organizers/1"] * 24
                + ["buy:1"] * 6 + ["buy:x"] * 4)
        random.Random(5).shuffle(jobs)  # the same mix all along, so every window sees the same ratios
        measured_start = time.time()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda j: traffic.buy(j[4:]) if j.startswith("buy:") else traffic.get(j), jobs))
        measured_end = time.time()
        total = sum(traffic.sent.values())
        prometheus.wait_for(f'sum({COUNT}{{job="{CONFIG.app.job}"}})', lambda r: r and single(r) == total, 30,
                            what=f"{total} requests in Prometheus")
        complete = time.time()
        # The error-budget group of the recording rules runs once a minute: wait for its first run with
        # every request counted, then evaluate a few seconds after the last rule evaluation.
        slo_series = f'timestamp(namespace_job:flask_http_request_errors:ratio_rate3d{{job="{CONFIG.app.job}"}})'
        prometheus.wait_for(slo_series, lambda r: r and single(r) > complete, 90,
                            what="the error-budget rules to run after the traffic")
        at = time.time() + 3 * SCRAPE
        wait_until(lambda: time.time() > at + SCRAPE, 10, "the evaluation time to pass")
        yield {
            "prometheus": prometheus, "app": app_server, "sent": traffic.sent, "at": at, "started": started,
            "measured": (measured_start, measured_end), "statuses": Counter(statuses),
            "series": first_and_last(prometheus, at),
        }
    finally:
        if prometheus:
            prometheus.stop()
        app_server.stop()


def increase(live, keep=lambda method, rule, status: True) -> float:
    """Expected increase over the 5m window of the series ``keep`` selects (final - first sampled)."""
    return sum(last - first for (m, r, s), (first, last, _, _) in live["series"].items() if keep(m, r, s))


def rate5m_bounds(live, keep=lambda method, rule, status: True) -> tuple[float, float]:
    """Bounds of a 5m rate: increase/300, up to Prometheus's extrapolation of at most 1.1 average scrape
    intervals at each end of the sampled span."""
    spans = [(span, span / (n - 1)) for (m, r, s), (_, _, span, n) in live["series"].items() if keep(m, r, s)]
    inc = increase(live, keep)
    return inc / 300, inc / 300 * max(1 + 2.2 * step / span for span, step in spans)


def query(live, key, at=None, range_=300.0):
    q = QUERIES[key]
    at = live["at"] if at is None else at
    ctx = context(q, at - range_, at, SCRAPE, VARIABLES)
    return live["prometheus"].query(expand(q.expr, ctx), at)


QUERIES = panel_queries(CONFIG)
OVERVIEW = "overview"
PROVEN = {(OVERVIEW, title, ref) for title, refs in {
    "Requests per second": "A", "Requests per minute": "A", "Successful requests per second": "A",
    "Errors per second: 5xx and 4xx": "AB", "Error ratio (5xx)": "A", "Error-budget burn rate": "ABCD",
    f"Error budget left ({CONFIG.alerting.slo_period_days:g}d)": "A", "Latency p50 / p95 / p99": "ABC",
    "Mean response time per route": "A", "p95 response time per route": "A", "Routes": "ABCD",
    "Scrape targets up": "AB", "Process CPU": "A", "Process memory": "A", "annotation: Vigilante alerts": "A",
    **{f"{counter} per minute": "A" for counter in CONFIG.grafana.business_counters},
}.items() for ref in refs}
"""Queries this module checks against ground truth; the scorer's are proven on a real scorer
(tests/test_dashboards_scorer_queries.py)."""


def test_the_exporter_counted_exactly_what_was_sent(live):
    counted = {k: last for k, (_, last, _, _) in live["series"].items()}
    assert {k: v for k, v in counted.items() if v} == {k: float(v) for k, v in live["sent"].items()}
    assert {status for (_, _, status), v in counted.items() if not v} == {"500"}  # made at 0 for rate()
    assert live["statuses"][500] == int(120 * ERROR_RATIO)  # the injected ratio, exactly


def test_request_rates_agree_with_the_requests_sent(live):
    low, high = rate5m_bounds(live)
    assert low <= single(query(live, (OVERVIEW, "Requests per second", "A"))) <= high

    ok = lambda m, r, s: s[0] in "23"  # noqa: E731
    low, high = rate5m_bounds(live, ok)
    assert low <= single(query(live, (OVERVIEW, "Successful requests per second", "A"))) <= high

    for ref, first_digit in (("A", "5"), ("B", "4")):
        low, high = rate5m_bounds(live, lambda m, r, s, d=first_digit: s[0] == d)
        value = single(query(live, (OVERVIEW, "Errors per second: 5xx and 4xx", ref)))
        assert low <= value <= high, (ref, value, low, high)


def test_error_ratio_budget_and_burn_rates_agree_with_the_injected_errors(live):
    truth = increase(live, lambda m, r, s: s.startswith("5")) / increase(live)
    assert single(query(live, (OVERVIEW, "Error ratio (5xx)", "A"))) == pytest.approx(truth, rel=0.02)
    budget = 1 - CONFIG.slo.availability
    burn = {}
    for ref in "ABCD":
        result = query(live, (OVERVIEW, "Error-budget burn rate", ref))
        assert len(result) == 1, (ref, QUERIES[(OVERVIEW, "Error-budget burn rate", ref)].expr, result,
                                  live["prometheus"].query('{__name__=~".*ratio_rate.*"}', live["at"]))
        burn[ref] = single(result)
    assert burn["A"] == pytest.approx(truth / budget, rel=0.02)  # 5m
    for ref in "BCD":  # 1h, 6h, 3d: averages of the 5m rates over the short history, same mix
        assert burn[ref] == pytest.approx(truth / budget, rel=0.1), ref
    left = single(query(live, (OVERVIEW, f"Error budget left ({CONFIG.alerting.slo_period_days:g}d)", "A")))
    assert left == pytest.approx(1 - truth / budget, rel=0.1)


def test_requests_per_minute_bars_add_up_to_the_requests_sent(live):
    q = QUERIES[(OVERVIEW, "Requests per minute", "A")]
    ctx = context(q, live["at"] - 300, live["at"], SCRAPE, VARIABLES)
    assert ctx.step_seconds() == 60 and "[1m]" in expand(q.expr, ctx)
    # Bars ending at `at`, one a minute, back past the first request.
    start = live["at"] - 60 * (int((live["at"] - live["started"]) // 60) + 1)
    result = live["prometheus"].query_range(expand(q.expr, ctx), start, live["at"], 60)
    bars = sum(float(v) for _, v in single_series(result)["values"])
    # Each bar is increase() over its own minute: the requests counted between the last
    # scrape before a bar's edge and the first one after it are only partly extrapolated
    # back in, so a loaded machine whose scrapes stall at an edge can lose up to those.
    # Upwards, increase() extrapolates every series of every bar by up to 1.1 scrape
    # intervals at each end; with a dozen route/status series starting mid-minute that was
    # seen to add 5.3 %, so the upper bound is 10 %.
    edges = [live["at"] - 60 * k for k in range(int((live["at"] - start) // 60) + 1)]
    straddling = straddling_increase(live, edges)
    assert increase(live) - straddling <= bars <= increase(live) * 1.10, (bars, increase(live), straddling)
    assert straddling < increase(live) / 2  # the bound still says something


def straddling_increase(live, edges) -> float:
    """Requests counted between the last scrape before each edge and the first one after it."""
    span = live["at"] - live["started"] + 120
    raw = live["prometheus"].query(f'{COUNT}{{job="{CONFIG.app.job}"}}[{int(span)}s]', live["at"])
    total = 0.0
    for series in raw:
        samples = [(float(t), float(v)) for t, v in series["values"]]
        for edge in edges:
            before = [v for t, v in samples if t <= edge]
            after = [v for t, v in samples if t > edge]
            if before and after:
                total += after[0] - before[-1]
    return total


def single_series(result):
    assert len(result) == 1, result
    return result[0]


def slow_mean_bounds(live) -> tuple[float, float]:
    """Every slow request took at least SLOW_SECONDS, and at most the bound of the highest bucket the
    app counted them in (the server's own data: a loaded machine may stretch them, by any amount).
    The mean is a rate of the histogram's _sum over a rate of its _count, and prometheus_client
    updates those one after the other: a scrape can catch one observation in _sum and not yet in
    _count, so the window's edge may be off by one."""
    n = increase(live, lambda m, r, s: r == SLOW)
    buckets = live["prometheus"].query(
        f'sum by (le) (increase(flask_http_request_duration_seconds_bucket{{url_rule="{SLOW}"}}[5m]))', live["at"])
    counted = {float(b["metric"]["le"]): float(b["value"][1]) for b in buckets}
    all_of_them = min(le for le, count in counted.items() if count >= counted[math.inf] - 0.5)
    return SLOW_SECONDS * (n - 1) / n, all_of_them


def test_latency_panels_put_the_slow_route_in_its_bucket(live):
    quantiles = {ref: single(query(live, (OVERVIEW, "Latency p50 / p95 / p99", ref))) for ref in "ABC"}
    slow_share = increase(live, lambda m, r, s: r == SLOW) / increase(live)
    assert slow_share > 0.05  # so the p95 of all requests is a slow one
    assert quantiles["A"] <= 0.25  # p50: a fast request
    assert 0.5 < quantiles["B"] <= 1.0 and 0.5 < quantiles["C"] <= 1.0  # p95, p99: the (0.5, 1] bucket
    mean = by_label(query(live, (OVERVIEW, "Mean response time per route", "A")), "url_rule")
    assert slow_mean_bounds(live)[0] <= mean[SLOW] <= slow_mean_bounds(live)[1]
    assert all(v < 0.25 for r, v in mean.items() if r != SLOW)
    p95 = by_label(query(live, (OVERVIEW, "p95 response time per route", "A")), "url_rule")
    assert 0.5 < p95[SLOW] <= 1.0 and p95["/"] <= 0.25


def test_route_table_columns_agree_per_route(live):
    requests_ = by_label(query(live, (OVERVIEW, "Routes", "A")), "url_rule")
    for route in (API, "/", SLOW, "/events/<int:event_id>"):
        low, high = rate5m_bounds(live, lambda m, r, s, route=route: r == route)
        assert low <= requests_[route] <= high, route
    ratio = by_label(query(live, (OVERVIEW, "Routes", "B")), "url_rule")
    api_truth = increase(live, lambda m, r, s: r == API and s == "500") / increase(live, lambda m, r, s: r == API)
    assert ratio[API] == pytest.approx(api_truth, rel=0.02) and api_truth == pytest.approx(ERROR_RATIO, abs=0.01)
    assert ratio["/"] == 0 and ratio["/events/<int:event_id>"] == 0  # a 404 is not a server error
    low, high = slow_mean_bounds(live)
    assert low <= by_label(query(live, (OVERVIEW, "Routes", "C")), "url_rule")[SLOW] <= high
    assert 0.5 < by_label(query(live, (OVERVIEW, "Routes", "D")), "url_rule")[SLOW] <= 1.0


def _range(live, key):
    """A raw panel's range query as Grafana sends it over the whole run (<= 150 s, so the step is 1 s)."""
    q = QUERIES[key]
    start, end = live["started"] - 2, live["measured"][1] + 10
    ctx = context(q, start, end, SCRAPE, VARIABLES)
    assert ctx.step_seconds() == SCRAPE and ctx.rate_interval_seconds() == 4 * SCRAPE, "keep the range <= 150 s"
    return live["prometheus"].query_range(expand(q.expr, ctx), start, end, ctx.step_seconds()), ctx.step_seconds()


def test_business_counters_add_up_to_the_purchases_made(live):
    buys = Counter({s: n for (m, r, s), n in live["sent"].items() if r.endswith("/purchase")})
    quantities = 2 + (buys["303"] - 1)  # the warm-up bought 2, each later purchase 1
    expected = {
        "tickets_sold_total": {"": quantities},
        "tickets_orders_total": {"": buys["303"]},
        "tickets_purchases_refused_total": {"invalid_quantity": buys["400"], "sold_out": 0, "sales_closed": 0,
                                            "unknown_ticket_type": 0},
    }
    for counter, truth in expected.items():
        result, step = _range(live, (OVERVIEW, f"{counter} per minute", "A"))
        areas = {r["metric"].get("reason", ""): sum(float(v) for _, v in r["values"]) * step / 60 for r in result}
        assert set(areas) == set(truth), counter
        for reason, count in truth.items():
            assert areas[reason] == pytest.approx(count, abs=0.15 * count + 0.01), (counter, reason)


def test_saturation_panels_agree_with_the_worker_process(live):
    (pid,) = wait_for_workers(live["app"].process.pid, 1)
    rss = single(query(live, (OVERVIEW, "Process memory", "A"), at=time.time()))
    status = Path(f"/proc/{pid}/status").read_text()
    vm_rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
    assert rss == pytest.approx(vm_rss, rel=0.1)

    result, step = _range(live, (OVERVIEW, "Process CPU", "A"))
    used = integral(result, step)
    assert len(used) == 1
    cpu = f'process_cpu_seconds_total{{job="{CONFIG.app.job}"}}'
    start, end = result[0]["values"][0][0], result[0]["values"][-1][0]
    spent = single(live["prometheus"].query(cpu, end)) - single(live["prometheus"].query(cpu, start))
    assert spent > 0.1 and list(used.values())[0] == pytest.approx(spent, rel=0.15)
    # ... and the counter is the worker's own CPU time, as /proc tells it.
    def cpu_seconds() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu_seconds()
    last = single(live["prometheus"].query(cpu, time.time()))  # a sample at most a few scrapes old
    after = cpu_seconds()
    assert before - 1.0 < last <= after + 0.01

    up = query(live, (OVERVIEW, "Scrape targets up", "A")), query(live, (OVERVIEW, "Scrape targets up", "B"))
    assert single(up[0]) == 1 and single(up[1]) == 1


def test_variables_list_the_configured_namespace_and_job(live):
    prometheus = live["prometheus"]
    for slug in ("overview", "resources"):
        from json import loads

        from vigilante import dashboards
        variables = {v["name"]: v for v in loads(dashboards.dashboard_json(CONFIG, slug))["templating"]["list"]}
        metric, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variables["namespace"]["query"]).groups()
        values = requests.get(f"{prometheus.url}/api/v1/label/{label}/values", params={"match[]": metric},
                              timeout=10).json()["data"]
        assert values == [CONFIG.app.namespace]
        metric, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variables["job"]["query"]).groups()
        metric = metric.replace("$namespace", CONFIG.app.namespace)
        values = requests.get(f"{prometheus.url}/api/v1/label/{label}/values", params={"match[]": metric},
                              timeout=10).json()["data"]
        assert values == [CONFIG.app.job]


def test_the_alert_annotation_query_shows_the_firing_alerts_and_no_pending_one(live):
    result = query(live, (OVERVIEW, "annotation: Vigilante alerts", "A"))
    every = live["prometheus"].query(f'ALERTS{{namespace="{CONFIG.app.namespace}"}}', live["at"])
    states = {(r["metric"]["alertname"], r["metric"]["alertstate"]) for r in every}
    # The traffic's errors and slow requests leave alerts pending or firing at this moment:
    # without any, the comparison below would prove nothing.
    assert states, "no alert pending or firing"
    assert {(r["metric"]["alertname"], r["metric"]["alertstate"]) for r in result} == \
        {(name, state) for name, state in states if state == "firing" and name.startswith("Vigilante")}


FIRING_ON_REAL_TRAFFIC = {
    # rule: a check of the value query V against the ground truth
    "VigilanteErrorBudgetBurnFast": "error_ratio",
    "VigilanteErrorBudgetBurnSlow": "error_ratio",
    "VigilanteHighLatencyP95": "slow_bucket",
    "VigilanteScorerAbsent": "one",  # no scorer runs in this test
}


def test_grafana_alert_queries_fire_exactly_where_the_traffic_says(live):
    prometheus, at = live["prometheus"], live["at"]
    truth_ratio = increase(live, lambda m, r, s: s.startswith("5")) / increase(live)
    rules = {title for title, _ in alert_queries(CONFIG)}
    for title in sorted(rules):
        indicator = prometheus.query(alert_queries(CONFIG)[(title, "A")], at)
        value = prometheus.query(alert_queries(CONFIG)[(title, "V")], at)
        if title not in FIRING_ON_REAL_TRAFFIC:
            assert indicator == [] and value == [], title
            continue
        assert [float(r["value"][1]) for r in indicator] == [1.0], title
        v = single(value)
        check = FIRING_ON_REAL_TRAFFIC[title]
        if check == "error_ratio":
            assert v == pytest.approx(truth_ratio, rel=0.1), title
        elif check == "slow_bucket":
            assert 0.5 < v <= 1.0
        else:
            assert v == 1.0
        assert indicator[0]["metric"] == value[0]["metric"]  # same labels: Grafana pairs $values.V with the alert
