"""Every command line of the README's shell blocks is run by a test, or is listed here with why it is not.

``RUN_BY`` names the test that runs each line (as written, or with only ports and paths
changed, as that test says); ``NOT_RUN`` the lines that need what no test machine has (a
cluster, a registry, a Grafana) or that are the suite itself. A new or changed command in the
README fails the inventory until it is placed in one of them. The cheap ones run below.
"""

from __future__ import annotations

import csv
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path


from vigilante import __version__

from tests.support import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
ATTACH, TRIAL = "test_readme_attach.py::test_the_readme_steps_as_written_watch_a_new_app", \
    "test_readme_trial.py::test_the_readme_trial_block_as_written_warms_the_scorer_from_the_model_it_trained"
HERE = "test_readme_commands.py::"

RUN_BY = {
    "pip install 'flask-vigilante[gunicorn]'": ATTACH + " (the from-a-checkout form)",
    "vigilante prometheus-config --config vigilante.yaml --target 127.0.0.1:8000 --out prometheus/": ATTACH,
    "prometheus --config.file=prometheus/prometheus.yml --web.listen-address=127.0.0.1:9090 "
    "--storage.tsdb.path=prometheus/data": ATTACH,
    "vigilante generate --config vigilante.yaml --out generated/": ATTACH,
    "VIGILANTE_CONFIG=vigilante.yaml vigilante check": ATTACH,
    "VIGILANTE_CONFIG=vigilante.yaml vigilante serve": ATTACH,
    "export VIGILANTE_CONFIG=vigilante.yaml VIGILANTE_TRIAL__TIME_SCALE=15": TRIAL,
    "vigilante prometheus-config --target 127.0.0.1:8000 --out prometheus-trial/": TRIAL,
    "prometheus --config.file=prometheus-trial/prometheus.yml --web.listen-address=127.0.0.1:9090 "
    "--storage.tsdb.path=prometheus-trial/data &": TRIAL,
    "vigilante check": TRIAL,
    "vigilante collect --duration 90s --out train.csv": TRIAL,
    "vigilante train train.csv": TRIAL + "; " + HERE + "test_the_scorer_blocks_offline_commands_run_as_written",
    "vigilante serve": TRIAL,
    "gunicorn --workers 1 --threads 8 'myapp:create_app()'": ATTACH + " (step 3's line, with VIGILANTE_CONFIG)",
    "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc gunicorn -c python:vigilante.gunicorn_hooks --workers 2 "
    "--threads 4 'myapp:create_app()'": "test_gunicorn_hooks.py (the hooks module under real gunicorn, 2 workers)",
    "curl -s localhost:8000/metrics | grep -E '^flask_(http_request_(duration_seconds_count|total)|app_info)'":
        HERE + "test_the_check_it_grep_finds_the_three_kinds_of_series",
    "vigilante config --describe": HERE + "test_the_configuration_blocks_run_as_written",
    "vigilante config --config my.yaml": HERE + "test_the_configuration_blocks_run_as_written",
    "vigilante generate --config my.yaml": HERE + "test_the_configuration_blocks_run_as_written",
    "vigilante backtest input.csv --train-rows N --out out.csv":
        HERE + "test_the_scorer_blocks_offline_commands_run_as_written (N = 400)",
    "printf 'scorer:\\n features: [value]\\n' > value.yaml": HERE + "test_the_backtest_block_runs_as_written",
    "vigilante backtest cpu.csv --train-rows 750 --out scored.csv --config value.yaml":
        HERE + "test_the_backtest_block_runs_as_written",
    "VERSION=$(python3 -c 'import vigilante; print(vigilante.__version__)')":
        HERE + "test_the_image_version_line_prints_the_package_version",
    "VIGILANTE_LOAD_SCENARIO=spike .venv/bin/locust -f scripts/locustfile.py --headless --host http://127.0.0.1:8000":
        "test_stack.py::test_locust_sends_a_fixed_rate_and_stops_when_the_control_file_says_so (headless, its own host)",
}
NOT_RUN = {
    "make demo": "the 10-minute demo; test_demo_e2e.py runs its condensed scenario (python -m scripts.demo --quick)",
    "make test": "the suite itself",
    "make stack": "runs until Ctrl-C; test_stack.py starts the same LocalStack",
    "make stack STACK_ARGS='--load steady --interval 2'": "runs until Ctrl-C; test_stack.py covers the options",
    "make stack STACK_ARGS='--prometheus-port 9090'": "a fixed port, not safe on a shared machine",
    ".venv/bin/locust -f scripts/locustfile.py --host http://127.0.0.1:8000 --web-host 127.0.0.1":
        "an interactive web UI",
    "vigilante serve [--config FILE]": "synopsis; the serve lines above are run",
    "vigilante collect --duration 1h --out train.csv": "an hour; the 90 s form is run by " + TRIAL,
    "vigilante collect --history 2h --out train.csv": "needs 2 h of history; test_cli.py/test_warm_start.py "
                                                      "read history from a backfilled Prometheus",
    "for f in dashboards_py/generated/{overview,anomaly,resources}.json; do": "needs a Grafana and a token",
    "jq '{dashboard: ., overwrite: true, folderUid: \"vigilante\"}' \"$f\" |": "needs a Grafana and a token",
    "curl -sS -H \"Authorization: Bearer $GRAFANA_TOKEN\" -H 'Content-Type: application/json' -X POST --data @- "
    "\"$GRAFANA_URL/api/dashboards/db\"": "needs a Grafana and a token",
    "done": "needs a Grafana and a token",
    "REGISTRY=ghcr.io/you": "the images: no container engine or registry here",
    'docker build -f Dockerfile.app -t "$REGISTRY/vigilante-app:$VERSION" .': "no container engine here",
    'docker build -f Dockerfile.scorer -t "$REGISTRY/vigilante-scorer:$VERSION" .': "no container engine here",
    'docker push "$REGISTRY/vigilante-app:$VERSION"': "no registry here",
    'docker push "$REGISTRY/vigilante-scorer:$VERSION"': "no registry here",
}
CLUSTER = "needs a Kubernetes cluster (the overlays are built and checked by test_manifests_build.py)"


