"""The README's "Add to your app" steps, read from the README and run as written.

Each command comes out of the README's code blocks; a change to the README changes what runs.
What the test changes, and why, is kept to what a shared CI machine needs:

- step 1 installs from this checkout (the README's "from a checkout" form) into a new virtualenv;
- step 3's ``...`` placeholder ("your blueprints, hooks, extensions") becomes one blueprint with
  two routes, so that there is traffic to record;
- ports: the app, Prometheus and the scorer get free ports instead of 8000, 9090 and 9110
  (``GUNICORN_CMD_ARGS``, the address in the lines and ``VIGILANTE_*`` variables), the scorer's
  state directory is the test's (``XDG_STATE_HOME``), and the
  intervals are 1 s instead of 15 s (``VIGILANTE_PROMETHEUS__*``), through the documented
  environment overrides, so the files stay as the README writes them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from scripts.harness.binaries import PROMETHEUS, find_binary
from scripts.harness.process import ManagedProcess, free_port, wait_until
from tests.support.metrics import scrape
from tests.traffic import paced_traffic

pytestmark = pytest.mark.slow

from tests.support import REPO_ROOT as REPO

BLUEPRINT = '''\
import time

from flask import Blueprint

shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.get("/items/<int:item_id>")
def item(item_id):
    time.sleep(0.002)  # a few milliseconds, like a page that reads a database
    return {"id": item_id}


@shop.get("/fail")
def fail():
    raise RuntimeError("the view failed")
'''


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.index("\n### ", start)
    return text[start:end]


def code_blocks(section: str) -> list[tuple[str, str]]:
    """(language, dedented body) of every fenced block, indented ones (inside a list) included."""
    found = re.finditer(r"^( *)```(\w+)\n(.*?)^\1```", section, re.M | re.S)
    return [(m.group(2), textwrap.dedent(m.group(3))) for m in found]


def commands(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]


class Steps:
    """The README's steps, in order, as the shell lines and files they consist of."""

    def __init__(self, section: str):
        blocks = code_blocks(section)
        (install,) = [body for lang, body in blocks if lang == "sh" and "pip install" in body]
        self.install = install.split("# from a checkout:", 1)[1].strip()
        self.files = {}
        for lang, body in blocks:
            first = body.splitlines()[0]
            if lang in ("yaml", "python") and first.startswith("# "):
                self.files[first[2:].strip()] = body
        shell = [line for lang, body in blocks if lang == "sh" and "pip install" not in body for line in commands(body)]
        self.shell = shell
        (self.run_app,) = re.findall(r"Run it with\s+`([^`]*gunicorn[^`]*)`", section)

    def write_app(self, work: Path) -> None:
        """The README's configuration and app factory under ``work``, its ``...`` placeholder
        standing for a blueprint of ours (:data:`BLUEPRINT`)."""
        for name, body in self.files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".py"):
                body = re.sub(r"^( *)\.\.\..*$", r"\1from .shop import shop\n\1app.register_blueprint(shop)", body,
                              count=1, flags=re.M)
            path.write_text(body)
        (work / "myapp" / "shop.py").write_text(BLUEPRINT)


@pytest.fixture(scope="module")
def steps():
    return Steps(readme_section("Add to your app"))


def seconds_of(spoken: str) -> float:
    """The seconds of a duration as ``vigilante check`` speaks it (``spoken_duration``): '2.5 min' -> 150."""
    number, unit = spoken.split()
    return float(number) * {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]


def test_the_section_has_every_step_the_issue_names(steps):
    assert steps.install.startswith("pip install '/path/to/vigilante[gunicorn]'")
    assert set(steps.files) == {"vigilante.yaml", "myapp/__init__.py"}
    assert [line.split()[0 if not line.startswith("VIGILANTE_") else 1] for line in steps.shell] == [
        "vigilante", "prometheus", "vigilante", "vigilante", "vigilante"]
    assert "instrument(app" in steps.files["myapp/__init__.py"]


