"""The README's benchmark figures, written from the benchmarks' own JSON: one source for each number.

Each benchmark prints one JSON line last (``make bench`` keeps its output in ``out/bench/NAME.txt``).
The line of the run the README quotes is committed as ``docs/bench/NAME.json``; :data:`FIGURES`
names every number the README takes from one, by its key in that line and the words around it.

    python -m scripts.readme_figures                        # check: list each figure the README states otherwise
    python -m scripts.readme_figures --from out/bench --write   # a new `make bench` run: commit its lines, rewrite README

No benchmark runs here; ``tests/test_readme_figures.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "docs" / "bench"
README = REPO_ROOT / "README.md"


@dataclass(frozen=True)
class Figure:
    """One number in the README: where it comes from and the words it stands in (``{}`` marks the number)."""

    benchmark: str
    key: str
    text: str
    format: str = "{:g}"

    def stated(self, value: float) -> str:
        """The README's words with ``value`` in them.

        >>> Figure("b", "x", "costs {} µs", "{:.0f}").stated(36.6)
        'costs 37 µs'
        """
        return self.text.format(self.format.format(value))

    def pattern(self) -> re.Pattern[str]:
        """The README's words with any number in them; a line break may stand for any space."""
        before, after = (re.escape(part).replace(r"\ ", r"\s+") for part in self.text.split("{}"))
        return re.compile(f"({before})([0-9][0-9,.]*)({after})")


OVERHEAD, QUERY_COST, SCORER, DETECTION = "bench_overhead", "bench_query_cost", "bench_scorer", "bench_detection"
FIGURES = (
    Figure(OVERHEAD, "modes.threads.exporter_cpu_us_per_request.default", "exporter CPU {} µs/request with threads", "{:.0f}"),
    Figure(OVERHEAD, "modes.processes.exporter_cpu_us_per_request.default", "with threads, {} µs in multiprocess mode", "{:.0f}"),
    Figure(OVERHEAD, "modes.threads.exporter_cpu_us_per_request.default", "exporter costs about {} µs of CPU per request", "{:.0f}"),
    Figure(OVERHEAD, "modes.processes.exporter_cpu_us_per_request.default", "with threads and about {} µs in multiprocess", "{:.0f}"),
    Figure(OVERHEAD, "modes.threads.real_pages_ratio_from_cpu", "ratio implied {} (threads)", "{:.3f}"),
    Figure(OVERHEAD, "modes.processes.real_pages_ratio_from_cpu", "(threads) and {} (processes)", "{:.3f}"),
    Figure(QUERY_COST, "raw_samples_per_refresh", "| {} raw against", "{:,.0f}"),
    Figure(QUERY_COST, "recorded_samples_per_refresh", "raw against {} recorded", "{:,.0f}"),
    Figure(QUERY_COST, "rule_samples_per_refresh", "recorded plus {} for evaluating the rules", "{:,.0f}"),
    Figure(QUERY_COST, "ratio_rules_included", "rules: {}× fewer, rule evaluation included", "{:.0f}"),
    Figure(SCORER, "service_cpu_ms_per_tick", "| {} ms CPU per 15 s tick", "{:.2f}"),
    Figure(SCORER, "bare_cpu_ms_per_tick", "against {} ms for the model alone", "{:.2f}"),
    Figure(SCORER, "cpu_ratio", "model alone: ratio {} (goal ≤ 2", "{:.2f}"),
    Figure(SCORER, "service_query_ms_per_tick", "): the HTTP query {} ms, the state save", "{:.2f}"),
    Figure(SCORER, "service_save_ms_per_tick", "the state save every 300 s {} ms a tick", "{:.2f}"),
    Figure(SCORER, "service_max_rss_mib", "a tick; {} MiB RSS against", "{:.0f}"),
    Figure(SCORER, "bare_max_rss_mib", "MiB RSS against {} MiB", "{:.0f}"),
    Figure(DETECTION, "held_out.scorer.recall", "| scorer: recall {} (every kind", "{:.2f}"),
    Figure(DETECTION, "held_out.scorer.median_delay_ticks", "(every kind 1.00), median delay {} ticks", "{:.0f}"),
    Figure(DETECTION, "held_out.scorer.false_per_week", "median delay 2 ticks, {} false episodes/week", "{:.2f}"),
    Figure(DETECTION, "held_out.zscore.recall", "rolling z-score {} (mild", "{:.2f}"),
    Figure(DETECTION, "held_out.zscore.false_per_week", "0.83) with {} false episodes/week; static", "{:.2f}"),
    Figure(DETECTION, "held_out.static.recall", "static thresholds {}; the original", "{:.2f}"),
    Figure(DETECTION, "held_out.original.recall", "the original method {} with", "{:.2f}"),
    Figure(DETECTION, "held_out.original.false_per_week", "with {} false episodes/week |", "{:,.0f}"),
    Figure(DETECTION, "recorded.events", "each trained on its first 3 minutes): {} faults", "{:.0f}"),
    Figure(DETECTION, "recorded.recall", "faults, recall {}, median delay", "{:.2f}"),
    Figure(DETECTION, "recorded.median_delay_seconds", "recall 0.96, median delay {} s; missed", "{:.0f}"),
    Figure(DETECTION, "real.detectors.scorer.ALL.f1", "is met by a hair ({} at", "{:.3f}"),
    Figure(DETECTION, "real.detectors.scorer.ALL.false_per_1000_rows", "is met by a hair (0.601 at {}):", "{:.2f}"),
    Figure(DETECTION, "daily.detectors.scorer.ALL.recall", "| all | recall {}, precision", "{:.2f}"),
    Figure(DETECTION, "daily.detectors.scorer.ALL.precision", "| all | recall 0.64, precision {},", "{:.2f}"),
    Figure(DETECTION, "daily.detectors.scorer.ALL.false_per_1000_rows", "precision 0.80, {} false episodes per 1,000 rows |",
           "{:.2f}"),
)


