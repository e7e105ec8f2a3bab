"""dist/prometheus/certstore.rules.yml with Debian's promtool, and the metric contract: the names and labels
`certstore audit --format prometheus` writes are pinned here, documented in the man page, and the only ones the
rules use."""

import re

import pytest
import yaml

from support import KBMachine, PKI, REPO, certstore, require_tool, run

RULES = REPO / "dist/prometheus/certstore.rules.yml"
RULE_TESTS = REPO / "Tests/dist/prometheus/certstore.rules.test.yml"
MAN = REPO / "man/certstore.1"

# The interface: metric family → its label names, in the order certstore writes them. Changing this breaks
# users' alert rules and dashboards; add, do not rename.
METRICS = {
    "certstore_audit_up": ["host", "location"],
    "certstore_audit_status": ["host", "location"],
    "certstore_audit_timestamp_seconds": ["host", "location"],
    "certstore_audit_error": ["host", "location", "error"],
    "certstore_findings": ["host", "location", "severity"],
    "certstore_findings_by_check": ["host", "location", "check", "severity"],
    "certstore_certificate_not_after_seconds": ["host", "location", "store", "thumbprint", "subject"],
    "certstore_certificate_has_private_key": ["host", "location", "store", "thumbprint", "subject"],
    "certstore_certificate_bound": ["host", "location", "store", "thumbprint", "subject", "service"],
    "certstore_default_smtp_certificate": ["host", "location", "store", "thumbprint", "subject"],
    "certstore_connector_usable": ["host", "location", "connector", "status", "thumbprint"],
    "certstore_connector_keyless_twin": ["host", "location", "connector"],
    "certstore_finding": ["host", "location", "severity", "check", "object", "store", "thumbprint", "subject", "service",
                          "connector", "title", "fix"],
}


def test_promtool_check_rules():
    promtool = require_tool("promtool", "make dist-deps installs Debian's prometheus package")
    result = run([promtool, "check", "rules", RULES])
    assert "SUCCESS: 9 rules found" in result.stdout, result.stdout


def test_promtool_unit_tests_pass():
    promtool = require_tool("promtool", "make dist-deps installs Debian's prometheus package")
    result = run([promtool, "test", "rules", RULE_TESTS], ok=(0, 1))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_not_firing_unit_test():
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert len(alerts) == len(set(alerts)) == 10, alerts
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for alert in alerts:
        assert any(c["alertname"] == alert and c.get("exp_alerts") for c in cases), f"{alert}: no firing test"
        assert any(c["alertname"] == alert and not c.get("exp_alerts") for c in cases), f"{alert}: no not-firing test"
    assert {c["alertname"] for c in cases} == set(alerts), "unit tests name an alert that does not exist"


def families(text):
    """Metric family → label names of its samples, as written (in order); every sample must agree."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} \S+$', line)
        assert match, f"unexpected sample line: {line}"
        names = re.findall(r'(?:^|,)([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"', match.group(2))
        assert found.setdefault(match.group(1), names) == names, f"{match.group(1)}: label names differ between samples"
    return found


def test_metric_names_and_labels_are_pinned(tmp_path):
    pki = PKI(tmp_path / "pki")
    machine = KBMachine(tmp_path / "root", pki, KBMachine.certificates(pki))
    written = families(certstore(machine.root, "audit", "--format", "prometheus", ok=(2,)).stdout)
    # An audit that cannot run (an unknown store) writes its own families.
    failed = families(certstore(machine.root, "audit", "--format", "prometheus", "--store", "LocalMachine/Nope", ok=(3,)).stdout)
    assert set(failed) == {"certstore_audit_up", "certstore_audit_status", "certstore_audit_timestamp_seconds",
                           "certstore_audit_error"}, failed
    for name, labels in {**written, **failed}.items():
        assert METRICS.get(name) == labels, f"{name} has labels {labels}; the pinned interface says {METRICS.get(name)}"
    assert set(written) | set(failed) == set(METRICS), "a pinned metric is no longer written"


def test_man_page_documents_every_metric_and_label():
    text = MAN.read_text()
    assert ".SH METRICS" in text
    section = text.split(".SH METRICS", 1)[1].split("\n.SH ", 1)[0].replace("\\-", "-").replace("\\_", "_")
    for name, labels in METRICS.items():
        assert name in section, f"man page METRICS does not name {name}"
        for label in labels:
            assert re.search(rf'\b{label}\b', section), f"man page METRICS does not document the label {label}"
    assert "certstore.rules.yml" in section


def test_rules_use_only_pinned_metrics_and_labels():
    selectors = re.findall(r'\b(certstore_[a-z_]+)(\{[^}]*\})?', RULES.read_text())
    assert selectors
    for name, matchers in selectors:
        assert name in METRICS, f"the rules use {name}, which certstore does not write"
        for label in re.findall(r'([a-z_]+)\s*[=!]~?', matchers or ""):
            assert label in METRICS[name], f"the rules match {name} on {label}, which it does not have"
    templated = set(re.findall(r'\$labels\.([a-z_]+)', RULES.read_text()))
    assert templated <= set().union(*METRICS.values()), templated - set().union(*METRICS.values())