def test_the_readme_steps_as_written_watch_a_new_app(steps, tmp_path):
    work = tmp_path
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    tools = work / "tools"
    tools.mkdir()
    (tools / "prometheus").symlink_to(find_binary(PROMETHEUS))
    ports = {"app": free_port(), "prometheus": free_port(), "scorer": free_port()}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("VIGILANTE_", "PYTHON", "VIRTUAL_ENV"))},
           "PATH": f"{venv / 'bin'}:{tools}:{os.environ['PATH']}",
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{ports['app']}",
           "VIGILANTE_PROMETHEUS__URL": f"http://127.0.0.1:{ports['prometheus']}",
           "VIGILANTE_PROMETHEUS__SCRAPE_INTERVAL_SECONDS": "1",
           "VIGILANTE_PROMETHEUS__EVALUATION_INTERVAL_SECONDS": "1",
           "VIGILANTE_SCORER__LISTEN_PORT": str(ports["scorer"]),
           "XDG_STATE_HOME": str(work / "state-home")}

    def shell(line: str, timeout: float = 300) -> subprocess.CompletedProcess:
        line = line.replace("127.0.0.1:8000", f"127.0.0.1:{ports['app']}")
        line = line.replace("127.0.0.1:9090", f"127.0.0.1:{ports['prometheus']}")
        return subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)

    def background(name: str, line: str) -> ManagedProcess:
        line = line.replace("127.0.0.1:9090", f"127.0.0.1:{ports['prometheus']}")
        return ManagedProcess(name, ["bash", "-c", line], work / f"{name}.log", env=env, cwd=work).start()

    # 1. Install.
    install = shell(steps.install.replace("/path/to/vigilante", str(REPO)), timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    # 2 and 3. The configuration and the app, as written (the placeholder aside).
    steps.write_app(work)

    processes = []
    try:
        app = background("app", steps.run_app)
        processes.append(app)
        app_url = f"http://127.0.0.1:{ports['app']}"
        app.wait_ready(lambda: requests.get(f"{app_url}/shop/items/1", timeout=2).ok, 60, "answering")

        # 4. A Prometheus for it.
        config_line, prometheus_line = steps.shell[0], steps.shell[1]
        written = shell(config_line)
        assert written.returncode == 0, written.stderr
        assert "--web.listen-address=127.0.0.1:9090" in prometheus_line, prometheus_line  # loopback, as written
        history_began = time.time()  # no sample Prometheus records can be older
        prometheus = background("prometheus", prometheus_line)
        processes.append(prometheus)
        prometheus_url = env["VIGILANTE_PROMETHEUS__URL"]

        def query(expr: str) -> list:
            answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5)
            return answer.json()["data"]["result"] if answer.ok else []

        prometheus.wait_ready(lambda: query('up{job="my-shop", namespace="shop"} == 1'), 60, "scraping the app")
        sent = paced_traffic(app_url, 8, 25, ["/shop/items/1", "/shop/items/2", "/shop/fail"])
        assert [s.status for s in sent].count(500) == len(sent) // 3
        prometheus.wait_ready(lambda: query('namespace_job:flask_http_requests:rate1m{job="my-shop"} > 0'), 90,
                              "recording the app's request rate")
        ratio = query('namespace_job:flask_http_request_errors:ratio_rate1m{job="my-shop"}')
        assert ratio and 0.2 < float(ratio[0]["value"][1]) < 0.5, ratio  # a third of the requests fail

        # 5. Dashboards, Grafana alerts and manifests.
        generated = shell(steps.shell[2])
        assert generated.returncode == 0, generated.stderr
        out = work / "generated"
        files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
        assert files and not any(f.startswith("manifests/app/") for f in files)
        assert 'job="my-shop"' in (out / "rules/generated/vigilante-recording.rules.yml").read_text()

        # 6. Check, then serve.
        check = shell(steps.shell[3])
        history_made = time.time() - history_began
        report = check.stdout
        print(report)
        assert re.search(r"^ok\s+app series:", report, re.M), report
        assert re.search(r"^ok\s+recording rules:", report, re.M), report
        assert re.search(r"^ok\s+latency buckets:", report, re.M), report
        # A new install has minutes of history, short of the 15 the model needs: the check must say
        # so, and how long to wait; the history it reports is at most what this run made.
        assert history_made < 15 * 60, f"this run took {history_made:.0f} s: its history is no longer a new install's"
        history = re.search(r"^FAIL history: (\S+ \w+) of recorded features; the scorer warms after 15 min "
                            r"\(60 ticks of 15 s\): wait (\S+ \w+), or give service.training_csv$", report, re.M)
        assert history and check.returncode == 1, report + check.stderr
        held, wait = (seconds_of(history.group(i)) for i in (1, 2))
        # (each figure has three significant digits: the sum is 15 min give or take a few seconds)
        assert 0 < held <= history_made + 1 and held + wait == pytest.approx(15 * 60, abs=6), (report, history_made)
        scorer = background("scorer", steps.shell[4])
        processes.append(scorer)
        scorer.wait_ready(lambda: query('up{job="my-shop-scorer"} == 1'), 60, "scraped by Prometheus")
        wait_until(lambda: "serving /metrics" in scorer.log_path.read_text(), 30, "the scorer's start-up line")
        metrics = scrape(f"http://127.0.0.1:{ports['scorer']}")
        assert "vigilante_anomaly_decision" in metrics
    finally:
        for process in reversed(processes):
            process.stop()
