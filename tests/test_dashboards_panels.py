"""The dashboard building blocks: layout, linked panel ids, what a panel says it reads."""

from __future__ import annotations

import pytest

from vigilante.config import load_config
from vigilante.dashboards.panels import Board, Query, SOURCES, stat, timeseries
from vigilante.rules.panels import PANELS


@pytest.fixture
def board():
    return Board(load_config(env={}), "overview", "Test", "A test board.", [])


def simple(title="Panel", reads="recorded"):
    return timeseries(title, "What it shows.", "short", reads, [Query("up")])


def test_panels_flow_left_to_right_and_wrap_at_24_columns(board):
    board.row("First")
    a = board.add(simple("a"), width=16, height=5)
    b = board.add(simple("b"), width=8, height=7)
    c = board.add(simple("c"), width=12)
    board.row("Second")
    d = board.add(simple("d"), width=24)
    positions = [(p.gridPos.x, p.gridPos.y) for p in (a, b, c, d)]
    assert positions == [(0, 1), (16, 1), (0, 8), (0, 17)]


def test_a_linked_panel_takes_the_id_and_title_alerts_link_to(board):
    board.add(simple(""), link="error_ratio")
    board.add(simple("free"))
    panels = board.dashboard().panels
    assert (panels[0].id, panels[0].title) == (PANELS["error_ratio"].panel_id, PANELS["error_ratio"].title)
    # auto_panel_ids() numbers the others without reusing an id in use
    assert panels[1].id and panels[1].id != panels[0].id


def test_linking_a_panel_from_another_dashboard_is_an_error(board):
    other = next(k for k, p in PANELS.items() if p.dashboard != "overview")
    with pytest.raises(ValueError, match="belongs on dashboard"):
        board.add(simple(""), link=other)


def test_every_panel_description_ends_with_what_it_reads():
    for reads, sentence in SOURCES.items():
        assert simple(reads=reads).description.endswith(sentence)
        assert stat("s", "Now.", "s", reads, [Query("up", instant=True)]).description.endswith(sentence)
    with pytest.raises(ValueError, match="unknown source"):
        simple(reads="guesswork")


def test_queries_are_numbered_and_read_the_datasource_variable():
    panel = timeseries("t", "d", "s", "recorded", [Query("a"), Query("b", "{{job}}")])
    data = panel.to_json_data()
    assert [t.refId for t in data["targets"]] == ["A", "B"]
    assert all(t.datasource == {"type": "prometheus", "uid": "${datasource}"} for t in data["targets"])
    assert data["fieldConfig"]["defaults"]["unit"] == "s"
