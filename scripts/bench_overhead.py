"""What the exporter costs: the ticket app with and without it, side by side, in one run.

For each gunicorn mode (``threads``: one process with threads and the plain registry;
``processes``: several workers in multiprocess mode) three servers run the same app with the
same settings on 127.0.0.1:

- ``exporter``       the app as shipped, instrumented with :func:`vigilante.attach.instrumentation.instrument`;
- ``exporter_again`` a second, identical copy: exporter vs. exporter_again (A/A) is the noise floor;
- ``no_exporter``    the same app with ``TICKETS_METRICS_ENABLED=false``.

Every round loads each endpoint (home, event, ticket type: real pages reading the database;
``/api/version``: a trivial one) on each server in turn, rotating the order every round, for a
fixed number of seconds at a fixed concurrency. The load generator is ``wrk`` when installed
(``apt-get install wrk``; it costs the box far less CPU than a Python client), else a small
threaded keep-alive client. Ratios are taken per round and the median is reported, so slow
drift of the machine cancels out.

Prints a table (req/s, ratio to ``no_exporter``, p50/p99 latency, server CPU per request)
and, last, one JSON line. ``--quick`` gives a short smoke run (figures are noisier).

    python -m scripts.bench_overhead [--rounds 6] [--seconds 2] [--concurrency 8] [--modes threads,processes]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
from scripts.harness import GunicornServer

VARIANTS = ("exporter", "no_exporter", "exporter_again")
REAL_PAGES = ("home", "event", "ticket_type")
MODES = {
    # Same worker class (gthread) and total threads per CPU in both, so the mode is the only difference.
    "threads": {"workers": 1, "threads": 8, "multiprocess": False},
    "processes": {"workers": 2, "threads": 4, "multiprocess": True},
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float


# --- load generation -------------------------------------------------------------------------

def run_wrk(wrk: str, url: str, seconds: float, concurrency: int) -> tuple[int, int, float, float, float]:
    """(requests, errors, elapsed, p50_ms, p99_ms) from one wrk run."""
    out = subprocess.run([wrk, "-t2", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency",
                          "--timeout", "10s", url], capture_output=True, text=True, timeout=seconds + 30).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if not total:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    elapsed = float(total.group(2)) * {"s": 1, "ms": 1e-3, "m": 60}.get(total.group(3), 1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return int(total.group(1)), errors, elapsed, _wrk_latency(out, "50%"), _wrk_latency(out, "99%")


def _wrk_latency(out: str, percentile: str) -> float:
    match = re.search(rf"^\s*{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not match:
        return float("nan")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]


def run_python_client(url: str, seconds: float, concurrency: int) -> tuple[int, int, float, float, float]:
    """The same measurement with threads and keep-alive connections, bounded by ``seconds``."""
    host_port, _, path = url.split("://", 1)[1].partition("/")
    host, port = host_port.split(":")
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    deadline = time.monotonic() + seconds

    def worker(i: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection.request("GET", "/" + path)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    errors[i] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                connection.close()
            latencies[i].append(time.perf_counter() - started)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 15)
    elapsed = time.monotonic() - started
    flat = sorted(x for per_thread in latencies for x in per_thread)
    if not flat:
        return 0, sum(errors), elapsed, float("nan"), float("nan")
    return (len(flat), sum(errors), elapsed, flat[len(flat) // 2] * 1e3,
            flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1e3)


def server_cpu_seconds(master_pid: int) -> float:
    """User+system CPU of the gunicorn master and its workers so far."""
    pids = [master_pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def measure(server: GunicornServer, url: str, seconds: float, concurrency: int, wrk: str | None) -> LoadResult:
    cpu_before = server_cpu_seconds(server.process.pid)
    if wrk:
        requests_done, errors, elapsed, p50, p99 = run_wrk(wrk, url, seconds, concurrency)
    else:
        requests_done, errors, elapsed, p50, p99 = run_python_client(url, seconds, concurrency)
    cpu = server_cpu_seconds(server.process.pid) - cpu_before
    return LoadResult(requests_done, errors, elapsed, requests_done / elapsed if elapsed else 0.0, p50, p99,
                      cpu / requests_done * 1e6 if requests_done else float("nan"))


# --- in-process cost of the exporter (low noise: CPU time, no network, no neighbour's load) -------

# Exporter options compared in-process: what each costs per request.
OPTION_VARIANTS = {
    "no_exporter": None,
    "default": {},
    "endpoint_label": {"route_label": "endpoint"},
    "5_buckets": {"latency_buckets": [0.05, 0.1, 0.25, 0.5, 1.0]},
}


def inprocess_child(rounds: int, per_slice: int, variants: list[str] | None = None) -> dict:
    """CPU microseconds per request of each option variant on the trivial endpoint, in this process.

    The exporter's work per request (timer, label lookup, histogram and counter updates) does
    not depend on what the view does, so it is measured where little else happens: the trivial
    endpoint, called through the WSGI app without a network. The minimum over slices is taken:
    a neighbour's load only ever adds time.
    """
    import gc
    import io

    from vigilante.config import load_config
    from app_under_test.testing import seeded_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-inproc-"))
    try:
        paths = seed(workdir / "instance")
        apps = {}
        for name, options in OPTION_VARIANTS.items():
            if variants is not None and name not in variants:
                continue
            config = {"METRICS_ENABLED": options is not None}
            if options:
                config["VIGILANTE"] = load_config(env={}).replace("app", **options)
            apps[name] = seeded_app(workdir / "instance", **config)
        environ = _environ(paths["trivial"])
        cpu: dict[str, list[float]] = {v: [] for v in apps}
        for round_no in range(rounds + 1):  # round 0 warms up and is dropped
            for name, app in apps.items():
                gc.collect()
                started = time.process_time()
                for _ in range(per_slice):
                    body = app.wsgi_app({**environ, "wsgi.input": io.BytesIO()}, _start_response)
                    for _chunk in body:
                        pass
                    getattr(body, "close", lambda: None)()
                if round_no:
                    cpu[name].append((time.process_time() - started) / per_slice * 1e6)
        return {v: min(samples) for v, samples in cpu.items()}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _environ(path: str) -> dict:
    raw_path, _, query = path.partition("?")
    return {"REQUEST_METHOD": "GET", "PATH_INFO": raw_path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}


def _start_response(status, headers, exc_info=None):
    return lambda data: None


def _variant_groups(multiprocess: bool) -> list[list[str]]:
    """Variants measured together in one child: all of them, or in multiprocess mode one exporter variant each.

    In multiprocess mode every instrumented app of a process shares one set of collectors, so
    apps with different route labels or buckets cannot be instrumented side by side.
    """
    exporters = [v for v, options in OPTION_VARIANTS.items() if options is not None]
    if not multiprocess:
        return [list(OPTION_VARIANTS)]
    return [["no_exporter", v] for v in exporters]


def inprocess_costs(modes: list[str], rounds: int, per_slice: int) -> dict:
    """Run :func:`inprocess_child` in fresh interpreters per mode (multiprocess mode is chosen at import).

    With several children per mode, each variant's cost is taken relative to its own child's
    ``no_exporter`` and put on the first child's baseline.
    """
    out = {}
    for mode in modes:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        merged: dict[str, float] = {}
        for group in _variant_groups(MODES[mode]["multiprocess"]):
            multiproc = None
            if MODES[mode]["multiprocess"]:
                multiproc = tempfile.mkdtemp(prefix="bench-multiproc-")
                env["PROMETHEUS_MULTIPROC_DIR"] = multiproc
            try:
                result = subprocess.run([sys.executable, __file__, "--inprocess-child", "--inprocess-rounds",
                                         str(rounds), "--per-slice", str(per_slice), "--variants", ",".join(group)],
                                        env=env, capture_output=True, text=True, timeout=900)
            finally:
                if multiproc:
                    shutil.rmtree(multiproc, ignore_errors=True)
            if result.returncode != 0:
                raise SystemExit(f"in-process measurement ({mode}, {', '.join(group)}) failed:\n{result.stderr[-3000:]}")
            costs = json.loads(result.stdout.strip().splitlines()[-1])
            base = merged.setdefault("no_exporter", costs["no_exporter"])
            merged.update({v: c - costs["no_exporter"] + base for v, c in costs.items() if v != "no_exporter"})
        out[mode] = merged
    return out


# --- servers ----------------------------------------------------------------------------------

def seed(instance: Path) -> dict[str, str]:
    """Create the demo database once; return the benchmarked paths."""
    from sqlalchemy import select

    from app_under_test.db import new_session
    from app_under_test.models import Event, TicketType, utcnow
    from app_under_test.testing import seeded_app

    app = seeded_app(instance, METRICS_ENABLED=False)  # the data only: an exporter here would fix the process's metric settings
    session = new_session(app)
    try:
        event = session.scalars(select(Event).where(Event.starts_at > utcnow()).order_by(Event.starts_at)).first()
        ticket_type = session.scalars(select(TicketType).where(TicketType.event_id == event.id)).first()
    finally:
        session.close()
    return {"home": "/", "event": f"/events/{event.id}", "ticket_type": f"/ticket-types/{ticket_type.id}",
            "trivial": "/api/version"}


def start_server(workdir: Path, instance: Path, mode: str, variant: str) -> GunicornServer:
    spec = MODES[mode]
    env = {"TICKETS_INSTANCE_PATH": str(instance),
           "TICKETS_METRICS_ENABLED": "false" if variant == "no_exporter" else "true"}
    config_file = None
    if spec["multiprocess"]:
        multiproc = workdir / "multiproc"
        multiproc.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        config_file = workdir / "gunicorn.conf.py"
        config_file.write_text("from vigilante.gunicorn_hooks import on_starting, when_ready, child_exit  # noqa: F401\n")
    # The harness keeps gunicorn's access log on: it costs A and B the same, as in production.
    server = GunicornServer(workdir, "app_under_test:create_app()", workers=spec["workers"], threads=spec["threads"],
                            env=env, config_file=config_file)
    server.start(timeout=60)
    return server


# --- the run ------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict:
    wrk = None if args.client == "python" else shutil.which("wrk")
    if args.client == "wrk" and not wrk:
        raise SystemExit("wrk not found: install it with `apt-get install -y wrk`, or use --client python")
    workdir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    instance = workdir / "instance"
    paths = seed(instance)
    results: dict[str, dict[str, dict[str, list[LoadResult]]]] = {}
    try:
        for mode in args.modes:
            servers = {v: start_server(workdir / f"{mode}-{v}", instance, mode, v) for v in VARIANTS}
            try:
                for variant, server in servers.items():  # warm caches, imports, connection pools
                    for path in paths.values():
                        measure(server, server.url + path, min(1.0, args.seconds), args.concurrency, wrk)
                per_endpoint = results.setdefault(mode, {e: {v: [] for v in VARIANTS} for e in paths})
                for round_no in range(args.rounds):
                    order = VARIANTS[round_no % 3:] + VARIANTS[:round_no % 3]
                    for endpoint, path in paths.items():
                        for variant in order:
                            server = servers[variant]
                            per_endpoint[endpoint][variant].append(
                                measure(server, server.url + path, args.seconds, args.concurrency, wrk))
                    print(f"  {mode}: round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("  in-process exporter cost ...", file=sys.stderr, flush=True)
    costs = inprocess_costs(args.modes, args.inprocess_rounds, args.per_slice)
    return summarize(results, costs, args, "wrk" if wrk else "python")


def summarize(results: dict, costs: dict, args: argparse.Namespace, client: str) -> dict:
    summary: dict = {"modes": {}}
    for mode, per_endpoint in results.items():
        mode_summary = {}
        for endpoint, by_variant in per_endpoint.items():
            rounds = range(len(by_variant["exporter"]))
            ratio = [by_variant["exporter"][i].rps / by_variant["no_exporter"][i].rps for i in rounds]
            aa = [by_variant["exporter_again"][i].rps / by_variant["exporter"][i].rps for i in rounds]
            mode_summary[endpoint] = {
                "ratio_exporter_vs_none": statistics.median(ratio),
                "ratio_aa_noise": statistics.median(aa),
                **{v: {key: statistics.median(getattr(r, key) for r in runs)
                       for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")}
                   | {"errors": sum(r.errors for r in runs)}
                   for v, runs in by_variant.items()},
            }
        options_cost = {v: costs[mode][v] - costs[mode]["no_exporter"] for v in OPTION_VARIANTS if v != "no_exporter"}
        for endpoint, s in mode_summary.items():
            # The CPU-bound throughput ratio that the low-noise exporter cost implies, given the
            # server CPU per request measured without the exporter.
            base = s["no_exporter"]["cpu_us_per_request"]
            extra = options_cost["default"]
            s["ratio_from_cpu"] = base / (base + extra) if base == base and base > 0 else None
        real = [mode_summary[e]["ratio_exporter_vs_none"] for e in REAL_PAGES if e in mode_summary]
        real_cpu = [mode_summary[e]["ratio_from_cpu"] for e in REAL_PAGES if mode_summary[e]["ratio_from_cpu"]]
        aa_real = [mode_summary[e]["ratio_aa_noise"] for e in REAL_PAGES if e in mode_summary]
        summary["modes"][mode] = {
            "endpoints": mode_summary,
            "exporter_cpu_us_per_request": options_cost,
            "real_pages_ratio": statistics.geometric_mean(real) if real else None,
            "real_pages_ratio_from_cpu": statistics.geometric_mean(real_cpu) if real_cpu else None,
            "real_pages_aa_ratio": statistics.geometric_mean(aa_real) if aa_real else None,
            "real_pages_rps_with_exporter": statistics.geometric_mean(
                [mode_summary[e]["exporter"]["rps"] for e in REAL_PAGES]) if real else None,
            "real_pages_cpu_us_with_exporter": statistics.geometric_mean(
                [mode_summary[e]["exporter"]["cpu_us_per_request"] for e in REAL_PAGES]) if real else None,
            "real_pages_cpu_aa_ratio": statistics.geometric_mean(
                [mode_summary[e]["exporter_again"]["cpu_us_per_request"] / mode_summary[e]["exporter"]["cpu_us_per_request"]
                 for e in REAL_PAGES]) if real else None,
        }
    summary["settings"] = {"rounds": args.rounds, "seconds": args.seconds, "concurrency": args.concurrency,
                           "inprocess_rounds": args.inprocess_rounds, "per_slice": args.per_slice,
                           "client": client, "cpus": os.cpu_count(),
                           "gunicorn": {m: {k: v for k, v in MODES[m].items()} for m in results}}
    summary["recommended_mode"] = recommend(summary["modes"])
    return summary


def recommend(modes: dict) -> dict:
    """Which gunicorn mode to run, and why.

    Only modes meeting the goal (exporter/none >= 0.97 on the real pages, judged by the ratio
    the low-noise CPU figures imply) qualify, unless none does. Among them the one whose real
    pages cost the least server CPU per request with the exporter on wins: that is what an
    autoscaler on CPU pays for. A difference smaller than the A/A noise of that figure is a
    tie, settled by the lower exporter cost per request.
    """
    meeting = {m: s for m, s in modes.items() if (s["real_pages_ratio_from_cpu"] or 0) >= 0.97}
    pool = meeting or modes
    if not pool:
        return {"mode": None, "why": "no mode measured"}
    cpu = {m: s["real_pages_cpu_us_with_exporter"] for m, s in pool.items()}
    noise = max(abs(1 - (s["real_pages_cpu_aa_ratio"] or 1)) for s in pool.values())
    cheapest = min(cpu, key=cpu.get)
    tied = [m for m in pool if cpu[m] <= cpu[cheapest] * (1 + noise)]
    if len(tied) == 1:
        return {"mode": cheapest, "why": f"lowest server CPU per request on the real pages ({cpu[cheapest]:.0f} us), "
                                         f"beyond the A/A noise ({noise:.1%})"}
    best = min(tied, key=lambda m: pool[m]["exporter_cpu_us_per_request"]["default"])
    return {"mode": best, "why": f"server CPU per request of {', '.join(sorted(tied))} within the A/A noise "
                                 f"({noise:.1%}); {best} has the cheaper exporter "
                                 f"({pool[best]['exporter_cpu_us_per_request']['default']:.0f} us/request)"}


def print_table(summary: dict) -> None:
    header = (f"{'mode':<10} {'endpoint':<12} {'variant':<15} {'req/s':>8} {'ratio':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'cpu us/req':>10} {'errors':>6}")
    print(header)
    print("-" * len(header))
    for mode, mode_summary in summary["modes"].items():
        for endpoint, s in mode_summary["endpoints"].items():
            for variant in VARIANTS:
                v = s[variant]
                ratio = {"exporter": s["ratio_exporter_vs_none"], "exporter_again": s["ratio_aa_noise"]}.get(variant)
                ratio_text = f"{ratio:7.3f}" if ratio is not None else f"{'1':>7}"
                print(f"{mode:<10} {endpoint:<12} {variant:<15} {v['rps']:8.0f} {ratio_text} {v['p50_ms']:8.2f} "
                      f"{v['p99_ms']:8.2f} {v['cpu_us_per_request']:10.0f} {v['errors']:6d}")
        o = mode_summary["exporter_cpu_us_per_request"]
        implied = ", ".join(f"{e} {s['ratio_from_cpu']:.3f}" for e, s in mode_summary["endpoints"].items()
                            if s["ratio_from_cpu"])
        print(f"{mode:<10} exporter CPU per request (in-process): default {o['default']:.1f} us, endpoint label "
              f"{o['endpoint_label']:.1f} us, 5 buckets {o['5_buckets']:.1f} us; implied ratio: {implied}")
        print(f"{mode:<10} real pages: exporter/none {mode_summary['real_pages_ratio']:.3f} "
              f"(A/A noise {mode_summary['real_pages_aa_ratio']:.3f}; implied by CPU "
              f"{mode_summary['real_pages_ratio_from_cpu'] or float('nan'):.3f}), "
              f"{mode_summary['real_pages_rps_with_exporter']:.0f} req/s and "
              f"{mode_summary['real_pages_cpu_us_with_exporter']:.0f} us CPU/request with the exporter")
        print()
    print("ratio: exporter rows = exporter/no_exporter req/s; exporter_again rows = exporter_again/exporter (A/A).")
    rec = summary["recommended_mode"]
    print(f"recommended gunicorn mode: {rec['mode']}: {rec['why']}")
    print(f"settings: {json.dumps(summary['settings'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0, help="load duration of one measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--modes", default="threads,processes")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--inprocess-rounds", type=int, default=15)
    parser.add_argument("--per-slice", type=int, default=500, help="requests per in-process measurement")
    parser.add_argument("--quick", action="store_true", help="1 round of 0.3 s: a smoke run (its figures are noise)")
    parser.add_argument("--inprocess-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variants", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inprocess_child:
        variants = args.variants.split(",") if args.variants else None
        print(json.dumps(inprocess_child(args.inprocess_rounds, args.per_slice, variants)))
        return 0
    if args.quick:
        args.rounds, args.seconds, args.inprocess_rounds, args.per_slice = 1, 0.3, 2, 100
    args.modes = [m for m in args.modes.split(",") if m]
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s) {sorted(unknown)}; known: {sorted(MODES)}")
    summary = run(args)
    print_table(summary)
    print(json.dumps({"bench": "overhead", **summary}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
