"""The README's "Try it in minutes" block, read from the README and run as written, and the
README's server commands, which bind 127.0.0.1 and keep their data out of the working directory.

The block runs against the app of the "Add to your app" steps (its configuration and factory,
as the README writes them) under gunicorn from this checkout's environment. What the test
changes is what a shared CI machine needs: free ports instead of 8000, 9090 and 9110
(``GUNICORN_CMD_ARGS``, the addresses in the lines, ``VIGILANTE_*`` variables), a per-test state
directory (``XDG_STATE_HOME``), and traffic to the app while the block runs. A line ending in
``&`` runs in the background; ``vigilante serve`` does too, until its model is warm.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from scripts.harness.binaries import PROMETHEUS, find_binary
from scripts.harness.process import ManagedProcess, free_port, wait_until
from tests.support import REPO_ROOT
from tests.support.metrics import scrape
from tests.test_readme_attach import Steps, code_blocks, commands, readme_section
from tests.traffic import paced_traffic

README = REPO_ROOT / "README.md"
SERVER_COMMAND = re.compile(r"^\s*(?:\S+=\S+\s+)*(prometheus|alertmanager)\s", re.M)


def trial_block() -> list[str]:
    text = README.read_text()
    start = text.index("\n### Try it in minutes\n")
    section = text[start:text.index("\n### ", start + 1)]
    (block,) = [body for lang, body in code_blocks(section) if lang == "sh"]
    return commands(block)


def shell_lines() -> list[str]:
    return [line for lang, body in code_blocks(README.read_text()) if lang == "sh" for line in commands(body)]


def test_every_prometheus_command_in_the_readme_listens_on_loopback_and_keeps_its_data_out_of_the_cwd():
    servers = [line for line in shell_lines() if SERVER_COMMAND.match(line)]
    assert len(servers) >= 2, servers  # "Add to your app" and the trial
    for line in servers:
        assert "--web.listen-address=127.0.0.1:" in line, line
        path = re.search(r"--storage\.tsdb\.path=(\S+)", line)
        assert path and path.group(1).rstrip("/") not in (".", "data", "./data"), line


def test_prometheus_config_prints_a_loopback_command_with_its_own_data_folder(tmp_path, capsys):
    from vigilante.cli import main

    assert main(["prometheus-config", "--target", "127.0.0.1:8000", "--out", str(tmp_path)]) == 0
    run = [line for line in capsys.readouterr().out.splitlines() if line.startswith("run: ")]
    assert run == [f"run: prometheus --config.file={tmp_path}/prometheus.yml --web.listen-address=127.0.0.1:9090 "
                   f"--storage.tsdb.path={tmp_path}/data"]


def test_the_trial_block_is_one_setting_read_by_every_command():
    lines = trial_block()
    exported = shlex.split(lines[0], comments=True)
    assert exported[0] == "export" and "VIGILANTE_TRIAL__TIME_SCALE=15" in exported
    programs = [shlex.split(line, comments=True)[:2] for line in lines[1:]]
    assert [p[0] for p in programs] == ["vigilante", "prometheus", "vigilante", "vigilante", "vigilante", "vigilante"]
    assert [p[1] for p in programs if p[0] == "vigilante"] == ["prometheus-config", "check", "collect", "train", "serve"]
    assert not any("--tick-seconds" in line or "TICK_SECONDS" in line for line in lines)


@pytest.mark.slow
def test_the_readme_trial_block_as_written_warms_the_scorer_from_the_model_it_trained(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    steps = Steps(readme_section("Add to your app"))
    steps.write_app(work)  # the README's configuration and app factory
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "prometheus").symlink_to(find_binary(PROMETHEUS))
    ports = {"app": free_port(), "prometheus": free_port(), "scorer": free_port()}
    state_home = tmp_path / "state-home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("VIGILANTE_", "PYTHON", "VIRTUAL_ENV"))},
           "PATH": f"{Path(sys.executable).parent}:{tools}:{os.environ['PATH']}",
           "XDG_STATE_HOME": str(state_home),
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{ports['app']}",
           "VIGILANTE_PROMETHEUS__URL": f"http://127.0.0.1:{ports['prometheus']}",
           "VIGILANTE_SCORER__LISTEN_PORT": str(ports["scorer"])}

    def as_here(line: str) -> str:
        return (line.replace("127.0.0.1:8000", f"127.0.0.1:{ports['app']}")
                .replace("127.0.0.1:9090", f"127.0.0.1:{ports['prometheus']}"))

    def run(line: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", as_here(line)], cwd=work, env=env, capture_output=True, text=True,
                              timeout=timeout)

    processes: list[ManagedProcess] = []

    def background(name: str, line: str) -> ManagedProcess:
        process = ManagedProcess(name, ["bash", "-c", as_here(line)], tmp_path / f"{name}.log", env=env,
                                 cwd=work).start()
        processes.append(process)
        return process

    app_url = f"http://127.0.0.1:{ports['app']}"
    prometheus_url = env["VIGILANTE_PROMETHEUS__URL"]
    stop_traffic = threading.Event()

    def traffic() -> None:  # the app's users, while the block runs: bounded by the event and a count
        for _ in range(300):
            if stop_traffic.is_set():
                return
            paced_traffic(app_url, 10, 1, ["/shop/items/1", "/shop/items/2", "/shop/items/3", "/shop/fail"])

    def prometheus_ready() -> bool:
        try:
            return requests.get(f"{prometheus_url}/-/ready", timeout=2).ok
        except requests.RequestException:
            return False

    sender = threading.Thread(target=traffic, daemon=True)
    outputs: dict[str, subprocess.CompletedProcess] = {}
    try:
        app = background("app", steps.run_app)
        app.wait_ready(lambda: requests.get(f"{app_url}/shop/items/1", timeout=2).ok, 60, "answering")
        sender.start()
        lines = trial_block()
        for name, value in (item.split("=", 1) for item in shlex.split(lines[0], comments=True)[1:]):
            env[name] = value  # `export`: for every later line
        for line in lines[1:]:
            program = shlex.split(line, comments=True)
            if line.rstrip().endswith("&") or program[:2] == ["vigilante", "serve"]:
                name = program[0] if program[0] != "vigilante" else program[1]
                process = background(name, line.split("#", 1)[0].rstrip().rstrip("&").rstrip())
                if name == "prometheus":
                    process.wait_ready(prometheus_ready, 60, "ready")
                continue
            outputs[program[1]] = result = run(line, timeout=180)
            assert result.returncode in ((0, 1) if program[1] == "check" else (0,)), \
                f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            assert "trial.time_scale 15:" in result.stderr, result.stderr  # each command says it runs a trial

        assert "the scorer warms after 1 min (60 ticks of 1 s)" in outputs["check"].stdout, outputs["check"].stdout
        rows = (work / "train.csv").read_text().splitlines()[1:]
        stamps = [float(row.split(",")[0]) for row in rows]
        assert len(rows) == 90 and {round(b - a, 3) for a, b in zip(stamps, stamps[1:])} == {1.0}
        state = state_home / "vigilante" / "my-shop-scorer.state.json"
        assert f"saved to {state}" in outputs["train"].stdout

        scorer = processes[-1]
        log = scorer.log_path
        wait_until(lambda: "warm from state" in log.read_text() or "not warm yet" in log.read_text(), 60,
                   "the scorer's warm start")
        text = log.read_text()
        assert "warm from state" in text and "trained with other settings" not in text, text[-3000:]
        assert "trial.time_scale 15:" in text
        metrics = scrape(f"http://127.0.0.1:{ports['scorer']}")
        assert "vigilante_model_warm 1.0" in metrics
        assert not [p.name for p in work.iterdir() if "state" in p.name]  # the model is not in the app's folder
    finally:
        stop_traffic.set()
        if sender.is_alive():
            sender.join(timeout=30)  # a second of paced requests at most, before the app goes
        for process in reversed(processes):
            process.stop()
