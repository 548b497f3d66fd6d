"""A runnable Prometheus configuration for your own app (``vigilante prometheus-config``).

Writes ``DIR/prometheus.yml`` and the two rule files it loads, rendered for the configuration:

- the app's target with the labels every rule and panel selects on: ``job`` = ``app.job``,
  ``namespace`` = ``app.namespace`` (a plain static scrape has no ``namespace``, and without
  it nothing would be recorded);
- the scorer's target with ``job`` = ``scorer.job`` and ``namespace`` =
  ``kubernetes.namespace``, as the anomaly dashboard selects it;
- the scrape and evaluation intervals of the ``prometheus`` section;
- ``vigilante-recording.rules.yml`` and ``vigilante-alerts.rules.yml`` (relative paths:
  Prometheus reads them from the configuration file's folder).

What it wrote is recorded, with each file's SHA-256, in ``DIR/vigilante-prometheus-config.json``.
A later run replaces a file only while it is recorded and unchanged (or already identical):
a hand-written or hand-edited ``prometheus.yml`` is refused, naming ``--force``.

    >>> import tempfile, yaml
    >>> from pathlib import Path
    >>> from vigilante.config import load_config
    >>> out = Path(tempfile.mkdtemp())
    >>> written = write_prometheus_config(load_config(env={}), ["127.0.0.1:8000"], ["127.0.0.1:9110"], out)
    >>> sorted(p.name for p in written)
    ['prometheus.yml', 'vigilante-alerts.rules.yml', 'vigilante-recording.rules.yml']
    >>> doc = yaml.safe_load((out / "prometheus.yml").read_text())
    >>> doc["scrape_configs"][0]["static_configs"][0]["labels"]["namespace"]
    'tickets'
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import yaml

from vigilante.config import Config
from vigilante.output_files import OutputError, WrittenRecord, check_target, digest, existing_bytes, write_text
from vigilante.prometheus.scrape_config import prometheus_config, static_scrape_configs
from vigilante.rules import render
from vigilante.targets import Target, header

COMMAND = "vigilante prometheus-config"
CONFIG_NAME = "prometheus.yml"
RECORDING_RULES_NAME = "vigilante-recording.rules.yml"
ALERTING_RULES_NAME = "vigilante-alerts.rules.yml"
RECORD_NAME = "vigilante-prometheus-config.json"
RECORD_NOTE = (f"Written by `{COMMAND}` -- do not edit. The files it wrote in this folder with the SHA-256 of each: "
               "a later run replaces a file only while it is listed here and unchanged.")


def rule_targets() -> list[Target]:
    """The two rule files a Prometheus watching one app loads, with their generated headers."""

    return [Target(RECORDING_RULES_NAME, "rules/recording.py", render.recording_rules_yaml, command=COMMAND),
            Target(ALERTING_RULES_NAME, "rules/alerts.py", render.alerting_rules_yaml, command=COMMAND)]


def prometheus_yaml(config: Config, app_targets: Sequence[str], scorer_targets: Sequence[str],
                    alertmanagers: Sequence[str] = ()) -> str:
    """The ``prometheus.yml`` text: static targets labelled as the rules expect, our rule files."""

    document = prometheus_config(config, static_scrape_configs(config, app_targets, scorer_targets),
                                 [RECORDING_RULES_NAME, ALERTING_RULES_NAME], alertmanagers)
    return header("addon/prometheus/prometheus_config.py", config, command=COMMAND) + yaml.safe_dump(document, sort_keys=False)


def write_prometheus_config(config: Config, app_targets: Sequence[str], scorer_targets: Sequence[str], out: Path,
                            alertmanagers: Sequence[str] = (), *, force: bool = False) -> list[Path]:
    """Write ``prometheus.yml`` and its rule files into ``out``; return the paths written.

    Refuses (:class:`~vigilante.output_files.OutputError`, before writing any) to replace a file
    this command did not write, or one edited since, unless ``force``; and to write over the
    configuration file it read.
    """
    files = {t.path: t.text(config) for t in rule_targets()}
    files[CONFIG_NAME] = prometheus_yaml(config, app_targets, scorer_targets, alertmanagers)
    inputs = [] if config.source == "<defaults>" else [config.source]
    record = WrittenRecord.load(out, RECORD_NAME, RECORD_NOTE)
    for name, text in files.items():
        _refuse_replacing(out / name, text, record, inputs, force)
    for name, text in files.items():
        write_text(out / name, text, inputs=inputs)
    WrittenRecord(out, RECORD_NAME, RECORD_NOTE, {n: digest(t.encode("utf-8")) for n, t in files.items()}).save(inputs)
    return [out / name for name in files]


def _refuse_replacing(path: Path, text: str, record: WrittenRecord, inputs: list[str], force: bool) -> None:
    check_target(path, inputs)
    expected = text.encode("utf-8")
    current = existing_bytes(path, len(expected))
    if force or current is None or current == expected or record.wrote(path.name):
        return
    raise OutputError(f"{path}: not written by `{COMMAND}`, or edited since; left alone: "
                      "pass --force to replace it, nothing was written")
