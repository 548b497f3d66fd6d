"""Hostile configuration files and variables: refused in one line, before they cost time or memory.

A configuration is a few kilobytes of flat keys. What is far beyond that (aliases that stand for
billions of values, nesting thousands deep, megabytes, a FIFO, a duration of 1e50 seconds) is
refused while reading, naming the file and line (or the variable) and the allowed limit.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing

import pytest

from vigilante.cli import main
from vigilante.config import MAX_FILE_BYTES, MAX_NESTING, MAX_VALUES, SECTIONS, ConfigError, knob, load_config

pytestmark = pytest.mark.timeout(60)  # a regression hangs or swaps: fail instead


def one_line_error(capsys, path) -> str:
    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def write(tmp_path, text: str):
    path = tmp_path / "vigilante.yaml"
    path.write_text(text)
    return path


def alias_bomb(indent: str = "") -> str:
    """Nine levels of nine aliases each: 342 bytes that stand for 9**9 strings."""
    lines = [f'{indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{indent}{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [alias_bomb(), "service:\n  queries:\n" + alias_bomb("    ")],
                         ids=["top level", "inside a section"])
def test_an_alias_bomb_is_refused_before_it_expands(tmp_path, capsys, text):
    err = one_line_error(capsys, write(tmp_path, text))
    assert re.search(r"vigilante\.yaml:\d+: ", err) and f"more than {MAX_VALUES} values" in err and "aliases" in err, err


def test_an_alias_inside_the_value_it_names_is_refused(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "app:\n  excluded_paths: &loop [/a, *loop]\n"))
    assert "vigilante.yaml:2:" in err and "inside the value it names" in err, err


def test_a_few_aliases_are_read_as_their_values(tmp_path):
    config = load_config(write(tmp_path, "app:\n  service: &name shop\n  team: *name\n"), env={})
    assert (config.app.service, config.app.team) == ("shop", "shop")


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "app:\n  excluded_paths: " + "[" * 5000 + "]" * 5000 + "\n"))
    assert "vigilante.yaml:2:" in err and f"nested deeper than {MAX_NESTING}" in err, err


def test_nesting_a_real_configuration_uses_is_read(tmp_path):
    path = write(tmp_path, "service:\n  queries:\n    value: vector(1)\n")
    assert load_config(path, env={}).service.queries == {"value": "vector(1)"}


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path, capsys):
    path = write(tmp_path, "app:\n  excluded_paths:\n" + "    - /x\n" * (MAX_FILE_BYTES // 9 + 1))
    err = one_line_error(capsys, path)
    assert f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB" in err, err


def test_a_file_at_the_limit_is_read(tmp_path):
    path = write(tmp_path, "app:\n  job: shop\n")
    with path.open("a") as f:
        f.write("#" * (MAX_FILE_BYTES - path.stat().st_size - 1) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_config(path, env={}).app.job == "shop"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, capsys):
    fifo = tmp_path / "vigilante.yaml"
    os.mkfifo(fifo)
    err = one_line_error(capsys, fifo)
    assert f"{fifo}: not a regular file" in err, err


def test_a_number_with_thousands_of_digits_is_one_line(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "scorer:\n  seed: " + "9" * 5000 + "\n"))
    assert "vigilante.yaml:2: a number of 5000 characters" in err and len(err) < 400, err


def test_relearn_after_1e50_seconds_is_refused_naming_key_and_range(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "scorer:\n  relearn_after_seconds: 1e50\n"))
    assert "vigilante.yaml:2: scorer.relearn_after_seconds: expected a duration >= 0 in seconds, at most" in err, err
    assert "got '1e50'" in err, err


def test_a_tick_too_short_for_the_windows_is_refused(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "scorer:\n  tick_seconds: 1e-300\n"))
    assert "vigilante.yaml:2: scorer.tick_seconds: expected" in err, err


def numeric_knobs() -> list:
    """Every number-valued key (lists of numbers too): section, key, whether it is a list."""
    found = []
    for section, cls in SECTIONS.items():
        for key, hint in typing.get_type_hints(cls).items():
            listed = typing.get_origin(hint) is tuple
            if (typing.get_args(hint)[0] if listed else hint) in (int, float):
                found.append(pytest.param(section, key, listed, id=f"{section}.{key}"))
    return found


def field_of(section: str, key: str) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(SECTIONS[section])}[key]


def test_every_numeric_key_declares_its_maximum():
    knobs = [p.values for p in numeric_knobs()]
    assert len(knobs) > 20
    assert [(s, k) for s, k, _ in knobs if field_of(s, k).metadata.get("most") is None] == []


def test_a_numeric_knob_without_a_maximum_cannot_be_declared():
    with pytest.raises(TypeError, match="most="):
        knob(5.0, "A number with no upper bound.")


@pytest.mark.parametrize("section, key, listed", numeric_knobs())
def test_every_numeric_key_takes_its_maximum_and_refuses_more(tmp_path, section, key, listed):
    most, check = field_of(section, key).metadata["most"], field_of(section, key).metadata["check"]
    at_most, above = ((most,), [most, most * 10]) if listed else (most, most * 10)
    if check is None or check[0](at_most):  # else the key's own rule is stricter (a probability is below 1)
        config = load_config(write(tmp_path, f"{section}:\n  {key}: {list(at_most) if listed else at_most!r}\n"), env={})
        assert getattr(getattr(config, section), key) == at_most
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"{section}:\n  {key}: {above!r}\n"), env={})
    assert f"vigilante.yaml:2: {section}.{key}: expected" in str(err.value), str(err.value)


@pytest.mark.parametrize("name, value, expected", [
    ("VIGILANTE_SCORER__RELEARN_AFTER_SECONDS", "1e50", "scorer.relearn_after_seconds: expected a duration >= 0"),
    ("VIGILANTE_APP__LATENCY_BUCKETS", "[" * 5000 + "]" * 5000, "nested deeper than"),
    ("VIGILANTE_APP__LATENCY_BUCKETS", "[&a [1,1,1,1,1,1,1,1,1]," + ",".join(
        f"&{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")) + "]",
     "aliases"),
    ("VIGILANTE_SCORER__SEED", "9" * 5000, "scorer.seed: a number of 5000 characters"),
])
def test_environment_values_obey_the_same_limits(name, value, expected):
    with pytest.raises(ConfigError) as err:
        load_config(env={name: value})
    message = str(err.value)
    assert message.startswith(f"${name}: ") and expected in message and len(message) < 400, message