def lookup(result: dict[str, Any], key: str) -> float:
    """The number at a dotted ``key`` of a benchmark's JSON line.

    >>> lookup({"modes": {"threads": {"x": 3}}}, "modes.threads.x")
    3
    """
    value: Any = result
    for part in key.split("."):
        value = value[part]
    return value


def load_results(directory: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """Every committed JSON line, by benchmark name."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def disagreements(readme: str, results: dict[str, dict[str, Any]]) -> list[str]:
    """One line per figure the README does not state as its benchmark's JSON has it."""
    flat = " ".join(readme.split())
    problems = []
    for figure in FIGURES:
        if figure.benchmark not in results:
            problems.append(f"{figure.key}: no {figure.benchmark}.json under {RESULTS}")
            continue
        wanted = figure.stated(lookup(results[figure.benchmark], figure.key))
        if wanted not in flat:
            found = figure.pattern().search(readme)
            problems.append(f"README should say {wanted!r} ({figure.benchmark} {figure.key}); "
                            f"it says {found.group(2) if found else 'nothing there'}")
    return problems


def rewrite(readme: str, results: dict[str, dict[str, Any]]) -> str:
    """The README with every figure written from its benchmark's JSON."""
    for figure in FIGURES:
        number = figure.format.format(lookup(results[figure.benchmark], figure.key))
        readme, count = figure.pattern().subn(lambda m: m.group(1) + number + m.group(3), readme, count=1)
        if count != 1:
            raise SystemExit(f"README: the words of {figure.key} ({figure.text!r}) are not there")
    return readme


def import_lines(source: Path, target: Path = RESULTS) -> list[str]:
    """Copy the last JSON line of each ``source/NAME.txt`` (``make bench``'s output) to ``target/NAME.json``."""
    copied = []
    for path in sorted(source.glob("bench_*.txt")):
        lines = [line for line in path.read_text().splitlines() if line.startswith("{")]
        if lines:
            (target / f"{path.stem}.json").write_text(json.dumps(json.loads(lines[-1]), indent=1, sort_keys=True) + "\n")
            copied.append(path.stem)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR",
                        help="copy the JSON lines of a `make bench` run (out/bench) into docs/bench first")
    parser.add_argument("--write", action="store_true", help="rewrite the README's figures (default: only check)")
    args = parser.parse_args(argv)
    if args.source:
        print(f"copied: {', '.join(import_lines(args.source)) or 'nothing'}", file=sys.stderr)
    results = load_results()
    readme = README.read_text()
    if args.write:
        README.write_text(rewrite(readme, results))
        return 0
    problems = disagreements(readme, results)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
