"""End to end, with the real programs: `certstore audit --format prometheus --output` into a textfile directory,
Debian's prometheus-node-exporter serving it on loopback, a real Prometheus scraping it every second with
dist/prometheus/certstore.rules.yml loaded, and the KB 4495258 alert observed firing through Prometheus' HTTP
API, then resolving after the fix. Both servers listen on 127.0.0.1 on free ports and are stopped by the test."""

import json
import shlex
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager

from support import CONNECTOR, KBMachine, PKI, REPO, certstore, certstore_binary, free_port, require_tool, run

RULES = REPO / "dist/prometheus/certstore.rules.yml"
DEADLINE = 90  # seconds for each wait; the whole test is bounded by pytest's own timeout in the Makefile too


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def wait_for(what, check, log_files, timeout=DEADLINE):
    """Polls `check` until it returns something truthy; fails with the servers' logs after `timeout` seconds."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as error:
            last = error
        time.sleep(0.25)
    logs = "\n".join(f"--- {f}:\n{f.read_text()[-4000:]}" for f in log_files if f.exists())
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last}\n{logs}")


@contextmanager
def server(args, log):
    with open(log, "w") as out:
        process = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def certstore_alerts(prometheus):
    data = json.loads(get(f"{prometheus}/api/v1/alerts"))
    assert data["status"] == "success", data
    return [a for a in data["data"]["alerts"] if a["labels"]["alertname"].startswith("Certstore")]


def test_kb_alert_fires_through_node_exporter_and_prometheus_then_resolves(tmp_path):
    node_exporter = require_tool("prometheus-node-exporter", "make dist-deps installs Debian's prometheus-node-exporter")
    prometheus_bin = require_tool("prometheus", "make dist-deps installs Debian's prometheus")
    began = time.monotonic()

    # The KB machine with its renewed twin imported after the keyless certificate: the connector still picks
    # the keyless one (store order), and audit's fix is "remove the keyless, bind SMTP to the twin".
    pki = PKI(tmp_path / "pki")
    machine = KBMachine(tmp_path / "root", pki, KBMachine.certificates(pki))
    certstore(machine.root, "import", pki.pfx(machine.twin))
    keyless, twin = machine.keyless["thumbprint"], machine.twin["thumbprint"]
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    prom_file = textfiles / "certstore.prom"
    certstore(machine.root, "audit", "--format", "prometheus", "--output", prom_file, ok=(2,))

    exporter_port, prometheus_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}],
    }))
    logs = [tmp_path / "node_exporter.log", tmp_path / "prometheus.log"]
    with server([node_exporter, f"--web.listen-address=127.0.0.1:{exporter_port}", "--collector.disable-defaults",
                 "--collector.textfile", f"--collector.textfile.directory={textfiles}"], logs[0]) as exporter, \
         server([prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                 f"--web.listen-address=127.0.0.1:{prometheus_port}", "--storage.tsdb.retention.time=1h"], logs[1]) as prom:
        api = f"http://127.0.0.1:{prometheus_port}"
        metrics = wait_for("node_exporter to serve the audit",
                           lambda: exporter.poll() is None and get(f"http://127.0.0.1:{exporter_port}/metrics"), logs)
        assert 'certstore_finding{' in metrics and f'thumbprint="{keyless}"' in metrics, metrics[-3000:]
        assert "node_textfile_scrape_error 0" in metrics, "node_exporter read the textfile without error"

        # The rules are loaded, and the KB alert fires with the labels and the exact fix audit prints.
        rules = wait_for("Prometheus to load the rules", lambda: prom.poll() is None and json.loads(get(f"{api}/api/v1/rules")), logs)
        loaded = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        assert "CertstoreConnectorNoCredentials" in loaded and len(loaded) == 10, loaded

        def kb_firing():
            return [a for a in certstore_alerts(api)
                    if a["labels"]["alertname"] == "CertstoreConnectorNoCredentials" and a["state"] == "firing"]
        firing = wait_for("CertstoreConnectorNoCredentials to fire", kb_firing, logs)
        assert len(firing) == 1, firing
        alert = firing[0]
        assert alert["labels"]["thumbprint"] == keyless and alert["labels"]["connector"] == CONNECTOR, alert
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["host"], alert
        # audit's plan names the root it audited, so each command can be pasted as it is.
        commands = [shlex.split(c) for c in alert["annotations"]["fix"].split("; ")]
        assert sorted(tuple(a for a in c if a not in ("--root", str(machine.root))) for c in commands) == sorted([
            ("certstore", "remove", keyless), ("certstore", "enable", twin, "--services", "SMTP", "--keep-default")]), alert
        assert "NoCredentials" in alert["annotations"]["summary"], alert
        others = [a["labels"]["alertname"] for a in certstore_alerts(api) if a["labels"]["alertname"] != alert["labels"]["alertname"]]
        assert others == [], f"only the KB alert fires on this store: {others}"

        # The fix, as the alert says it; the next audit rewrites the textfile and the alert resolves.
        for command in commands:
            run([certstore_binary(), *command[1:]])
        fixed = certstore(machine.root, "audit", "--format", "prometheus", "--output", prom_file, ok=(0, 1))
        assert fixed.returncode in (0, 1)
        wait_for("CertstoreConnectorNoCredentials to resolve",
                 lambda: not any(a["labels"]["alertname"] == "CertstoreConnectorNoCredentials" for a in certstore_alerts(api)),
                 logs)
        query = urllib.parse.quote('ALERTS{alertname="CertstoreConnectorNoCredentials"}')
        assert json.loads(get(f"{api}/api/v1/query?query={query}"))["data"]["result"] == []
        usable = urllib.parse.quote(f'certstore_connector_usable{{connector="{CONNECTOR}"}}')
        result = wait_for("Prometheus to see the connector usable",
                          lambda: [r for r in json.loads(get(f"{api}/api/v1/query?query={usable}"))["data"]["result"]
                                   if r["value"][1] == "1"], logs)
        assert result[0]["metric"]["thumbprint"] == twin, result
        assert certstore_alerts(api) == [], certstore_alerts(api)
    assert exporter.returncode is not None and prom.returncode is not None, "both servers are stopped"
    assert time.monotonic() - began < 4 * DEADLINE
