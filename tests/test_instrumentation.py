"""The one-call instrumentation on a second, minimal Flask app with a non-default configuration."""

from __future__ import annotations


import pytest
from flask import Flask
from prometheus_client import CollectorRegistry

import vigilante.attach.instrumentation
from vigilante.config import load_config
from vigilante.attach.instrumentation import InstrumentationError, excluded_path_patterns, instrument


def minimal_app() -> Flask:
    app = Flask("shop")

    @app.route("/items/<int:item_id>")
    def item(item_id: int):
        return {"id": item_id}

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.route("/ping")
    def ping():
        return "pong"

    @app.route("/pingpong")
    def pingpong():
        return "pong pong"

    return app


@pytest.fixture
def custom_config(tmp_path):
    path = tmp_path / "vigilante.yaml"
    path.write_text(
        "app:\n"
        "  metric_prefix: shop\n"
        "  route_label: endpoint\n"
        "  latency_buckets: [0.05, 0.3, 2]\n"
        "  excluded_paths: [/metrics, /ping]\n"
    )
    return load_config(path, env={})


def test_non_default_configuration_names_the_exported_metrics(custom_config):
    app = minimal_app()
    metrics = instrument(app, custom_config, version="9.9.9", registry=CollectorRegistry())
    client = app.test_client()
    for item_id in (1, 2, 3):
        assert client.get(f"/items/{item_id}").status_code == 200
    assert client.get("/nowhere").status_code == 404
    registry = metrics.registry

    def value(name, labels):
        return registry.get_sample_value(name, labels)

    # The route label is the endpoint, one series for three item ids.
    assert value("shop_http_request_duration_seconds_count", {"method": "GET", "endpoint": "item", "status": "200"}) == 3
    assert value("shop_http_request_duration_seconds_count", {"method": "GET", "endpoint": "unmatched", "status": "404"}) == 1
    assert value("shop_http_request_total", {"method": "GET", "status": "200"}) == 3
    buckets = {s.labels["le"] for m in registry.collect() if m.name == "shop_http_request_duration_seconds"
               for s in m.samples if s.name.endswith("_bucket")}
    assert buckets == {"0.05", "0.3", "2.0", "+Inf"}
    assert value("shop_app_info", {"version": "9.9.9", "vigilante_version": vigilante.__version__}) == 1
    assert value("flask_http_request_total", {"method": "GET", "status": "200"}) is None


def test_excluded_paths_are_exact_and_metrics_page_serves_the_registry(custom_config):
    app = minimal_app()
    metrics = instrument(app, custom_config, registry=CollectorRegistry())
    client = app.test_client()
    client.get("/ping")
    client.get("/pingpong")
    page = client.get("/metrics")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'endpoint="pingpong"' in text and 'endpoint="ping"' not in text
    assert metrics.registry.get_sample_value("shop_http_request_total", {"method": "GET", "status": "200"}) == 1


def test_default_route_label_is_the_url_rule_never_the_raw_path():
    app = minimal_app()
    metrics = instrument(app, load_config(env={}), registry=CollectorRegistry())
    client = app.test_client()
    client.get("/items/41")
    client.get("/items/42")
    count = metrics.registry.get_sample_value(
        "flask_http_request_duration_seconds_count", {"method": "GET", "url_rule": "/items/<int:item_id>", "status": "200"})
    assert count == 2
    assert "/items/41" not in client.get("/metrics").get_data(as_text=True)


def test_exceptions_are_counted_as_500():
    app = minimal_app()
    metrics = instrument(app, load_config(env={}).app, registry=CollectorRegistry())
    assert app.test_client().get("/boom").status_code == 500
    assert metrics.registry.get_sample_value("flask_http_request_exceptions_total",
                                             {"method": "GET", "status": "500"}) == 1
    assert metrics.registry.get_sample_value("flask_http_request_duration_seconds_count",
                                             {"method": "GET", "url_rule": "/boom", "status": "500"}) == 1


