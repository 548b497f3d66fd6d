"""The configuration object: defaults, file, environment, and errors that say where and what."""

from __future__ import annotations

import textwrap

import pytest

from vigilante.config import Config, ConfigError, describe, load_config


def write(tmp_path, text):
    path = tmp_path / "vigilante.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_need_no_file():
    cfg = load_config(env={})

    assert cfg == Config()
    assert cfg.app.route_label == "url_rule"
    assert cfg.source == "<defaults>"


def test_a_valid_file_overrides_only_what_it_names(tmp_path):
    path = write(tmp_path, """\
        app:
          job: shop
          latency_buckets: [0.1, 0.5, 2]
        slo:
          availability: 0.999
    """)

    cfg = load_config(path, env={})

    assert cfg.app.job == "shop"
    assert cfg.app.latency_buckets == (0.1, 0.5, 2.0)
    assert cfg.slo.availability == 0.999
    assert cfg.app.namespace == Config().app.namespace
    assert cfg.source == str(path)


def test_an_unknown_key_names_file_line_and_the_close_match(tmp_path):
    path = write(tmp_path, """\
        scorer:
          tick_seconds: 15
          hold_second: 3
    """)

    with pytest.raises(ConfigError) as err:
        load_config(path, env={})

    assert str(err.value) == f"{path}:3: unknown key 'scorer.hold_second'; did you mean 'hold_seconds'?"


def test_an_unknown_section_is_an_error(tmp_path):
    path = write(tmp_path, "grafna:\n  folder: x\n")

    with pytest.raises(ConfigError, match=r":1: unknown section 'grafna'; did you mean 'grafana'\?"):
        load_config(path, env={})


@pytest.mark.parametrize("text, message", [
    ("scorer:\n  n_trees: two\n", ":2: scorer.n_trees: expected an integer, got 'two'"),
    ("scorer:\n  n_trees: true\n", ":2: scorer.n_trees: expected an integer, got True"),
    ("scorer:\n  hold_seconds: 0\n", ":2: scorer.hold_seconds: expected a positive duration in seconds, got 0"),
    ("scorer:\n  hold_seconds: soon\n", ":2: scorer.hold_seconds: expected a finite number, got 'soon'"),
    ("slo:\n  availability: 99.5\n", ":2: slo.availability: expected a number between 0 and 1, got 99.5"),
    ("app:\n  route_label: path\n", ":2: app.route_label: expected 'url_rule' or 'endpoint', got 'path'"),
    ("app:\n  latency_buckets: 0.5\n", ":2: app.latency_buckets: expected a list of a finite number, got 0.5"),
    ("app:\n  latency_buckets: [1, 0.5]\n", ":2: app.latency_buckets: expected ascending positive numbers"),
    ("kubernetes:\n  namespace: My_NS\n", ":2: kubernetes.namespace: expected a Kubernetes name"),
])
def test_a_wrong_type_or_value_names_line_key_and_expectation(tmp_path, text, message):
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as err:
        load_config(path, env={})

    assert str(err.value).startswith(f"{path}{message}")


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "app:\n  job: [unclosed\n")

    with pytest.raises(ConfigError, match=r"vigilante.yaml:\d+: not valid YAML"):
        load_config(path, env={})


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "absent.yaml", env={})


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "scorer:\n  hold_seconds: 45\n")

    cfg = load_config(path, env={"VIGILANTE_SCORER__HOLD_SECONDS": "1m",
                                 "VIGILANTE_APP__LATENCY_BUCKETS": "[0.1, 1]"})

    assert cfg.scorer.hold_seconds == 60.0
    assert cfg.app.latency_buckets == (0.1, 1.0)


def test_environment_names_the_file_to_read(tmp_path):
    path = write(tmp_path, "grafana:\n  folder: Shop\n")

    assert load_config(env={"VIGILANTE_CONFIG": str(path)}).grafana.folder == "Shop"


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"^\$VIGILANTE_SLO__AVAILABILITY: slo.availability: expected a finite number"):
        load_config(env={"VIGILANTE_SLO__AVAILABILITY": "high"})


def test_unrelated_environment_variables_are_ignored():
    assert load_config(env={"VIGILANTE_FAULTS_ENABLED": "1", "PATH": "/bin"}) == Config()


def test_digest_changes_with_values_only():
    assert load_config(env={}).digest() == Config().digest()
    assert Config().replace("app", job="other").digest() != Config().digest()


def test_replace_validates_like_a_file():
    with pytest.raises(ConfigError, match="scorer.hold_seconds: expected a positive duration"):
        Config().replace("scorer", hold_seconds=0)


