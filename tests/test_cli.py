"""The vigilante command line: help, version, and one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from vigilante import __version__
from vigilante.cli import main


def test_version_is_the_package_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.strip() == f"vigilante {__version__}"


def test_the_installed_console_script_answers_help():
    script = Path(sys.executable).parent / "vigilante"
    run = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)

    assert run.returncode == 0
    assert "usage: vigilante" in run.stdout
    assert "config" in run.stdout


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: vigilante" in capsys.readouterr().out


def test_a_config_error_is_one_line_on_stderr(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("scorer:\n  hold_seconds: -1\n")

    assert main(["config", "--config", str(bad)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"vigilante config: error: {bad}:2: scorer.hold_seconds")


def test_serve_refuses_a_tick_that_is_not_a_positive_number_of_seconds(capsys):
    assert main(["serve", "--tick-seconds", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("--tick-seconds must be a positive number of seconds, got 0")


def test_a_user_error_is_one_line_when_run_as_python_dash_m(tmp_path):
    # As ``python -m vigilante.cli`` the module runs as __main__; the commands' UserError must still be caught.
    run = subprocess.run([sys.executable, "-m", "vigilante.cli", "backtest", str(tmp_path / "in.csv"),
                          "--train-rows", "0", "--out", str(tmp_path / "out.csv")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == ["vigilante backtest: error: --train-rows must be a positive number of rows, got 0"]


def test_config_refuses_what_generate_would_refuse(tmp_path, capsys):
    """A scrape interval too long for the rules' 1m window fails `vigilante config`, not only `generate`."""
    path = tmp_path / "site.yaml"
    path.write_text("prometheus:\n  scrape_interval_seconds: 30\n")
    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and re.search(r"prometheus.scrape_interval_seconds: expected .*at most 15\b", err), err
    assert main(["generate", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    assert re.search(r"prometheus.scrape_interval_seconds: expected .*at most 15\b", capsys.readouterr().err)


def test_every_user_facing_error_type_is_one_line_and_exit_2():
    from vigilante.config import ConfigError
    from vigilante.errors import UserError, VigilanteError
    from vigilante.output_files import OutputError
    from vigilante.scorer.errors import ScorerError

    assert all(issubclass(e, VigilanteError) for e in (ConfigError, OutputError, ScorerError, UserError))


def test_config_says_what_the_keys_left_empty_stand_for(tmp_path, capsys):
    path = tmp_path / "vigilante.yaml"
    path.write_text("app:\n  job: shop-api\n  namespace: payments\n")
    assert main(["config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "#   app.service: shop-api" in out and "#   app.team: payments" in out
    assert "#   alerting.page_receiver: shop-api-page" in out
    assert "#   kubernetes.app_pod_selector: app.kubernetes.io/name=shop-api" in out
