"""`vigilante generate`: every generated file is up to date, deterministic, and headed "do not edit"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigilante import __version__
from vigilante.cli import main
from vigilante.config import load_config
from vigilante.generate import Target, orphan_files, render_all, stale_files, targets

REPO = Path(__file__).resolve().parents[1]



# The one drift check of the repository's generated files: the same as `vigilante generate --check`.
@pytest.mark.parametrize("target", targets(), ids=lambda t: t.path)
def test_committed_generated_file_is_up_to_date(target):
    stale = stale_files(REPO, render_all(load_config(env={}), [target]))
    assert stale == [], f"{target.path} is stale: run `make generate`"


def test_no_committed_generated_file_is_an_orphan():
    assert orphan_files(REPO, targets()) == [], "generated files no target writes: run `make generate`"


def test_an_orphan_is_flagged_by_check_and_removed_by_a_run_and_a_users_file_is_left_alone(tmp_path, capsys,
                                                                                         monkeypatch):
    monkeypatch.delenv("VIGILANTE_CONFIG", raising=False)
    assert main(["generate", "--root", str(tmp_path)]) == 0
    renamed = tmp_path / "rules/generated/vigilante-old-name.rules.yml"  # what a renamed target leaves behind
    renamed.write_text((tmp_path / "rules/generated/vigilante-alerts.rules.yml").read_text())
    dashboard = tmp_path / "dashboards_py/generated/retired.json"
    dashboard.write_text((tmp_path / "dashboards_py/generated/overview.json").read_text())
    mine = tmp_path / "rules/generated/my-own.rules.yml"
    mine.write_text("groups: []\n")
    capsys.readouterr()
    assert main(["generate", "--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "orphan: rules/generated/vigilante-old-name.rules.yml" in err
    assert "orphan: dashboards_py/generated/retired.json" in err and "my-own" not in err
    assert main(["generate", "--root", str(tmp_path)]) == 0
    assert not renamed.exists() and not dashboard.exists() and mine.exists()
    assert main(["generate", "--root", str(tmp_path), "--check"]) == 0


def test_generate_writes_every_target_and_check_then_passes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VIGILANTE_CONFIG", raising=False)
    assert main(["generate", "--root", str(tmp_path), "--demo-app"]) == 0
    for target in targets():
        assert (tmp_path / target.path).is_file(), target.path
    assert main(["generate", "--root", str(tmp_path), "--check", "--demo-app"]) == 0
    assert main(["generate", "--root", str(tmp_path), "--demo-app"]) == 0
    assert f"0 written, {len(targets())} unchanged" in capsys.readouterr().out


def test_a_users_generate_writes_their_files_and_not_the_demo_apps(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VIGILANTE_CONFIG", raising=False)
    config = tmp_path / "shop.yaml"
    config.write_text("app:\n  job: shop-web\n  namespace: shop\n")
    out = tmp_path / "out"
    assert main(["generate", "--config", str(config), "--out", str(out)]) == 0
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert not any(p.startswith("manifests/app/") for p in written)
    assert {"rules/generated/vigilante-recording.rules.yml", "dashboards_py/generated/overview.json",
            "dashboards_py/generated/grafana-alert-rules.yaml",
            "manifests/overlays/kube-prometheus-stack/generated/prometheusrule.yaml"} <= written
    assert 'job="shop-web"' in (out / "rules/generated/vigilante-recording.rules.yml").read_text()
    assert main(["generate", "--config", str(config), "--out", str(out), "--check"]) == 0


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("keep")
    assert main(["generate", "--out", str(tmp_path / "f")]) == 2
    assert "is not a folder" in capsys.readouterr().err and (tmp_path / "f").read_text() == "keep"


def test_check_lists_stale_and_missing_files_and_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VIGILANTE_CONFIG", raising=False)
    main(["generate", "--root", str(tmp_path), "--demo-app"])
    edited = tmp_path / "rules/generated/vigilante-alerts.rules.yml"
    edited.write_text(edited.read_text().replace("for: 1m", "for: 2m"))
    (tmp_path / "rules/generated/alertmanager.yml").unlink()
    capsys.readouterr()
    assert main(["generate", "--root", str(tmp_path), "--check", "--demo-app"]) == 1
    err = capsys.readouterr().err
    assert "stale: rules/generated/vigilante-alerts.rules.yml" in err
    assert "stale: rules/generated/alertmanager.yml" in err
    assert "stale: rules/generated/vigilante-recording.rules.yml" not in err


def test_output_is_the_same_in_processes_with_different_hash_seeds(tmp_path):
    # Set and dict iteration orders of strings change with PYTHONHASHSEED, which is fixed
    # inside one process: only separate processes show an order that leaks into a file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGILANTE_")}
    for seed in ("1", "2", "3"):
        run = subprocess.run([sys.executable, "-m", "vigilante.cli", "generate", "--root", str(tmp_path / seed),
                              "--demo-app"], env={**env, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
    for target in targets():
        first = (tmp_path / "1" / target.path).read_bytes()
        assert first == (tmp_path / "2" / target.path).read_bytes() == (tmp_path / "3" / target.path).read_bytes(), \
            target.path


@pytest.mark.parametrize("path", [t.path for t in targets() if t.path.startswith("rules/")])
def test_rule_files_open_with_the_do_not_edit_header_naming_source_and_version(path):
    text = (REPO / path).read_text()
    first, second = text.splitlines()[:2]
    assert first.startswith("# Generated by `vigilante generate` from rules/") and first.endswith("-- do not edit.")
    assert f"vigilante {__version__}, configuration <defaults>" in second


def test_a_configuration_file_is_named_by_file_name_and_digest(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("app:\n  job: shop-web\n")
    config = load_config(path, env={})
    text = Target("x.yml", "rules/x.py", lambda c: "").text(config)
    assert f"configuration site.yaml (digest {config.digest()})" in text
    assert str(tmp_path) not in text  # no machine-specific path in committed files


def test_targets_without_comments_render_their_body_only():
    target = Target("x.json", "dashboards_py/x.py", lambda c: "{}\n", comment=None)
    assert target.text(load_config(env={})) == "{}\n"


def test_paths_are_unique_and_relative():
    paths = [t.path for t in targets()]
    assert len(paths) == len(set(paths))
    assert all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in paths)
