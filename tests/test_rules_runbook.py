"""Every alert's runbook_url anchor resolves to a section of rules/runbook.md."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from vigilante.rules.alerts import alerts
from scripts.demo_config import demo_config

from tests.support import REPO_ROOT as REPO
RUNBOOK = REPO / "rules" / "runbook.md"


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub derives from headings: lower case, punctuation dropped, spaces to '-'."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_runbook_url_of_the_generated_rules_resolves():
    anchors = github_anchors(RUNBOOK.read_text())
    base = demo_config().alerting.runbook_base_url
    doc = yaml.safe_load((REPO / "rules/generated/vigilante-alerts.rules.yml").read_text())
    urls = [rule["annotations"]["runbook_url"] for g in doc["groups"] for rule in g["rules"]]
    assert urls
    for url in urls:
        page, _, anchor = url.partition("#")
        assert page == base
        assert anchor in anchors, f"{url}: no heading with that anchor in {RUNBOOK.name}"


def test_one_section_per_alert_and_no_orphan_sections():
    anchors = github_anchors(RUNBOOK.read_text())
    sections = {a for a in anchors if a.startswith("vigilante") and a != "vigilante-runbook"}
    assert sections == {a.runbook_anchor for a in alerts(demo_config())}


def test_links_between_sections_resolve():
    text = RUNBOOK.read_text()
    anchors = github_anchors(text)
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, target