def test_a_route_that_served_a_request_has_its_500_series_at_0_before_its_first_error():
    # rate() counts a counter's increase between samples: a 500 series born at 1 adds nothing.
    app = minimal_app()
    metrics = instrument(app, load_config(env={}), registry=CollectorRegistry())
    client = app.test_client()
    client.get("/items/1")
    client.head("/items/2")  # each method its own series
    client.get("/nowhere")
    sample = metrics.registry.get_sample_value
    labels = {"method": "GET", "url_rule": "/items/<int:item_id>", "status": "500"}
    assert sample("flask_http_request_duration_seconds_count", labels) == 0
    assert sample("flask_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 0
    assert sample("flask_http_request_total", {"method": "GET", "status": "500"}) == 0
    assert sample("flask_http_request_duration_seconds_count",
                  {"method": "HEAD", "url_rule": "/items/<int:item_id>", "status": "500"}) == 0
    # Only where a request went: not every rule, not the routes no rule matched.
    assert sample("flask_http_request_duration_seconds_count",
                  {"method": "GET", "url_rule": "/pingpong", "status": "500"}) is None
    assert sample("flask_http_request_duration_seconds_count",
                  {"method": "GET", "url_rule": "unmatched", "status": "500"}) is None
    client.get("/boom")
    assert sample("flask_http_request_duration_seconds_count",
                  {"method": "GET", "url_rule": "/boom", "status": "500"}) == 1


def test_config_comes_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("VIGILANTE_APP__METRIC_PREFIX", "envshop")
    app = minimal_app()
    metrics = instrument(app, registry=CollectorRegistry())
    app.test_client().get("/items/1")
    assert metrics.registry.get_sample_value("envshop_http_request_total", {"method": "GET", "status": "200"}) == 1


def test_second_call_on_one_app_fails_loudly_instead_of_counting_twice():
    # Several apps on one registry are fine (tests/test_instrument_many_apps.py); one app twice is not.
    app = minimal_app()
    instrument(app, load_config(env={}), registry=CollectorRegistry())
    with pytest.raises(InstrumentationError, match="already instrumented"):
        instrument(app, load_config(env={}), registry=CollectorRegistry())


def test_a_registry_holding_metrics_instrument_did_not_make_is_refused_with_the_way_out():
    from prometheus_client import Counter

    registry = CollectorRegistry()
    Counter("flask_http_request_total", "made by someone else", ("method", "status"), registry=registry)
    with pytest.raises(InstrumentationError, match="did not make.*CollectorRegistry"):
        instrument(minimal_app(), load_config(env={}), registry=registry)


@pytest.mark.parametrize("route_label", ["url_rule", "endpoint"])
def test_unmatched_paths_share_one_named_route_label_value(route_label):
    import random

    app = minimal_app()
    metrics = instrument(app, load_config(env={}).replace("app", route_label=route_label), registry=CollectorRegistry())
    client = app.test_client()
    chooser = random.Random(7)
    paths = {"/" + "/".join(f"{chooser.getrandbits(40):x}" for _ in range(chooser.randint(1, 4))) for _ in range(300)}
    for path in paths:
        assert client.get(path).status_code == 404
    assert client.post("/ping").status_code == 405  # a rule exists, not for this method: no rule matched
    routes = {s.labels[route_label] for m in metrics.registry.collect() for s in m.samples
              if route_label in s.labels and s.labels["status"] in ("404", "405")}
    assert routes == {"unmatched"}
    count = metrics.registry.get_sample_value("flask_http_request_duration_seconds_count",
                                              {"method": "GET", route_label: "unmatched", "status": "404"})
    assert count == len(paths)


def test_multiprocess_mode_needs_a_writable_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(InstrumentationError, match="writable directory"):
        instrument(minimal_app(), load_config(env={}))


def test_excluded_path_patterns():
    assert excluded_path_patterns(("/metrics", "/admin/*")) == [r"/metrics\Z", "/admin/"]



# --- a foreign-style app: factory, blueprint, hooks and handlers that fail -------------------

FOREIGN_REQUESTS = [  # (method, path, status the client gets)
    ("GET", "/shop/items/1", 200),
    ("GET", "/shop/items/2?db=down", 503),  # the app's own before_request hook fails
    ("POST", "/shop/orders", 201),
    ("POST", "/shop/orders?db=down", 503),
    ("GET", "/shop/fail", 500),  # a view raises
    ("GET", "/shop/gone", 500),  # the error handler raises
    ("GET", "/shop/missing", 404),
    ("GET", "/nowhere", 404),
    ("GET", "/nowhere?db=down", 503),  # fails before routing is of any use
]


@pytest.mark.parametrize("instrument_at", ["first", "last"])
def test_every_request_of_a_foreign_app_is_counted_whatever_the_call_order(instrument_at):
    from tests.fixtures.foreign_app import create_app

    registry = CollectorRegistry()
    app = create_app(instrument_at, registry=registry)
    client = app.test_client()
    for method, path, status in FOREIGN_REQUESTS:
        assert client.open(path, method=method).status_code == status, path

    def value(name, **labels):
        return registry.get_sample_value(name, labels) or 0

    def histogram(status, **labels):
        return sum(s.value for m in registry.collect() if m.name == "flask_http_request_duration_seconds"
                   for s in m.samples if s.name.endswith("_count") and s.labels["status"] == status
                   and all(s.labels[k] == v for k, v in labels.items()))

    for status in {str(s) for _, _, s in FOREIGN_REQUESTS}:
        sent = sum(1 for _, _, s in FOREIGN_REQUESTS if str(s) == status)
        counted = value("flask_http_request_total", method="GET", status=status) + \
            value("flask_http_request_total", method="POST", status=status)
        assert (histogram(status), counted) == (sent, sent), status
    # The failed hook is counted under the route it was on its way to.
    assert histogram("503", url_rule="/shop/items/<int:item_id>", method="GET") == 1
    assert histogram("503", url_rule="/shop/orders", method="POST") == 1
    assert histogram("500", url_rule="/shop/gone") == 1
    # Unhandled exceptions (a view, a failing handler) are the exceptions counter's; 503s were handled.
    assert value("flask_http_request_exceptions_total", method="GET", status="500") == 2


def test_the_method_label_is_bounded_whatever_clients_send():
    app = minimal_app()
    metrics = instrument(app, load_config(env={}), registry=CollectorRegistry())
    client = app.test_client()
    for i in range(200):
        client.open("/items/1", method=f"M{i:03d}")
    client.get("/items/1")
    methods = {s.labels["method"] for m in metrics.registry.collect() for s in m.samples if "method" in s.labels}
    assert methods == {"GET", "other"}
    assert metrics.registry.get_sample_value("flask_http_request_total", {"method": "other", "status": "405"}) == 200


def test_instrument_is_importable_from_the_package_without_importing_flask_first():
    import subprocess
    import sys

    code = ("import sys, vigilante; assert 'flask' not in sys.modules; "
            "from vigilante import instrument; import vigilante.attach.instrumentation as m; assert instrument is m.instrument")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
