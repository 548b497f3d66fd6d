"""How a configured string is written into the languages the generated files speak.

A job, a namespace or a team name from the configuration ends up inside PromQL selectors,
Alertmanager matchers, Go templates (Prometheus and Grafana expand the labels and
annotations of alert rules) and Grafana queries. Each function here is the one way to put
a string into one of those, so that a value with quotes, backslashes or braces is read back
as exactly itself, never as more syntax; :func:`prometheus_duration` writes a number of seconds
as Prometheus reads a duration. YAML and JSON are written by their serializers and need
nothing here.

    >>> print(label_value('x", job=~".+'))
    "x\\", job=~\\".+"
    >>> print(template_text("{{ $labels.job }}"))
    {{ "{{" }} $labels.job {{ "}}" }}
"""

from __future__ import annotations

import hashlib
import json
import re


def label_value(value: str) -> str:
    """``value`` as a double-quoted PromQL (and Alertmanager matcher) string literal.

    PromQL strings follow Go's escapes; JSON's are a subset of them, so a JSON string is a
    valid PromQL string with the same value. A regular expression matched with ``=~`` is
    written the same way, and keeps its backslashes.

    >>> print(label_value("C:\\\\temp"))
    "C:\\\\temp"
    """
    return json.dumps(value, ensure_ascii=False)


_DELIMITER = re.compile(r"\{\{|\}\}")


def template_text(text: str) -> str:
    """``text`` as literal text in a Go template: its ``{{`` and ``}}`` are printed, not executed."""
    return _DELIMITER.sub(lambda m: '{{ "' + m.group() + '" }}', text)


GRAFANA_UNSAFE = '"\\$'
"""Characters a Grafana dashboard variable's value cannot carry into a query intact: Grafana
inserts ``$job`` into ``job="$job"`` as it is, and reads ``$`` as the start of a variable."""


def prometheus_duration(seconds: float) -> str:
    """Prometheus durations take no fractions: 15 -> '15s', 0.5 -> '500ms'.

    >>> prometheus_duration(15), prometheus_duration(0.5)
    ('15s', '500ms')
    """
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def kubernetes_name(label_value: str) -> str:
    """A Kubernetes name (and label value) for a label value such as a job: itself when it is one,
    else a cleaned form with a short digest, so two jobs never share a name.

    >>> kubernetes_name("shop-api"), kubernetes_name("Shop (EU)")
    ('shop-api', 'shop-eu-d9a3e8d9')
    """
    if re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", label_value):
        return label_value
    cleaned = re.sub(r"[^a-z0-9]+", "-", label_value.lower()).strip("-")[:53].strip("-") or "job"
    return f"{cleaned}-{hashlib.sha256(label_value.encode()).hexdigest()[:8]}"
