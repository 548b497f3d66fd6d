"""The purchase rules of app_under_test.sales that need no server."""

from __future__ import annotations

import doctest

import pytest

import app_under_test.sales
from app_under_test.sales import PurchaseRefused, parse_quantity, plan_tickets


@pytest.mark.parametrize("raw, expected", [("1", 1), (" 4 ", 4), ("10", 10), (7, 7)])
def test_valid_quantities(raw, expected):
    assert parse_quantity(raw, 10) == expected


@pytest.mark.parametrize("raw", [None, "", "0", "-2", "11", "1.0", "1e1", "+3", "٣", "9" * 40, "0x3"])
def test_invalid_quantities_are_refused_with_the_allowed_range(raw):
    with pytest.raises(PurchaseRefused) as refused:
        parse_quantity(raw, 10)
    assert refused.value.reason == "invalid_quantity" and refused.value.status == 400
    assert "from 1 to 10" in refused.value.message


def test_planned_tickets_have_unique_codes_and_qr_images():
    planned = plan_tickets(5)
    assert len({t.code for t in planned}) == 5
    assert all(t.qr_svg.startswith("<svg") and "</svg>" in t.qr_svg for t in planned)
    # Served alone as image/svg+xml, an SVG without its namespace renders as a broken image.
    assert all('xmlns="http://www.w3.org/2000/svg"' in t.qr_svg for t in planned)


def test_docstring_examples_run():
    assert doctest.testmod(app_under_test.sales).failed == 0
