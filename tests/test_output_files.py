"""What the CLI writes: whole or not at all, never over its input or over something that is not a file.

Each case runs ``vigilante backtest`` or ``vigilante train`` as a separate process, as a user
would, and checks the exit code, the one-line error and what is left on disk.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys

import pytest

from tests.scorer_data import normal_rows
from tests.test_backtest import FEATURES, write
from tests.tools import missing_tool

CONFIG = "scorer:\n  features: [requests_per_second, errors_per_second]\n  n_trees: 8\n"


@pytest.fixture
def inputs(tmp_path):
    config = tmp_path / "vigilante.yaml"
    config.write_text(CONFIG)
    series = write(tmp_path / "in.csv", normal_rows(400, features=FEATURES))
    return {"config": str(config), "series": series, "before": open(series, "rb").read()}


def vigilante(*argv: str, limit_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        # A file-size limit makes the kernel refuse writes past it (EFBIG): a full disk
        # without needing one. Python ignores SIGXFSZ, so the write fails instead of killing.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run([sys.executable, "-m", "vigilante.cli", *argv], capture_output=True, text=True,
                          timeout=120, preexec_fn=limit if limit_file_bytes else None)


def backtest(inputs, out, **kwargs) -> subprocess.CompletedProcess:
    return vigilante("backtest", inputs["series"], "--train-rows", "300", "--out", str(out),
                     "--config", inputs["config"], **kwargs)


def train(inputs, out, **kwargs) -> subprocess.CompletedProcess:
    return vigilante("train", inputs["series"], "--out", str(out), "--config", inputs["config"], **kwargs)


def refused(run: subprocess.CompletedProcess, *fragments: str) -> None:
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def leftovers(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


@pytest.mark.parametrize("command", [backtest, train])
def test_the_input_named_as_output_is_refused_and_kept(command, inputs, tmp_path):
    refused(command(inputs, inputs["series"]), "in.csv", "is an input of this command")
    refused(command(inputs, tmp_path / "." / "in.csv"), "is an input")  # the same file by another spelling
    os.link(inputs["series"], tmp_path / "hard.csv")
    refused(command(inputs, tmp_path / "hard.csv"), "is an input")  # and by a hard link
    assert open(inputs["series"], "rb").read() == inputs["before"]


@pytest.mark.parametrize("command", [backtest, train])
def test_what_is_not_a_regular_file_is_refused_and_left_alone(command, inputs, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    for target in (folder, fifo, link):
        refused(command(inputs, target), str(target), "not a regular file")
    assert folder.is_dir() and stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert not (tmp_path / "elsewhere.csv").exists()


def test_a_device_node_is_refused(inputs, tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        missing_tool("creating a device node needs root (CI runs as root)")
    refused(backtest(inputs, device), "not a regular file")
    assert stat.S_ISCHR(os.lstat(device).st_mode)


@pytest.mark.parametrize("command", [backtest, train])
def test_a_missing_folder_is_one_line(command, inputs, tmp_path):
    refused(command(inputs, tmp_path / "no" / "such" / "out.csv"), "folder does not exist")
    refused(command(inputs, tmp_path / "in.csv" / "out.csv"), "cannot write")  # under a file


def previous_output(command, inputs, tmp_path):
    """What an earlier run left at the output path: any file for a backtest; for ``train``, a
    model trained with other settings (train replaces only a scorer state, never another file)."""
    out = tmp_path / "out"
    if command is backtest:
        out.write_bytes(b"the previous run")
        return out
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("n_trees: 8", "n_trees: 4"))
    run = command({**inputs, "config": str(other)}, out)
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.parametrize("command", [backtest, train])
def test_a_full_disk_keeps_the_old_output_and_leaves_no_temporary_file(command, inputs, tmp_path):
    out = previous_output(command, inputs, tmp_path)
    before = out.read_bytes()
    refused(command(inputs, out, limit_file_bytes=512), str(out), "cannot write", "File too large")
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", [backtest, train])
def test_a_regular_file_is_replaced_whole(command, inputs, tmp_path):
    out = previous_output(command, inputs, tmp_path)
    before = out.read_bytes()
    run = command(inputs, out)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() != before and out.stat().st_size > 512
    assert leftovers(tmp_path) == []


def test_the_configuration_named_as_output_is_refused_and_kept(inputs, tmp_path):
    refused(backtest(inputs, inputs["config"]), "vigilante.yaml", "is an input of this command")
    assert open(inputs["config"]).read() == CONFIG


def test_the_configuration_from_the_environment_named_as_output_is_refused_and_kept(inputs):
    env = {**os.environ, "VIGILANTE_CONFIG": inputs["config"]}
    run = subprocess.run([sys.executable, "-m", "vigilante.cli", "backtest", inputs["series"], "--train-rows", "300",
                          "--out", inputs["config"]], capture_output=True, text=True, timeout=120, env=env)
    refused(run, "is an input of this command")
    assert open(inputs["config"]).read() == CONFIG


def test_collect_refuses_its_configuration_as_output_before_asking_prometheus(inputs):
    run = vigilante("collect", "--config", inputs["config"], "--out", inputs["config"], "--history", "30m")
    refused(run, "vigilante.yaml", "is an input of this command")
    assert open(inputs["config"]).read() == CONFIG
