"""Prometheus recording and alerting rules for the watched Flask app, defined once in Python.

- :mod:`vigilante.rules.recording` builds the recording rules from the configuration and names the
  recorded series (dashboards, alerts and the scorer read them through it);
- :mod:`vigilante.rules.slo` holds the multi-window, multi-burn-rate policy of the availability SLO;
- :mod:`vigilante.rules.alerts` defines every alert once (expression, hold time, severity, texts,
  runbook anchor, dashboard panel);
- :mod:`vigilante.rules.panels` fixes the dashboard uids and panel ids alerts link to;
- :mod:`vigilante.rules.render` turns them into Prometheus rule files (and a PrometheusRule);
- :mod:`vigilante.rules.alertmanager` renders the example Alertmanager configuration.

The outputs live in ``rules/generated/`` and are written by ``vigilante generate``; the
promtool unit tests in ``rules/tests/`` are named after the rule groups they test, and
``rules/runbook.md`` has one section per alert.
"""
