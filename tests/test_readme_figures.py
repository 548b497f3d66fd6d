"""The README's benchmark figures are those of the committed JSON lines (docs/bench/*.json): one source."""

from __future__ import annotations

import copy
import json

from scripts.readme_figures import FIGURES, README, disagreements, import_lines, load_results, lookup, rewrite


def test_every_benchmark_figure_in_the_readme_is_its_benchmarks_json():
    assert disagreements(README.read_text(), load_results()) == []


def test_every_figure_names_a_number_the_committed_json_holds_and_words_found_once():
    results, flat = load_results(), " ".join(README.read_text().split())
    assert {f.benchmark for f in FIGURES} == set(results)
    for figure in FIGURES:
        stated = figure.stated(lookup(results[figure.benchmark], figure.key))
        assert flat.count(stated) == 1, stated


def test_a_changed_json_figure_is_reported_and_written_back_into_the_readme():
    results = copy.deepcopy(load_results())
    results["bench_scorer"]["cpu_ratio"] = 1.87
    readme = README.read_text()
    [problem] = disagreements(readme, results)
    assert "'model alone: ratio 1.87 (goal ≤ 2'" in problem and "cpu_ratio" in problem
    written = rewrite(readme, results)
    assert disagreements(written, results) == []
    assert [a for a, b in zip(readme.splitlines(), written.splitlines()) if a != b] == \
        [line for line in readme.splitlines() if "model alone: ratio" in line]


def test_a_bench_run_s_json_lines_are_imported_from_its_output(tmp_path):
    out, target = tmp_path / "out", tmp_path / "docs"
    out.mkdir(), target.mkdir()
    (out / "bench_scorer.txt").write_text("a table\n{\"benchmark\": \"scorer_cost\", \"cpu_ratio\": 1.5}\n")
    (out / "bench_latency.txt").write_text("no JSON line: an interrupted run\n")
    assert import_lines(out, target) == ["bench_scorer"]
    assert json.loads((target / "bench_scorer.json").read_text()) == {"benchmark": "scorer_cost", "cpu_ratio": 1.5}
