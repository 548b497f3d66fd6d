"""Latency benchmark: onset -> first score above the threshold -> alert firing -> notification.

Every hop of the chain waits for a periodic process that runs at its own phase: the app's
scrape, the recording rules' evaluation, the scorer's tick, the hold, the scrape of the
scorer, the anomaly alert's evaluation, Alertmanager's ``group_wait``. This script
simulates the chain at the shipped settings (``vigilante.yaml`` defaults, or ``--config``)
for many incidents, each at random phases, and prints p50/p95 of each hop and end to end,
with the settings' floor (best and worst phases). It prints the previous chain (a
clock-grid tick, a two-tick hold, the scorer scraped and its alert evaluated every 15 s,
``group_wait`` 10 s) beside it, measured in the same run.

A simulation is only as good as its model of the signal: ``signal_scrapes`` is how many
scrapes after the onset the recorded features need before the score is above the
threshold (1 for the demo's spike with errors: the first errors in the 1-minute window).
``--real SUMMARY.json`` prints a real run's figures beside it (``make demo`` at
``--interval 15``): each must lie between the floor's best and worst, and the script says
at which percentile of the simulation it falls.

    python -m scripts.bench_latency                      # 20,000 incidents at the shipped settings
    python -m scripts.bench_latency --real out/demo/summary.json

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vigilante.config import Config, load_config
from vigilante.rules.alertmanager import alertmanager_config
from vigilante.scorer.timing import TickScale
from vigilante.service.phase import margin_for

HOPS = ("first_score_above_threshold", "alert_firing", "notification")


@dataclass(frozen=True)
class Chain:
    """The settings every hop waits on (seconds)."""

    scrape: float
    evaluation: float
    tick: float
    phase_margin: float | None  # the tick's delay after the rule evaluation; None: the clock grid
    hold_ticks: int
    at_once: bool  # the score is at least at_once_ratio x the threshold: no hold
    scorer_scrape: float
    alert_evaluation: float
    alert_for: float
    group_wait: float
    signal_scrapes: int = 1

    @classmethod
    def of(cls, config: Config, at_once: bool = True, signal_scrapes: int = 1) -> "Chain":
        """The chain as ``config`` sets it up (the anomaly route's ``group_wait`` included)."""
        p, s = config.prometheus, config.scorer
        route = next(r for r in alertmanager_config(config)["route"]["routes"][0]["routes"]
                     if 'alertname="VigilanteAnomalyDetected"' in r["matchers"])
        return cls(scrape=p.scrape_interval_seconds, evaluation=p.evaluation_interval_seconds, tick=s.tick_seconds,
                   phase_margin=margin_for(s.tick_seconds) if config.service.phase_lock else None,
                   hold_ticks=TickScale.of(s, s.tick_seconds).hold_ticks, at_once=at_once and s.at_once_ratio > 0,
                   scorer_scrape=p.scorer_interval_seconds, alert_evaluation=p.scorer_interval_seconds,
                   alert_for=0.0, group_wait=seconds(route["group_wait"]), signal_scrapes=signal_scrapes)


def previous_chain(chain: Chain) -> Chain:
    """The same chain as it was: clock-grid ticks, always the hold (30 s then), 15 s scorer hops, group_wait 10 s."""
    return replace(chain, phase_margin=None, at_once=False, hold_ticks=2, scorer_scrape=chain.scrape,
                   alert_evaluation=chain.evaluation, group_wait=10.0)


def seconds(duration: str) -> float:
    """An Alertmanager or Prometheus duration (``0s``, ``10s``, ``1m``, ``500ms``) in seconds.

    >>> seconds("0s"), seconds("1m"), seconds("500ms")
    (0.0, 60.0, 0.5)
    """
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    return float(duration)


def _next(at: float, phase: float, period: float) -> float:
    """The first run of a process with ``period`` and ``phase`` at or after ``at``.

    >>> _next(16.0, 3.0, 5.0), _next(18.0, 3.0, 5.0)
    (18.0, 18.0)
    """
    return phase + math.ceil((at - phase) / period - 1e-9) * period


def _held_ticks(chain: Chain) -> int:
    """Ticks above the threshold before the decision: the hold, or two when far above it (one alone may be a glitch)."""
    return min(2, chain.hold_ticks) if chain.at_once else chain.hold_ticks


def incident(chain: Chain, rng: random.Random) -> dict[str, float]:
    """One incident with its onset at 0 and every process at a random phase: the time of each hop."""
    scraped = rng.uniform(0, chain.scrape) + (chain.signal_scrapes - 1) * chain.scrape
    recorded = _next(scraped, rng.uniform(0, chain.evaluation), chain.evaluation)
    if chain.phase_margin is not None:
        scored = recorded + chain.phase_margin
    else:
        scored = _next(recorded + 1e-6, rng.uniform(0, chain.tick), chain.tick)
    decided = scored + (_held_ticks(chain) - 1) * chain.tick
    exported = _next(decided, rng.uniform(0, chain.scorer_scrape), chain.scorer_scrape)
    firing = _next(exported, rng.uniform(0, chain.alert_evaluation), chain.alert_evaluation) + chain.alert_for
    return {"first_score_above_threshold": scored, "alert_firing": firing, "notification": firing + chain.group_wait}


def floor(chain: Chain) -> dict[str, float]:
    """Best and worst onset -> notification over every phase (the signal's own delay included).

    >>> chain = Chain.of(Config())
    >>> floor(chain), floor(replace(chain, at_once=False)), floor(previous_chain(chain))
    ({'best_seconds': 16.0, 'worst_seconds': 56.0}, {'best_seconds': 46.0, 'worst_seconds': 86.0}, {'best_seconds': 25.0, 'worst_seconds': 100.0})
    """
    signal = (chain.signal_scrapes - 1) * chain.scrape
    hold = (_held_ticks(chain) - 1) * chain.tick
    tick_wait = (chain.phase_margin, chain.phase_margin) if chain.phase_margin is not None else (0.0, chain.tick)
    fixed = signal + hold + chain.alert_for + chain.group_wait
    return {"best_seconds": round(fixed + tick_wait[0], 1),
            "worst_seconds": round(fixed + tick_wait[1] + chain.scrape + chain.evaluation + chain.scorer_scrape
                                   + chain.alert_evaluation, 1)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def simulate(chain: Chain, incidents: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    runs = [incident(chain, rng) for _ in range(incidents)]
    hops = {}
    previous = [0.0] * incidents
    for hop in HOPS:
        ends = [r[hop] for r in runs]
        hops[hop] = {"p50_seconds": round(percentile(ends, 0.5), 1), "p95_seconds": round(percentile(ends, 0.95), 1),
                     "hop_p50_seconds": round(percentile([e - p for e, p in zip(ends, previous)], 0.5), 1),
                     "hop_p95_seconds": round(percentile([e - p for e, p in zip(ends, previous)], 0.95), 1)}
        previous = ends
    return {"chain": asdict(chain), "incidents": incidents, "hops": hops, "floor": floor(chain),
            "end_to_end": sorted(r["notification"] for r in runs)}


def rank(sorted_values: list[float], value: float) -> float:
    """The share of simulated incidents faster than ``value`` (its percentile)."""
    return sum(v < value for v in sorted_values) / len(sorted_values)


def print_table(title: str, result: dict[str, Any]) -> None:
    print(f"\n== {title}: {result['incidents']} incidents at random phases")
    print(f"{'onset ->':<34}{'p50 s':>8}{'p95 s':>8}   {'this hop p50':>12}{'p95':>7}")
    for hop, figures in result["hops"].items():
        print(f"{hop.replace('_', ' '):<34}{figures['p50_seconds']:>8.1f}{figures['p95_seconds']:>8.1f}   "
              f"{figures['hop_p50_seconds']:>12.1f}{figures['hop_p95_seconds']:>7.1f}")
    f = result["floor"]
    print(f"floor of the settings, onset -> notification: best {f['best_seconds']:.1f} s, worst {f['worst_seconds']:.1f} s")


def real_runs(paths: list[Path], results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each real incident's hops beside the simulated chain it went through.

    A real incident went "at once" when its alert fired within the scorer's two short hops
    of its first score above the threshold, "held" otherwise (a tick later).
    """
    rows = []
    for path in paths:
        summary = json.loads(path.read_text())
        tick = summary["settings"]["intervals_used"]["tick_seconds"]
        for figures in summary.get("incidents", []):
            seconds = {hop: figures.get(f"seconds_to_{hop}") for hop in HOPS}
            row: dict[str, Any] = {"run": str(path), "incident": figures["name"], "tick_seconds": tick,
                                   **{f"{hop}_seconds": seconds[hop] for hop in HOPS}}
            if None in seconds.values():
                rows.append({**row, "notified": seconds["notification"] is not None})
                continue
            if tick != results["at once"]["chain"]["tick"]:
                rows.append({**row, "notified": True, "chain": f"not compared (tick {tick:g} s)"})
                continue
            at_once = results["at once"]["chain"]
            short_hops = at_once["scorer_scrape"] + at_once["alert_evaluation"]
            held = seconds["alert_firing"] - seconds["first_score_above_threshold"] > short_hops
            # The signal's own delay: the scrape after onset in which the score first crossed
            # (the first score comes half a scrape and half an evaluation after it, on average).
            typical = (at_once["scrape"] + at_once["evaluation"]) / 2
            scrapes = max(1, min(3, round((seconds["first_score_above_threshold"] - typical) / at_once["scrape"]) + 1))
            name = ("held" if held else "at once") + ("" if scrapes == 1 else
                                                      f", signal in the {['second', 'third'][scrapes - 2]} scrape")
            if name not in results:
                name = "held, signal in the second scrape" if held else "at once, signal in the third scrape"
            sim = results[name]
            rows.append({**row, "notified": True, "chain": name,
                         "within_floor": sim["floor"]["best_seconds"] <= seconds["notification"]
                         <= sim["floor"]["worst_seconds"],
                         "simulated_percentile": round(rank(sim["end_to_end"], seconds["notification"]), 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="vigilante.yaml to take the settings from (default: the shipped defaults)")
    parser.add_argument("--incidents", type=int, default=20_000, help="simulated incidents per chain (default 20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--real", type=Path, action="append", default=[],
                        help="summary.json of a real run (make demo at --interval 15) to compare; repeatable")
    args = parser.parse_args(argv)
    if args.incidents < 20:
        parser.error("--incidents: at least 20")
    config = load_config(args.config, env={}) if args.config else Config()
    if config.scorer.tick_seconds != 15.0:
        print(f"note: tick_seconds is {config.scorer.tick_seconds:g} s, not the shipped 15 s", file=sys.stderr)
    chains = {
        "at once": Chain.of(config, at_once=True),
        "held": Chain.of(config, at_once=False),
        "at once, signal in the second scrape": Chain.of(config, at_once=True, signal_scrapes=2),
        "held, signal in the second scrape": Chain.of(config, at_once=False, signal_scrapes=2),
        "at once, signal in the third scrape": Chain.of(config, at_once=True, signal_scrapes=3),
    }
    chains["previous chain"] = previous_chain(chains["held"])
    results = {name: simulate(chain, args.incidents, args.seed) for name, chain in chains.items()}
    titles = {"at once": "score far above the threshold (decides on its second tick above it), the demo's spike with errors",
              "held": "score just above the threshold (held for hold_seconds)",
              "at once, signal in the second scrape": "at once, the signal showing only in the second scrape after onset",
              "held, signal in the second scrape": "held, and the signal shows only in the second scrape after onset",
              "at once, signal in the third scrape": "at once, the signal showing only in the third scrape after onset",
              "previous chain": "the chain before: clock-grid ticks, hold, scorer hops at 15 s, group_wait 10 s"}
    for name, result in results.items():
        print_table(titles[name], result)
    real = real_runs(args.real, results)
    if real:
        print("\n== real runs")
        for row in real:
            hops = ", ".join(f"{hop.replace('_', ' ')} {row[f'{hop}_seconds']}" for hop in HOPS)
            if "within_floor" not in row:
                print(f"{row['incident']} (tick {row['tick_seconds']:g} s): {row.get('chain', 'incomplete')}: {hops} "
                      f"({row['run']})")
                continue
            print(f"{row['incident']} (tick {row['tick_seconds']:g} s, went {row['chain']}): {hops} s; within the "
                  f"floor: {row['within_floor']}; percentile in the simulation: {row['simulated_percentile']:.2f}")
    print(json.dumps({"benchmark": "latency", "incidents": args.incidents,
                      "chains": {name: {k: v for k, v in r.items() if k != "end_to_end"} for name, r in results.items()},
                      "real": real}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
