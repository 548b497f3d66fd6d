"""The package's import graph, read from the source: no circles, and nothing imports the CLI."""

from scripts import import_graph
from tests.support import REPO_ROOT

GRAPH = import_graph.scan(REPO_ROOT)


def test_every_module_of_the_three_folders_is_read():
    names = set(GRAPH.modules)
    assert {"vigilante", "vigilante.cli", "vigilante.rules.recording", "vigilante.dashboards",
            "vigilante.dashboards.overview.dashboard", "vigilante.scorer.detector"} <= names
    assert any(i.in_function for i in GRAPH.imports)  # imports inside functions are read too


def test_no_module_imports_another_that_imports_it_back():
    assert import_graph.circles(GRAPH.edges()) == []


def test_no_room_imports_another_that_imports_it_back():
    assert import_graph.circles(GRAPH.room_edges()) == []


def test_only_the_cli_imports_the_cli():
    outside = [(i.source, i.line) for i in GRAPH.imports
               if GRAPH.room_of(i.target) == "vigilante.cli" and GRAPH.room_of(i.source) != "vigilante.cli"]
    assert outside == []


def test_only_the_package_alias_imports_a_module_inside_a_function():
    # vigilante.instrument is imported on first use so that `import vigilante` stays free of Flask.
    assert [(i.source, i.target) for i in GRAPH.imports if i.in_function] == [
        ("vigilante", "vigilante.attach.instrumentation")]


def test_a_circle_is_found_when_there_is_one():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_graph.circles(edges) == [["a", "b", "c"]]
    assert import_graph.levels(edges) == {"a": 1, "b": 1, "c": 1, "d": 2}


def test_the_summary_names_rooms_levels_and_circles():
    text = import_graph.summary(GRAPH)
    assert "0 module circles, 0 room circles" in text.splitlines()[0]
    assert "level 1:" in text and "vigilante.cli" in text
