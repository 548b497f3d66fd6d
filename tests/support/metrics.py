"""Read a ``/metrics`` page: the one Prometheus text parser the tests share.

Built on prometheus_client's own parser, so label escaping, histograms and ``_created``
samples are read the way the exporters write them, and a malformed page fails loudly.

>>> page = '''# TYPE shop_requests counter
... shop_requests_total{method="GET",status="200"} 3.0
... shop_requests_total{method="POST",status="200"} 2.0
... shop_requests_created{method="GET",status="200"} 1.7e9
... # TYPE shop_up gauge
... shop_up 1.0
... '''
>>> value(page, "shop_up")
1.0
>>> value(page, "shop_requests_total", method="GET", status="200")
3.0
>>> value(page, "shop_requests_total", method="GET") is None  # labels must match exactly
True
>>> total(page, "shop_requests_total", status="200")  # every sample carrying these labels
5.0
"""

from __future__ import annotations

from typing import NamedTuple

import requests
from prometheus_client.parser import text_string_to_metric_families


class Sample(NamedTuple):
    """One line of a ``/metrics`` page: its full name (``_total``, ``_bucket``... kept), labels and value."""

    name: str
    labels: dict[str, str]
    value: float


def samples(text: str) -> list[Sample]:
    """Every sample on the page, in page order; comments and metadata lines dropped.

    >>> samples('# TYPE up gauge\\nup{job="a \\\\"b\\\\""} 1\\n')
    [Sample(name='up', labels={'job': 'a "b"'}, value=1.0)]
    """
    return [Sample(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample called ``name`` with exactly these labels; None when there is none."""
    return next((s.value for s in samples(text) if s.name == name and s.labels == labels), None)


def total(text: str, name: str, **labels: str) -> float:
    """The sum of every sample called ``name`` whose labels include these (0.0 when none match)."""
    return sum(s.value for s in samples(text)
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def scrape(base_url: str, timeout: float = 5.0) -> str:
    """GET ``base_url``/metrics and return the page; an HTTP error status raises."""
    response = requests.get(f"{base_url.rstrip('/')}/metrics", timeout=timeout)
    response.raise_for_status()
    return response.text