def readme_commands(text: str = README) -> list[str]:
    """Every command line of the README's ``sh`` blocks: continuations joined, comments and spacing dropped."""
    lines = []
    for match in re.finditer(r"^( *)```(\w+)\n(.*?)^\1```", text, re.M | re.S):
        if match.group(2) != "sh":
            continue
        for line in textwrap.dedent(match.group(3)).replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(re.sub(r"\s+", " ", re.sub(r"\s+#.*$", "", line)).strip())
    return lines


def where(command: str) -> str | None:
    if command in RUN_BY:
        return RUN_BY[command]
    if command in NOT_RUN:
        return "not run: " + NOT_RUN[command]
    if command.startswith(("kubectl ", "curl -s 'http://127.0.0.1:9090", 'curl -si "http://$INGRESS')):
        return "not run: " + CLUSTER
    return None


def test_every_readme_command_is_run_by_a_test_or_listed_with_why_not():
    commands = readme_commands()
    assert len(commands) > 40
    assert [c for c in commands if where(c) is None] == []
    stale = (set(RUN_BY) | set(NOT_RUN)) - set(commands)
    assert stale == set(), "no longer in the README"


def test_every_test_the_inventory_names_exists():
    for test in RUN_BY.values():
        for name in re.findall(r"(test_\w+\.py)(?:::(\w+))?", test):
            path = REPO_ROOT / "tests" / name[0]
            assert path.is_file(), name
            assert not name[1] or f"def {name[1]}(" in path.read_text(), name


# --- the cheap ones, run as written -------------------------------------------------------------