def test_describe_documents_every_key_and_round_trips():
    text = describe()

    for section, values in Config().as_dict().items():
        for key in values:
            assert f"  {key}: " in text, key
    import yaml

    assert yaml.safe_load(text) == Config().as_dict()


def test_an_environment_value_for_a_string_knob_is_taken_as_written():
    cfg = load_config(env={"VIGILANTE_APP__JOB": "123", "VIGILANTE_GRAFANA__FOLDER": "yes"})

    assert cfg.app.job == "123" and cfg.grafana.folder == "yes"


def one_line_error(capsys, path) -> str:
    from vigilante.cli import main

    assert main(["config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_file_that_is_not_utf8_is_one_line_naming_the_line(tmp_path, capsys):
    path = tmp_path / "vigilante.yaml"
    path.write_bytes(b"app:\n  job: shop\n  service: caf\xe9\n")
    err = one_line_error(capsys, path)
    assert "vigilante.yaml:3: not UTF-8 text (byte 0xe9)" in err, err


@pytest.mark.parametrize("text, line, key", [
    ("app:\n  job: a\n  job: b\n", 3, "app.job"),
    ("app:\n  job: a\nslo:\n  availability: 0.99\napp:\n  team: t\n", 5, "app"),
    ("service:\n  queries:\n    value: vector(1)\n    value: vector(2)\n", 4, "service.queries.value"),
])
def test_a_duplicate_key_is_an_error_not_the_last_value(tmp_path, capsys, text, line, key):
    path = tmp_path / "vigilante.yaml"
    path.write_text(text)
    err = one_line_error(capsys, path)
    assert f"vigilante.yaml:{line}: duplicate key '{key}'" in err, err


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "0", "-15", "1e400"])
def test_durations_must_be_finite_and_positive(tmp_path, capsys, value):
    err = one_line_error(capsys, write(tmp_path, f"scorer:\n  tick_seconds: {value}\n"))
    assert "vigilante.yaml:2: scorer.tick_seconds: expected" in err, err


@pytest.mark.parametrize("text, section, key, expected", [
    ("prometheus:\n  query_timeout_seconds: 1e3\n", "prometheus", "query_timeout_seconds", 1000.0),
    ("prometheus:\n  query_timeout_seconds: 1e-300\n", "prometheus", "query_timeout_seconds", 1e-300),
    ("prometheus:\n  query_timeout_seconds: 2.5E+1\n", "prometheus", "query_timeout_seconds", 25.0),
    ("scorer:\n  n_trees: 1e1\n", "scorer", "n_trees", 10),
    ("scorer:\n  n_trees: 1_0\n", "scorer", "n_trees", 10),
])
def test_numbers_in_any_yaml_notation_are_read(tmp_path, text, section, key, expected):
    value = getattr(getattr(load_config(write(tmp_path, text), env={}), section), key)
    assert value == expected and type(value) is type(expected)


def test_a_fraction_for_an_integer_knob_is_refused(tmp_path, capsys):
    err = one_line_error(capsys, write(tmp_path, "scorer:\n  n_trees: 2.5\n"))
    assert "scorer.n_trees: expected an integer" in err, err


def test_a_number_notation_from_the_environment_is_read():
    assert load_config(env={"VIGILANTE_PROMETHEUS__QUERY_TIMEOUT_SECONDS": "1e1"}).prometheus.query_timeout_seconds == 10.0


@pytest.mark.parametrize("old, new", [("hold_ticks", "hold_seconds"), ("relearn_after_ticks", "relearn_after_seconds")])
def test_a_key_that_counted_ticks_says_what_replaced_it(tmp_path, old, new):
    with pytest.raises(ConfigError, match=rf":2: 'scorer.{old}' counted ticks; it is now 'scorer.{new}', in seconds"):
        load_config(write(tmp_path, f"scorer:\n  {old}: 2\n"), env={})


@pytest.mark.parametrize("text, expected", [("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("45", 45.0),
                                            ("250ms", 0.25)])
def test_durations_are_seconds_or_duration_strings(tmp_path, text, expected):
    assert load_config(write(tmp_path, f"scorer:\n  relearn_after_seconds: {text}\n"), env={}).scorer.relearn_after_seconds \
        == expected


def test_the_cross_key_limits_agree_with_the_rules():
    """The loader checks the rules' windows by number; they must be the rules' own."""
    from vigilante import config as config_module
    from vigilante.rules import recording, slo

    assert config_module.RULE_RATE_WINDOW_SECONDS == slo.duration_seconds(recording.SHORT_WINDOW)
    assert config_module.LONGEST_RULE_WINDOW_SECONDS == max(slo.duration_seconds(w) for w in slo.ratio_windows())