def shell(line: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """One README line in bash, with this environment's ``vigilante`` first on PATH."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGILANTE_")}
    clean.update(PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", XDG_STATE_HOME=str(cwd / "state"), **env)
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=clean, capture_output=True, text=True, timeout=120)


def block_after(anchor: str, lang: str = "sh") -> list[str]:
    """The command lines of the first ``lang`` block after ``anchor`` in the README."""
    start = README.index(anchor)
    match = re.compile(rf"^( *)```{lang}\n(.*?)^\1```", re.M | re.S).search(README, start)
    return readme_commands(f"```sh\n{textwrap.dedent(match.group(2))}```") if lang == "sh" else \
        [textwrap.dedent(match.group(2)).strip()]


def test_the_configuration_blocks_run_as_written(tmp_path):
    (tmp_path / "my.yaml").write_text("app:\n  job: my-shop\n  namespace: shop\n")
    lines = block_after("## Configuration") + block_after("### 1. Configure and generate")
    assert lines == ["vigilante config --describe", "vigilante config --config my.yaml",
                     "vigilante config --config my.yaml", "vigilante generate --config my.yaml"]
    outputs = []
    for line in dict.fromkeys(lines):
        run = shell(line, tmp_path)
        assert run.returncode == 0, f"{line}: {run.stderr[-2000:]}"
        outputs.append(run.stdout)
    assert "scorer.hold_seconds" in outputs[0] and "my-shop" in outputs[1]
    assert 'job="my-shop"' in (tmp_path / "rules/generated/vigilante-recording.rules.yml").read_text()


def test_the_configuration_error_shown_is_what_the_command_prints(tmp_path):
    [shown] = block_after("Errors name the file and line", lang="")
    (tmp_path / "my.yaml").write_text("scorer:\n  tick_seconds: 15\n  hold_second: 90\n")
    run = shell("vigilante config --config my.yaml", tmp_path)
    assert run.returncode == 2 and run.stderr.strip() == shown


def _rows(path: Path, count: int, columns: list[str]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", *columns])
        for i in range(count):
            wave = 1 + 0.1 * math.sin(i / 20) + 0.02 * ((i * 7919) % 13 - 6) / 6
            writer.writerow([1_700_000_000 + 300 * i, *(f"{(k + 1) * wave:.6f}" for k in range(len(columns)))])


def test_the_backtest_block_runs_as_written(tmp_path):
    lines = block_after("### Backtest your own series")
    assert len(lines) == 2
    _rows(tmp_path / "cpu.csv", 900, ["value"])
    for line in lines:
        run = shell(line, tmp_path)
        assert run.returncode == 0, f"{line}: {run.stderr[-2000:]}"
    scored = (tmp_path / "scored.csv").read_text().splitlines()
    assert scored[0] == "timestamp,score,threshold,alert,skipped" and len(scored) == 1 + 900 - 750


def test_the_scorer_blocks_offline_commands_run_as_written(tmp_path):
    from vigilante.config import Config

    features = list(Config().scorer.features)
    lines = [line for line in block_after("## The scorer") if line.split()[1] in ("train", "backtest")]
    assert lines == ["vigilante train train.csv", "vigilante backtest input.csv --train-rows N --out out.csv"]
    _rows(tmp_path / "train.csv", 500, features)
    _rows(tmp_path / "input.csv", 500, features)
    trained = shell(lines[0], tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "state" / "vigilante").is_dir()  # "saved where serve reads it"
    backtest = shell(lines[1].replace(" N ", " 400 "), tmp_path)
    assert backtest.returncode == 0, backtest.stderr[-2000:]
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 1 + 100


def test_the_check_it_grep_finds_the_three_kinds_of_series(tmp_path):
    [line] = block_after("### Check it")
    pipeline = line.split("|", 1)[1]
    script = ("from flask import Flask\nfrom vigilante import instrument\nfrom vigilante.config import load_config\n"
              "app = Flask('x')\napp.add_url_rule('/', 'home', lambda: 'ok')\n"
              "instrument(app, load_config(env={}), version='1.0')\nc = app.test_client()\nc.get('/')\n"
              "print(c.get('/metrics').get_data(as_text=True))\n")
    (tmp_path / "app.py").write_text(script)
    run = shell(f"python app.py |{pipeline}", tmp_path)
    names = {re.match(r"\w+", found).group(0) for found in run.stdout.splitlines()}
    assert names == {"flask_http_request_duration_seconds_count", "flask_http_request_total", "flask_app_info"}


def test_the_image_version_line_prints_the_package_version(tmp_path):
    [line] = [c for c in readme_commands() if c.startswith("VERSION=")]
    run = shell(f"{line.replace('python3', 'python')}; echo \"$VERSION\"", tmp_path)
    assert run.stdout.strip() == __version__
